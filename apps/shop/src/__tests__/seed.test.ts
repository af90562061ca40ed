import { Permission, User } from '@strata/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Category, Product } from '../models.js';
import { SEED_ACCOUNTS, seed } from '../seed.js';
import { closeDatabase, databases, openDatabase } from './shopHarness.js';

describe('seed', () => {
  const db = databases[0]!;
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));

  it('makes the catalog, the permissions and two accounts once; a second run changes nothing', async () => {
    const lines: string[] = [];
    await seed((line) => lines.push(line));
    expect(await Category.objects.count()).toBe(3);
    expect(await Product.objects.count()).toBe(14);
    expect(await Permission.objects.filter({ codename: 'shop.change_product' }).exists()).toBe(true);
    expect(await User.objects.get({ email: SEED_ACCOUNTS.staff.email })).toMatchObject({ isStaff: true, isSuperuser: true });
    expect(lines.at(-1)).toContain(SEED_ACCOUNTS.customer.email);
    await seed();
    expect([await Product.objects.count(), await User.objects.count()]).toEqual([14, 2]);
  });
});
