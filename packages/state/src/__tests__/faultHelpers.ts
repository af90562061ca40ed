import { WebSocket } from 'ws';
import type { WebSocketLike } from '../client.js';
import { CLOSE_CODES } from '../protocol.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` holds (checked every 10 ms), or after 10 s. */
async function until(done: () => boolean): Promise<void> {
  for (const since = Date.now(); !done() && Date.now() - since < 10_000; ) await sleep(10);
}

/** A seeded PRNG (mulberry32): the same seed gives the same choices. */
export function seededRandom(seed: number): { next(): number; int(min: number, max: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return { next, int, pick: (items) => items[int(0, items.length - 1)]! };
}

/** The seed of a randomized test: `STRATA_TEST_SEED` when set (to reproduce a run), else a fresh one. */
export function testSeed(): number {
  const given = Number(process.env.STRATA_TEST_SEED);
  return Number.isSafeInteger(given) && given > 0 ? given : 1 + Math.floor(Math.random() * 2 ** 31);
}

export interface Worker {
  wsUrl: string;
  origin: string;
}

/** What the faulty network saw, over every link. */
export interface NetworkStats {
  opened: number;
  drops: number;
  /** Frames on the wire at a drop that never reached the server. */
  framesLost: number;
  /** Frames on the wire at a drop delivered late on the old socket (after the client's next socket had its welcome). */
  framesLate: number;
  /** Event frames sent again with a seq the client had already sent on an earlier socket. */
  resends: number;
  /** Results answered STRATA_STATE_REPLAYED, on any socket (an event sent twice had already run). */
  replays: number;
  /** Old sockets the server closed as taken over (4409) while the client had already left them. */
  takenOver: number;
  /** Drops whose old socket was still open on the server ≥ 1 s after the client's next socket opened. */
  overlaps: number;
}

/**
 * A faulty network between `createClient` clients and one or more workers, as a load
 * balancer with flaky links: each new socket of a link goes to the other worker, and
 * `drop` breaks the current socket for the client at once while the server keeps its end
 * open until `lingerMs` after the client's next socket opened (then it is cut). Client frames reach the server after one
 * event-loop turn, so frames sent just before a drop are on the wire: they are lost, or
 * delivered late on the old socket, after the client has moved on.
 */
export function faultyNetwork(workers: readonly Worker[]) {
  const stats: NetworkStats = { opened: 0, drops: 0, framesLost: 0, framesLate: 0, resends: 0, replays: 0, takenOver: 0, overlaps: 0 };
  const pending = new Set<Promise<void>>();
  const track = (promise: Promise<void>) => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  };

  /** The sockets of one client (one tab). */
  function link(firstWorker = 0) {
    let next = firstWorker;
    let current: FaultySocket | undefined;
    let highestSent = 0;
    let lingering = 0;

    class FaultySocket implements WebSocketLike {
      readyState = 0;
      onopen: WebSocketLike['onopen'] = null;
      onmessage: WebSocketLike['onmessage'] = null;
      onclose: WebSocketLike['onclose'] = null;
      onerror: WebSocketLike['onerror'] = null;
      readonly inner: WebSocket;
      /** When the client left this socket (0: it has not). */
      cutAt = 0;
      /** When the server's end closed (0: not yet). */
      closedAt = 0;
      /** When the socket opened (0: not yet). */
      openedAt = 0;
      /** When the socket got its welcome (0: not yet). */
      welcomedAt = 0;
      /** The socket the client opened after this one. */
      successor: FaultySocket | undefined;
      /** Frames sent by the client and not yet on the server's side (one event-loop turn). */
      wire: string[] = [];
      flushing = false;

      constructor(_url: string) {
        const worker = workers[next++ % workers.length]!;
        stats.opened++;
        if (current) current.successor = this;
        current = this;
        this.inner = new WebSocket(worker.wsUrl, { origin: worker.origin });
        this.inner.on('open', () => {
          this.openedAt = Date.now();
          if (this.cutAt) return;
          this.readyState = 1;
          this.onopen?.({});
        });
        this.inner.on('message', (data) => {
          const text = data.toString();
          // Counted on sockets the client left too: the replay check worked there as well.
          if (text.includes('"STRATA_STATE_REPLAYED"')) stats.replays++;
          if (this.cutAt) return;
          if (!this.welcomedAt && text.startsWith('{"t":"welcome"')) this.welcomedAt = Date.now();
          this.onmessage?.({ data: text });
        });
        this.inner.on('close', (code) => {
          this.closedAt = Date.now();
          if (this.cutAt) {
            if (code === CLOSE_CODES.replaced) stats.takenOver++;
            this.countOverlap();
            return;
          }
          this.readyState = 3;
          this.onclose?.({ code });
        });
        this.inner.on('error', (error) => {
          if (!this.cutAt) this.onerror?.(error);
        });
      }

      send(data: string): void {
        if (this.cutAt || this.readyState !== 1) return;
        const seq = /^\{"t":"event","seq":(\d+)/.exec(data)?.[1];
        if (seq !== undefined) {
          if (Number(seq) <= highestSent) stats.resends++;
          else highestSent = Number(seq);
        }
        this.wire.push(data);
        if (this.flushing) return;
        this.flushing = true;
        setImmediate(() => {
          this.flushing = false;
          if (this.cutAt) return;
          for (const frame of this.wire.splice(0)) this.inner.send(frame);
        });
      }

      close(code?: number, reason?: string): void {
        this.readyState = 3;
        this.inner.close(code, reason);
      }

      /** Counts, once, a left socket whose server end closed ≥ 1 s after the next socket opened. */
      countOverlap(): void {
        const opened = this.successor?.openedAt;
        if (this.overlapCounted || !opened || this.closedAt - opened < 1000) return;
        this.overlapCounted = true;
        stats.overlaps++;
      }
      overlapCounted = false;

      /** The client loses this socket now; the server's end lives until `lingerMs` after the client's next socket opened. */
      drop(lingerMs: number, late: { ms: number } | undefined): void {
        stats.drops++;
        this.cutAt = Date.now();
        this.readyState = 3;
        const onWire = this.wire.splice(0);
        if (late) stats.framesLate += onWire.length;
        else stats.framesLost += onWire.length;
        this.onclose?.({ code: 1006 });
        lingering++;
        track(
          (async () => {
            if (late) {
              // Late: after the client's next socket has its welcome (it resends what the
              // welcome's ack does not cover), the old socket's tail reaches the server.
              void until(() => Boolean(this.successor?.welcomedAt || this.successor?.closedAt))
                .then(() => sleep(late.ms))
                .then(() => {
                  if (this.inner.readyState === WebSocket.OPEN) for (const frame of onWire) this.inner.send(frame);
                });
            }
            // The server's end lives on until `lingerMs` after the client's next socket opened
            // (or gave up), so the two overlap by ≥ 1 s however slow the machine is.
            await until(() => Boolean(this.successor?.openedAt || this.successor?.closedAt));
            await sleep(lingerMs);
            this.inner.terminate();
            lingering--;
          })(),
        );
      }
    }

    return {
      WebSocket: FaultySocket,
      /** The client's current socket, when it is open. */
      current: (): FaultySocket | undefined => (current?.readyState === 1 ? current : undefined),
      /** Sockets of this link dropped by the client whose server end is not cut yet. */
      lingering: () => lingering,
    };
  }

  return {
    stats,
    link,
    /** Resolves when every dropped socket's server end has been cut. */
    settled: async () => {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
