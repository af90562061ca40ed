import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomic, defineModel, f, IntegrityError, isStrataError, ProtectedError, runInQueryScope, type ChangeEvent } from '..';
import { databases, recordChanges } from './helpers.js';
import { Category, Customer, Order, OrderItem, Product, Profile, Shipment, Tag, writeModels } from './fixtures.js';

// A diamond: entries point at their account both directly and through their statement.
const Account = defineModel('lab.Account', { fields: { name: f.text() } });
const Entry = defineModel('lab.Entry', {
  fields: { account: f.foreignKey(() => Account), statement: f.foreignKey(() => Statement), amount: f.integer() },
});
const Statement = defineModel('lab.Statement', { fields: { account: f.foreignKey(() => Account), month: f.text() } });

let seq = 0;
/** A customer with one order of two items (one of them for a product). */
async function orderWithItems() {
  seq += 1;
  const customer = await Customer.objects.create({ email: `del${seq}@x.io`, name: `D${seq}` });
  const order = await Order.objects.create({ customer });
  const product = await Product.objects.create({ name: `Deleted goods ${seq}`, price: '3.00' });
  const items = await OrderItem.objects.bulkCreate([
    { order, product, quantity: 1 },
    { order, quantity: 2 },
  ]);
  return { customer, order, product, items };
}

const sorted = (values: (number | string)[]) => [...values].sort((a, b) => Number(a) - Number(b));

