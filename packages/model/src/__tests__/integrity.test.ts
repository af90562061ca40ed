import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomic, defineModel, f, F, IntegrityError, isStrataError } from '..';
import { databases } from './helpers.js';
import { Category, Customer, Order, OrderItem, Product, Shipment, Tag, writeModels } from './fixtures.js';

/** Field names whose columns snakeCase splits at acronyms, or that name their column. */
const Site = defineModel('lab.Site', {
  fields: {
    homeURLPath: f.text({ unique: true }),
    apiKey: f.text({ unique: true, column: 'secret_key' }),
    level: f.choice({ choices: ['a', 'b'], default: 'a' }),
  },
});

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<IntegrityError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IntegrityError);
  expect(isStrataError(error, 'STRATA_MODEL_INTEGRITY')).toBe(true);
  return error as IntegrityError;
}

describe.each(databases)('IntegrityError ($name)', (db) => {
  beforeAll(() => db.open([...writeModels, Site]));
  afterAll(() => db.close());

  it('reports a unique violation with the model and field', async () => {
    await Customer.objects.create({ email: 'dup@x.io', name: 'First' });
    const error = await rejection(Customer.objects.create({ email: 'dup@x.io', name: 'Second' }));
    expect(error).toMatchObject({ kind: 'unique', model: 'shop.Customer', field: 'email' });
    expect(error.message).toBe(
      `Unique constraint violated on shop.Customer.email${error.constraint ? ` (constraint ${error.constraint})` : ''}.`,
    );
    expect(error.cause).toBeDefined();
    expect(await Customer.objects.filter({ email: 'dup@x.io' }).count()).toBe(1);
  });

  it('names the field of a column whose name has an acronym or is given', async () => {
    await Site.objects.create({ homeURLPath: '/home', apiKey: 'k1' });
    const path = await rejection(Site.objects.create({ homeURLPath: '/home', apiKey: 'k2' }));
    expect(path).toMatchObject({ kind: 'unique', model: 'lab.Site', field: 'homeURLPath' });
    const key = await rejection(Site.objects.create({ homeURLPath: '/other', apiKey: 'k1' }));
    expect(key).toMatchObject({ kind: 'unique', model: 'lab.Site', field: 'apiKey' });
  });

  it('reports a unique violation made by update()', async () => {
    await Category.objects.bulkCreate([{ name: 'Unique A' }, { name: 'Unique B' }]);
    const error = await rejection(Category.objects.filter({ name: 'Unique B' }).update({ name: 'Unique A' }));
    expect(error).toMatchObject({ kind: 'unique', model: 'shop.Category', field: 'name' });
    expect(await Category.objects.filter({ name: 'Unique B' }).exists()).toBe(true);
  });

  it('reports a foreign key that points nowhere', async () => {
    const before = await OrderItem.objects.count();
    const error = await rejection(OrderItem.objects.create({ orderId: 999_999, quantity: 1 }));
    expect(error.kind).toBe('foreignKey');
    // SQLite's message names no table or column; PostgreSQL's names both.
    if (db.name === 'postgres') expect(error).toMatchObject({ model: 'shop.OrderItem', field: 'order' });
    expect(await OrderItem.objects.count()).toBe(before);
  });

  it('reports a check constraint by name, without inventing a field', async () => {
    const p = await Product.objects.create({ name: 'Checked', price: '1.00', stock: 5 });
    const error = await rejection(Product.objects.filter({ id: p.id }).update({ stock: F('stock').minus(1000) }));
    expect(error).toMatchObject({ kind: 'check', model: 'shop.Product', constraint: 'shop_product_stock_nonnegative' });
    expect(error.field).toBeUndefined();
    expect(error.message).toBe('Check constraint violated on shop.Product (constraint shop_product_stock_nonnegative).');
    expect((await Product.objects.get({ id: p.id })).stock).toBe(5);
  });

  it('reports a not-null violation with the field', async () => {
    const customer = await Customer.objects.create({ email: 'nn@x.io', name: 'N' });
    const order = await Order.objects.create({ customer });
    const shipment = await Shipment.objects.create({ order, parcels: 2 });
    const error = await rejection(Shipment.objects.filter({ id: shipment.id }).update({ parcels: F('insuredParcels') }));
    expect(error).toMatchObject({ kind: 'notNull', model: 'shop.Shipment', field: 'parcels' });
    expect((await Shipment.objects.get({ id: shipment.id })).parcels).toBe(2);
  });

  it('rolls back every earlier write of atomic() when a later one is refused', async () => {
    const before = { customers: await Customer.objects.count(), tags: await Tag.objects.count() };
    const error = await rejection(
      atomic(async () => {
        await Tag.objects.create({ label: 'half-written' });
        const c = await Customer.objects.create({ email: 'atomic@x.io', name: 'A' });
        await Order.objects.create({ customer: c });
        await Customer.objects.create({ email: 'atomic@x.io', name: 'B' });
      }),
    );
    expect(error.kind).toBe('unique');
    expect(await Customer.objects.count()).toBe(before.customers);
    expect(await Tag.objects.count()).toBe(before.tags);
    expect(await Tag.objects.filter({ label: 'half-written' }).exists()).toBe(false);
  });

  it('leaves the connection usable after a refused write', async () => {
    await rejection(Customer.objects.create({ email: 'dup@x.io', name: 'Again' }));
    await rejection(atomic(() => Customer.objects.create({ email: 'dup@x.io', name: 'Again' })));
    const fresh = await atomic(() => Customer.objects.create({ email: 'after@x.io', name: 'After' }));
    expect(await Customer.objects.get({ email: 'after@x.io' })).toEqual(fresh);
  });

  it('lets a caught violation in a nested atomic() keep the outer transaction', async () => {
    await atomic(async () => {
      await Tag.objects.create({ label: 'outer-kept' });
      const inner = await atomic(() => Customer.objects.create({ email: 'dup@x.io', name: 'Inner' })).catch((e: unknown) => e);
      expect(inner).toBeInstanceOf(IntegrityError);
      await Tag.objects.create({ label: 'outer-after' });
    });
    expect(await Tag.objects.filter({ label: { in: ['outer-kept', 'outer-after'] } }).count()).toBe(2);
  });
});
