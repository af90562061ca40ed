/**
 * ModelState benchmark (issue 6): (b) a page of 50 orders with customer and items through a
 * ModelState, against hand-written drizzle + hand-written mapping — queries, in-process time
 * and the socket round trip; (c) live updates — time from a commit to the patch arriving at
 * 100 subscribed tabs and bytes per tab, against a raw fastify + @fastify/websocket server
 * that re-fetches per socket (the same per-recipient work) and one that broadcasts one row.
 * SQLite file database; each server in its own process (a burst on a synchronous driver would
 * otherwise hold the clients' reads), clients here, on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { close, runInQueryScope, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { WebSocket } from 'ws';
import { startChild } from './child.js';
import { handPage, OrderSerializer, Orders, PAGE } from './ordersState.js';
import { models, Order, seed } from './shopModels.js';
import { median, printTable } from './table.js';

const PAGES = 20;
const ROUND_TRIPS = 400;
const TABS = 100;
const LIVE_ROUNDS = 20;

/** A socket that resolves one promise per awaited frame and reports every frame's size. */
async function open(url: string, origin: string) {
  const socket = new WebSocket(url, { headers: { origin } });
  const waiting: { match: (frame: Record<string, unknown>) => boolean; resolve: (value: { frame: Record<string, unknown>; bytes: number; at: bigint }) => void }[] = [];
  socket.on('message', (data: Buffer) => {
    const at = process.hrtime.bigint();
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    const index = waiting.findIndex((w) => w.match(frame));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve({ frame, bytes: data.length, at });
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    socket,
    send: (frame: unknown) => socket.send(JSON.stringify(frame)),
    next: (match: (frame: Record<string, unknown>) => boolean) => new Promise<{ frame: Record<string, unknown>; bytes: number; at: bigint }>((resolve) => waiting.push({ match, resolve })),
  };
}
type Client = Awaited<ReturnType<typeof open>>;

type Mode = 'strata' | 'raw-page' | 'raw-row';
async function server(mode: Mode, databaseUrl: string) {
  const child = await startChild('./modelStateServer.js', [mode, databaseUrl]);
  const ws = `${child.address.replace('http', 'ws')}${mode === 'strata' ? '/strata/ws' : '/ws'}`;
  return {
    ...child,
    async tab(): Promise<Client> {
      const client = await open(ws, child.address);
      if (mode !== 'strata') return client;
      const { token } = (await (await fetch(`${child.address}/token`)).json()) as { token: string };
      const welcome = client.next((f) => f.t === 'welcome');
      client.send({ t: 'join', v: 1, token, states: ['orders'] });
      await welcome;
      return client;
    },
    queries: async () => (await child.request<{ queries: number }>('queries')).queries,
  };
}

/** (b) in process: the ModelState's queryset + serializer against hand-written drizzle + mapping. */
async function inProcess(): Promise<(string | number)[][]> {
  const strataPage = async (page: number) => {
    const rows = await Order.objects.selectRelated('customer').prefetch('items', 'items.product').orderBy('id').offset((page - 1) * PAGE).limit(PAGE);
    return { list: await OrderSerializer.toJSON(rows), total: await Order.objects.count(), page };
  };
  const normalized = (page: { list: unknown[] }) => JSON.parse(JSON.stringify(page.list));
  if (!isDeepStrictEqual(normalized(await strataPage(3)), normalized(await handPage(3)))) throw new Error('the ModelState page and the hand-written page differ');
  const timeIt = async (fn: (page: number) => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await fn((i % PAGES) + 1);
    const samples: number[] = [];
    for (let i = 0; i < 300; i++) {
      const start = process.hrtime.bigint();
      await fn((i % PAGES) + 1);
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return median(samples);
  };
  const hand = await timeIt(handPage);
  const strata = await timeIt(strataPage);
  const queries = async (fn: (page: number) => Promise<unknown>) => (await runInQueryScope(() => fn(2))).count;
  return [
    ['queryset + serializer (in process)', await queries(strataPage), strata.toFixed(3), (strata / hand).toFixed(2)],
    ['hand-written drizzle + mapping', await queries(handPage), hand.toFixed(3), '1.00'],
  ];
}

/** (b) over the socket: `load` of page N against the raw handler sending the hand-written page. */
async function roundTrips(databaseUrl: string, expected: unknown): Promise<(string | number)[][]> {
  const measure = async (client: Client, frame: (seq: number, page: number) => unknown, firstSeq: number) => {
    const samples: number[] = [];
    const bytes: number[] = [];
    for (let i = 0; i < ROUND_TRIPS + 50; i++) {
      const seq = firstSeq + i;
      const answer = client.next((f) => f.t === 'result' && f.seq === seq);
      const start = process.hrtime.bigint();
      client.send(frame(seq, (i % PAGES) + 1));
      const { bytes: size, at } = await answer;
      if (i >= 50) {
        samples.push(Number(at - start) / 1e6);
        bytes.push(size);
      }
    }
    samples.sort((x, y) => x - y);
    return { p50: median(samples), p95: samples[Math.floor(samples.length * 0.95)]!, bytes: median(bytes) };
  };
  const strata = await server('strata', databaseUrl);
  const s = await strata.tab();
  // The page on the socket equals the hand-written one.
  const loaded = s.next((f) => f.t === 'result' && f.seq === 1);
  s.send({ t: 'event', seq: 1, state: 'orders', handler: 'load', args: { page: 3 } });
  await loaded;
  const state = s.next((f) => f.t === 'state');
  s.send({ t: 'sub', states: ['orders'] });
  if (!isDeepStrictEqual(((await state).frame.states as { orders: { list: unknown } }).orders.list, expected)) throw new Error('the page on the socket differs from the hand-written one');
  const strataTiming = await measure(s, (seq, page) => ({ t: 'event', seq, state: 'orders', handler: 'load', args: { page } }), 2);
  const strataQueries = await strata.queries();
  s.socket.close();
  await strata.stop();
  const raw = await server('raw-page', databaseUrl);
  const r = await raw.tab();
  const rawTiming = await measure(r, (seq, page) => ({ seq, page }), 1);
  const rawQueries = await raw.queries();
  r.socket.close();
  await raw.stop();
  return [
    ['strata ModelState load (socket round trip)', strataQueries, strataTiming.p50.toFixed(3), (strataTiming.p50 / rawTiming.p50).toFixed(2), strataTiming.p95.toFixed(3), strataTiming.bytes],
    ['raw fastify ws + hand-written page', rawQueries, rawTiming.p50.toFixed(3), '1.00', rawTiming.p95.toFixed(3), rawTiming.bytes],
  ];
}

/** (c) commit → patch at every one of TABS tabs that show page 1. */
async function liveUpdates(databaseUrl: string, first: number): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  const labels: Record<Mode, string> = {
    strata: 'strata ModelState (keyed patch, per-tab scope)',
    'raw-page': 'raw fastify ws: page per socket',
    'raw-row': 'raw fastify ws: one row, broadcast',
  };
  for (const mode of ['strata', 'raw-page', 'raw-row'] as const) {
    const child = await server(mode, databaseUrl);
    const tabs: Client[] = [];
    for (let i = 0; i < TABS; i++) tabs.push(await child.tab());
    if (mode === 'strata') {
      await Promise.all(
        tabs.map(async (tab) => {
          const loaded = tab.next((f) => f.t === 'result' && f.seq === 1);
          tab.send({ t: 'event', seq: 1, state: 'orders', handler: 'load', args: { page: 1 } });
          await loaded;
        }),
      );
    }
    const [firsts, medians, lasts, bytes]: [number[], number[], number[], number[]] = [[], [], [], []];
    for (let round = 0; round < LIVE_ROUNDS + 3; round++) {
      const arrivals = tabs.map((tab) => tab.next((f) => f.t === 'patch'));
      const { at } = await child.request<{ at: string }>('commit', { id: first, note: `${mode} ${round}` });
      const got = await Promise.all(arrivals);
      if (round < 3) continue;
      const times = got.map((arrival) => Number(arrival.at - BigInt(at)) / 1e6).sort((x, y) => x - y);
      firsts.push(times[0]!);
      medians.push(median(times));
      lasts.push(times.at(-1)!);
      bytes.push(median(got.map((arrival) => arrival.bytes)));
    }
    const queries = mode === 'raw-row' ? '3 (once)' : await child.queries();
    for (const tab of tabs) tab.socket.close();
    await child.stop();
    rows.push([labels[mode], queries, median(firsts).toFixed(2), median(medians).toFixed(2), median(lasts).toFixed(2), median(bytes)]);
  }
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
const databaseUrl = `sqlite:${join(dir, 'bench.sqlite')}`;
try {
  await setup({ databaseUrl, models, debug: false });
  await createSchema();
  await seed();
  const inProcessRows = await inProcess();
  const expected = JSON.parse(JSON.stringify((await handPage(3)).list));
  const first = ((await Order.objects.orderBy('id').first()) as { id: number }).id;
  await close();
  const socketRows = await roundTrips(databaseUrl, expected);
  const liveRows = await liveUpdates(databaseUrl, first);
  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}; SQLite file; each server in its own process, clients on loopback`);
  printTable(`@strata/state ModelState: a page of ${PAGE} orders + customer + items + product (in process, median of 300, pages 1–${PAGES})`, ['variant', 'queries', 'median ms', '× hand'], inProcessRows);
  printTable(`@strata/state ModelState: load page N over a WebSocket (${ROUND_TRIPS} round trips)`, ['server', 'queries', 'p50 ms', '× raw', 'p95 ms', 'bytes/answer'], socketRows);
  printTable(
    `@strata/state live updates: one order changed, page 1 shown in ${TABS} tabs (median of ${LIVE_ROUNDS} commits; time from commit to patch)`,
    ['server', 'queries/tab', 'first tab ms', 'median tab ms', 'last tab ms', 'bytes/tab'],
    liveRows,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
