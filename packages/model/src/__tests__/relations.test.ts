import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelRow, modelOfRow, runInQueryScope } from '..';
import { databases } from './helpers.js';
import { Category, Customer, Order, OrderItem, Product, Profile, Tag, models } from './fixtures.js';

const byId = <T extends { id: number }>(rows: T[]) => [...rows].sort((a, b) => a.id - b.id);
const sorted = (values: (string | undefined)[]) => [...values].sort();

async function seed() {
  const tea = await Category.objects.create({ name: 'Tea' });
  const [green, japan] = await Tag.objects.bulkCreate([{ label: 'green' }, { label: 'japan' }]);
  const sencha = await Product.objects.create({ name: 'Sencha', price: '12.50', category: tea });
  const bancha = await Product.objects.create({ name: 'Bancha', price: '6.00' });
  await Product.objects.related(sencha, 'tags').add(green!, japan!);
  await Product.objects.related(bancha, 'tags').add(green!);
  const alice = await Customer.objects.create({ email: 'alice@x.io', name: 'Alice' });
  const bob = await Customer.objects.create({ email: 'bob@x.io', name: 'Bob' });
  const [o1, o2] = await Order.objects.bulkCreate([{ customer: alice, note: 'o1' }, { customer: bob, note: 'o2' }, { customer: alice, note: 'o3' }]);
  await OrderItem.objects.bulkCreate([
    { order: o1!, product: sencha, quantity: 1 },
    { order: o1!, product: bancha, quantity: 3 },
    { order: o2!, product: sencha, quantity: 2 },
    { order: o2!, product: null, quantity: 5 },
  ]);
  await Profile.objects.create({ customer: alice, bio: 'tea lover' });
}

const shop = () => Order.objects.filter({ customer: { email: { endsWith: '@x.io' } } }).orderBy('id');

