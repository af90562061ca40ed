import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as v from 'valibot';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createClient, type ServerError, type StrataClient } from '../client.js';
import { createMemoryStateManager, createRedisStateManager, defineState, type StateManager } from '../server.js';
import { faultyNetwork, seededRandom, testSeed } from './faultHelpers.js';
import { startServer, type TestServer } from './serverHelpers.js';

const redisUrl = process.env.STRATA_TEST_REDIS_URL;
if (!redisUrl) console.log('storm.test: STRATA_TEST_REDIS_URL is not set; the two-Redis-worker storm is skipped (the memory-manager storm runs).');

const Ledger = defineState('ledger', {
  vars: () => ({ list: [] as number[], count: 0 }),
  handlers: (h) => ({
    append: h.event({
      args: v.object({ n: v.number() }),
      run: async (s, { n }) => {
        // Long enough that events are still running on the old socket's worker when a drop comes.
        await new Promise((resolve) => setTimeout(resolve, 1));
        s.list.push(n);
      },
    }),
    add: h.event({
      args: v.object({ by: v.number() }),
      run: (s, { by }) => {
        s.count += by;
      },
    }),
    /** The server's state as it holds it (not through the client's mirror). */
    read: h.event((s) => ({ list: [...s.list], count: s.count })),
  }),
});

const TABS = 200;
const DROPS = 1000;
/** The drops are spread over this long (ms); the tabs send events all along. */
const STORM_MS = 8_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One tab: a real client, and the reference model of what it sent. */
interface TabRun {
  client: StrataClient<typeof Ledger>;
  link: ReturnType<ReturnType<typeof faultyNetwork>['link']>;
  /** The `n` of every append, in call order: the list the server must hold. */
  sent: number[];
  /** The sum of every add's `by`: the count the server must hold. */
  total: number;
  /** Calls not settled yet. */
  open: number;
  calls: number;
  errors: string[];
}

function fire(tab: TabRun, which: 'append' | 'add', by: number): Promise<void> {
  const ledger = tab.client.state('ledger');
  let call: Promise<unknown>;
  if (which === 'append') {
    call = ledger.call.append({ n: tab.sent.length });
    tab.sent.push(tab.sent.length);
  } else {
    call = ledger.call.add({ by });
    tab.total += by;
  }
  tab.open++;
  tab.calls++;
  // Every call must settle as done: a rejection is an event refused or lost.
  return call.then(
    () => void tab.open--,
    (error: ServerError) => {
      tab.open--;
      tab.errors.push(`${which}: ${error.code} ${error.message}`);
    },
  );
}

/** Sends events until `stopped()`, awaiting some (their results) and firing others. */
async function drive(tab: TabRun, random: ReturnType<typeof seededRandom>, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const call = fire(tab, random.next() < 0.7 ? 'append' : 'add', random.int(1, 9));
    if (random.next() < 0.3) await call;
    await sleep(random.int(200, 800));
  }
}

/**
 * The storm: TABS clients, DROPS socket drops in all. At each drop the tab first fires 1–4
 * events without awaiting them, so every drop has events in flight: some already running on
 * the server, some on the wire (lost, or delivered late on the old socket while the client
 * already resends them on the new one). The old socket's server end lives on until 1–1.5 s
 * after the new socket opened, so the new socket arrives ≥ 1 s before the old one closes
 * (unless the server closes it itself, as one worker does when the new socket takes the tab over).
 */
