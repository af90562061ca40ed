import { createModelSerializer } from '@strata/serializer';
import { defineModelState } from '@strata/state/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { permissionRequired, staffRequired } from '../guards.js';
import { Session, User } from '../models.js';
import { createUser } from '../users.js';
import { closeDatabase, databases, openDatabase, Product, startApp, type TestApp } from './harness.js';

const PASSWORD = 'vermilion tugboat orbit';

/** A staff screen as an app writes it: anyone signed in may list, staff may edit, only a permission deletes. */
const Catalog = defineModelState('catalog', {
  model: Product,
  serializer: createModelSerializer(Product, { fields: ['id', 'name'] }),
  guards: { load: [], save: staffRequired, delete: [staffRequired, permissionRequired('shop.delete_product')] },
  actions: (a) => ({
    rename: a.action({ guard: staffRequired, run: async (s, _args, _ctx, rows) => void (await rows.reload()) }),
  }),
});

describe.each(databases)('auth guards on ModelState actions on $name', (db) => {
  let t: TestApp;
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    await Session.objects.delete();
    await User.objects.delete();
    await Product.objects.delete();
    t = await startApp({ states: [Catalog] });
  });

  async function signedIn(email: string, staff = false) {
    await createUser({ email, password: PASSWORD, isStaff: staff });
    const browser = t.browser();
    await browser.open();
    await browser.request('POST', '/auth/login', { login: email, password: PASSWORD });
    return browser.socket(['catalog']);
  }

  it('refuses a customer’s save, delete and custom action with a typed reason and writes nothing; staff pass what their permissions allow', async () => {
    const tea = await Product.objects.create({ name: 'Sencha' });
    const customer = await signedIn('cust@example.com');
    expect((await customer.call('catalog', 'load')).error).toBeUndefined();
    expect(await customer.call('catalog', 'save', { id: tea.id, data: { name: 'Mine' } })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await customer.call('catalog', 'dispatch', { action: 'delete', payload: { id: tea.id } })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await customer.call('catalog', 'rename')).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await Product.objects.get({ id: tea.id })).toMatchObject({ name: 'Sencha' });

    const staff = await signedIn('staff@example.com', true);
    expect(await staff.call('catalog', 'save', { id: tea.id, data: { name: 'Gyokuro' } })).toMatchObject({ value: { ok: true } });
    // Staff without the delete permission still cannot delete.
    expect(await staff.call('catalog', 'delete', { id: tea.id })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await Product.objects.filter({ id: tea.id }).count()).toBe(1);

    const anonymous = t.browser();
    await anonymous.open();
    const visitor = await anonymous.socket(['catalog']);
    expect(await visitor.call('catalog', 'save', { data: { name: 'Spam' } })).toMatchObject({ error: { code: 'STRATA_AUTH_LOGIN_REQUIRED' } });
    expect(await Product.objects.count()).toBe(1);
  });
});
