import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { isServerError, type StrataClient } from '@strata/state/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Category, Order, OrderLine, Product } from '../models.js';
import { models } from '../server.js';
import type { CartState } from '../states.js';
import { postgresBin, type PrivateService, redisServerBin, startPrivatePostgres, startPrivateRedis } from './privateServices.js';
import { Browser, type ShopProcess, startShopProcess, within } from './shopProcess.js';

const hasRedis = redisServerBin() !== undefined;
const hasPostgres = postgresBin() !== undefined;
if (!hasRedis) console.log('outage.test: no redis-server binary on this machine; the outage tests are skipped.');
else if (!hasPostgres) console.log('outage.test: no PostgreSQL server binaries (initdb, pg_ctl); the PostgreSQL outage is skipped and the shop runs on SQLite.');

const PASSWORD = 'vermilion tugboat orbit';
const STOCK = 10_000;
const CUSTOMERS = 3;
/** Each event must be answered within this, outage or not (a hang fails the test). */
const ANSWER_MS = 8_000;
/** Pace of each customer: the cart's `add` allows 30 calls per 10 s per tab. */
const PACE_MS = 350;
/** How long each service stays down. */
const DOWN_MS = 2_000;
/** Every code docs/errors.md documents, and the shop's own. */
const documented = new Set([...readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8').matchAll(/^### (STRATA_[A-Z_]+)/gm)].map((m) => m[1]!));
const shopCodes = new Set(['SHOP_EMPTY_CART', 'SHOP_OUT_OF_STOCK', 'SHOP_NO_PRODUCT', 'STRATA_STATE_RATE_LIMITED']);

type Phase = 'up' | 'redis-down' | 'redis-back' | 'pg-stopping' | 'pg-down' | 'pg-back' | 'done';
type Outcome = { phase: Phase; op: 'add' | 'checkout'; at: number; ms: number; code?: string; orderId?: number; resultLost?: boolean };

describe.skipIf(!hasRedis)('the shop while Redis and PostgreSQL stop and come back under load', () => {
  let redis: PrivateService;
  let pg: PrivateService | undefined;
  let sqliteDir: string | undefined;
  let shop: ShopProcess | undefined;
  const clients: StrataClient<typeof CartState>[] = [];
  const outcomes: Outcome[] = [];
  let phase: Phase = 'up';
  let stopping = false;
  let loops: Promise<void>[] = [];
  let productId: number;

  beforeAll(async () => {
    const started = Date.now();
    redis = (await startPrivateRedis())!;
    if (hasPostgres) pg = await startPrivatePostgres();
    const servicesMs = Date.now() - started;
    if (!pg) sqliteDir = mkdtempSync(join(tmpdir(), 'strata-outage-'));
    const databaseUrl = pg ? pg.url : `sqlite:${join(sqliteDir!, 'shop.sqlite')}`;
    await setup({ databaseUrl, models });
    await createSchema();
    const tea = await Category.objects.create({ name: 'Tea' });
    productId = (await Product.objects.create({ name: 'Sencha', price: '3.00', stock: STOCK, categoryId: tea.id })).id;
    shop = await startShopProcess({ databaseUrl, redisUrl: redis.url, redisPrefix: 'outage:' });
    const balancer = { target: shop };
    for (let i = 0; i < CUSTOMERS; i++) {
      const browser = new Browser(balancer);
      await browser.register(`customer${i}@example.com`, PASSWORD);
      const client = browser.tab<typeof CartState>();
      clients.push(client);
      const cart = client.state('cart');
      await within(ANSWER_MS, 'the first cart load', cart.call.load());
    }
    loops = clients.map((client) => customerLoop(client));
    console.log(`outage.test: private Redis${pg ? ' and PostgreSQL' : ''} up in ${servicesMs} ms; shop and customers ready in ${Date.now() - started} ms.`);
  }, 60_000);

  afterAll(async () => {
    stopping = true;
    await within(ANSWER_MS * 2, 'the customers stopping', Promise.all(loops)).catch(() => undefined);
    for (const client of clients) client.close();
    await shop?.kill();
    await close().catch(() => undefined);
    await redis?.dispose();
    await pg?.dispose();
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  });

  /** One event, answered or failed within ANSWER_MS; a hang is recorded as code HANG. */
  async function record(op: Outcome['op'], call: () => Promise<unknown>): Promise<Outcome> {
    const at = Date.now();
    const outcome: Outcome = { phase, op, at, ms: 0 };
    try {
      const value = (await within(ANSWER_MS, op, call())) as { orderId?: number } | undefined;
      if (op === 'checkout') {
        if (value?.orderId) outcome.orderId = value.orderId;
        else outcome.resultLost = true;
      }
    } catch (error) {
      outcome.code = isServerError(error) ? error.code : String(error).includes('no answer within') ? 'HANG' : `UNTYPED: ${String(error)}`;
    }
    outcome.ms = Date.now() - at;
    outcomes.push(outcome);
    return outcome;
  }

  /** A customer buying one unit at a time, as fast as the shop's rate limit allows. */
  async function customerLoop(client: StrataClient<typeof CartState>): Promise<void> {
    const cart = client.state('cart');
    while (!stopping) {
      const next = Date.now() + PACE_MS;
      const add = await record('add', () => cart.call.add({ productId, quantity: 1 }));
      if (!add.code && !stopping) await record('checkout', () => cart.call.checkout());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  }

  const during = (...phases: Phase[]) => outcomes.filter((o) => phases.includes(o.phase));
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Waits until an order placed after `since` succeeds, at most `ms`. */
  async function recovered(since: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const success = outcomes.find((o) => o.at >= since && o.orderId);
      if (success) return success.at + success.ms - since;
      await sleep(50);
    }
    throw new Error(`No checkout succeeded within ${ms} ms of the restart.`);
  }

  function summary(phases: Phase[]) {
    const counts: Record<string, number> = {};
    for (const o of during(...phases)) {
      const key = `${o.op}:${o.code ?? 'ok'}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  it('refuses events with STRATA_STATE_UNAVAILABLE while Redis is down, at once, and recovers when it is back', async () => {
    await sleep(1_000);
    expect(during('up').some((o) => o.orderId)).toBe(true);

    phase = 'redis-down';
    const downAt = Date.now();
    await redis.stop();
    await sleep(DOWN_MS);
    phase = 'redis-back';
    const backAt = Date.now();
    await redis.start();
    const recoveryMs = await recovered(backAt, 15_000);
    console.log(`outage.test: Redis down ${backAt - downAt} ms; first checkout after restart ${recoveryMs} ms;`, summary(['redis-down']), summary(['redis-back']));

    const down = during('redis-down').filter((o) => o.at >= downAt + 200);
    expect(down.length).toBeGreaterThan(0);
    // Typed, documented, and fast: nothing waits for the store to come back.
    for (const o of down) expect(['STRATA_STATE_UNAVAILABLE', 'STRATA_AUTH_UNAVAILABLE']).toContain(o.code);
    expect(Math.max(...down.map((o) => o.ms))).toBeLessThan(2_000);
    expect(during('redis-down', 'redis-back').filter((o) => o.code === 'HANG')).toEqual([]);
  }, 40_000);

  it.skipIf(!hasPostgres)('refuses events with documented codes while PostgreSQL is down, at once, and recovers when it is back', async () => {
    // pg_ctl stop -m fast ends the sessions and waits for the shutdown: down once it returns.
    phase = 'pg-stopping';
    await pg!.stop();
    phase = 'pg-down';
    const downAt = Date.now();
    await sleep(DOWN_MS);
    phase = 'pg-back';
    const backAt = Date.now();
    await pg!.start();
    const recoveryMs = await recovered(backAt, 15_000);
    console.log(`outage.test: PostgreSQL down ${backAt - downAt} ms; first checkout after restart ${recoveryMs} ms;`, summary(['pg-down']), summary(['pg-back']));

    const down = during('pg-down');
    expect(down.length).toBeGreaterThan(0);
    // Refused, each with a documented code, quickly: nothing waits for the database to come back.
    for (const o of down) expect(documented.has(o.code ?? 'none') || shopCodes.has(o.code ?? 'none')).toBe(true);
    expect(Math.max(...down.map((o) => o.ms))).toBeLessThan(2_000);
    expect(during('pg-stopping', 'pg-down', 'pg-back').filter((o) => o.code === 'HANG')).toEqual([]);
  }, 40_000);

  // Regression: with the database down every event was answered STRATA_STATE_HANDLER_FAILED (no
  // model code said "unreachable"); it is STRATA_MODEL_UNAVAILABLE now (or the auth layer's own).
  it('refuses events with a database-unavailable code, not a generic handler failure, while PostgreSQL is down', () => {
    const codes = new Set(during('pg-down').map((o) => o.code));
    expect(codes.size).toBeGreaterThan(0);
    expect([...codes].filter((code) => code !== 'STRATA_MODEL_UNAVAILABLE' && code !== 'STRATA_AUTH_UNAVAILABLE')).toEqual([]);
  });

  let successes: number[] = [];
  let orderIds: number[] = [];

  it('loses no committed order and sells no unit twice', async () => {
    phase = 'done';
    stopping = true;
    await within(ANSWER_MS * 2, 'the customers stopping', Promise.all(loops));
    successes = outcomes.filter((o) => o.orderId).map((o) => o.orderId!);
    const unsure = outcomes.filter((o) => o.op === 'checkout' && o.code === 'STRATA_STATE_UNAVAILABLE').length;
    orderIds = (await Order.objects.filter({})).map((order) => order.id);
    const lines = await OrderLine.objects.filter({});
    const product = await Product.objects.get({ id: productId });
    if (process.env.OUTAGE_DEBUG) console.log(JSON.stringify(outcomes.map((o) => ({ ...o, at: o.at - outcomes[0]!.at }))));
    console.log(`outage.test: ${outcomes.length} events, ${successes.length} checkouts answered with an order, ${unsure} answered STRATA_STATE_UNAVAILABLE, ${orderIds.length} order rows, stock ${STOCK} -> ${product.stock}.`);
    // Every event of the run was answered in time, with a typed error when refused.
    expect(outcomes.filter((o) => o.code === 'HANG' || o.code?.startsWith('UNTYPED'))).toEqual([]);
    // Every checkout answered with success has its order row: none lost.
    expect(orderIds).toEqual(expect.arrayContaining(successes));
    expect(new Set(successes).size).toBe(successes.length);
    // No other order, but for checkouts answered "unavailable" (see the BUG below).
    expect(orderIds.length - successes.length).toBeLessThanOrEqual(unsure);
    expect(outcomes.filter((o) => o.resultLost)).toEqual([]);
    // No oversell: the stock never went below 0 and moved by exactly the units ordered.
    expect(product.stock).toBeGreaterThanOrEqual(0);
    expect(STOCK - product.stock).toBe(lines.reduce((sum, line) => sum + line.quantity, 0));
  }, 30_000);

  // Regression: a checkout whose transaction committed just before Redis went down was answered
  // STRATA_STATE_UNAVAILABLE (the save after the job failed and replaced its answer): the customer
  // was told it failed, yet sold the goods. The answer stands now; the next job saves the tab.
  it('answers success for every order it committed, even when Redis goes down right after the commit', () => {
    expect(orderIds.length).toBe(successes.length);
  });
});