async function storm(workers: TestServer[], seed: number) {
  const network = faultyNetwork(workers);
  const tabs: TabRun[] = [];
  const clientErrors: string[] = [];
  for (let i = 0; i < TABS; i++) {
    const link = network.link(i % workers.length);
    const client = createClient<typeof Ledger>({
      url: 'ws://balanced/strata/ws',
      token: await workers[0]!.token(),
      WebSocket: link.WebSocket,
      backoff: { initialMs: 5, maxMs: 40 },
      onError: (error) => void clientErrors.push(`${error.code} ${error.message}`),
    });
    tabs.push({ client, link, sent: [], total: 0, open: 0, calls: 0, errors: [] });
  }
  try {
    await Promise.all(tabs.map((tab) => tab.client.state('ledger').ready));
    const started = Date.now();
    let stopped = false;
    const drivers = tabs.map((tab, i) => drive(tab, seededRandom(seed + i + 1), () => stopped));
    const random = seededRandom(seed);
    const schedule = Array.from({ length: DROPS }, () => random.int(0, STORM_MS)).sort((a, b) => a - b);
    for (let drops = 0; drops < DROPS; ) {
      // On schedule even when timers run late: the drops come in bursts then, which is fine.
      const due = started + schedule[drops]! - Date.now();
      if (due > 0) await sleep(due);
      const tab = random.pick(tabs);
      const socket = tab.link.current();
      // Most drops hit a tab whose last old socket is gone, so the new socket outlives the old
      // one by ≥ 1 s; a quarter hit a tab still overlapping (its next socket may go back to the
      // worker of the old one, which then takes the tab over from it).
      const again = random.next() < 0.25;
      if (!socket || (tab.link.lingering() > 0 && !again)) {
        // Another tab takes the drop (after letting sockets open and close).
        await sleep(1);
        continue;
      }
      for (let k = random.int(1, 4); k > 0; k--) void fire(tab, random.next() < 0.7 ? 'append' : 'add', random.int(1, 9));
      socket.drop(random.int(1000, 1500), random.next() < 0.5 ? { ms: random.int(0, 100) } : undefined);
      drops++;
    }
    stopped = true;
    // Every call settles once its tab is back (a driver awaits some): 15 s at most.
    await vi.waitFor(() => expect(tabs.every((tab) => tab.open === 0)).toBe(true), { timeout: 15_000, interval: 50 }).catch(() => undefined);
    const unsettled = tabs.reduce((n, tab) => n + tab.open, 0);
    if (unsettled === 0) await Promise.all(drivers);
    await network.settled();
    const stormMs = Date.now() - started;

    // Why this catches a lost or a twice-run event: each tab's list must equal exactly the
    // sequence 0, 1, 2, … of the `n` it sent, read on the server by a handler. If the server's
    // replay check (`seq <= tab.lastSeq` in runtime.ts) were gone, an event resent after a drop
    // that had already run (on the old socket, before or after the welcome) would append its
    // `n` a second time; if the client forgot an event on the wire at a drop (not resent
    // after the welcome's ack), its `n` would be missing; if events were resent out of order,
    // the list would be out of order. Each drop leaves such events (framesLost, framesLate,
    // resends > 0 below), so a broken guarantee shows in some tab's list. The count catches
    // the same for `add` (by ≥ 1, so a duplicate or a loss changes the sum).
    const mismatches: string[] = [];
    const staleMirrors: string[] = [];
    for (const [i, tab] of tabs.entries()) {
      const ledger = tab.client.state('ledger');
      await vi.waitFor(() => expect(tab.client.status).toBe('live'), { timeout: 5_000 });
      const server = (await ledger.call.read()) as { list: number[]; count: number };
      const expected = { list: tab.sent, count: tab.total };
      if (JSON.stringify(server) !== JSON.stringify(expected)) mismatches.push(`tab ${i}: server ${describeDiff(server, expected)}`);
      if (JSON.stringify(ledger.value) !== JSON.stringify(server)) staleMirrors.push(`tab ${i}: client mirror ${describeDiff(ledger.value as typeof server, server)}`);
    }
    const events = tabs.reduce((n, tab) => n + tab.calls, 0);
    console.log(`storm (seed ${seed}, ${workers.length} worker${workers.length > 1 ? 's' : ''}): ${TABS} tabs, ${events} events, ${stormMs} ms; network ${JSON.stringify(network.stats)}; tabs whose server state differs from the model ${mismatches.length}, stale client mirrors ${staleMirrors.length}`);
    return { network: network.stats, mismatches, staleMirrors, unsettled, failed: tabs.flatMap((tab, i) => tab.errors.map((error) => `tab ${i}: ${error}`)), clientErrors, events };
  } finally {
    for (const tab of tabs) tab.client.close();
    await network.settled();
  }
}

