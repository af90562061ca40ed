import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, DEFAULT_LIMITS, defineState } from '../server.js';
import { call, join, startServer, type TestServer } from './serverHelpers.js';

/** One patch frame of the feed: ~32 KB. */
const CHUNK = 'x'.repeat(32 * 1024);
/** Frames the feed's task produces at most: 64 MB, far past any bound. */
const UPDATES = 2_000;

const Feed = defineState('feed', {
  vars: () => ({ chunk: '', sent: 0 }),
  handlers: (h) => ({
    flood: h.task({
      run: async (task) => {
        for (let i = 0; i < UPDATES && !task.signal.aborted; i++) {
          await task.update((s) => {
            s.sent = i + 1;
            s.chunk = `${i}:${CHUNK}`;
          });
          // A real task awaits I/O between its updates; without it this loop would be one
          // chain of microtasks that holds the event loop until all 2,000 updates are done.
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
    }),
  }),
});

const Echo = defineState('echo', {
  vars: () => ({ n: 0 }),
  handlers: (h) => ({
    bump: h.event((s) => {
      s.n += 1;
      return s.n;
    }),
  }),
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The server's end of the socket that joins in `connect()`: the one socket new in the server's set. */
async function serverSocketOf<T>(server: TestServer, connect: () => Promise<T>): Promise<{ joined: T; socket: WebSocket }> {
  const clients = (server.app as unknown as { websocketServer: { clients: Set<WebSocket> } }).websocketServer.clients;
  const before = new Set(clients);
  const joined = await connect();
  const added = [...clients].filter((socket) => !before.has(socket));
  expect(added).toHaveLength(1);
  return { joined, socket: added[0]! };
}

/** Round trips of `bump` on a second tab, one after another, until `stop()` (ms each). */
async function roundTrips(client: Awaited<ReturnType<typeof join>>['client'], firstSeq: number, stop: () => boolean, max = 200): Promise<number[]> {
  const times: number[] = [];
  for (let seq = firstSeq; !stop() && times.length < max; seq++) {
    const started = performance.now();
    const result = await call(client, seq, 'echo', 'bump');
    expect(result).not.toHaveProperty('error');
    times.push(performance.now() - started);
    await sleep(5);
  }
  return times;
}

interface Stall {
  /** When the server began closing the slow socket, from the pause (ms; undefined: never in 10 s). */
  closingAfterMs: number | undefined;
  /** When the server's end was closed for good, buffers freed (ms; undefined: not within 3 s of the closing). */
  releasedAfterMs: number | undefined;
  peakBuffered: number;
  /** Peak growth of the process's heap plus array buffers over the stall (bytes; GC makes it rough). */
  peakMemory: number;
  /** Round trips of the other tab before the stall and during it (ms). */
  baseline: number[];
  during: number[];
  connectionsAfter: number;
  /** The close code the slow client read once it resumed reading (only with `resume`). */
  closeCode: number | undefined;
}

/**
 * A tab whose socket stops reading at the TCP level (after its join) while a task keeps
 * pushing ~32 KB patch frames to it; another tab measures its event round trips meanwhile.
 */
async function stall(server: TestServer, { resume = false } = {}): Promise<Stall> {
  const other = (await join(server, ['echo'])).client;
  const baseline = await roundTrips(other, 1, () => false, 20);
  const { joined: slow, socket: serverEnd } = await serverSocketOf(server, () => join(server, ['feed']));
  const slowTcp = (slow.client.socket as unknown as { _socket: Socket })._socket;
  try {
    // Paused: the kernel's buffers fill, then the server's (the event still goes out: writes work).
    slowTcp.pause();
    slow.client.send({ t: 'event', seq: 1, state: 'feed', handler: 'flood' });
    let peakBuffered = 0;
    let peakMemory = 0;
    const memory = () => {
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const memoryBefore = memory();
    let closingAfterMs: number | undefined;
    let releasedAfterMs: number | undefined;
    const started = performance.now();
    const watching = (async () => {
      // Until the server has let go of the socket, 3 s after it began closing it, or 10 s.
      const watch = () => serverEnd.readyState !== 3 && performance.now() - started < Math.min(10_000, (closingAfterMs ?? 10_000) + 3_000);
      while (watch()) {
        peakBuffered = Math.max(peakBuffered, serverEnd.bufferedAmount);
        peakMemory = Math.max(peakMemory, memory() - memoryBefore);
        if (closingAfterMs === undefined && serverEnd.readyState >= 2) {
          closingAfterMs = performance.now() - started;
          // Reading again at once, the client gets what was queued, then the close frame.
          if (resume) slowTcp.resume();
        }
        await sleep(5);
      }
      if (serverEnd.readyState === 3) releasedAfterMs = performance.now() - started;
    })();
    // The other tab's round trips while the server is pushing frames at the slow one.
    const during = await roundTrips(other, baseline.length + 1, () => closingAfterMs !== undefined);
    await watching;
    const closeCode = resume ? await Promise.race([slow.client.closed.then(({ code }) => code), sleep(5_000).then(() => undefined)]) : undefined;
    return { closingAfterMs, releasedAfterMs, peakBuffered, peakMemory, baseline, during, connectionsAfter: server.app.strata.stats().connections, closeCode };
  } finally {
    slowTcp.destroy();
  }
}

function report(name: string, result: Stall, bound: number): void {
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
  console.log(
    `${name}: closing after ${result.closingAfterMs?.toFixed(0) ?? '> 10000'} ms, released ${result.releasedAfterMs === undefined ? 'not within 3 s of that' : `after ${result.releasedAfterMs.toFixed(0)} ms`}; ` +
      `peak bufferedAmount ${mib(result.peakBuffered)} MiB (bound ${mib(bound)} MiB); process heap + array buffers +${mib(result.peakMemory)} MiB at most; ` +
      `other tab: median round trip ${median(result.baseline).toFixed(1)} ms before, ${median(result.during).toFixed(1)} ms during (max ${Math.max(...result.during).toFixed(1)}, ${result.during.length} round trips)`,
  );
}

function expectOtherTabsUnaffected(result: Stall): void {
  expect(result.during.length).toBeGreaterThan(0);
  // Generous margins: the machine is shared; a server stuck on the slow socket would be far past them.
  expect(median(result.during)).toBeLessThan(Math.max(50, 5 * median(result.baseline)));
  expect(Math.max(...result.during)).toBeLessThan(1_000);
}

describe('a client that stops reading its socket', () => {
  it('is disconnected (1008) once the server holds 4 MiB unsent for it (the default bound), and other tabs stay fast', async () => {
    const server = await startServer([Feed, Echo]);
    // docs/protocol.md, Limits: outbound data the client has not read, 4 × the hard frame limit.
    const bound = 4 * DEFAULT_LIMITS.hardFrameBytes;
    const result = await stall(server, { resume: true });
    report('slow client (default limits)', result, bound);
    // Disconnected past the bound: the server began closing the socket (docs/protocol.md, Limits)…
    expect(result.closingAfterMs, 'the server never closed the socket of a client that does not read').toBeDefined();
    // …after it had queued about the bound, and never more than the bound plus the frame that crossed it.
    expect(result.peakBuffered).toBeGreaterThan(bound / 2);
    expect(result.peakBuffered).toBeLessThanOrEqual(bound + CHUNK.length + 1024);
    // A client that catches up reads the reason: 1008, so it reconnects with backoff.
    expect(result.closeCode).toBe(CLOSE_CODES.policy);
    expectOtherTabsUnaffected(result);
  }, 30_000);

  // Regression: the bound was 4 × hardFrameBytes (not tunable apart from what clients may send),
  // and a socket closed for not reading lingered in CLOSING for ws's 30 s close timeout, holding
  // its buffers and its tab; now `limits.sendBufferBytes`, and cut off 1 s after the close.
  it('lets go of the socket within 2 s of passing limits.sendBufferBytes, freeing its buffers and its tab', async () => {
    const sendBufferBytes = 1024 * 1024;
    const server = await startServer([Feed, Echo], { limits: { sendBufferBytes } });
    const result = await stall(server);
    report('slow client (sendBufferBytes 1 MiB)', result, sendBufferBytes);
    expect(result.closingAfterMs).toBeDefined();
    expect(result.peakBuffered).toBeGreaterThan(sendBufferBytes / 2);
    expect(result.peakBuffered).toBeLessThanOrEqual(sendBufferBytes + CHUNK.length + 1024);
    expect(result.releasedAfterMs, 'the server kept the socket of a client that does not read').toBeDefined();
    expect(result.releasedAfterMs! - result.closingAfterMs!).toBeLessThan(2_000);
    // Only the other tab's socket is left.
    expect(result.connectionsAfter).toBe(1);
    expectOtherTabsUnaffected(result);
  }, 30_000);
});
