/**
 * A load generator process: opens up to a few thousand tabs (WebSockets on loopback) against
 * one or more workers, joins each with a join token from its worker, then sends one event per
 * tab every period at a random phase and times each round trip. Driven by the runner over IPC.
 */
import { WebSocket } from 'ws';

export type Workload = 'counter' | 'products';
export interface Target { address: string; raw: boolean }
export type Command =
  | { type: 'prepare'; targets: Target[]; tabs: number; workload: Workload }
  | { type: 'connect'; perSecond: number }
  | { type: 'measure'; seconds: number; periodMs: number }
  | { type: 'burst'; seconds: number; concurrency: number }
  | { type: 'close' };

interface Tab {
  socket: WebSocket;
  target: Target;
  token?: string | undefined;
  seq: number;
  waiting: Map<number, (ok: boolean) => void>;
}

const TOKEN_BATCH = 50;
let workload: Workload = 'counter';
let tabs: Tab[] = [];

function eventFrame(tab: Tab): string {
  const seq = ++tab.seq;
  if (tab.target.raw) return JSON.stringify({ seq, args: { by: 1 } });
  if (workload === 'products') return JSON.stringify({ t: 'event', seq, state: 'products', handler: 'load', args: { page: 1 + (seq % 16) } });
  return JSON.stringify({ t: 'event', seq, state: 'counter', handler: 'increment', args: { by: 1 } });
}

/** Sends one event and resolves with its round trip in ms, or undefined if it failed or timed out. */
function call(tab: Tab, timeoutMs = 10_000): Promise<number | undefined> {
  const frame = eventFrame(tab);
  const seq = tab.seq;
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      tab.waiting.delete(seq);
      resolve(undefined);
    }, timeoutMs);
    tab.waiting.set(seq, (ok) => {
      clearTimeout(timer);
      resolve(ok ? Number(process.hrtime.bigint() - start) / 1e6 : undefined);
    });
    tab.socket.send(frame);
  });
}

async function fetchToken(target: Target): Promise<string> {
  const response = await fetch(`${target.address}/token`);
  return ((await response.json()) as { token: string }).token;
}

/** Tokens come from the page's HTTP request, not the socket: fetched before the runner's baseline, so only tabs are counted. */
async function prepare(command: Extract<Command, { type: 'prepare' }>): Promise<void> {
  workload = command.workload;
  const planned = Array.from({ length: command.tabs }, (_, i) => ({ target: command.targets[i % command.targets.length]! }));
  const tokens: (string | undefined)[] = [];
  for (let i = 0; i < planned.length; i += TOKEN_BATCH) {
    tokens.push(...(await Promise.all(planned.slice(i, i + TOKEN_BATCH).map(({ target }) => (target.raw ? undefined : fetchToken(target))))));
  }
  tabs = planned.map(({ target }, i) => ({ socket: undefined as never, target, token: tokens[i], seq: 0, waiting: new Map() }));
}

function open(tab: Tab): Promise<void> {
  const { address, raw } = tab.target;
  const socket = new WebSocket(`${address.replace('http', 'ws')}${raw ? '/ws' : '/strata/ws'}`, { headers: { origin: address } });
  tab.socket = socket;
  return new Promise((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { t: string; seq?: number; error?: unknown };
      if (frame.t === 'welcome') resolve();
      else if (frame.seq !== undefined) {
        // A refused event (rate limit, handler error) is answered as a result with an error: not a success.
        tab.waiting.get(frame.seq)?.(frame.t === 'result' && frame.error === undefined);
        tab.waiting.delete(frame.seq);
      }
    });
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed with ${code}`)));
    socket.once('open', () => {
      if (raw) resolve();
      else socket.send(JSON.stringify({ t: 'join', v: 1, token: tab.token, states: [workload] }));
    });
  });
}

/** Opens every tab at `perSecond`, in slices of 50 ms. */
async function connect(perSecond: number): Promise<{ open: number; failed: number; firstError?: string }> {
  const slice = Math.max(1, Math.round(perSecond / 20));
  let failed = 0;
  let firstError: string | undefined;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < tabs.length; i += slice) {
    const started = Date.now();
    for (const tab of tabs.slice(i, i + slice)) {
      pending.push(open(tab).catch((error: Error) => { failed++; firstError ??= error.message; }));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 50 - (Date.now() - started))));
  }
  await Promise.all(pending);
  tabs = tabs.filter((tab) => tab.socket.readyState === WebSocket.OPEN);
  return { open: tabs.length, failed, ...(firstError ? { firstError } : {}) };
}

/** One event per tab every `periodMs`, each tab at its own random phase, for `seconds`. */
async function measure(seconds: number, periodMs: number): Promise<{ samples: number[]; sent: number; failed: number }> {
  const samples: number[] = [];
  let sent = 0;
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  const inFlight: Promise<void>[] = [];
  await Promise.all(
    tabs.map(async (tab) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * periodMs));
      while (Date.now() < until) {
        const next = Date.now() + periodMs;
        sent++;
        inFlight.push(call(tab).then((ms) => { if (ms === undefined) failed++; else samples.push(ms); }));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(next, until) - Date.now())));
      }
    }),
  );
  await Promise.all(inFlight);
  return { samples, sent, failed };
}

/** Closed loop on `concurrency` tabs: each sends its next event as soon as the last one is answered. */
async function burst(seconds: number, concurrency: number): Promise<{ events: number; failed: number }> {
  let events = 0;
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    tabs.slice(0, concurrency).map(async (tab) => {
      while (Date.now() < until) {
        if ((await call(tab)) === undefined) failed++;
        else events++;
      }
    }),
  );
  return { events, failed };
}

process.on('message', async (command: Command) => {
  const reply = (payload: Record<string, unknown> = {}) => process.send!({ type: command.type, ...payload });
  try {
    if (command.type === 'prepare') {
      await prepare(command);
      reply();
    }
    if (command.type === 'connect') reply(await connect(command.perSecond));
    if (command.type === 'measure') reply(await measure(command.seconds, command.periodMs));
    if (command.type === 'burst') reply(await burst(command.seconds, command.concurrency));
    if (command.type === 'close') {
      for (const tab of tabs) tab.socket.terminate();
      process.exit(0);
    }
  } catch (error) {
    process.send!({ type: 'error', message: (error as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
