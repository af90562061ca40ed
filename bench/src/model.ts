/**
 * @strata/model benchmark: querysets against hand-written drizzle on the same connection
 * and tables (the baseline), and against a naive per-row loop. SQLite always; PostgreSQL
 * too when STRATA_BENCH_PG_URL (or STRATA_TEST_PG_URL) is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, gte, inArray, like, lte } from 'drizzle-orm';
import { close, getRegistry, runInQueryScope, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { Customer, models, Order, OrderItem, ORDERS, Product, seed } from './shopModels.js';
import { printTable, time } from './table.js';

/** Strata: one queryset. */
const strataOrders = () => Order.objects.selectRelated('customer').prefetch('items', 'items.product').orderBy('id');

/** Hand-written drizzle: the same three-shape plan, written by hand. */
async function drizzleOrders() {
  const { db, table } = { db: getRegistry().db, table: (m: typeof Order | typeof Customer | typeof OrderItem | typeof Product) => getRegistry().table(m) };
  const o = table(Order);
  const c = table(Customer);
  const it = table(OrderItem);
  const p = table(Product);
  const rows = await db.select({ order: o, customer: c }).from(o).innerJoin(c, eq(c.id, o.customerId)).orderBy(o.id);
  const ids = rows.map((row: { order: { id: number } }) => row.order.id);
  const items = await db.select({ item: it, product: p }).from(it).innerJoin(p, eq(p.id, it.productId)).where(inArray(it.orderId, ids));
  const byOrder = new Map<number, unknown[]>();
  for (const { item, product } of items) {
    const list = byOrder.get(item.orderId) ?? [];
    list.push({ ...item, product });
    byOrder.set(item.orderId, list);
  }
  return rows.map((row: { order: { id: number }; customer: unknown }) => ({ ...row.order, customer: row.customer, items: byOrder.get(row.order.id) ?? [] }));
}

/** Naive: a query per row, the N+1 pattern the guide warns about. */
async function naiveOrders() {
  const orders = await Order.objects.orderBy('id');
  const out = [];
  for (const order of orders) {
    const customer = await Customer.objects.get({ id: order.customerId });
    const items = [];
    for (const item of await OrderItem.objects.filter({ orderId: order.id })) {
      items.push({ ...item, product: await Product.objects.get({ id: item.productId }) });
    }
    out.push({ ...order, customer, items });
  }
  return out;
}

async function queries(fn: () => Promise<unknown>): Promise<number> {
  return (await runInQueryScope(fn)).count;
}

async function benchDatabase(label: string, databaseUrl: string, schema?: string): Promise<(string | number)[][]> {
  await setup({ databaseUrl, models, debug: false, ...(schema ? { schema } : {}) });
  try {
    await createSchema();
    await seed();
    const rows: (string | number)[][] = [];
    const listed = [await strataOrders(), await drizzleOrders(), await naiveOrders()];
    const sizes = listed.map((list) => list.length);
    if (new Set(sizes).size !== 1) throw new Error(`variants disagree on the order count: ${sizes.join(', ')}`);
    const strata = await time(() => strataOrders().fetch(), 15);
    const drizzle = await time(drizzleOrders, 15);
    const naive = await time(naiveOrders, 3, 1);
    rows.push([`${label}: list ${ORDERS} orders + customer + items + product`, 'strata', await queries(() => strataOrders().fetch()), strata.toFixed(2), (strata / drizzle).toFixed(2)]);
    rows.push(['', 'hand-written drizzle', await queries(drizzleOrders), drizzle.toFixed(2), '1.00']);
    rows.push(['', 'naive per-row loop', await queries(naiveOrders), naive.toFixed(2), (naive / drizzle).toFixed(2)]);

    const { db } = getRegistry();
    const p = getRegistry().table(Product);
    const N = 2_000;
    const ids = Array.from({ length: N }, (_, i) => (i % 500) + 1);
    const strataGet = await time(async () => { for (const id of ids) await Product.objects.get({ id }); }, 7);
    const drizzleGet = await time(async () => { for (const id of ids) await db.select().from(p).where(eq(p.id, id)).limit(2); }, 7);
    rows.push([`${label}: get by primary key (per op)`, 'strata', 1, ((strataGet / N) * 1000).toFixed(1) + ' µs', (strataGet / drizzleGet).toFixed(2)]);
    rows.push(['', 'raw drizzle', 1, ((drizzleGet / N) * 1000).toFixed(1) + ' µs', '1.00']);
    const M = 1_000;
    const strataFilter = await time(async () => {
      for (let i = 0; i < M; i++) await Product.objects.filter({ category: i % 10, stock: { gte: 5, lte: 30 }, name: { startsWith: 'Product 1' } }).limit(20);
    }, 7);
    const drizzleFilter = await time(async () => {
      for (let i = 0; i < M; i++) {
        await db.select().from(p).where(and(eq(p.category, i % 10), gte(p.stock, 5), lte(p.stock, 30), like(p.name, 'Product 1%'))).limit(20);
      }
    }, 7);
    rows.push([`${label}: 3-condition filter, ≤20 rows (per op)`, 'strata', 1, ((strataFilter / M) * 1000).toFixed(1) + ' µs', (strataFilter / drizzleFilter).toFixed(2)]);
    rows.push(['', 'raw drizzle', 1, ((drizzleFilter / M) * 1000).toFixed(1) + ' µs', '1.00']);
    return rows;
  } finally {
    await close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
try {
  const rows = await benchDatabase('SQLite', `sqlite:${join(dir, 'bench.sqlite')}`);
  const pgUrl = process.env.STRATA_BENCH_PG_URL ?? process.env.STRATA_TEST_PG_URL;
  if (pgUrl) {
    const { default: pg } = await import('pg' as string);
    const schema = `strata_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    try {
      rows.push(...(await benchDatabase('PostgreSQL', pgUrl, schema)));
    } finally {
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  } else {
    console.log('(PostgreSQL skipped: set STRATA_BENCH_PG_URL=postgres://… to include it)');
  }
  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}`);
  printTable('@strata/model benchmark (median)', ['case', 'variant', 'queries', 'median ms', '× baseline'], rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
