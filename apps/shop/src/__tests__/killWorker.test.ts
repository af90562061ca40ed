import { randomBytes } from 'node:crypto';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import type { StrataClient } from '@strata/state/client';
import { databaseTargets } from '@strata/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CartLine, Category, Product } from '../models.js';
import { models } from '../server.js';
import type { CartState } from '../states.js';
import { type RedisGate, startRedisGate } from './redisGate.js';
import { type Balancer, Browser, type ShopProcess, startShopProcess, until, within } from './shopProcess.js';

const redisUrl = process.env.STRATA_TEST_REDIS_URL;
if (!redisUrl) console.log('killWorker.test: STRATA_TEST_REDIS_URL is not set; the killed-worker tests are skipped.');

// Lines of the Redis state manager's two scripts (packages/state/src/redisStateManager.ts):
// the lock-and-load that starts every job of a tab, and the save-and-unlock that ends it.
const LOCK_AND_LOAD = 'return {0} end';
const SAVE_AND_UNLOCK = "'record', ARGV[4]";
const CUSTOMERS = 3;
const IN_FLIGHT = 5;

describe.skipIf(!redisUrl)('the shop when a worker process is killed mid-session', () => {
  // PostgreSQL when the machine has it (workers share it as in production), else a shared SQLite file.
  const db = databaseTargets().at(-1)!;
  const prefix = `strata-kill-test:${randomBytes(4).toString('hex')}:`;
  let target: { databaseUrl: string; schema?: string };
  let gate: RedisGate;
  let b: ShopProcess;
  const running: ShopProcess[] = [];
  const clients: StrataClient<typeof CartState>[] = [];
  let productId: number;

  beforeAll(async () => {
    target = await db.prepare();
    await setup({ ...target, models });
    await createSchema();
    const tea = await Category.objects.create({ name: 'Tea' });
    productId = (await Product.objects.create({ name: 'Sencha', price: '12.50', stock: 1000, categoryId: tea.id })).id;
    gate = await startRedisGate(redisUrl!);
    // Worker B talks to Redis directly; each worker A goes through the gate, so a test can freeze it.
    b = await startShopProcess({ ...target, redisUrl: redisUrl!, redisPrefix: prefix });
    running.push(b);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(running.map((worker) => worker.kill()));
    await gate?.close();
    await close();
    await db.dispose();
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  /** Worker A, and customers whose tabs joined it, each with 2 units in the cart. */
  async function customersOnA() {
    const a = await startShopProcess({ ...target, redisUrl: gate.url, redisPrefix: prefix });
    running.push(a);
    const balancer: Balancer = { target: a };
    const carts = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const browser = new Browser(balancer);
      await browser.open();
      const client = browser.tab<typeof CartState>();
      clients.push(client);
      const cart = client.state('cart');
      await within(5_000, 'the first add', cart.call.add({ productId, quantity: 2 }));
      expect(cart.value?.count).toBe(2);
      carts.push({ client, cart });
    }
    return { a, balancer, carts };
  }

  /** Units of the product in every cart, in the database. */
  async function unitsInCarts(): Promise<number> {
    const lines = await CartLine.objects.filter({ productId });
    return lines.reduce((sum, line) => sum + line.quantity, 0);
  }

  /**
   * Freezes worker A where `marker` is sent to Redis while each tab has IN_FLIGHT adds in
   * flight, kills it there, sends new sockets to B, and returns how each call settled.
   */
  async function killAWith(marker: string) {
    const { a, balancer, carts } = await customersOnA();
    const before = await unitsInCarts();
    const held = gate.holdAt(marker);
    let answered = 0;
    const calls = carts.flatMap(({ cart }) => Array.from({ length: IN_FLIGHT }, () => cart.call.add({ productId, quantity: 1 }).finally(() => answered++)));
    await within(5_000, 'worker A reaching the frozen Redis command', held);
    await a.kill();
    const answeredByA = answered;
    balancer.target = b;
    const settled = await within(30_000, 'the in-flight events after the kill', Promise.allSettled(calls));
    return { carts, before, settled, answeredByA };
  }

  it('rejoins the tabs on worker B with their carts, and runs an event A had not started exactly once', async () => {
    const { carts, before, settled, answeredByA } = await killAWith(LOCK_AND_LOAD);
    // A died with every one of them in flight.
    expect(answeredByA).toBe(0);

    // Every event in flight was answered as done, none failed (the client resent them to B).
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    for (const { client, cart } of carts) {
      expect(client.status).toBe('live');
      // The cart the tab had before the kill (B's welcome), plus each in-flight add once (their patches)...
      expect(cart.value?.count).toBe(2 + IN_FLIGHT);
      // ...and the same read afresh from the database on B.
      await within(5_000, 'cart.load on B', cart.call.load());
      expect(cart.value?.count).toBe(2 + IN_FLIGHT);
    }
    expect(await unitsInCarts()).toBe(before + CUSTOMERS * IN_FLIGHT);
    // The tabs go on working on B.
    await within(5_000, 'an add on B', carts[0]!.cart.call.add({ productId, quantity: 1 }));
    expect(carts[0]!.cart.value?.count).toBe(3 + IN_FLIGHT);
  }, 45_000);

  // Regression: an event whose handler committed its database writes on A, when A died before the
  // tab's save reached Redis, ran a second time on B (its resend was not a replay there). The event
  // A was running is now answered STRATA_STATE_INTERRUPTED by B and never runs again (at most once).
  it('never runs an event twice when A died after running it but before saving the tab', async () => {
    const { carts, before, settled, answeredByA } = await killAWith(SAVE_AND_UNLOCK);
    expect(answeredByA).toBe(0);

    // Only the event A was running on a tab may fail, and only as interrupted; the rest ran on B.
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(failures.map((f) => (f.reason as { code?: string }).code)).toEqual(failures.map(() => 'STRATA_STATE_INTERRUPTED'));
    expect(failures.length).toBeLessThanOrEqual(CUSTOMERS);
    // Never twice: at most one unit per add sent, and every add but the interrupted ones ran.
    const units = await unitsInCarts();
    expect(units).toBeLessThanOrEqual(before + CUSTOMERS * IN_FLIGHT);
    expect(units).toBeGreaterThanOrEqual(before + CUSTOMERS * IN_FLIGHT - failures.length);
    let shown = 0;
    for (const { client, cart } of carts) {
      await until(5_000, 'the tab live on B', () => client.status === 'live');
      await within(5_000, 'cart.load on B', cart.call.load());
      shown += cart.value?.count ?? 0;
    }
    // What the tabs show on B is what the database holds for them (2 each before the adds).
    expect(shown).toBe(CUSTOMERS * 2 + units - before);
  }, 45_000);
});
