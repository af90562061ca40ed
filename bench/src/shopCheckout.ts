/**
 * Checkout under contention: every customer checks out their one unit of the same product at
 * once — through the shop over real sockets, through the raw-SQL baseline in process, and
 * through that same transaction behind a plain fastify + @fastify/websocket route (the same
 * transport, without the shop) — on the same database and data, reset before each round. One at a time too, to tell the cost
 * of a checkout from what contention adds to it.
 */
import type { RunningShop } from './shopApp.js';
import { rawCheckout } from './shopBaseline.js';
import { openTab, type ShopTab } from './shopClient.js';
import { type SocketBaseline, startSocketBaseline } from './shopSocketBaseline.js';
import { median } from './table.js';

type Outcome = 'bought' | 'refused' | 'failed';

/** A way of checking out: what to do before a round, and customer `i`'s checkout. */
interface Variant {
  name: string;
  prepare(): Promise<void>;
  checkout(i: number): Promise<Outcome>;
}

/** One concurrent round's outcome, audited in the database. */
export interface Round {
  ms: number;
  bought: number;
  refused: number;
  /** Errors other than "out of stock" (should be none). */
  failed: number;
  orders: number;
  finalStock: number;
  oversold: number;
}

/** A variant's concurrent rounds, and its median time per purchase one at a time. */
export interface CheckoutResult {
  variant: string;
  rounds: Round[];
  medianMs: number;
  sequentialMs: number;
  /** Set on the baselines' results. */
  baseline?: 'in-process' | 'same-transport';
}

const WARMUP_ROUNDS = 2;
const now = () => process.hrtime.bigint();
const msSince = (start: bigint) => Number(now() - start) / 1e6;
/** Lets the live refreshes a reset caused settle, so they are not timed with the next round. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** What the database says after a round: orders, the product's stock, units sold past the stock. */
async function audit(shop: RunningShop): Promise<Pick<Round, 'orders' | 'finalStock' | 'oversold'>> {
  const { Order, OrderLine, Product } = shop.models;
  const orders = await Order.objects.count();
  const lines = await OrderLine.objects.filter({ productId: shop.productId });
  const sold = lines.reduce((sum, line) => sum + line.quantity, 0);
  const finalStock = (await Product.objects.get({ id: shop.productId })).stock;
  return { orders, finalStock, oversold: Math.max(0, sold - shop.stock, -finalStock) };
}

/** Every customer at once. */
async function concurrentRound(shop: RunningShop, variant: Variant): Promise<Round> {
  await variant.prepare();
  const start = now();
  const outcomes = await Promise.all(shop.customers.map((_, i) => variant.checkout(i)));
  const ms = msSince(start);
  const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
  return { ms, bought: count('bought'), refused: count('refused'), failed: count('failed'), ...(await audit(shop)) };
}

/** The first `stock` customers one after another (each buys): the median time of one purchase. */
async function sequentialRound(shop: RunningShop, variant: Variant): Promise<number> {
  await variant.prepare();
  const samples: number[] = [];
  for (let i = 0; i < shop.stock; i++) {
    const start = now();
    await variant.checkout(i);
    samples.push(msSince(start));
  }
  return median(samples);
}

function strataVariant(shop: RunningShop, name: string, tabs: ShopTab[], showCart: boolean): Variant {
  return {
    name,
    async prepare() {
      await shop.reset();
      if (showCart) await Promise.all(tabs.map((tab) => tab.call('cart', 'load')));
      await settle();
    },
    async checkout(i) {
      const { error } = await tabs[i]!.call('cart', 'checkout');
      return !error ? 'bought' : error.code === 'SHOP_OUT_OF_STOCK' ? 'refused' : 'failed';
    },
  };
}

/** The raw-SQL transaction for customer `i`'s checkout, as the baselines run it. */
async function rawCheckoutOf(shop: RunningShop) {
  const product = await shop.models.Product.objects.get({ id: shop.productId });
  return rawCheckout(shop.models, { id: product.id, name: product.name, price: product.price });
}

function baselineVariant(shop: RunningShop, name: string, checkout: (i: number) => Promise<boolean>): Variant {
  return {
    name,
    async prepare() {
      await shop.reset();
      await settle();
    },
    checkout: (i) => checkout(i).then((bought) => (bought ? 'bought' : 'refused'), () => 'failed'),
  };
}

/**
 * `rounds` concurrent rounds of the shop with tabs that hold the cart without having loaded it
 * (the shop's concurrency test), then — the same tabs, after `cart.load` — with every customer
 * on a page showing their cart (each sale refreshes the others' live stock); each round followed
 * by a round of each baseline so drift hits all alike, after untimed warm-up rounds. One tab per
 * customer, the same tabs throughout: a closed tab keeps its states for the reconnect grace,
 * and would still react to stock changes. Returns the shop variants, then the same-transport
 * baseline, then the in-process baseline.
 */
export async function benchCheckout(shop: RunningShop, rounds: number): Promise<CheckoutResult[]> {
  const raw = await rawCheckoutOf(shop);
  const inProcess = baselineVariant(shop, 'baseline: raw-SQL transaction in process', (i) => raw(shop.customers[i]!));
  const baselineRounds: Round[] = [];
  const transportRounds: Round[] = [];
  let server: SocketBaseline | undefined;
  let tabs: ShopTab[] = [];
  try {
    server = await startSocketBaseline(shop.customers, raw);
    const transport = baselineVariant(shop, 'baseline: raw fastify + @fastify/websocket + the same SQL', server.checkout);
    const measure = async (variant: Variant) => {
      const list: Round[] = [];
      for (let round = 0; round < rounds; round++) {
        list.push(await concurrentRound(shop, variant));
        transportRounds.push(await concurrentRound(shop, transport));
        baselineRounds.push(await concurrentRound(shop, inProcess));
      }
      return { variant: variant.name, rounds: list, medianMs: median(list.map((r) => r.ms)), sequentialMs: await sequentialRound(shop, variant) };
    };
    tabs = await Promise.all(shop.customers.map((c) => openTab(shop.app, shop.origin, c.cookie, ['auth', 'cart'])));
    const joined = strataVariant(shop, 'strata: checkout over sockets (tabs joined to the cart)', tabs, false);
    for (let i = 0; i < WARMUP_ROUNDS; i++) for (const variant of [joined, transport, inProcess]) await concurrentRound(shop, variant);
    const results: CheckoutResult[] = [await measure(joined)];
    // Loaded once, the carts stay shown: these rounds come last.
    results.push(await measure(strataVariant(shop, 'strata: checkout over sockets (cart shown, live stock)', tabs, true)));
    const baselineResult = (variant: Variant, list: Round[], sequentialMs: number, baseline: 'in-process' | 'same-transport'): CheckoutResult => ({ variant: variant.name, rounds: list, medianMs: median(list.map((r) => r.ms)), sequentialMs, baseline });
    results.push(baselineResult(transport, transportRounds, await sequentialRound(shop, transport), 'same-transport'));
    results.push(baselineResult(inProcess, baselineRounds, await sequentialRound(shop, inProcess), 'in-process'));
    return results;
  } finally {
    for (const tab of tabs) tab.close();
    await server?.close();
  }
}
