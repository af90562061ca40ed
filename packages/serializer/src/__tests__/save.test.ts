import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createModelSerializer, type ParseResult, type SaveResult } from '..';
import { databases } from './helpers.js';
import { Category, Product, ProductSerializer, Profile, ProfileSerializer, Tag, User, UserSerializer, models } from './fixtures.js';

function dataOf<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new Error(`expected data, got errors ${JSON.stringify(result.errors)}`);
  return result.data;
}

function rowOf<T>(result: SaveResult<T>): T {
  if (!result.ok) throw new Error(`expected a saved row, got errors ${JSON.stringify(result.errors)}`);
  return result.row;
}

const tagIds = async (productId: number) => {
  const [row] = await Product.objects.filter({ id: productId }).prefetch('tags');
  return (row!.tags as { id: number }[]).map((tag) => tag.id).sort((a, b) => a - b);
};

describe.each(databases)('ModelSerializer.save ($name)', (db) => {
  let teaId: number;
  let tagA: number;
  let tagB: number;
  beforeAll(async () => {
    await db.open(models);
    teaId = (await Category.objects.create({ name: 'Tea' })).id;
    [tagA, tagB] = (await Tag.objects.bulkCreate([{ label: 'green' }, { label: 'black' }])).map((tag) => tag.id) as [number, number];
  });
  afterAll(() => db.close());

  it('creates a row from parsed data, many-to-many keys included', async () => {
    const data = dataOf(await ProductSerializer.parse({ name: 'Sencha', price: '12.50', stock: 4, categoryId: teaId, tags: [tagB, tagA] }));
    const row = rowOf(await ProductSerializer.save(data));
    expectTypeOf(row.price).toEqualTypeOf<string>();
    expect(await Product.objects.get({ id: row.id })).toMatchObject({ name: 'Sencha', price: '12.50', stock: 4, categoryId: teaId, secretNote: '' });
    expect(await tagIds(row.id)).toEqual([tagA, tagB].sort((a, b) => a - b));
  });

  it('writes nothing it does not accept as input, whatever the caller passes (no mass assignment through save)', async () => {
    const before = await Product.objects.count();
    const forged = { name: 'Forged', price: '1.00', views: 5n, secretNote: 'x' } as never;
    expect(await ProductSerializer.save(forged)).toEqual({
      ok: false,
      errors: { views: ['This field cannot be written through this serializer.'], secretNote: ['This field cannot be written through this serializer.'] },
    });
    expect(await Product.objects.count()).toBe(before);
  });

  it('writes server-decided values given in set, on create and update, without reading them from input', async () => {
    const created = rowOf(await ProductSerializer.save(dataOf(ProductSerializer.parseSync({ name: 'Owned', price: '2.00' })), { set: { views: 7n } }));
    expect(await Product.objects.get({ id: created.id })).toMatchObject({ name: 'Owned', views: 7n });
    rowOf(await ProductSerializer.save({ price: '3.00' }, { instance: created, set: { views: 8n } }));
    expect(await Product.objects.get({ id: created.id })).toMatchObject({ price: '3.00', views: 8n });
  });

  it('updates only the fields given, and leaves many-to-many keys alone unless sent', async () => {
    const created = rowOf(await ProductSerializer.save(dataOf(await ProductSerializer.parse({ name: 'Hojicha', price: '8.00', stock: 2, tags: [tagA] }))));
    const patch = dataOf(await ProductSerializer.parse({ price: '9.00' }, { instance: created }));
    const updated = rowOf(await ProductSerializer.save(patch, { instance: created }));
    expect(updated).toMatchObject({ id: created.id, name: 'Hojicha', price: '9.00', stock: 2 });
    expect(await tagIds(created.id)).toEqual([tagA]);
    rowOf(await ProductSerializer.save(dataOf(await ProductSerializer.parse({ tags: [tagB] }, { partial: true })), { instance: created }));
    expect(await tagIds(created.id)).toEqual([tagB]);
    expect(await Product.objects.filter({ name: 'Hojicha' }).count()).toBe(1);
  });

  it('returns a unique violation from the database as a field error', async () => {
    // A race the async uniqueness rule cannot see: both requests parsed before either saved.
    const first = dataOf(await UserSerializer.parse({ email: 'race@x.io', passwordHash: 'h1' }));
    const second = dataOf(await UserSerializer.parse({ email: 'race@x.io', passwordHash: 'h2' }));
    rowOf(await UserSerializer.save(first));
    expect(await UserSerializer.save(second)).toEqual({ ok: false, errors: { email: ['A User with this email already exists.'] } });
    expect(await User.objects.filter({ email: 'race@x.io' }).count()).toBe(1);
  });

  it('returns a unique violation on update as a field error, changing nothing', async () => {
    const [, b] = await Category.objects.bulkCreate([{ name: 'Oolong' }, { name: 'Puerh' }]);
    const Categories = createModelSerializer(Category, { fields: ['id', 'name'] });
    const patch = dataOf(await Categories.parse({ name: 'Oolong' }, { instance: b! }));
    expect(await Categories.save(patch, { instance: b! })).toEqual({ ok: false, errors: { name: ['A Category with this name already exists.'] } });
    expect((await Category.objects.get({ id: b!.id })).name).toBe('Puerh');
  });

  it('returns a unique violation on a one-to-one relation under its key', async () => {
    const user = await User.objects.create({ email: 'solo@x.io', passwordHash: 'h' });
    rowOf(await ProfileSerializer.save(dataOf(await ProfileSerializer.parse({ userId: user.id, nickname: 'solo' }))));
    const again = await ProfileSerializer.save(dataOf(await ProfileSerializer.parse({ userId: user.id, nickname: 'duo' })));
    expect(again).toEqual({ ok: false, errors: { userId: ['A Profile with this user already exists.'] } });
    expect(await Profile.objects.filter({ userId: user.id }).count()).toBe(1);
  });

  it('returns a related row that does not exist as a field error', async () => {
    const data = dataOf(await ProductSerializer.parse({ name: 'Ghost', price: '1.00', categoryId: 999_999 }));
    expect(await ProductSerializer.save(data)).toEqual({ ok: false, errors: { categoryId: ['The related object does not exist.'] } });
    expect(await Product.objects.filter({ name: 'Ghost' }).exists()).toBe(false);
  });

  it('refuses a many-to-many key that does not exist with a field error, creating nothing', async () => {
    const before = await Product.objects.count();
    const data = dataOf(await ProductSerializer.parse({ name: 'Orphan', price: '1.00', tags: [tagA, 999_999] }));
    expect(await ProductSerializer.save(data)).toEqual({ ok: false, errors: { tags: ['One or more of these do not exist.'] } });
    expect(await Product.objects.count()).toBe(before);
  });

  it('rolls back the whole update when its many-to-many keys fail', async () => {
    const created = rowOf(await ProductSerializer.save(dataOf(await ProductSerializer.parse({ name: 'Matcha', price: '20.00', tags: [tagA] }))));
    const patch = dataOf(await ProductSerializer.parse({ name: 'Renamed', tags: [999_999] }, { instance: created }));
    expect(await ProductSerializer.save(patch, { instance: created })).toEqual({ ok: false, errors: { tags: ['One or more of these do not exist.'] } });
    expect(await Product.objects.get({ id: created.id })).toMatchObject({ name: 'Matcha' });
    expect(await tagIds(created.id)).toEqual([tagA]);
  });

  it('reports an instance that no longer exists under __all__', async () => {
    const gone = await Product.objects.create({ name: 'Gone', price: '1.00' });
    await Product.objects.filter({ id: gone.id }).delete();
    expect(await ProductSerializer.save({ name: 'Back' }, { instance: gone })).toEqual({ ok: false, errors: { __all__: ['This Product no longer exists.'] } });
  });

  it('reports model validation errors under the serializer’s own keys', async () => {
    const result = await ProductSerializer.save({ name: 'Keyless', price: '1.00', categoryId: 'tea' } as never);
    expect(result.ok).toBe(false);
    expect(Object.keys((result as { errors: object }).errors)).toEqual(['categoryId']);
  });

  it('writes nothing that parse refused: no mass assignment', async () => {
    const body = JSON.parse('{"name":"Sneaky","price":"1.00","secretNote":"x","views":"999","id":1,"__proto__":{"secretNote":"y"}}') as unknown;
    const parsed = await ProductSerializer.parse(body);
    expect(parsed.ok).toBe(false);
    expect(Object.keys((parsed as { errors: object }).errors).sort()).toEqual(['__proto__', 'id', 'secretNote', 'views']);
    expect(await Product.objects.filter({ name: 'Sneaky' }).exists()).toBe(false);
  });
});
