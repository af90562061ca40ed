import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInQueryScope } from '@strata/model';
import { databases } from './helpers.js';
import { Category, Product, ProductSerializer, Tag, User, UserSerializer, models } from './fixtures.js';
import { createInputValidator } from '../client.js';

describe.each(databases)('probe ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());
  it('probes', async () => {
    const show = async (label: string, fn: () => unknown) => { try { console.log(label, JSON.stringify(await fn())); } catch (e) { console.log(label, 'THROW', (e as Error).message); } };
    await show('missing', () => ProductSerializer.parse({}));
    await show('price bad', () => ProductSerializer.parse({ name: 'ab', price: '12.5x' }));
    await show('price abc', () => ProductSerializer.parse({ name: 'ab', price: 'abc' }));
    await show('undefined name', () => ProductSerializer.parse({ name: undefined, price: '1.00' }));
    await show('optional absent', async () => { const r = await ProductSerializer.parse({ name: 'ab', price: '1.00' }); return r.ok ? Object.entries(r.data) : r; });
    await show('feb30', () => ProductSerializer.parse({ name: 'ab', price: '1.00' , releasedOn: '2026-02-30'}));
    const tea = await Category.objects.create({ name: 'Tea' });
    await show('bad tag', async () => { const r = await ProductSerializer.parse({ name: 'ab', price: '1.00', tags: [999] }); if (!r.ok) return r; const s = await ProductSerializer.save(r.data); return [s, await Product.objects.count()]; });
    const t0 = Date.now();
    await show('1e6 tags', async () => (await ProductSerializer.parse({ name: 'ab', price: '1.00', tags: Array(1e6).fill('x') })));
    console.log('ms', Date.now() - t0);
    const p = await Product.objects.create({ name: 'x', price: '1.00', releasedOn: '2026-01-02', categoryId: tea.id });
    const [row] = await Product.objects.filter({ id: p.id }).selectRelated('category').prefetch('tags');
    console.log(row);
    await show('json', () => ProductSerializer.toJSON(row!));
    await show('cat nested', async () => { const [c] = await Category.objects.prefetch('products'); return c; });
    const u = await UserSerializer.save({ email: 'a@b.c', passwordHash: 'x' } as never);
    await show('dup', () => UserSerializer.save({ email: 'a@b.c', passwordHash: 'x' } as never));
    await show('client missing', () => createInputValidator<typeof ProductSerializer>(JSON.parse(JSON.stringify(ProductSerializer.describe()))).parse({ views: 1, price: 'zz' }));
  });
});