describe.each(databases)('relations ($name)', (db) => {
  beforeAll(async () => {
    await db.open(models);
    await seed();
  });
  afterAll(() => db.close());

  describe('selectRelated', () => {
    it('does load a to-one relation in the same query, null where the key is null', async () => {
      const { result, count } = await runInQueryScope(() => Product.objects.selectRelated('category').orderBy('id').fetch());
      expect(count).toBe(1);
      expect(result.map((p) => [p.name, p.category?.name ?? null])).toEqual([['Sencha', 'Tea'], ['Bancha', null]]);
      expect(isModelRow(result[0]!.category)).toBe(true);
      expect(modelOfRow(result[0]!.category)).toBe(Category);
    });

    it('does load a nested path, with a null at any level', async () => {
      const { result, count } = await runInQueryScope(() =>
        OrderItem.objects.selectRelated('order.customer', 'product.category').orderBy('order.note', 'quantity').fetch(),
      );
      expect(count).toBe(1);
      expect(result.map((item) => [item.order.note, item.order.customer.name, item.product?.name ?? null, item.product?.category?.name ?? null])).toEqual([
        ['o1', 'Alice', 'Sencha', 'Tea'],
        ['o1', 'Alice', 'Bancha', null],
        ['o2', 'Bob', 'Sencha', 'Tea'],
        ['o2', 'Bob', null, null],
      ]);
      expect(modelOfRow(result[0]!.order.customer)).toBe(Customer);
    });

    it('does work with get, filters and a one-to-one relation', async () => {
      const item = await OrderItem.objects.selectRelated('order').filter({ quantity: 3 }).get();
      expect(item.order.note).toBe('o1');
      const profile = await Profile.objects.selectRelated('customer').get({ bio: 'tea lover' });
      expect(profile.customer.email).toBe('alice@x.io');
    });

    it('does reject a path across a to-many relation, and an unknown one', async () => {
      await expect(Order.objects.selectRelated('items' as never)).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(Product.objects.selectRelated('tags' as never)).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(OrderItem.objects.selectRelated('order.items' as never)).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(Customer.objects.selectRelated('profile' as never)).rejects.toThrow(/reverse one-to-one relation "profile".*prefetch\(\)/);
      await expect(Order.objects.selectRelated('nope' as never)).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
    });
  });

  describe('prefetch', () => {
    it('does load a reverse foreign key with one extra query', async () => {
      const { result, count } = await runInQueryScope(() => shop().prefetch('items').fetch());
      expect(count).toBe(2);
      expect(result.map((o) => byId(o.items as { id: number; quantity: number }[]).map((i) => i.quantity))).toEqual([[1, 3], [2, 5], []]);
      expect(isModelRow((result[0]!.items as unknown[])[0])).toBe(true);
    });

    it('does load a many-to-many relation forward and reverse', async () => {
      const products = await Product.objects.prefetch('tags').orderBy('id');
      expect(products.map((p) => sorted(p.tags.map((t) => t.label)))).toEqual([['green', 'japan'], ['green']]);
      expect(modelOfRow(products[0]!.tags[0])).toBe(Tag);
      const { result: tags, count } = await runInQueryScope(() => Tag.objects.prefetch('products').orderBy('label').fetch());
      expect(count).toBe(2);
      expect(tags.map((t) => sorted((t.products as { name: string }[]).map((p) => p.name)))).toEqual([['Bancha', 'Sencha'], ['Sencha']]);
    });

    it('does load a reverse one-to-one as a row or null', async () => {
      const customers = await Customer.objects.filter({ email: { endsWith: '@x.io' } }).prefetch('profile').orderBy('name');
      expect(customers.map((c) => (c.profile as { bio: string } | null)?.bio ?? null)).toEqual(['tea lover', null]);
    });

    it('does load nested paths: a to-one tail joins, a to-many tail prefetches again', async () => {
      const { result, count } = await runInQueryScope(() => shop().prefetch('items', 'items.product').fetch());
      expect(count).toBe(2);
      const first = byId(result[0]!.items as { id: number; product: { name: string } | null }[]);
      expect(first.map((i) => i.product?.name)).toEqual(['Sencha', 'Bancha']);
      expect(byId(result[1]!.items as { id: number; product: unknown }[])[1]!.product).toBeNull();
      const deep = await runInQueryScope(() =>
        Customer.objects.filter({ email: 'alice@x.io' }).prefetch('orders.items.product.tags').fetch(),
      );
      // customers, orders, items, their products (a to-one followed by a to-many is batched, not joined), tags
      expect(deep.count).toBe(5);
      const orders = deep.result[0]!.orders as { note: string; items: { product: { tags: { label: string }[] } }[] }[];
      expect(sorted(orders.map((o) => o.note))).toEqual(['o1', 'o3']);
      const tagSets = orders.flatMap((o) => o.items.map((i) => sorted(i.product.tags.map((t) => t.label))));
      expect(sorted(tagSets.map(String))).toEqual(['green', 'green,japan']);
    });

    it('does load through a custom queryset, keeping its filter and ordering', async () => {
      const orders = await shop().prefetch({ items: OrderItem.objects.filter({ quantity: { gte: 2 } }).orderBy('-quantity') });
      expect(orders.map((o) => o.items.map((i) => i.quantity))).toEqual([[3], [5, 2], []]);
      const withProducts = await shop().prefetch({ items: OrderItem.objects.orderBy('quantity') }).prefetch('items.product');
      expect((withProducts[0]!.items as unknown as { product: { name: string } }[]).map((i) => i.product.name)).toEqual(['Sencha', 'Bancha']);
    });

    it('does keep the keys prefetching needs when only() leaves them out', async () => {
      const orders = await shop().only('note').prefetch('customer');
      expect(orders.map((o) => o.customer.name)).toEqual(['Alice', 'Bob', 'Alice']);
      const withItems = await shop().prefetch({ items: OrderItem.objects.only('quantity').orderBy('quantity') });
      expect(withItems.map((o) => o.items.map((i) => i.quantity))).toEqual([[1, 3], [2, 5], []]);
    });

    it('does honour only() and distinct() of a many-to-many prefetch queryset, keeping the keys it needs', async () => {
      const products = Product.objects.only('name').distinct().orderBy('name').prefetch('category');
      const { result, shapes } = await runInQueryScope(() => Tag.objects.orderBy('label').prefetch({ products }).fetch());
      const loaded = result.map((tag) => tag.products.map((p) => [Object.keys(p).sort().join(), p.name, p.category?.name ?? null]));
      const keys = 'category,categoryId,id,name';
      expect(loaded).toEqual([[[keys, 'Bancha', null], [keys, 'Sencha', 'Tea']], [[keys, 'Sencha', 'Tea']]]);
      expect([...shapes.keys()].filter((query) => /^select distinct /.test(query))).toHaveLength(1);
    });

    it('does load a to-one relation by name, batched', async () => {
      const { result, count } = await runInQueryScope(() => shop().prefetch('customer').fetch());
      expect(count).toBe(2);
      expect(result.map((o) => o.customer.name)).toEqual(['Alice', 'Bob', 'Alice']);
    });

    it('does reject a sliced queryset, one of another model, and an unknown name', async () => {
      await expect(shop().prefetch({ items: OrderItem.objects.limit(1) })).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(shop().prefetch({ items: OrderItem.objects.offset(1) })).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(shop().prefetch({ items: Product.objects })).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(shop().prefetch('nope')).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
    });

    it('does reject a bad prefetch even when no row matches', async () => {
      const none = Order.objects.filter({ note: 'none' });
      await expect(none.prefetch({ items: OrderItem.objects.limit(1) })).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
      await expect(none.prefetch('items.nope')).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
      await expect(none.prefetch({ items: OrderItem.objects.filterDynamic({ nope: 1 }) })).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
    });

    it('does reject a queryset given for a nested path, which it could not apply', async () => {
      await expect(shop().prefetch({ 'items.product': Product.objects })).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
    });
  });

  describe('constant query count', () => {
    it('does list N orders with selectRelated and nested prefetch in 2 queries whatever N is', async () => {
      const buyer = await Customer.objects.create({ email: 'bulk@bulk.io', name: 'Bulk' });
      const products = await Product.objects.bulkCreate(Array.from({ length: 5 }, (_, i) => ({ name: `P${i}`, price: '1.00' })));
      const orders = await Order.objects.bulkCreate(Array.from({ length: 500 }, (_, i) => ({ customer: buyer, note: `bulk ${i}` })));
      await OrderItem.objects.bulkCreate(
        orders.flatMap((order, i) => [
          { order, product: products[i % 5]!, quantity: 1 },
          { order, product: products[(i + 1) % 5]!, quantity: 2 },
        ]),
      );
      const list = (n: number) =>
        runInQueryScope(() =>
          Order.objects.filter({ customer: buyer }).orderBy('id').limit(n).selectRelated('customer').prefetch('items', 'items.product').fetch(),
        );
      const one = await list(1);
      const many = await list(500);
      expect(one.count).toBe(2);
      expect(many.count).toBe(one.count);
      expect([...many.shapes.keys()]).toEqual([...one.shapes.keys()]);
      expect(many.result).toHaveLength(500);
      for (const order of many.result) {
        expect(order.customer.email).toBe('bulk@bulk.io');
        const items = order.items as { product: { name: string } }[];
        expect(items).toHaveLength(2);
        expect(items.every((item) => /^P\d$/.test(item.product.name))).toBe(true);
      }
    });
  });
});
