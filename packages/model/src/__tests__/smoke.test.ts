import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases } from './helpers.js';
import { Category, Customer, Order, OrderItem, Product, Tag, models } from './fixtures.js';

describe.each(databases)('smoke ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  it('creates and reads rows', async () => {
    const tea = await Category.objects.create({ name: 'Tea' });
    const p = await Product.objects.create({ name: 'Sencha', price: '12.50', category: tea, stock: 3 });
    expect(p).toMatchObject({ name: 'Sencha', price: '12.50', categoryId: tea.id, stock: 3, status: 'draft', views: 0n });
    const rows = await Product.objects.filter({ category: { name: 'Tea' } }).selectRelated('category');
    expect(rows[0]!.category?.name).toBe('Tea');
    const c = await Customer.objects.create({ email: 'a@x.io', name: 'A' });
    const o = await Order.objects.create({ customer: c });
    await OrderItem.objects.bulkCreate([{ order: o, product: p, quantity: 2 }, { orderId: o.id, productId: p.id, quantity: 1 }]);
    const orders = await Order.objects.selectRelated('customer').prefetch('items', 'items.product');
    expect(orders[0]!.customer.email).toBe('a@x.io');
    expect((orders[0] as any).items).toHaveLength(2);
    const t = await Tag.objects.create({ label: 'green' });
    await Product.objects.related(p, 'tags').add(t);
    const withTags = await Product.objects.prefetch('tags');
    expect(withTags[0]!.tags.map((x) => x.label)).toEqual(['green']);
    expect(await Product.objects.inStock().count()).toBe(1);
  });
});
