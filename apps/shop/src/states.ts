import { AuthError, loginRequired, staffRequired } from '@strata/auth';
import { atomic, F, type Where } from '@strata/model';
import { createModelSerializer } from '@strata/serializer';
import { defineModelState, defineState, EventError, type Guard, type HandlerContext, type ModelChange } from '@strata/state/server';
import * as v from 'valibot';
import { Cart, CartLine, Category, Order, OrderLine, Product } from './models.js';

export const CategorySerializer = createModelSerializer(Category, { fields: ['id', 'name'] });
export const ProductSerializer = createModelSerializer(Product, {
  fields: ['id', 'name', 'description', 'price', 'stock', 'categoryId', 'version'],
  readOnly: ['version'],
  nested: { category: CategorySerializer },
});

/**
 * The catalog, and the staff's product management: anyone lists and opens products (search,
 * category filter, ordering, pages over allow-listed fields only); only staff create, edit
 * (a stale edit is refused with the current row) and delete. Stock changes reach every tab.
 */
export const Products = defineModelState('products', {
  model: Product,
  serializer: ProductSerializer,
  pageSize: 12,
  maxPageSize: 48,
  ordering: ['name', 'price', 'stock'],
  search: ['name', 'description'],
  filters: { categoryId: v.pipe(v.number(), v.integer(), v.minValue(1)) },
  selectRelated: ['category'],
  versionField: 'version',
  public: ['load', 'startEdit'],
  guards: { save: staffRequired, delete: staffRequired },
});

/** Refuses everything: orders are history, nobody edits or deletes them here. */
const never: Guard = () => {
  throw new AuthError('STRATA_AUTH_PERMISSION_DENIED', 'Orders cannot be changed.');
};

const OrderSerializer = createModelSerializer(Order, {
  fields: ['id', 'total', 'createdAt'],
  nested: { lines: [createModelSerializer(OrderLine, { fields: ['id', 'name', 'price', 'quantity', 'productId'] })] },
});

/** A customer's own orders: every lookup goes through their scope, so another customer's order is "not found". */
export const Orders = defineModelState('orders', {
  model: Order,
  serializer: OrderSerializer,
  pageSize: 10,
  ordering: ['createdAt'],
  prefetch: ['lines'],
  getQueryset: (ctx) => Order.objects.filter({ customerId: ctx.user?.id ?? -1 }),
  guards: { load: loginRequired, startEdit: loginRequired, save: never, delete: never },
});

type Line = { id: number; name: string; price: string; quantity: number; stock: number };

/**
 * Merges this session's anonymous cart (its id kept in the session until then) into the
 * signed-in customer's cart, once: afterwards the session's cartId is null and no lookup runs.
 */
async function mergeAnonymousCart(ctx: HandlerContext): Promise<void> {
  const sessionCart = ctx.session?.get<number | null>('cartId');
  if (sessionCart == null || !ctx.user) return;
  const owner = ctx.user.id;
  const anonymous = await Cart.objects.filter({ id: sessionCart, ownerId: { isNull: true } }).first();
  if (anonymous) {
    await atomic(async () => {
      const [mine] = await Cart.objects.getOrCreate({ ownerId: owner });
      for (const line of await CartLine.objects.filter({ cartId: anonymous.id })) {
        const existing = await CartLine.objects.filter({ cartId: mine.id, productId: line.productId }).first();
        if (existing) await CartLine.objects.filter({ id: existing.id }).update({ quantity: Math.min(99, existing.quantity + line.quantity) });
        else await CartLine.objects.create({ cartId: mine.id, productId: line.productId, quantity: line.quantity });
      }
      await Cart.objects.filter({ id: anonymous.id }).delete();
    });
  }
  await ctx.session!.set('cartId', null);
}

/** The cart of this session (anonymous) or of the signed-in customer (one each), made when `create` and missing. */
async function cartOf(ctx: HandlerContext, create: boolean): Promise<{ id: number } | undefined> {
  if (ctx.user) {
    await mergeAnonymousCart(ctx);
    // getOrCreate: two tabs adding at once still make one cart (the owner is unique).
    if (create) return (await Cart.objects.getOrCreate({ ownerId: ctx.user.id }))[0];
    return (await Cart.objects.filter({ ownerId: ctx.user.id }).first()) ?? undefined;
  }
  const sessionCart = ctx.session?.get<number | null>('cartId');
  if (sessionCart != null) {
    const cart = await Cart.objects.filter({ id: sessionCart, ownerId: { isNull: true } }).first();
    if (cart) return cart;
  }
  if (!create) return undefined;
  if (!ctx.session) throw new EventError('SHOP_NO_SESSION', 'This page has no session; reload it to use the cart.');
  const cart = await Cart.objects.create({ ownerId: null });
  await ctx.session.set('cartId', cart.id);
  return cart;
}

