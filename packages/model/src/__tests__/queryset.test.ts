import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Avg,
  Count,
  Max,
  Min,
  MultipleFoundError,
  NotFoundError,
  Sum,
  isModelRow,
  isStrataError,
  runInQueryScope,
  type AnyModel,
  type QuerySet,
} from '..';
import { databases } from './helpers.js';
import { Category, Customer, GraphEdge, GraphNode, Order, OrderItem, Product, Profile, Tag, readModels } from './fixtures.js';

const SKU = '3f2c9a7e-1b4d-4c8e-9f10-a2b3c4d5e6f7';
const SENCHA_UPDATED = new Date('2024-01-01T10:00:00.123Z');

/** Names of the matching products in insertion (primary key) order. */
const names = async (qs: QuerySet<AnyModel, { name: string }>) => (await qs.orderBy('id')).map((row) => row.name);

/** Seven products chosen so that every lookup has a small, known answer. */
async function seed() {
  const [tea, coffee] = await Category.objects.bulkCreate([{ name: 'Tea' }, { name: 'Coffee' }]);
  const [green, japan, dark] = await Tag.objects.bulkCreate([{ label: 'green' }, { label: 'japan' }, { label: 'dark' }]);
  const [sencha, matcha, espresso] = await Product.objects.bulkCreate([
    { name: 'Sencha', price: '12.50', stock: 3, weight: 0.5, views: 10n, status: 'live', releasedOn: '2024-01-15', sku: SKU, attributes: { origin: 'JP' }, category: tea!, updatedAt: SENCHA_UPDATED },
    { name: 'Matcha', price: '18.25', stock: 0, category: tea! },
    { name: 'Espresso', price: '8.25', stock: 10, weight: 0.25, views: 2n ** 60n, status: 'live', releasedOn: '2023-12-31', category: coffee! },
    { name: '100% Arabica', price: '15.00', stock: 5, weight: 1, views: 5n, status: 'archived', releasedOn: '2024-06-01', category: coffee! },
    { name: 'snake_case', price: '1.00', stock: 1 },
    { name: 'back\\slash', price: '2.00', stock: 2 },
    { name: 'Genmai sencha', price: '4.00', stock: 4, weight: 0.75, status: 'live' },
  ]);
  await Product.objects.related(sencha!, 'tags').add(green!, japan!);
  await Product.objects.related(matcha!, 'tags').add(green!);
  await Product.objects.related(espresso!, 'tags').add(dark!);
  const [alice, bob] = await Customer.objects.bulkCreate([
    { email: 'Alice@Example.com', name: 'Alice', isVip: true },
    { email: 'bob@shop.io', name: 'Bob' },
  ]);
  const [o1, o2] = await Order.objects.bulkCreate([{ customer: alice! }, { customer: bob! }, { customer: alice!, note: 'gift' }]);
  await OrderItem.objects.bulkCreate([
    { order: o1!, product: sencha!, quantity: 2 },
    { order: o1!, product: matcha!, quantity: 3 },
    { order: o2!, product: espresso!, quantity: 1 },
  ]);
  await Profile.objects.create({ customer: alice!, bio: 'tea lover' });
  const [a, b] = await GraphNode.objects.bulkCreate([{ type: 'a' }, { type: 'b' }]);
  await GraphEdge.objects.bulkCreate([{ node: a!, weight: 1 }, { node: b!, weight: 2 }]);
}

