import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers.js';
import { Category, Product, ProductSerializer, Tag, User, UserSerializer, models } from './fixtures.js';

describe.each(databases)('serializer smoke ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  it('round-trips a product through parse, save and toJSON', async () => {
    const tea = await Category.objects.create({ name: 'Tea' });
    const green = await Tag.objects.create({ label: 'green' });
    const parsed = await ProductSerializer.parse({ name: 'Sencha', price: '12.50', categoryId: tea.id, tags: [green.id], updatedAt: 'x' });
    expect(parsed).toEqual({ ok: false, errors: { updatedAt: ['This field is read-only.'] } });
    const ok = await ProductSerializer.parse({ name: 'Sencha', price: '12.50', categoryId: tea.id, tags: [green.id] });
    if (!ok.ok) throw new Error(JSON.stringify(ok.errors));
    const saved = await ProductSerializer.save(ok.data);
    if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
    const [row] = await Product.objects.filter({ id: saved.row.id }).selectRelated('category').prefetch('tags');
    const json = await ProductSerializer.toJSON(row!);
    expect(json).toMatchObject({ name: 'Sencha', price: '12.50', views: '0', inStock: false, category: { id: tea.id, name: 'Tea' }, tags: [green.id] });
    expect(typeof json.updatedAt).toBe('string');
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    await expect(ProductSerializer.toJSON((await Product.objects.filter({ id: saved.row.id }))[0]!)).rejects.toMatchObject({
      code: 'STRATA_SERIALIZER_RELATION_NOT_LOADED',
    });
  });

  it('accepts a sensitive field only as write-only input and never outputs it', async () => {
    const parsed = await UserSerializer.parse({ email: 'a@x.io', passwordHash: 'hash' });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const saved = await UserSerializer.save(parsed.data);
    if (!saved.ok) throw new Error('not saved');
    expect(await UserSerializer.toJSON(await User.objects.get({ id: saved.row.id }))).toEqual({ id: saved.row.id, email: 'a@x.io' });
    expect(await UserSerializer.parse({ email: 'A@x.io', passwordHash: 'h' })).toEqual({ ok: false, errors: { email: ['This email is taken.'] } });
  });
});
