import { createHash, randomBytes } from 'node:crypto';
import { createSuperuser, Session, User } from '@strata/auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cart, CartLine, Category, Order, OrderLine, Product } from '../models.js';
import { closeDatabase, databases, openDatabase, PASSWORD, startShop, Visitor } from './shopHarness.js';

describe.each(databases)('the shop on $name', (db) => {
  let shop: Awaited<ReturnType<typeof startShop>>;
  let tea: { id: number };
  let sencha: { id: number };
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    for (const model of [OrderLine, Order, CartLine, Cart, Product, Category, Session]) await model.objects.delete();
    await User.objects.delete();
    tea = await Category.objects.create({ name: 'Tea' });
    sencha = await Product.objects.create({ name: 'Sencha', price: '12.50', stock: 3, categoryId: tea.id });
    await Product.objects.create({ name: 'Matcha', price: '20.00', stock: 10, categoryId: tea.id });
    shop = await startShop();
  });

  it('keeps an anonymous cart through sign-in, checks out, and shows the order to its customer only', async () => {
    const alice = new Visitor(shop);
    await alice.open();
    const anonymous = await alice.tab();
    expect(await anonymous.call('cart', 'add', { productId: sencha.id, quantity: 2 })).toMatchObject({ patch: { cart: expect.any(Array) } });
    expect(await anonymous.call('cart', 'checkout')).toMatchObject({ error: { code: 'STRATA_AUTH_LOGIN_REQUIRED' } });

    await alice.register('alice@example.com');
    const tab = await alice.tab();
    await tab.call('cart', 'load');
    expect(await tab.state('cart')).toMatchObject({ lines: [{ id: sencha.id, name: 'Sencha', quantity: 2, stock: 3 }], total: '25.00', count: 2 });
    const bought = await tab.call('cart', 'checkout');
    expect(bought.value).toEqual({ orderId: expect.any(Number) });
    expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ stock: 1 });
    await tab.call('orders', 'load');
    expect(await tab.state('orders')).toMatchObject({ total: 1, list: [{ total: '25.00', lines: [{ name: 'Sencha', quantity: 2, price: '12.50' }] }] });

    // Another customer asking for that order by id: not found, through their own scope.
    const bob = new Visitor(shop);
    await bob.register('bob@example.com');
    const bobTab = await bob.tab();
    const orderId = (bought.value as { orderId: number }).orderId;
    expect(await bobTab.call('orders', 'startEdit', { id: orderId })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await bobTab.call('orders', 'delete', { id: orderId })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
  });

  it('refuses to sell more than is left, with how many are left, and buys nothing of that cart', async () => {
    const carol = new Visitor(shop);
    await carol.register('carol@example.com');
    const tab = await carol.tab();
    expect(await tab.call('cart', 'add', { productId: sencha.id, quantity: 4 })).toMatchObject({ error: { code: 'SHOP_OUT_OF_STOCK', message: 'Only 3 left of Sencha.' } });
    await tab.call('cart', 'add', { productId: sencha.id, quantity: 3 });
    await Product.objects.filter({ id: sencha.id }).update({ stock: 1 });
    expect(await tab.call('cart', 'checkout')).toMatchObject({ error: { code: 'SHOP_OUT_OF_STOCK', message: 'Only 1 left of Sencha.' } });
    expect(await Order.objects.count()).toBe(0);
    expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ stock: 1 });
  });

  it('lets staff edit products with field errors and conflicts, and refuses a customer’s edit over a raw socket', async () => {
    const customer = new Visitor(shop);
    await customer.register('dave@example.com');
    const raw = await customer.tab(['products']);
    expect(await raw.call('products', 'save', { id: sencha.id, data: { price: '0.01' }, version: 1 })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await raw.call('products', 'delete', { id: sencha.id })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });

    await createSuperuser({ email: 'staff@example.com', password: PASSWORD });
    const staff = new Visitor(shop);
    await staff.open();
    await staff.login('staff@example.com');
    const admin = await staff.tab(['products']);
    expect((await admin.call('products', 'save', { id: sencha.id, data: { price: '-1' }, version: 1 })).value).toMatchObject({ ok: false, fieldErrors: { price: expect.any(Array) } });
    expect((await admin.call('products', 'save', { id: sencha.id, data: { price: '13.00' }, version: 1 })).value).toMatchObject({ ok: true, row: { price: '13.00', version: 2 } });
    expect((await admin.call('products', 'save', { id: sencha.id, data: { price: '99.00' }, version: 1 })).value).toMatchObject({ ok: false, conflict: { price: '13.00' } });
    expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ price: '13.00', stock: 3 });
  });

  it('shows a purchase’s stock change live in another tab', async () => {
    const watcher = new Visitor(shop);
    await watcher.open();
    const catalog = await watcher.tab(['products']);
    await catalog.call('products', 'load', { ordering: ['name'] });
    const buyer = new Visitor(shop);
    await buyer.register('erin@example.com');
    const tab = await buyer.tab();
    await tab.call('cart', 'add', { productId: sencha.id, quantity: 1 });
    await tab.call('cart', 'checkout');
    const patch = await catalog.next((f) => f.t === 'patch' && JSON.stringify(f).includes('stock'));
    expect(JSON.stringify(patch)).toContain('"value":2');
  });

  it('keeps one cart per customer when two tabs add at once, and checks out both lines', async () => {
    const frank = new Visitor(shop);
    await frank.register('frank@example.com');
    const left = await frank.tab();
    await frank.open(); // a second page: its own join token
    const right = await frank.tab();
    const matcha = await Product.objects.get({ name: 'Matcha' });
    const added = await Promise.all([left.call('cart', 'add', { productId: sencha.id }), right.call('cart', 'add', { productId: matcha.id })]);
    expect(added.map((answer) => answer.error)).toEqual([undefined, undefined]);
    const user = await User.objects.get({ email: 'frank@example.com' });
    expect(await Cart.objects.filter({ ownerId: user.id }).count()).toBe(1);
    await left.call('cart', 'load');
    expect(await left.state('cart')).toMatchObject({ count: 2, total: '32.50' });
    expect((await left.call('cart', 'checkout')).value).toEqual({ orderId: expect.any(Number) });
    expect(await OrderLine.objects.filter({ order: { customerId: user.id } }).count()).toBe(2);
    expect(await CartLine.objects.filter({ cart: { ownerId: user.id } }).count()).toBe(0);
  });

  it('updates a shown cart live: stock, name and price of its products, and drops a deleted product', async () => {
    const gina = new Visitor(shop);
    await gina.register('gina@example.com');
    const tab = await gina.tab();
    const matcha = await Product.objects.get({ name: 'Matcha' });
    await tab.call('cart', 'add', { productId: sencha.id, quantity: 2 });
    await tab.call('cart', 'add', { productId: matcha.id, quantity: 1 });
    await tab.call('cart', 'load');
    const cart = () => tab.state('cart') as Promise<{ lines: { id: number; name: string; price: string; stock: number }[]; total: string; count: number }>;
    const changed = () => tab.next((f) => f.t === 'patch' && JSON.stringify(f).includes('"cart"'));

    let patch = changed();
    await Product.objects.filter({ id: sencha.id }).update({ stock: 2, price: '10.00', name: 'Sencha (new harvest)' });
    await patch;
    expect(await cart()).toMatchObject({ lines: [{ id: sencha.id, name: 'Sencha (new harvest)', price: '10.00', stock: 2 }, { id: matcha.id, stock: 10 }], total: '40.00', count: 3 });

    patch = changed();
    await Product.objects.filter({ id: matcha.id }).delete();
    await patch;
    expect(await cart()).toMatchObject({ lines: [{ id: sencha.id }], total: '20.00', count: 2 });
    expect((await cart()).lines).toHaveLength(1);
  });

  it('never oversells: 200 concurrent checkouts on a stock of 50 make exactly 50 orders', async () => {
    await Product.objects.filter({ id: sencha.id }).update({ stock: 50 });
    // 200 signed-in customers with one Sencha each; their sessions are made directly (200 sign-ins would spend the time in argon2).
    const customers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const user = await User.objects.create({ email: `c${i}@example.com`, password: '!unusable' });
        const cart = await Cart.objects.create({ ownerId: user.id });
        await CartLine.objects.create({ cartId: cart.id, productId: sencha.id, quantity: 1 });
        const value = randomBytes(32).toString('base64url');
        await Session.objects.create({ key: createHash('sha256').update(value).digest('hex'), userId: user.id, data: {}, expiresAt: new Date(Date.now() + 3600_000) });
        const visitor = new Visitor(shop);
        visitor.useSession(value);
        return visitor.tab(['cart']);
      }),
    );
    const results = await Promise.all(customers.map((tab) => tab.call('cart', 'checkout')));
    const sold = results.filter((r) => !r.error);
    expect(sold).toHaveLength(50);
    expect(new Set(results.filter((r) => r.error).map((r) => r.error!.code))).toEqual(new Set(['SHOP_OUT_OF_STOCK']));
    expect(await Order.objects.count()).toBe(50);
    expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ stock: 0 });
    for (const tab of customers) tab.socket.close();
  }, 60_000);
});
