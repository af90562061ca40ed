import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as v from 'valibot';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type WebSocketLike } from '../client.js';
import { CLOSE_CODES, createRedisStateManager, defineState } from '../server.js';
import { startServer, type TestServer } from './serverHelpers.js';

const url = process.env.STRATA_TEST_REDIS_URL;
if (!url) console.log('redisOverlap.test: STRATA_TEST_REDIS_URL is not set; the cross-worker overlap test is skipped.');

/** Which workers ran events (each worker's middleware names it). */
const ranOn = new Set<string>();
const Ledger = defineState('ledger', {
  vars: () => ({ total: 0, notes: [] as string[] }),
  handlers: (h) => ({
    add: h.event({
      args: v.object({ note: v.string() }),
      run: async (s, { note }, ctx) => {
        // Long enough that events are still running on the old worker when the new socket arrives.
        await new Promise((resolve) => setTimeout(resolve, 5));
        s.total += 1;
        ranOn.add(ctx.locals.worker as string);
        s.notes.push(note);
      },
    }),
  }),
});

/**
 * A load balancer in front of two workers, as the browser sees it: each new socket goes to the
 * other worker; `cutOff` breaks a socket's path for the client at once while the server keeps
 * its end open for `lingerMs` — so the new socket arrives while the old one still lives.
 */
function balancer(workers: TestServer[]) {
  let next = 0;
  let overlapped = 0;
  const sockets: Balanced[] = [];
  class Balanced implements WebSocketLike {
    readyState = 0;
    onopen: WebSocketLike['onopen'] = null;
    onmessage: WebSocketLike['onmessage'] = null;
    onclose: WebSocketLike['onclose'] = null;
    onerror: WebSocketLike['onerror'] = null;
    readonly inner: WebSocket;
    private cut = false;
    constructor(_url: string) {
      const worker = workers[next++ % workers.length]!;
      this.inner = new WebSocket(worker.wsUrl, { origin: worker.origin });
      this.inner.on('open', () => {
        this.readyState = 1;
        this.onopen?.({});
      });
      this.inner.on('message', (data) => {
        if (!this.cut) this.onmessage?.({ data: data.toString() });
      });
      this.inner.on('close', (code) => {
        // The server closed a socket the client had already left: the old and new sockets overlapped.
        if (this.cut && code === CLOSE_CODES.replaced) overlapped++;
        if (this.cut) return;
        this.readyState = 3;
        this.onclose?.({ code });
      });
      this.inner.on('error', (error) => {
        if (!this.cut) this.onerror?.(error);
      });
      sockets.push(this);
    }
    send(data: string): void {
      if (!this.cut) this.inner.send(data);
    }
    close(code?: number, reason?: string): void {
      this.inner.close(code, reason);
    }
    cutOff(lingerMs: number): Promise<void> {
      this.cut = true;
      this.readyState = 3;
      this.onclose?.({ code: 1006 });
      return new Promise((resolve) =>
        setTimeout(() => {
          this.inner.terminate();
          resolve();
        }, lingerMs),
      );
    }
  }
  return { WebSocket: Balanced, current: () => sockets.at(-1)!, opened: () => sockets.length, overlapped: () => overlapped };
}

describe.skipIf(!url)('a tab moving between workers with overlapping sockets', () => {
  const prefix = `strata-test:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const redis = new Redis(url!);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('loses no event and runs none twice when each new socket arrives ≥ 1 s before the old one closes', async () => {
    const managers = [createRedisStateManager({ redis: url!, prefix }), createRedisStateManager({ redis: url!, prefix })];
    const workers = await Promise.all(
      managers.map((manager, i) =>
        startServer([Ledger], {
          manager: manager as never,
          middleware: [
            async (ctx, next) => {
              ctx.locals.worker = `worker ${i}`;
              await next();
            },
          ],
        }),
      ),
    );
    const lb = balancer(workers);
    const client = createClient<typeof Ledger>({ url: 'ws://balanced', token: await workers[0]!.token(), WebSocket: lb.WebSocket, backoff: { initialMs: 5, maxMs: 20 } });
    try {
      const ledger = client.state('ledger');
      await ledger.ready;
      const calls: Promise<unknown>[] = [];
      const lingering: Promise<void>[] = [];
      const EVENTS = 60;
      for (let i = 0; i < EVENTS; i++) {
        calls.push(ledger.call.add({ note: `e${i}` }));
        // Every 12 events, with several still in flight, the path to the current worker breaks.
        if (i % 12 === 11) lingering.push(lb.current().cutOff(1200));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      await Promise.all(calls);
      await Promise.all(lingering);
      // Both workers ran events, and old sockets were still being served after the client had moved on.
      expect(lb.opened()).toBeGreaterThanOrEqual(6);
      expect(ranOn).toEqual(new Set(['worker 0', 'worker 1']));
      expect(lb.overlapped()).toBeGreaterThanOrEqual(1);

      // One more move: the welcome resyncs the client from what the workers stored.
      await lb.current().cutOff(0);
      await vi.waitFor(() => expect(client.status).toBe('live'));
      const expected = Array.from({ length: EVENTS }, (_, i) => `e${i}`);
      expect(ledger.value).toEqual({ total: EVENTS, notes: expected });
    } finally {
      client.close();
    }
  }, 20_000);
});