describe.each(databases)('QuerySet.delete ($name)', (db) => {
  beforeAll(() => db.open([...writeModels, Account, Entry, Statement]));
  afterAll(() => db.close());

  let events: ChangeEvent[] = [];
  const listen = () => (events = recordChanges());

  it('returns the count in all and per model, and cascades to referencing rows', async () => {
    const { order, items } = await orderWithItems();
    listen();
    const result = await Order.objects.filter({ id: order.id }).delete();
    expect(result).toEqual({ count: 3, byModel: { 'shop.Order': 1, 'shop.OrderItem': 2 } });
    expect(await OrderItem.objects.filter({ id: { in: items.map((item) => item.id) } }).count()).toBe(0);
    expect(events.map((e) => ({ ...e, pks: sorted(e.pks) }))).toEqual([
      { type: 'deleted', model: 'shop.OrderItem', pks: sorted(items.map((item) => item.id)) },
      { type: 'deleted', model: 'shop.Order', pks: [order.id] },
    ]);
  });

  it('deletes rows nothing refers to in one statement, inside a transaction too, with their change event', async () => {
    const { items } = await orderWithItems();
    listen();
    const alone = await runInQueryScope(() => OrderItem.objects.filter({ id: items[0]!.id }).delete());
    expect(alone).toMatchObject({ count: 1, result: { count: 1, byModel: { 'shop.OrderItem': 1 } } });
    const inside = await runInQueryScope(() => atomic(() => OrderItem.objects.filter({ id: items[1]!.id }).delete()));
    expect(inside).toMatchObject({ count: 1, result: { count: 1, byModel: { 'shop.OrderItem': 1 } } });
    expect(await OrderItem.objects.filter({ id: { in: items.map((item) => item.id) } }).count()).toBe(0);
    expect(events).toEqual([
      { type: 'deleted', model: 'shop.OrderItem', pks: [items[0]!.id] },
      { type: 'deleted', model: 'shop.OrderItem', pks: [items[1]!.id] },
    ]);
    const none = await runInQueryScope(() => OrderItem.objects.filter({ id: -1 }).delete());
    expect(none.result).toEqual({ count: 0, byModel: {} });
    expect(events).toHaveLength(2);
  });

  it('rolls back a one-statement delete with the transaction it ran in', async () => {
    const { items } = await orderWithItems();
    await expect(
      atomic(async () => {
        await OrderItem.objects.filter({ id: items[0]!.id }).delete();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await OrderItem.objects.filter({ id: items[0]!.id }).exists()).toBe(true);
  });

  it('cascades through several levels', async () => {
    const { customer, items } = await orderWithItems();
    await Profile.objects.create({ customer, bio: 'gone soon' });
    const result = await Customer.objects.filter({ id: customer.id }).delete();
    expect(result).toEqual({
      count: 5,
      byModel: { 'shop.Customer': 1, 'shop.Order': 1, 'shop.OrderItem': 2, 'shop.Profile': 1 },
    });
    expect(await OrderItem.objects.filter({ id: items[0]!.id }).exists()).toBe(false);
    expect(await Profile.objects.filter({ customerId: customer.id }).exists()).toBe(false);
  });

  it('sets referencing keys to null for onDelete setNull, and reports them as updated', async () => {
    const { product, items } = await orderWithItems();
    listen();
    const result = await Product.objects.filter({ id: product.id }).delete();
    expect(result).toEqual({ count: 1, byModel: { 'shop.Product': 1 } });
    const item = await OrderItem.objects.get({ id: items[0]!.id });
    expect(item.productId).toBeNull();
    expect(events).toEqual([
      { type: 'updated', model: 'shop.OrderItem', pks: [items[0]!.id] },
      { type: 'deleted', model: 'shop.Product', pks: [product.id] },
    ]);
  });

  it('refuses to delete rows protected by onDelete protect, and deletes nothing', async () => {
    const tea = await Category.objects.create({ name: 'Protected tea' });
    const empty = await Category.objects.create({ name: 'Empty shelf' });
    const p = await Product.objects.create({ name: 'Protector', price: '1.00', category: tea });
    listen();
    const error = await Category.objects
      .filter({ name: { in: ['Protected tea', 'Empty shelf'] } })
      .delete()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtectedError);
    expect(isStrataError(error, 'STRATA_MODEL_PROTECTED')).toBe(true);
    expect(error).toMatchObject({ model: 'shop.Category', protectedBy: 'shop.Product' });
    expect((error as Error).message).toContain("through category (onDelete: 'protect')");
    expect(await Category.objects.filter({ id: { in: [tea.id, empty.id] } }).count()).toBe(2);
    expect(await Product.objects.filter({ id: p.id }).exists()).toBe(true);
    expect(events).toEqual([]);

    await Product.objects.filter({ id: p.id }).update({ categoryId: null });
    expect(await Category.objects.filter({ id: tea.id }).delete()).toEqual({ count: 1, byModel: { 'shop.Category': 1 } });
  });

  it('counts and reports every row of a diamond of cascades', async () => {
    const account = await Account.objects.create({ name: 'Diamond' });
    const statement = await Statement.objects.create({ account, month: '2024-01' });
    const entries = await Entry.objects.bulkCreate([1, 2].map((amount) => ({ account, statement, amount })));
    listen();
    expect(await Account.objects.filter({ id: account.id }).delete()).toEqual({
      count: 4,
      byModel: { 'lab.Account': 1, 'lab.Statement': 1, 'lab.Entry': 2 },
    });
    const deleted = Object.fromEntries(events.map((e) => [e.model, sorted(e.pks)]));
    expect(deleted).toEqual({ 'lab.Account': [account.id], 'lab.Statement': [statement.id], 'lab.Entry': sorted(entries.map((e) => e.id)) });
  });

  it('refuses onDelete restrict with an IntegrityError and rolls back the cascades', async () => {
    const { order, items } = await orderWithItems();
    await Shipment.objects.create({ order });
    const error = await Order.objects.filter({ id: order.id }).delete().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).kind).toBe('foreignKey');
    expect(await Order.objects.filter({ id: order.id }).exists()).toBe(true);
    expect(await OrderItem.objects.filter({ id: { in: items.map((item) => item.id) } }).count()).toBe(2);
  });

  it('removes many-to-many through rows, from either side, and keeps the other side', async () => {
    const p = await Product.objects.create({ name: 'Tagged for deletion', price: '1.00' });
    const [green, black] = await Tag.objects.bulkCreate([{ label: 'del-green' }, { label: 'del-black' }]);
    await Product.objects.related(p, 'tags').add(green!, black!);
    listen();
    const result = await Product.objects.filter({ id: p.id }).delete();
    expect(result).toEqual({ count: 3, byModel: { 'shop.Product': 1, 'shop.Product_tags': 2 } });
    expect(events.map((e) => e.model)).toEqual(['shop.Product_tags', 'shop.Product']);
    expect(await Tag.objects.filter({ id: { in: [green!.id, black!.id] } }).count()).toBe(2);

    const q = await Product.objects.create({ name: 'Keeps its product', price: '1.00' });
    await Product.objects.related(q, 'tags').add(green!, black!);
    expect(await Tag.objects.filter({ id: green!.id }).delete()).toEqual({
      count: 2,
      byModel: { 'shop.Tag': 1, 'shop.Product_tags': 1 },
    });
    expect((await Product.objects.related(q, 'tags').all()).map((tag) => tag.label)).toEqual(['del-black']);
  });

  it('deletes only the rows of a sliced queryset', async () => {
    const tags = await Tag.objects.bulkCreate(['slice-1', 'slice-2', 'slice-3'].map((label) => ({ label })));
    const result = await Tag.objects.filter({ label: { startsWith: 'slice-' } }).orderBy('-id').limit(2).delete();
    expect(result.byModel['shop.Tag']).toBe(2);
    expect((await Tag.objects.filter({ label: { startsWith: 'slice-' } })).map((tag) => tag.id)).toEqual([tags[0]!.id]);
  });

  it('returns zero and emits nothing when nothing matches', async () => {
    listen();
    expect(await Order.objects.filter({ id: -1 }).delete()).toEqual({ count: 0, byModel: {} });
    expect(events).toEqual([]);
  });

  it('emits nothing until an enclosing transaction commits', async () => {
    const { order } = await orderWithItems();
    listen();
    await atomic(async () => {
      await Order.objects.filter({ id: order.id }).delete();
      expect(events).toEqual([]);
    });
    expect(events.map((e) => e.model)).toEqual(['shop.OrderItem', 'shop.Order']);
  });
});