/** This visitor's cart lines with their products, in one query; `cartId` is undefined when the cart is empty or missing. */
async function readCart(ctx: HandlerContext): Promise<{ cartId: number | undefined; lines: Line[] }> {
  let cart: Where<typeof CartLine>['cart'];
  if (ctx.user) {
    await mergeAnonymousCart(ctx);
    cart = { ownerId: ctx.user.id };
  } else {
    const sessionCart = ctx.session?.get<number | null>('cartId');
    if (sessionCart == null) return { cartId: undefined, lines: [] };
    cart = { id: sessionCart, ownerId: { isNull: true } };
  }
  const rows = await CartLine.objects.filter({ cart }).selectRelated('product').orderBy('id');
  const lines = rows.map((line) => ({ id: line.product.id, name: line.product.name, price: line.product.price, quantity: line.quantity, stock: line.product.stock }));
  return { cartId: rows[0]?.cartId, lines };
}

function totalOf(lines: readonly Line[]): string {
  const cents = lines.reduce((sum, line) => sum + Math.round(Number(line.price) * 100) * line.quantity, 0);
  return (cents / 100).toFixed(2);
}

type CartVars = { lines: Line[]; total: string; count: number };

function showLines(s: CartVars, lines: Line[]): void {
  s.lines = lines;
  s.total = totalOf(lines);
  s.count = lines.reduce((sum, line) => sum + line.quantity, 0);
}

async function refresh(s: CartVars, ctx: HandlerContext): Promise<void> {
  showLines(s, (await readCart(ctx)).lines);
}

type ProductRow = { id: number; name: string; price: string; stock: number };
/**
 * The changed products' rows, read once per committed change for every cart showing one of
 * them (the change is the same object in every tab's job): a sale shown in 1,000 carts is one
 * query, not 1,000. Product rows are public, so sharing them between visitors leaks nothing.
 */
const changedProducts = new WeakMap<ModelChange, Promise<Map<number, ProductRow>>>();
function productsOf(change: ModelChange): Promise<Map<number, ProductRow>> {
  let rows = changedProducts.get(change);
  if (!rows) {
    const ids = change.pks.map(Number);
    rows = Product.objects
      .filter({ id: { in: ids } })
      .then((list) => new Map(list.map((row) => [row.id, { id: row.id, name: row.name, price: row.price, stock: row.stock }])));
    // A failed read is not kept: the next tab tries again.
    rows.catch(() => changedProducts.delete(change));
    changedProducts.set(change, rows);
  }
  return rows;
}

/** Applies product changes to the cart's lines: new stock, name and price; a deleted product's line is gone. */
async function applyProductChanges(s: CartVars, changes: readonly ModelChange[]): Promise<void> {
  let lines = s.lines;
  for (const change of changes) {
    if (!lines.some((line) => change.pks.includes(line.id))) continue;
    const rows = change.type === 'deleted' ? new Map<number, ProductRow>() : await productsOf(change);
    lines = lines.flatMap((line) => {
      if (!change.pks.includes(line.id)) return [line];
      const row = rows.get(line.id);
      return row ? [{ ...line, name: row.name, price: row.price, stock: row.stock }] : [];
    });
  }
  if (lines !== s.lines) showLines(s, lines);
}

const productId = v.pipe(v.number(), v.integer(), v.minValue(1));
const quantity = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(99));