describe.each(databases)('QuerySet ($name)', (db) => {
  beforeAll(async () => {
    await db.open(readModels);
    await seed();
  });
  afterAll(() => db.close());

  describe('laziness and immutability', () => {
    it('does not run a query while a queryset is built, only when it is awaited', async () => {
      const built = await runInQueryScope(() => {
        const qs = Product.objects.filter({ stock: { gt: 0 } }).exclude({ status: 'draft' }).orderBy('-price').limit(2).selectRelated('category');
        void qs.prefetch('tags').only('name').distinct();
        return 'built';
      });
      expect(built.count).toBe(0);
      const run = await runInQueryScope(() => Product.objects.filter({ stock: { gt: 0 } }).fetch());
      expect(run.count).toBe(1);
      expect(run.result).toHaveLength(6);
    });

    it('does not report an unknown field until the queryset runs', async () => {
      const qs = Product.objects.filterDynamic({ nope: 1 });
      await expect(qs).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
    });

    it('does not change the original queryset when chained', async () => {
      const live = Product.objects.filter({ status: 'live' });
      const narrowed = live.filter({ stock: { gte: 4 } });
      void live.orderBy('-price');
      void live.limit(1);
      void live.exclude({ name: 'Sencha' });
      expect(await names(live)).toEqual(['Sencha', 'Espresso', 'Genmai sencha']);
      expect(await names(narrowed)).toEqual(['Espresso', 'Genmai sencha']);
    });
  });

  describe('lookups', () => {
    it('does eq, ne, gt, gte, lt and lte', async () => {
      expect(await names(Product.objects.filter({ stock: { eq: 3 } }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ stock: 3 }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ status: { ne: 'draft' } }))).toEqual(['Sencha', 'Espresso', '100% Arabica', 'Genmai sencha']);
      expect(await names(Product.objects.filter({ price: { gt: '12.50' } }))).toEqual(['Matcha', '100% Arabica']);
      expect(await names(Product.objects.filter({ price: { gte: '12.50' } }))).toEqual(['Sencha', 'Matcha', '100% Arabica']);
      expect(await names(Product.objects.filter({ price: { lt: '4.00' } }))).toEqual(['snake_case', 'back\\slash']);
      expect(await names(Product.objects.filter({ price: { lte: '4' } }))).toEqual(['snake_case', 'back\\slash', 'Genmai sencha']);
    });

    it('does ne as the complement of eq, so rows holding NULL match', async () => {
      const ne = await names(Product.objects.filter({ weight: { ne: 0.5 } }));
      expect(ne).toEqual(['Matcha', 'Espresso', '100% Arabica', 'snake_case', 'back\\slash', 'Genmai sencha']);
    });

    it('does in, and an empty in list matches nothing', async () => {
      expect(await names(Product.objects.filter({ name: { in: ['Espresso', 'Sencha', 'nope'] } }))).toEqual(['Sencha', 'Espresso']);
      expect(await names(Product.objects.filter({ status: { in: ['archived'] } }))).toEqual(['100% Arabica']);
      expect(await names(Product.objects.filter({ name: { in: [] } }))).toEqual([]);
      expect(await Product.objects.exclude({ name: { in: [] } }).count()).toBe(7);
    });

    it('does contains case-sensitively and icontains case-insensitively', async () => {
      expect(await names(Product.objects.filter({ name: { contains: 'Sen' } }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ name: { contains: 'sen' } }))).toEqual(['Genmai sencha']);
      expect(await names(Product.objects.filter({ name: { icontains: 'SEN' } }))).toEqual(['Sencha', 'Genmai sencha']);
    });

    it('does fold non-ASCII case in icontains and iexact the same way on both databases', async () => {
      const customer = await Customer.objects.create({ email: 'ÉLODIE@example.com', name: 'Élodie Ærø' });
      const found = async (where: Parameters<typeof Customer.objects.filter>[0]) => (await Customer.objects.filter(where)).map((c) => c.id);
      expect(await found({ name: { icontains: 'élodie æ' } })).toEqual([customer.id]);
      expect(await found({ email: { iexact: 'élodie@EXAMPLE.com' } })).toEqual([customer.id]);
      await Customer.objects.filter({ id: customer.id }).delete();
    });

    it('does startsWith, endsWith (case-sensitive) and iexact', async () => {
      expect(await names(Product.objects.filter({ name: { startsWith: 'Sen' } }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ name: { startsWith: 'sen' } }))).toEqual([]);
      expect(await names(Product.objects.filter({ name: { endsWith: 'cha' } }))).toEqual(['Sencha', 'Matcha', 'Genmai sencha']);
      expect(await names(Product.objects.filter({ name: { endsWith: 'CHA' } }))).toEqual([]);
      expect(await names(Product.objects.filter({ name: { iexact: 'SENCHA' } }))).toEqual(['Sencha']);
    });

    it('does match %, _ and \\ in a pattern operand literally', async () => {
      for (const lookup of ['contains', 'icontains'] as const) {
        expect(await names(Product.objects.filter({ name: { [lookup]: '%' } }))).toEqual(['100% Arabica']);
        expect(await names(Product.objects.filter({ name: { [lookup]: '_' } }))).toEqual(['snake_case']);
        expect(await names(Product.objects.filter({ name: { [lookup]: '\\' } }))).toEqual(['back\\slash']);
        expect(await names(Product.objects.filter({ name: { [lookup]: 'k_' } }))).toEqual([]);
        expect(await names(Product.objects.filter({ name: { [lookup]: 'e%c' } }))).toEqual([]);
      }
      expect(await names(Product.objects.filter({ name: { startsWith: '100%' } }))).toEqual(['100% Arabica']);
      expect(await names(Product.objects.filter({ name: { startsWith: '1_0' } }))).toEqual([]);
      expect(await names(Product.objects.filter({ name: { endsWith: '_case' } }))).toEqual(['snake_case']);
      expect(await names(Product.objects.filter({ name: { endsWith: '\\slash' } }))).toEqual(['back\\slash']);
    });

    it('does match *, ? and [ in startsWith and endsWith literally', async () => {
      const made = await Product.objects.bulkCreate(['star*ry', 'what?', '[draft] tea'].map((name) => ({ name, price: '1.00' })));
      try {
        expect(await names(Product.objects.filter({ name: { startsWith: 'star*' } }))).toEqual(['star*ry']);
        expect(await names(Product.objects.filter({ name: { startsWith: 's*' } }))).toEqual([]);
        expect(await names(Product.objects.filter({ name: { endsWith: 't?' } }))).toEqual(['what?']);
        expect(await names(Product.objects.filter({ name: { endsWith: '?' } }))).toEqual(['what?']);
        expect(await names(Product.objects.filter({ name: { startsWith: '[draft]' } }))).toEqual(['[draft] tea']);
        expect(await names(Product.objects.filter({ name: { startsWith: '[d' } }))).toEqual(['[draft] tea']);
      } finally {
        await Product.objects.filter({ id: { in: made.map((p) => p.id) } }).delete();
      }
    });

    it('does isNull, and null as shorthand for it', async () => {
      expect(await names(Product.objects.filter({ weight: { isNull: true } }))).toEqual(['Matcha', 'snake_case', 'back\\slash']);
      expect(await names(Product.objects.filter({ weight: { isNull: false } }))).toEqual(['Sencha', 'Espresso', '100% Arabica', 'Genmai sencha']);
      expect(await names(Product.objects.filter({ releasedOn: null }))).toEqual(['Matcha', 'snake_case', 'back\\slash', 'Genmai sencha']);
      expect(await names(Product.objects.filter({ category: null }))).toEqual(['snake_case', 'back\\slash', 'Genmai sencha']);
    });

    it('does range inclusively, on decimals and dates', async () => {
      expect(await names(Product.objects.filter({ price: { range: ['8.25', '15.00'] } }))).toEqual(['Sencha', 'Espresso', '100% Arabica']);
      expect(await names(Product.objects.filter({ releasedOn: { range: ['2024-01-01', '2024-12-31'] } }))).toEqual(['Sencha', '100% Arabica']);
    });

    it('does lookups on bigint, float, uuid, datetime and boolean fields', async () => {
      expect(await names(Product.objects.filter({ views: { gt: 2n ** 40n } }))).toEqual(['Espresso']);
      expect(await names(Product.objects.filter({ views: 10n }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ weight: { lt: 0.6 } }))).toEqual(['Sencha', 'Espresso']);
      expect(await names(Product.objects.filter({ sku: SKU }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ sku: { icontains: SKU.slice(0, 8).toUpperCase() } }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ updatedAt: SENCHA_UPDATED }))).toEqual(['Sencha']);
      expect(await names(Product.objects.filter({ updatedAt: { lt: new Date('2025-01-01') } }))).toEqual(['Sencha']);
      expect((await Customer.objects.filter({ isVip: true })).map((c) => c.name)).toEqual(['Alice']);
    });
  });

  describe('filters across relations', () => {
    it('does filter through a foreign key', async () => {
      expect(await names(Product.objects.filter({ category: { name: 'Tea' } }))).toEqual(['Sencha', 'Matcha']);
      const orders = await Order.objects.filter({ customer: { email: { icontains: 'example.COM' } } }).orderBy('id');
      expect(orders.map((o) => o.note)).toEqual([null, 'gift']);
    });

    it('does filter through a reverse foreign key without duplicating rows', async () => {
      const orders = await Order.objects.filterDynamic({ items: { quantity: { gte: 2 } } });
      expect(orders).toHaveLength(1);
      expect(await Order.objects.filterDynamic({ items: { quantity: { gte: 1 } } }).count()).toBe(2);
    });

    it('does filter through a many-to-many relation, forward and reverse, without duplicates', async () => {
      expect(await names(Product.objects.filter({ tags: { label: 'green' } }))).toEqual(['Sencha', 'Matcha']);
      expect(await names(Product.objects.filter({ tags: { label: { in: ['green', 'japan'] } } }))).toEqual(['Sencha', 'Matcha']);
      const tags = await Tag.objects.filterDynamic({ products: { name: 'Sencha' } }).orderBy('label');
      expect(tags.map((t) => t.label)).toEqual(['green', 'japan']);
      const green = await Tag.objects.get({ label: 'green' });
      expect(await names(Product.objects.filter({ tags: green }))).toEqual(['Sencha', 'Matcha']);
    });

    it('does exclude rows whose relation is NULL when excluding through it', async () => {
      expect(await names(Product.objects.exclude({ category: { name: 'Tea' } }))).toEqual([
        'Espresso', '100% Arabica', 'snake_case', 'back\\slash', 'Genmai sencha',
      ]);
    });
  });

  describe('combinators', () => {
    it('does or, and, not', async () => {
      expect(await names(Product.objects.filter((q) => q.or({ stock: 0 }, { price: { gte: '15.00' } })))).toEqual(['Matcha', '100% Arabica']);
      expect(await names(Product.objects.filter((q) => q.not({ categoryId: { isNull: true } })))).toEqual(['Sencha', 'Matcha', 'Espresso', '100% Arabica']);
      const nested = Product.objects.filter((q) => q.or(q.and({ status: 'live' }, { stock: { gte: 4 } }), { name: 'Matcha' }));
      expect(await names(nested)).toEqual(['Matcha', 'Espresso', 'Genmai sencha']);
    });

    it('does treat an empty condition inside or as matching every row', async () => {
      expect(await Product.objects.filter((q) => q.or({}, { stock: 0 })).count()).toBe(7);
      expect(await Product.objects.filter((q) => q.or()).count()).toBe(0);
    });

    it('does tell a combinator from a filter on a relation named node to a field named type', async () => {
      const weights = async (qs: PromiseLike<{ weight: number }[]>) => (await qs).map((edge) => edge.weight);
      expect(await weights(GraphEdge.objects.filter((q) => q.or({ node: { type: 'a' } })))).toEqual([1]);
      expect(await weights(GraphEdge.objects.filter((q) => q.not({ node: { type: 'a' } })))).toEqual([2]);
    });

    it('does AND successive filters, and exclude returns the complement (NULLs included)', async () => {
      expect(await names(Product.objects.filter({ status: 'live' }).filter({ stock: { lt: 5 } }))).toEqual(['Sencha', 'Genmai sencha']);
      expect(await names(Product.objects.exclude({ status: 'draft' }))).toEqual(['Sencha', 'Espresso', '100% Arabica', 'Genmai sencha']);
      expect(await names(Product.objects.exclude({ weight: { lt: 0.6 } }))).toEqual(['Matcha', '100% Arabica', 'snake_case', 'back\\slash', 'Genmai sencha']);
    });
  });

  describe('ordering and slicing', () => {
    it('does orderBy ascending and descending, the last call winning', async () => {
      const ascending = await Product.objects.orderBy('price');
      expect(ascending.map((p) => p.price)).toEqual(['1.00', '2.00', '4.00', '8.25', '12.50', '15.00', '18.25']);
      const top = await Product.objects.orderBy('price').orderBy('-price').limit(3);
      expect(top.map((p) => p.name)).toEqual(['Matcha', '100% Arabica', 'Sencha']);
    });

    it('does orderBy a related field', async () => {
      const categorised = Product.objects.filter({ categoryId: { isNull: false } });
      expect((await categorised.orderBy('category.name', '-price')).map((p) => p.name)).toEqual(['100% Arabica', 'Espresso', 'Matcha', 'Sencha']);
      expect((await categorised.orderBy('-category.name', 'price')).map((p) => p.name)).toEqual(['Sencha', 'Matcha', 'Espresso', '100% Arabica']);
    });

    it('does join a relation it orders by without selecting its columns', async () => {
      const { result, shapes } = await runInQueryScope(() => Product.objects.filter({ categoryId: { isNull: false } }).orderBy('category.name', 'price').fetch());
      expect(result.map((p) => p.name)).toEqual(['Espresso', '100% Arabica', 'Sencha', 'Matcha']);
      expect(result[0]).not.toHaveProperty('category');
      const [query] = [...shapes.keys()];
      expect(query).toMatch(/ join /);
      expect(query!.slice(0, query!.indexOf(' from '))).not.toMatch(/"r1"/);
    });

    it('does order distinct rows by a related field on both databases', async () => {
      const rows = await Product.objects.filter({ categoryId: { isNull: false } }).distinct().orderBy('-category.name', 'price');
      expect(rows.map((p) => p.name)).toEqual(['Sencha', 'Matcha', 'Espresso', '100% Arabica']);
      const named = await Product.objects.filter({ categoryId: { isNull: false } }).only('name').distinct().orderBy('category.name', '-price');
      expect(named.map((p) => ({ ...p }))).toEqual(['100% Arabica', 'Espresso', 'Matcha', 'Sencha'].map((name) => ({ id: expect.any(Number), name })));
    });

    it('does sort NULL as the largest value on both databases', async () => {
      const weights = ['Espresso', 'Sencha', 'Genmai sencha', '100% Arabica'];
      const nulls = ['Matcha', 'snake_case', 'back\\slash'];
      expect((await Product.objects.orderBy('weight', 'id')).map((p) => p.name)).toEqual([...weights, ...nulls]);
      expect((await Product.objects.orderBy('-weight', 'id')).map((p) => p.name)).toEqual([...nulls, ...weights.reverse()]);
      expect((await Product.objects.orderBy('category.name', 'id')).map((p) => p.name)).toEqual([
        'Espresso', '100% Arabica', 'Sencha', 'Matcha', 'snake_case', 'back\\slash', 'Genmai sencha',
      ]);
      expect((await Product.objects.orderBy('weight', 'id').last())?.name).toBe('back\\slash');
    });

    it('does limit and offset, and rejects negative ones', async () => {
      expect((await Product.objects.orderBy('price').offset(2).limit(2)).map((p) => p.price)).toEqual(['4.00', '8.25']);
      expect((await Product.objects.orderBy('price').offset(5)).map((p) => p.price)).toEqual(['15.00', '18.25']);
      expect(await Product.objects.limit(0)).toEqual([]);
      expect(() => Product.objects.limit(-1)).toThrow(expect.objectContaining({ code: 'STRATA_MODEL_INVALID_QUERY' }));
      expect(() => Product.objects.offset(1.5)).toThrow(expect.objectContaining({ code: 'STRATA_MODEL_INVALID_QUERY' }));
    });
  });

  describe('projections', () => {
    it('does only: loads the named fields plus id, still as rows', async () => {
      const [row] = await Product.objects.filter({ name: 'Sencha' }).only('name', 'price');
      expect({ ...row }).toEqual({ id: expect.any(Number), name: 'Sencha', price: '12.50' });
      expect(isModelRow(row)).toBe(true);
    });

    it('does values: plain objects of the named fields, across to-one relations', async () => {
      const rows = await Product.objects.orderBy('price').limit(2).values('name', 'price');
      expect(rows).toEqual([{ name: 'snake_case', price: '1.00' }, { name: 'back\\slash', price: '2.00' }]);
      expect(isModelRow(rows[0])).toBe(false);
      const related = await Product.objects.filter({ name: { in: ['Sencha', 'snake_case'] } }).orderBy('id').values('name', 'category.name');
      expect(related).toEqual([{ name: 'Sencha', 'category.name': 'Tea' }, { name: 'snake_case', 'category.name': null }]);
    });

    it('does distinct values', async () => {
      const categorised = Product.objects.filter({ categoryId: { isNull: false } }).orderBy('status');
      expect(await categorised.values('status')).toHaveLength(4);
      expect(await categorised.distinct().values('status')).toEqual([{ status: 'archived' }, { status: 'draft' }, { status: 'live' }]);
      expect(await Product.objects.distinct().values('status')).toHaveLength(3);
      await expect(Product.objects.orderBy('price').distinct().values('status')).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
    });
  });

  describe('count, exists, aggregate', () => {
    it('does count, also of a sliced queryset', async () => {
      expect(await Product.objects.count()).toBe(7);
      expect(await Product.objects.filter({ status: 'live' }).count()).toBe(3);
      expect(await Product.objects.orderBy('price').limit(3).count()).toBe(3);
      expect(await Product.objects.orderBy('price').offset(5).count()).toBe(2);
      expect(await Product.objects.limit(100).count()).toBe(7);
      expect(await Product.objects.distinct().count()).toBe(7);
    });

    it('does exists, honouring a slice', async () => {
      expect(await Product.objects.filter({ name: 'Sencha' }).exists()).toBe(true);
      expect(await Product.objects.filter({ name: 'nope' }).exists()).toBe(false);
      expect(await Product.objects.offset(6).exists()).toBe(true);
      expect(await Product.objects.offset(7).exists()).toBe(false);
      expect(await Product.objects.limit(0).exists()).toBe(false);
    });

    it('does Count, Sum, Avg, Min and Max with exact decimals and bigints', async () => {
      const tea = await Product.objects.filter({ category: { name: 'Tea' } }).aggregate({
        total: Sum<string>('price'), n: Count(), avgStock: Avg('stock'), min: Min('price'), max: Max('price'), stock: Sum('stock'),
      });
      expect(tea).toEqual({ total: '30.75', n: 2, avgStock: 1.5, min: '12.50', max: '18.25', stock: 3 });
      const all = await Product.objects.aggregate({
        views: Sum<bigint>('views'), weighed: Count('weight'), statuses: Count('status', { distinct: true }), latest: Max('releasedOn'), oldest: Min('updatedAt'),
      });
      expect(all).toEqual({ views: 2n ** 60n + 15n, weighed: 4, statuses: 3, latest: '2024-06-01', oldest: SENCHA_UPDATED });
    });

    it('does aggregate an empty set to null (and Count to 0)', async () => {
      const none = await Product.objects.filter({ name: 'nope' }).aggregate({ total: Sum('price'), n: Count(), max: Max('stock'), avg: Avg('price') });
      expect(none).toEqual({ total: null, n: 0, max: null, avg: null });
    });
  });

  describe('get, first, last', () => {
    it('does get the single matching row', async () => {
      expect((await Product.objects.get({ name: 'Sencha' })).price).toBe('12.50');
      expect((await Product.objects.filter({ status: 'archived' }).get()).name).toBe('100% Arabica');
    });

    it('does throw NotFoundError and MultipleFoundError with stable codes', async () => {
      const missing = await Product.objects.get({ name: 'nope' }).catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing).toMatchObject({ code: 'STRATA_MODEL_NOT_FOUND', model: 'shop.Product' });
      expect(isStrataError(missing, 'STRATA_MODEL_NOT_FOUND')).toBe(true);
      const many = await Product.objects.get({ status: 'live' }).catch((error: unknown) => error);
      expect(many).toBeInstanceOf(MultipleFoundError);
      expect(many).toMatchObject({ code: 'STRATA_MODEL_MULTIPLE_FOUND', model: 'shop.Product' });
      expect(isStrataError(many, 'STRATA_MODEL_MULTIPLE_FOUND')).toBe(true);
      expect(isStrataError(many, 'STRATA_MODEL_NOT_FOUND')).toBe(false);
    });

    it('does first and last by the ordering, by id without one, null when empty', async () => {
      expect((await Product.objects.orderBy('price').first())?.name).toBe('snake_case');
      expect((await Product.objects.orderBy('price').last())?.name).toBe('Matcha');
      expect((await Product.objects.first())?.name).toBe('Sencha');
      expect((await Product.objects.last())?.name).toBe('Genmai sencha');
      expect(await Product.objects.filter({ name: 'nope' }).first()).toBeNull();
      expect(await Product.objects.filter({ name: 'nope' }).last()).toBeNull();
    });

    it('does keep to a slice: first within it, get counting only its rows, last refusing it', async () => {
      const byPrice = Product.objects.orderBy('price');
      expect((await byPrice.offset(2).first())?.name).toBe('Genmai sencha');
      expect(await byPrice.limit(0).first()).toBeNull();
      expect((await byPrice.limit(1).get()).name).toBe('snake_case');
      expect((await byPrice.offset(6).get()).name).toBe('Matcha');
      await expect(byPrice.limit(3).last()).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
    });
  });

  describe('scopes', () => {
    it('does chain scopes on the manager and after filter', async () => {
      expect(await names(Product.objects.inStock().cheaperThan('10.00'))).toEqual(['Espresso', 'snake_case', 'back\\slash', 'Genmai sencha']);
      expect(await names(Product.objects.filter({ status: 'live' }).inStock().cheaperThan('10.00'))).toEqual(['Espresso', 'Genmai sencha']);
      expect(await Product.objects.orderBy('-price').inStock().first()).toMatchObject({ name: '100% Arabica' });
    });
  });

  describe('values read back', () => {
    it('does decode every field kind to its documented type', async () => {
      const sencha = await Product.objects.get({ name: 'Sencha' });
      expect(sencha).toMatchObject({ price: '12.50', stock: 3, weight: 0.5, views: 10n, status: 'live', releasedOn: '2024-01-15', sku: SKU });
      expect(sencha.attributes).toEqual({ origin: 'JP' });
      expect(sencha.updatedAt).toBeInstanceOf(Date);
      expect(sencha.updatedAt.toISOString()).toBe(SENCHA_UPDATED.toISOString());
      expect(typeof sencha.categoryId).toBe('number');
      expect((await Product.objects.get({ name: 'Espresso' })).views).toBe(2n ** 60n);
      expect(await Product.objects.get({ name: 'Matcha' })).toMatchObject({ weight: null, releasedOn: null, views: 0n, status: 'draft', attributes: {} });
      const alice = await Customer.objects.get({ isVip: true });
      expect(alice.isVip).toBe(true);
      const profile = await Profile.objects.get({ customerId: alice.id });
      expect(profile.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });
  });
});