/** The first place where a tab's list or count differs from what was expected. */
function describeDiff(actual: { list: number[]; count: number } | undefined, expected: { list: number[]; count: number }): string {
  if (!actual) return 'has no value';
  const at = actual.list.findIndex((n, i) => n !== expected.list[i]);
  if (at !== -1) return `list differs at index ${at}: …${JSON.stringify(actual.list.slice(Math.max(0, at - 2), at + 3))} where ${JSON.stringify(expected.list.slice(Math.max(0, at - 2), at + 3))} was sent (lengths ${actual.list.length}/${expected.list.length})`;
  if (actual.list.length !== expected.list.length) return `list has ${actual.list.length} items, ${expected.list.length} sent`;
  return `count ${actual.count}, expected ${expected.count}`;
}

function expectGuarantee(result: Awaited<ReturnType<typeof storm>>, seed: number, { mirror = true } = {}): void {
  const context = `seed ${seed} (rerun with STRATA_TEST_SEED=${seed})`;
  expect(result.network.drops, context).toBe(DROPS);
  // The storm did hit the paths the guarantee is about.
  expect(result.network.framesLost, context).toBeGreaterThan(0);
  expect(result.network.framesLate, context).toBeGreaterThan(0);
  expect(result.network.resends, context).toBeGreaterThan(0);
  expect(result.unsettled, `${context}: calls never settled`).toBe(0);
  expect(result.failed, context).toEqual([]);
  expect(result.mismatches, context).toEqual([]);
  if (mirror) expect(result.staleMirrors, context).toEqual([]);
  expect(result.clientErrors, context).toEqual([]);
}

describe('a reconnect storm', () => {
  it(`loses no event, runs none twice and keeps order across ${TABS} tabs and ${DROPS} drops (memory manager)`, async () => {
    const seed = testSeed();
    console.log(`storm.test (memory): seed ${seed}`);
    const server = await startServer([Ledger], { manager: createMemoryStateManager() as StateManager });
    const result = await storm([server], seed);
    expectGuarantee(result, seed);
    // One worker: the new socket's join takes the tab over and closes the old one at once.
    expect(result.network.takenOver).toBeGreaterThan(DROPS / 2);
  }, 60_000);

  describe.skipIf(!redisUrl)('on two Redis workers', () => {
    const prefix = `strata-test:${randomBytes(4).toString('hex')}:`;
    afterAll(async () => {
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });

    it(`loses no event, runs none twice and keeps order while each new socket arrives ≥ 1 s before the old one closes`, async () => {
      const seed = testSeed();
      console.log(`storm.test (redis): seed ${seed}`);
      const workers = await Promise.all([0, 1].map(() => startServer([Ledger], { manager: createRedisStateManager({ redis: redisUrl!, prefix }) as never })));
      const result = await storm(workers, seed);
      // Regression: on two workers a client's mirror missed changes while the server's state was
      // right (5 of 8 runs, e.g. seed 1967847394): the old socket's worker ran an event after the
      // new worker's welcome, and loading that state made it "what the client holds"; loading now
      // keeps the shadow and sends the difference.
      expectGuarantee(result, seed);
      // The old socket's worker ran events the client then resent on the new socket: replays.
      expect(result.network.replays).toBeGreaterThan(0);
      // The other worker does not know the client left: the old socket is served until it is cut.
      expect(result.network.overlaps).toBeGreaterThan(DROPS / 2);
    }, 60_000);
  });
});
