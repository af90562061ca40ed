/**
 * @strata/state socket benchmark: (a) event round trip and throughput of a counter
 * increment against a raw fastify + @fastify/websocket handler doing the same work, and
 * (c) heap and RSS per idle connected tab at 2,000 tabs. Each server runs in its own
 * process (with --expose-gc) so only its memory is measured.
 */
import { cpus } from 'node:os';
import { WebSocket } from 'ws';
import { type ChildServer, startChild } from './child.js';
import { median, printTable } from './table.js';

type Mode = 'raw' | 'strata' | 'strata-redis';
const TABS = Number(process.env.STRATA_BENCH_TABS ?? 2000);
const ROUND_TRIPS = 3000;
const THROUGHPUT_CLIENTS = 20;
const THROUGHPUT_MS = 2000;

type Server = ChildServer;

function startServer(mode: Mode): Promise<Server> {
  return startChild('./stateSocketServer.js', [mode], ['--expose-gc']);
}

/** An open socket that has joined (strata) or just connected (raw), with a promise-per-frame helper. */
async function fetchToken(server: Server): Promise<string> {
  return ((await (await fetch(`${server.address}/token`)).json()) as { token: string }).token;
}

async function openTab(server: Server, mode: Mode, token?: string): Promise<{ socket: WebSocket; call(seq: number): Promise<void> }> {
  const origin = server.address;
  const url = mode === 'raw' ? `${server.address.replace('http', 'ws')}/ws` : `${server.address.replace('http', 'ws')}/strata/ws`;
  const socket = new WebSocket(url, { headers: { origin } });
  const waiting = new Map<number, () => void>();
  let welcomed: (() => void) | undefined;
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { t: string; seq?: number };
    if (frame.t === 'welcome') welcomed?.();
    else if (frame.seq !== undefined) {
      waiting.get(frame.seq)?.();
      waiting.delete(frame.seq);
    }
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  if (mode !== 'raw') {
    const joinToken = token ?? (await fetchToken(server));
    await new Promise<void>((resolve) => {
      welcomed = resolve;
      socket.send(JSON.stringify({ t: 'join', v: 1, token: joinToken, states: ['counter'] }));
    });
  }
  return {
    socket,
    call: (seq) =>
      new Promise<void>((resolve) => {
        waiting.set(seq, resolve);
        socket.send(JSON.stringify({ t: 'event', seq, state: 'counter', handler: 'increment', args: { by: 1 } }));
      }),
  };
}

async function roundTrips(server: Server, mode: Mode): Promise<{ p50: number; p95: number; perSecond: number; cpuPerEvent: number }> {
  const tab = await openTab(server, mode);
  let seq = 0;
  for (let i = 0; i < 500; i++) await tab.call(++seq);
  const samples: number[] = [];
  const cpuBefore = await server.request<{ user: number; system: number }>('cpu');
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = process.hrtime.bigint();
    await tab.call(++seq);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const cpuAfter = await server.request<{ user: number; system: number }>('cpu');
  const cpuPerEvent = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / ROUND_TRIPS;
  tab.socket.close();
  samples.sort((a, b) => a - b);
  const tabs = await Promise.all(Array.from({ length: THROUGHPUT_CLIENTS }, () => openTab(server, mode)));
  let done = 0;
  const until = Date.now() + THROUGHPUT_MS;
  await Promise.all(
    tabs.map(async (t) => {
      let s = 0;
      while (Date.now() < until) {
        await t.call(++s);
        done++;
      }
    }),
  );
  for (const t of tabs) t.socket.close();
  return { p50: median(samples), p95: samples[Math.floor(samples.length * 0.95)]!, perSecond: done / (THROUGHPUT_MS / 1000), cpuPerEvent };
}

async function memoryPerTab(server: Server, mode: Mode): Promise<{ heap: number; rss: number }> {
  // Tokens come from the page's HTTP request, not the socket: fetched before the baseline, so only sockets and tabs are counted.
  const tokens: (string | undefined)[] = [];
  for (let i = 0; i < TABS; i += 100) tokens.push(...(await Promise.all(Array.from({ length: Math.min(100, TABS - i) }, () => (mode !== 'raw' ? fetchToken(server) : undefined)))));
  const before = await server.request<{ heapUsed: number; rss: number }>('memory');
  const tabs = [];
  for (let i = 0; i < TABS; i += 100) tabs.push(...(await Promise.all(tokens.slice(i, i + 100).map((token) => openTab(server, mode, token)))));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await server.request<{ heapUsed: number; rss: number }>('memory');
  for (const tab of tabs) tab.socket.close();
  return { heap: (after.heapUsed - before.heapUsed) / TABS / 1024, rss: (after.rss - before.rss) / TABS / 1024 };
}

