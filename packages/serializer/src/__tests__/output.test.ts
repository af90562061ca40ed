import { isModelRow, isStrataError, runInQueryScope } from '@strata/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelSerializer } from '..';
import { databases } from './helpers.js';
import {
  Category,
  CategorySerializer,
  CategoryTreeSerializer,
  Product,
  ProductAllSerializer,
  ProductSerializer,
  Tag,
  TagSerializer,
  User,
  UserSerializer,
  models,
} from './fixtures.js';

const SKU = '0b6f3f0e-7a47-4c1d-9a8e-3f2d1c0b9a87';
const WHEN = new Date('2026-11-25T10:00:00.123Z');

/** Asserts `value` is JSON data only: plain objects and arrays, no class instance, no row brand, no undefined. */
function expectPlainJson(value: unknown, path = '$'): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') return void expect(Number.isFinite(value), path).toBe(true);
  expect(typeof value, path).toBe('object');
  expect(isModelRow(value), `${path} is a model row`).toBe(false);
  if (Array.isArray(value)) return value.forEach((item, i) => expectPlainJson(item, `${path}[${i}]`));
  expect(Object.getPrototypeOf(value), path).toBe(Object.prototype);
  for (const [key, item] of Object.entries(value as object)) expectPlainJson(item, `${path}.${key}`);
}

async function expectCode(promise: Promise<unknown>, code: string, text: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStrataError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toContain(text);
}

