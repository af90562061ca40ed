/**
 * Shop benchmark (apps/shop, built): (1) checkout throughput under contention — CUSTOMERS
 * signed-in customers, each with one unit of the same product in the cart (stock STOCK), all
 * checking out at once over real sockets, against a raw-SQL transaction per customer in process
 * and against that same transaction behind a raw fastify + @fastify/websocket route (same
 * transport), on the same database, driver, data and concurrency; (2) server-rendering time and size of the
 * catalog page; (3) the browser JS that page loads, gzipped. SQLite file always; PostgreSQL too
 * when STRATA_BENCH_PG_URL (or STRATA_TEST_PG_URL) is set, in a private schema. The shop and its
 * clients share this process, on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchDatabase, startShop } from './shopApp.js';
import { benchCheckout, type CheckoutResult } from './shopCheckout.js';
import { benchCatalogPage, catalogScripts, type PageTiming, type ScriptSize } from './shopPages.js';
import { printTable } from './table.js';

const CUSTOMERS = 200;
const STOCK = 100;
const ROUNDS = 5;

interface DatabaseResult {
  label: string;
  checkout: CheckoutResult[];
  pages: PageTiming[];
}

/** Runs (1), (2) and (3) on one database (the page's JS read while its HTML is fresh). */
async function benchDatabase(database: BenchDatabase): Promise<DatabaseResult & { scripts: ScriptSize[] }> {
  const shop = await startShop(database, { customers: CUSTOMERS, stock: STOCK });
  try {
    const checkout = await benchCheckout(shop, ROUNDS);
    await shop.reset();
    // The checkout's closed tabs hold their carts for the reconnect grace: let the reset's live refreshes finish.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { timings, html } = await benchCatalogPage(shop);
    return { label: database.label, checkout, pages: timings, scripts: catalogScripts(html, shop.clientDir) };
  } finally {
    await shop.stop();
  }
}

/** Runs `fn` on a private schema of the PostgreSQL database at `url`, dropped afterwards. */
async function withPgSchema<T>(url: string, fn: (schema: string) => Promise<T>): Promise<T> {
  const { default: pg } = (await import('pg' as string)) as { default: { Client: new (options: object) => { connect(): Promise<void>; query(sql: string): Promise<unknown>; end(): Promise<void> } } };
  const schema = `strata_bench_shop_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  try {
    return await fn(schema);
  } finally {
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
}

/** The same value in every round, or each round's. */
const perRound = (values: number[]) => (new Set(values).size === 1 ? String(values[0]) : values.join('/'));

/** The run's baselines: raw SQL in process, and the same SQL behind a raw websocket route. */
const baselinesOf = (result: DatabaseResult) => ({
  inProcess: result.checkout.find((v) => v.baseline === 'in-process')!,
  transport: result.checkout.find((v) => v.baseline === 'same-transport')!,
});
/** Throughput ratio of `variant` to `baseline` (baseline ms / variant ms). */
const ratio = (baseline: CheckoutResult, variant: CheckoutResult) => (variant === baseline ? '1.00' : (baseline.medianMs / variant.medianMs).toFixed(2));

function checkoutRows(result: DatabaseResult): (string | number)[][] {
  const { inProcess: baseline, transport } = baselinesOf(result);
  return result.checkout.map((variant, i) => {
    const seconds = variant.medianMs / 1000;
    const bought = variant.rounds.map((r) => r.bought);
    return [
      i === 0 ? result.label : '',
      variant.variant,
      variant.medianMs.toFixed(0),
      (CUSTOMERS / seconds).toFixed(0),
      (Math.min(...bought) / seconds).toFixed(0),
      perRound(variant.rounds.map((r) => r.orders)),
      perRound(variant.rounds.map((r) => r.finalStock)),
      Math.max(...variant.rounds.map((r) => r.oversold)),
      perRound(variant.rounds.map((r) => r.refused)),
      Math.max(...variant.rounds.map((r) => r.failed)),
      ratio(baseline, variant),
      ratio(transport, variant),
      variant.sequentialMs.toFixed(3),
      variant === baseline ? '1.00' : (baseline.sequentialMs / variant.sequentialMs).toFixed(2),
    ];
  });
}

const kB = (bytes: number) => (bytes / 1000).toFixed(1);

function printResults(results: DatabaseResult[], scripts: ScriptSize[]): void {
  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}; the shop and its clients in this process, on loopback`);
  printTable(
    `shop checkout under contention: ${CUSTOMERS} customers, 1 unit each of one product with stock ${STOCK}, all at once (median of ${ROUNDS} rounds per shop variant, each followed by a round of each baseline; × baseline = baseline ms / variant ms, i.e. the throughput ratio, against the raw-SQL transaction in process and against the same transaction behind a raw fastify + @fastify/websocket route, one ws socket per customer opened before timing). Then one at a time: median ms of one purchase (the first ${STOCK} customers, sequentially)`,
    ['database', 'variant', 'wall ms', 'attempts/s', 'orders/s', 'orders', 'final stock', 'oversold', 'refused', 'other errors', '× in-process baseline', '× same-transport baseline', '1 at a time ms', '× in-process baseline'],
    results.flatMap(checkoutRows),
  );
  printTable(
    'shop catalog page: GET / server-rendered (built SSR entry) over HTTP on loopback, session cookie reused (50 requests after 10 warm-up)',
    ['database', 'visitor', 'status', 'median ms', 'p95 ms', 'HTML bytes'],
    results.flatMap((result) => result.pages.map((p, i) => [i === 0 ? result.label : '', p.visitor, p.status, p.medianMs.toFixed(2), p.p95Ms.toFixed(2), p.htmlBytes])),
  );
  const total = scripts.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
  printTable(
    "shop catalog page: browser JS (every script the page's HTML references + static imports per .vite/manifest.json; gzip level 9; 1 kB = 1,000 bytes)",
    ['file', 'raw kB', 'gzip kB'],
    [...scripts.map((s) => [s.file, kB(s.raw), kB(s.gzip)]), [`total (${scripts.length} file${scripts.length === 1 ? '' : 's'})`, kB(total.raw), kB(total.gzip)]],
  );
  const ratios = (which: 'inProcess' | 'transport') =>
    results.map((r) => `${r.label} ${r.checkout.filter((v) => !v.baseline).map((v) => ratio(baselinesOf(r)[which], v)).join('× / ')}×`).join(', ');
  const oversold = Math.max(...results.flatMap((r) => r.checkout.flatMap((v) => v.rounds.map((round) => round.oversold))));
  console.log(`goals: checkout throughput ≥ 0.5× the raw-SQL baseline in process (joined / cart shown: ${ratios('inProcess')}); vs the same-transport baseline, raw fastify + @fastify/websocket + the same SQL (joined / cart shown: ${ratios('transport')}); 0 units oversold (max over all rounds: ${oversold}); catalog page JS ≤ 40 kB gzip (${kB(total.gzip)} kB)`);
}

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-shop-'));
try {
  const first = await benchDatabase({ label: 'SQLite', databaseUrl: `sqlite:${join(dir, 'shop.sqlite')}` });
  const results: DatabaseResult[] = [first];
  const pgUrl = process.env.STRATA_BENCH_PG_URL ?? process.env.STRATA_TEST_PG_URL;
  if (pgUrl) results.push(await withPgSchema(pgUrl, (schema) => benchDatabase({ label: 'PostgreSQL', databaseUrl: pgUrl, schema })));
  else console.log('(PostgreSQL skipped: set STRATA_BENCH_PG_URL=postgres://… to include it)');
  printResults(results, first.scripts);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
