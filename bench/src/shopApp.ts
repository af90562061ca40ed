/**
 * The built shop (apps/shop: `dist/app.js`, its pages in `dist/client` and `dist/server`) on a
 * benchmark database: the catalog, N customers signed in (sessions made directly, as the shop's
 * tests do: N sign-ins would time argon2), each with a cart of one unit of the contended product.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Session, User } from '@strata/auth';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import type { FastifyInstance } from 'fastify';
import type * as ShopModels from '@strata/example-shop/src/models.js';

/** What the bench needs of the shop's app definition (`defineApp` in apps/shop/src/app.ts). */
interface ShopApp {
  models: readonly { name: string }[];
  clientDir: string;
  server(settings: Record<string, unknown>, options: { dev?: undefined }): Promise<unknown>;
}

/** The shop's models, typed from its source, taken at run time from the built app (one copy of @strata/model). */
export interface Models {
  Category: typeof ShopModels.Category;
  Product: typeof ShopModels.Product;
  Cart: typeof ShopModels.Cart;
  CartLine: typeof ShopModels.CartLine;
  Order: typeof ShopModels.Order;
  OrderLine: typeof ShopModels.OrderLine;
}

/** A database the bench runs on: what to pass to `setup()`. */
export interface BenchDatabase {
  label: string;
  databaseUrl: string;
  schema?: string;
}

/** A customer: their session cookie, user id and cart. */
export interface Customer {
  cookie: string;
  userId: number;
  cartId: number;
}

/** The shop running on a loopback port over a seeded database. */
export interface RunningShop {
  app: FastifyInstance;
  origin: string;
  clientDir: string;
  models: Models;
  customers: Customer[];
  productId: number;
  stock: number;
  /** Puts every cart back to one unit, the stock back to `stock`, and deletes every order. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const SESSION_COOKIE = 'strata_session';

/**
 * Builds the shop's pages (`strata build`: dist/client and dist/server) when they are missing:
 * `npm run bench` builds the shop's server code, not its pages.
 */
function ensurePagesBuilt(): void {
  const shopDir = dirname(createRequire(import.meta.url).resolve('@strata/example-shop/package.json'));
  const built = ['dist/app.js', 'dist/server/entry-server.js', 'dist/client/.vite/manifest.json'].every((file) => existsSync(join(shopDir, file)));
  if (built || !existsSync(join(shopDir, 'dist/app.js'))) return;
  console.log('(building the shop\'s pages: strata build in apps/shop)');
  execFileSync(join(shopDir, 'node_modules', '.bin', 'strata'), ['build'], { cwd: shopDir, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The built app definition; says how to build it when it is missing. */
async function loadShopApp(): Promise<ShopApp> {
  ensurePagesBuilt();
  try {
    return ((await import('@strata/example-shop/dist/app.js' as string)) as { default: ShopApp }).default;
  } catch (error) {
    throw new Error('The shop is not built: run `pnpm exec turbo run build --filter=@strata/example-shop...` and `strata build` in apps/shop.', { cause: error });
  }
}

function modelsOf(app: ShopApp): Models {
  const pick = <T>(name: string) => {
    const model = app.models.find((m) => m.name === `shop.${name}`);
    if (!model) throw new Error(`The built shop has no model shop.${name}.`);
    return model as T;
  };
  return {
    Category: pick('Category'),
    Product: pick('Product'),
    Cart: pick('Cart'),
    CartLine: pick('CartLine'),
    Order: pick('Order'),
    OrderLine: pick('OrderLine'),
  };
}

/** A catalog of 3 categories and 14 products (the seed's shape), plus the contended product. */
async function seedCatalog(models: Models, stock: number): Promise<number> {
  const categories = await models.Category.objects.bulkCreate(['Tea', 'Teaware', 'Snacks'].map((name) => ({ name })));
  await models.Product.objects.bulkCreate(
    Array.from({ length: 14 }, (_, i) => ({
      name: `Product ${i + 1}`,
      price: `${(i % 9) + 5}.50`,
      stock: 10 + i,
      description: `Catalog product number ${i + 1}, with a sentence of description.`,
      categoryId: categories[i % 3]!.id,
    })),
  );
  const contended = await models.Product.objects.create({ name: 'Limited sencha', price: '12.50', stock, description: 'Everyone wants it.', categoryId: categories[0]!.id });
  return contended.id;
}

/** `count` signed-in customers with a session each and a cart holding one unit of `productId`. */
async function seedCustomers(models: Models, count: number, productId: number): Promise<Customer[]> {
  const customers: Customer[] = [];
  for (let i = 0; i < count; i++) {
    const user = await User.objects.create({ email: `customer${i}@bench.example`, password: '!unusable' });
    const cart = await models.Cart.objects.create({ ownerId: user.id });
    const value = randomBytes(32).toString('base64url');
    await Session.objects.create({ key: createHash('sha256').update(value).digest('hex'), userId: user.id, data: {}, expiresAt: new Date(Date.now() + 3_600_000) });
    customers.push({ cookie: `${SESSION_COOKIE}=${value}`, userId: user.id, cartId: cart.id });
  }
  await models.CartLine.objects.bulkCreate(customers.map((c) => ({ cartId: c.cartId, productId, quantity: 1 })));
  return customers;
}

/**
 * Sets up `database` with the shop's models, seeds it, and starts the shop's server (auth,
 * states and the server-rendered pages of the built web app) on a loopback port.
 */
export async function startShop(database: BenchDatabase, options: { customers: number; stock: number }): Promise<RunningShop> {
  const shopApp = await loadShopApp();
  const models = modelsOf(shopApp);
  await setup({ databaseUrl: database.databaseUrl, models: shopApp.models as never, debug: false, ...(database.schema ? { schema: database.schema } : {}) });
  await createSchema();
  const productId = await seedCatalog(models, options.stock);
  const customers = await seedCustomers(models, options.customers, productId);
  // What `strata start` passes, minus what the bench cannot know before listening (the port, so the socket's origin: the default, the app's own).
  const settings = { env: 'test', secretKey: 'shop-bench-secret-shop-bench-secret-0123', siteOrigin: 'https://shop.example', redisUrl: undefined, debug: false, allowedHosts: ['127.0.0.1', 'localhost'] };
  const app = (await shopApp.server(settings, {})) as FastifyInstance;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { Product, CartLine, Order, OrderLine } = models;
  return {
    app,
    origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    clientDir: shopApp.clientDir,
    models,
    customers,
    productId,
    stock: options.stock,
    async reset() {
      await OrderLine.objects.delete();
      await Order.objects.delete();
      await CartLine.objects.delete();
      await CartLine.objects.bulkCreate(customers.map((c) => ({ cartId: c.cartId, productId, quantity: 1 })));
      await Product.objects.filter({ id: productId }).update({ stock: options.stock });
    },
    async stop() {
      await app.close();
      await close();
    },
  };
}