describe.each(databases)('ModelSerializer.toJSON ($name)', (db) => {
  let teaId: number;
  let productId: number;
  let tagIds: [number, number];
  beforeAll(async () => {
    await db.open(models);
    const tea = await Category.objects.create({ name: 'Tea' });
    const [green, loose] = await Tag.objects.bulkCreate([{ label: 'green' }, { label: 'loose' }]);
    const sencha = await Product.objects.create({
      name: 'Sencha',
      price: '12.50',
      stock: 3,
      views: 9_007_199_254_740_993n,
      status: 'live',
      releasedOn: '2026-03-01',
      updatedAt: WHEN,
      attributes: { origin: 'Shizuoka' },
      sku: SKU,
      secretNote: 'supplier owes us',
      categoryId: tea.id,
    });
    await Product.objects.related(sencha, 'tags').set([green!, loose!]);
    await Product.objects.create({ name: 'Loose', price: '0.50' });
    teaId = tea.id;
    productId = sencha.id;
    tagIds = [green!.id, loose!.id];
  });
  afterAll(() => db.close());

  const loaded = () => Product.objects.selectRelated('category').prefetch('tags').orderBy('id');

  it('writes every kind of value by the one rule', async () => {
    const [row] = await loaded().filter({ id: productId });
    const json = await ProductSerializer.toJSON(row!);
    expect(json).toEqual({
      id: productId,
      name: 'Sencha',
      price: '12.50',
      stock: 3,
      views: '9007199254740993',
      status: 'live',
      releasedOn: '2026-03-01',
      updatedAt: '2026-11-25T10:00:00.123Z',
      attributes: { origin: 'Shizuoka' },
      sku: SKU,
      categoryId: teaId,
      tags: tagIds,
      inStock: true,
      category: { id: teaId, name: 'Tea' },
    });
    expectPlainJson(json);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('serializes a list to a list, nulls and empty relations included', async () => {
    const json = await ProductSerializer.toJSON(await loaded());
    expect(json.map((p) => p.name)).toEqual(['Sencha', 'Loose']);
    expect(json[1]).toMatchObject({ categoryId: null, category: null, releasedOn: null, sku: null, tags: [], inStock: false });
    expectPlainJson(json);
  });

  it('never outputs a sensitive field, and leaves out what __all__ excludes', async () => {
    const [row] = await Product.objects.filter({ id: productId });
    const json = await ProductAllSerializer.toJSON(row!);
    expect(Object.keys(json).sort()).toEqual(['categoryId', 'id', 'name', 'price', 'releasedOn', 'sku', 'status', 'stock', 'updatedAt', 'views']);
    expect(JSON.stringify(json)).not.toContain('supplier');
    const user = await User.objects.create({ email: 'out@x.io', passwordHash: 'argon2id$secret' });
    expect(await UserSerializer.toJSON(user)).toEqual({ id: user.id, email: 'out@x.io' });
  });

  it('leaves out excluded fields from an explicit list too', async () => {
    const Short = createModelSerializer(Product, { fields: ['id', 'name', 'price'], exclude: ['price'] });
    const [row] = await Product.objects.filter({ id: productId });
    expect(await Short.toJSON(row!)).toEqual({ id: productId, name: 'Sencha' });
  });

  it('runs sync and async computed fields with the row and the context', async () => {
    const Priced = createModelSerializer(Product, {
      fields: ['id'],
      computed: {
        label: (row) => row.name.toUpperCase(),
        total: async (row, context) => `${String(context.currency)} ${row.price}`,
      },
    });
    const rows = await Product.objects.orderBy('id');
    expect(await Priced.toJSON(rows, { currency: 'EUR' })).toEqual([
      { id: productId, label: 'SENCHA', total: 'EUR 12.50' },
      { id: rows[1]!.id, label: 'LOOSE', total: 'EUR 0.50' },
    ]);
  });

  it('serializes nested one and many relations, reverse relations included', async () => {
    const rows = await Category.objects.prefetch('products', 'products.tags');
    const json = await CategoryTreeSerializer.toJSON(rows, { currency: 'JPY' });
    expect(json).toEqual([
      {
        id: teaId,
        name: 'Tea',
        products: [
          {
            id: productId,
            name: 'Sencha',
            price: '12.50',
            priceLabel: 'JPY 12.50',
            tags: [
              { id: tagIds[0], label: 'green' },
              { id: tagIds[1], label: 'loose' },
            ],
          },
        ],
      },
    ]);
    expectPlainJson(json);
  });

  it('runs no query, whatever the number of rows', async () => {
    const rows = await loaded();
    const tree = await Category.objects.prefetch('products', 'products.tags');
    const { count } = await runInQueryScope(async () => {
      await ProductSerializer.toJSON(rows);
      await CategoryTreeSerializer.toJSON(tree);
    });
    expect(count).toBe(0);
  });

  it('fails with RELATION_NOT_LOADED naming the call to add, without a query', async () => {
    const plain = await Product.objects.prefetch('tags');
    const { count } = await runInQueryScope(async () => {
      await expectCode(ProductSerializer.toJSON(plain), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', ".selectRelated('category')");
    });
    expect(count).toBe(0);
    const noTags = await Product.objects.selectRelated('category');
    await expectCode(ProductSerializer.toJSON(noTags), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', ".prefetch('tags')");
    await expectCode(CategoryTreeSerializer.toJSON(await Category.objects.orderBy('id')), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', ".prefetch('products')");
  });

  it('names the whole path of a relation missing below a nested one', async () => {
    const rows = await Category.objects.prefetch('products');
    await expectCode(CategoryTreeSerializer.toJSON(rows), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', ".prefetch('products.tags')");
    const WithCategory = createModelSerializer(Tag, {
      fields: ['id'],
      nested: { products: [createModelSerializer(Product, { fields: ['id'], nested: { category: CategorySerializer } })] },
    });
    await expectCode(WithCategory.toJSON(await Tag.objects.prefetch('products')), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', ".prefetch('products.category')");
  });

  it('fails with FIELD_NOT_LOADED for a field left out by only()', async () => {
    await expectCode(TagSerializer.toJSON((await Tag.objects.only('id')) as never), 'STRATA_SERIALIZER_FIELD_NOT_LOADED', 'shop.Tag.label');
    const rows = await Product.objects.only('name');
    await expectCode(createModelSerializer(Product, { fields: ['name', 'price'] }).toJSON(rows as never), 'STRATA_SERIALIZER_FIELD_NOT_LOADED', 'shop.Product.price');
  });

  it('refuses a computed value that is not JSON data, naming the field', async () => {
    const [row] = await Product.objects.filter({ id: productId });
    const returning = (value: unknown) => createModelSerializer(Product, { fields: ['id'], computed: { bad: (() => value) as never } });
    for (const value of [undefined, new Date(), 1n, Number.NaN, new Map(), { nested: [undefined] }, () => 1]) {
      await expectCode(returning(value).toJSON(row!), 'STRATA_SERIALIZER_NOT_JSON', 'Computed field bad');
    }
    const later = createModelSerializer(Product, { fields: ['id'], computed: { bad: (async () => new Date()) as never } });
    await expectCode(later.toJSON(row!), 'STRATA_SERIALIZER_NOT_JSON', 'Computed field bad');
  });

  it('refuses a model row returned by a computed field', async () => {
    const [row] = await loaded().filter({ id: productId });
    const Leaky = createModelSerializer(Product, { fields: ['id'], computed: { owner: ((r: { category: unknown }) => r.category) as never } });
    await expectCode(Leaky.toJSON(row!), 'STRATA_SERIALIZER_NOT_JSON', 'Computed field owner');
    const InList = createModelSerializer(Product, { fields: ['id'], computed: { owners: ((r: { tags: unknown[] }) => r.tags) as never } });
    await expectCode(InList.toJSON(row!), 'STRATA_SERIALIZER_NOT_JSON', 'Computed field owners');
  });

  it('leaves no async computed value unawaited when another row fails', async () => {
    // Regression: the sync failure returned before the pending promises were awaited, so a
    // later rejection was unhandled (which ends a Node process).
    const Failing = createModelSerializer(Product, {
      fields: ['id'],
      computed: { slow: (async (r: { id: number }) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (r.id === productId) throw new Error('lookup failed');
        return 'ok';
      }) as never },
      nested: { category: CategorySerializer },
    });
    const rows = [...(await Product.objects.filter({ id: productId }).selectRelated('category')), ...(await Product.objects.exclude({ id: productId }))];
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      await expectCode(Failing.toJSON(rows), 'STRATA_SERIALIZER_RELATION_NOT_LOADED', "selectRelated('category')");
      await new Promise((resolve) => setTimeout(resolve, 30));
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled).toEqual([]);
  });

  it('refuses a row of another model', async () => {
    const tag = await Tag.objects.first();
    await expectCode(ProductSerializer.toJSON(tag as never), 'STRATA_SERIALIZER_DEFINITION', 'shop.Tag row');
  });
});