// Timing alternates raw and strata over several rounds (medians reported): a busy machine skews one run, not the ratio.
const ROUNDS = 3;
const results = new Map<Mode, { p50: number; p95: number; perSecond: number; cpuPerEvent: number; heap: number; rss: number }>();
const rounds = new Map<Mode, { p50: number; p95: number; perSecond: number; cpuPerEvent: number }[]>([['raw', []], ['strata', []]]);
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['raw', 'strata'] as const) {
    const server = await startServer(mode);
    rounds.get(mode)!.push(await roundTrips(server, mode));
    await server.stop();
  }
}
for (const mode of ['raw', 'strata'] as const) {
  const memServer = await startServer(mode);
  const memory = await memoryPerTab(memServer, mode);
  await memServer.stop();
  const runs = rounds.get(mode)!;
  results.set(mode, { p50: median(runs.map((r) => r.p50)), p95: median(runs.map((r) => r.p95)), perSecond: median(runs.map((r) => r.perSecond)), cpuPerEvent: median(runs.map((r) => r.cpuPerEvent)), ...memory });
}
const raw = results.get('raw')!;
const strata = results.get('strata')!;
console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}; client and server on loopback, server in its own process`);
printTable(
  `@strata/state: counter increment over a WebSocket, vs raw fastify + @fastify/websocket (memory at ${TABS} idle tabs)`,
  ['server', 'p50 ms', 'p95 ms', `events/s (${THROUGHPUT_CLIENTS} sockets)`, 'server CPU µs/event', 'heap KB/tab', 'RSS KB/tab'],
  [
    ['raw fastify ws', raw.p50.toFixed(3), raw.p95.toFixed(3), raw.perSecond.toFixed(0), raw.cpuPerEvent.toFixed(1), raw.heap.toFixed(1), raw.rss.toFixed(1)],
    ['strata', strata.p50.toFixed(3), strata.p95.toFixed(3), strata.perSecond.toFixed(0), strata.cpuPerEvent.toFixed(1), strata.heap.toFixed(1), strata.rss.toFixed(1)],
    ['strata / raw', `${(strata.p50 / raw.p50).toFixed(2)}×`, `${(strata.p95 / raw.p95).toFixed(2)}×`, `${(strata.perSecond / raw.perSecond).toFixed(2)}×`, `${(strata.cpuPerEvent / raw.cpuPerEvent).toFixed(2)}×`, '', ''],
  ],
);
console.log('goals: p50 ≤ 1.3× raw, throughput ≥ 0.75× raw, ≤ 15 KB heap and ≤ 25 KB RSS per idle tab');

if (process.env.STRATA_BENCH_REDIS_URL) {
  // (a) of issue 6: the same counter event with tabs in Redis, against the in-memory manager.
  const rows: (string | number)[][] = [];
  for (const mode of ['strata', 'strata-redis'] as const) {
    const server = await startServer(mode);
    const before = await server.request<{ count: number }>('roundTrips');
    const timing = await roundTrips(server, mode);
    const after = await server.request<{ count: number }>('roundTrips');
    await server.stop();
    const events = ROUND_TRIPS + 500 + timing.perSecond * (THROUGHPUT_MS / 1000);
    rows.push([mode === 'strata' ? 'memory manager' : 'Redis manager', timing.p50.toFixed(3), timing.p95.toFixed(3), timing.perSecond.toFixed(0), ((after.count - before.count) / events).toFixed(2)]);
  }
  printTable('@strata/state: the same counter event, in-memory vs Redis state manager (local Redis)', ['manager', 'p50 ms', 'p95 ms', `events/s (${THROUGHPUT_CLIENTS} sockets)`, 'Redis round trips/event'], rows);
  console.log('goal: ≤ 2 Redis round trips per event');
}