/** The cart: lines with live stock, and a checkout that never oversells. */
export const CartState = defineState('cart', {
  vars: () => ({ lines: [] as Line[], total: '0.00', count: 0 }),
  live: {
    models: [Product],
    // Only carts holding a changed product reload (their stock and prices).
    filter: (s, change) => s.lines.some((line) => change.pks.includes(line.id)),
    onChange: (s, changes) => applyProductChanges(s, changes),
  },
  handlers: (h) => ({
    load: h.event({ public: true, run: (s, _args, ctx) => refresh(s, ctx) }),
    add: h.event({
      public: true,
      args: v.object({ productId, quantity: v.optional(quantity, 1) }),
      rateLimit: { max: 30, windowMs: 10_000 },
      run: async (s, args, ctx) => {
        const product = await Product.objects.filter({ id: args.productId }).first();
        if (!product) throw new EventError('SHOP_NO_PRODUCT', 'This product is no longer sold.');
        const cart = (await cartOf(ctx, true))!;
        const line = await CartLine.objects.filter({ cartId: cart.id, productId: product.id }).first();
        const wanted = (line?.quantity ?? 0) + args.quantity;
        if (wanted > product.stock) throw outOfStock(product.name, product.stock);
        if (line) await CartLine.objects.filter({ id: line.id }).update({ quantity: Math.min(99, wanted) });
        else await CartLine.objects.create({ cartId: cart.id, productId: product.id, quantity: args.quantity });
        await refresh(s, ctx);
      },
    }),
    setQuantity: h.event({
      public: true,
      args: v.object({ productId, quantity: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(99)) }),
      run: async (s, args, ctx) => {
        const cart = await cartOf(ctx, false);
        if (cart) {
          const lines = CartLine.objects.filter({ cartId: cart.id, productId: args.productId });
          if (args.quantity === 0) await lines.delete();
          else await lines.update({ quantity: args.quantity });
        }
        await refresh(s, ctx);
      },
    }),
    /**
     * Buys the cart in one transaction: each stock is decremented only where enough is left
     * (`stock >= quantity`, atomically), so two checkouts can never sell the same item twice;
     * if any product runs short, nothing is bought and the customer is told how many are left.
     */
    checkout: h.event({
      guard: loginRequired,
      run: async (s, _args, ctx) => {
        const { cartId, lines } = await readCart(ctx);
        if (cartId === undefined) throw new EventError('SHOP_EMPTY_CART', 'Your cart is empty.');
        const order = await atomic(async () => {
          const created = await Order.objects.create({ customerId: ctx.user!.id, total: totalOf(lines) });
          await OrderLine.objects.bulkCreate(lines.map((line) => ({ orderId: created.id, productId: line.id, name: line.name, price: line.price, quantity: line.quantity })));
          await CartLine.objects.filter({ cartId }).delete();
          // Stock last: a product's row stays locked until the commit, so other checkouts of it wait the least.
          for (const line of lines) {
            const sold = await Product.objects.filter({ id: line.id, stock: { gte: line.quantity } }).update({ stock: F('stock').minus(line.quantity) });
            if (sold === 0) {
              const now = await Product.objects.filter({ id: line.id }).first();
              throw outOfStock(line.name, now?.stock ?? 0);
            }
          }
          return created;
        });
        // Bought: the cart is empty now, no need to read it again.
        showLines(s, []);
        ctx.toast(`Order ${order.id} placed.`, 'success');
        return { orderId: order.id };
      },
    }),
  }),
});

function outOfStock(name: string, left: number): EventError {
  const message = left === 0 ? `${name} is sold out.` : `Only ${left} left of ${name}.`;
  return new EventError('SHOP_OUT_OF_STOCK', message, { fields: { quantity: [message] } });
}

/** One product's page: its details and live stock. */
export const ProductPage = defineState('product', {
  vars: () => ({ product: null as null | Record<string, unknown>, missing: false }),
  backend: () => ({ id: 0 }),
  live: {
    models: [Product],
    filter: (s, change) => s.id !== 0 && change.pks.includes(s.id),
    onChange: (s) => show(s, s.id),
  },
  handlers: (h) => ({
    load: h.event({ public: true, args: v.object({ id: productId }), run: (s, { id }) => show(s, id) }),
  }),
});

async function show(s: { product: null | Record<string, unknown>; missing: boolean; id: number }, id: number): Promise<void> {
  s.id = id;
  const row = await Product.objects.filter({ id }).selectRelated('category').first();
  s.product = row ? ((await ProductSerializer.toJSON(row)) as Record<string, unknown>) : null;
  s.missing = !row;
}

/** Every category, for the catalog's filter. */
export const Categories = defineState('categories', {
  vars: () => ({ list: [] as { id: number; name: string }[] }),
  handlers: (h) => ({
    load: h.event({ public: true, run: async (s) => void (s.list = (await CategorySerializer.toJSON(await Category.objects.orderBy('name'))) as never) }),
  }),
});

export const shopStates = [Products, ProductPage, Categories, CartState, Orders];
