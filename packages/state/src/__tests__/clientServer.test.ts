import * as v from 'valibot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type StrataClient, type WebSocketConstructorLike } from '../client.js';
import { defineState } from '../defineState.js';
import { join, startServer, type TestServer } from './serverHelpers.js';

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    increment: h.event({
      args: v.object({ by: v.number() }),
      run: (s, { by }, ctx) => {
        s.count += by;
        ctx.callClient('counted', s.count);
        return s.count;
      },
    }),
    slow: h.task({
      run: async (task) => {
        await task.update((s) => {
          s.count = 100;
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        task.signal.throwIfAborted();
        return 'finished';
      },
    }),
  }),
});

let server: TestServer;
let client: StrataClient<typeof Counter>;

afterEach(async () => {
  client?.close();
  await server?.close();
});

/** The client as a page of the server's origin would open it (`ws` sends no Origin by itself). */
async function connect(options: { functions?: Record<string, () => void> } = {}) {
  server = await startServer([Counter]);
  const { origin } = server;
  const PageWebSocket = class extends WebSocket {
    constructor(url: string) {
      super(url, { origin });
    }
  } as unknown as WebSocketConstructorLike;
  client = createClient<typeof Counter>({ url: server.wsUrl, token: await server.token(), WebSocket: PageWebSocket, backoff: { initialMs: 5, maxMs: 20 }, ...options });
  return client.state('counter');
}

describe('createClient against the real server', () => {
  it('joins, calls a handler, applies its patch and runs its call action', async () => {
    const counted = vi.fn();
    const counter = await connect({ functions: { counted } });
    await counter.ready;
    expect(counter.value).toEqual({ count: 0, double: 0 });
    const watcher = vi.fn();
    counter.watch(['double'], watcher);
    const paths: unknown[] = [];
    counter.onChange((touched) => paths.push(touched));
    expect(await counter.call.increment({ by: 2 })).toBe(2);
    expect(paths).toEqual([[['count'], ['double']]]);
    expect(counter.value).toEqual({ count: 2, double: 4 });
    expect([watcher.mock.calls.length, counted.mock.calls]).toEqual([1, [[2]]]);
    await expect(counter.call.increment({ by: 'x' as unknown as number })).rejects.toMatchObject({ code: 'STRATA_STATE_BAD_ARGS', fields: { by: [expect.any(String)] } });
  });

  it('runs a task to its done frame, and cancels one', async () => {
    const counter = await connect();
    expect(await counter.call.slow()).toBe('finished');
    expect(counter.value?.count).toBe(100);
    const cancelled = counter.call.slow();
    await vi.waitFor(() => expect(counter.value?.count).toBe(100));
    cancelled.cancel();
    await expect(cancelled).rejects.toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
  });

  it('survives a dropped socket without losing or repeating an event', async () => {
    const counter = await connect();
    await counter.ready;
    const calls = Array.from({ length: 20 }, () => counter.call.increment({ by: 1 }));
    await calls[4];
    for (const socket of server.app.websocketServer.clients) socket.terminate();
    await Promise.all(calls);
    await vi.waitFor(() => expect(client.status).toBe('live'));
    expect(await counter.call.increment({ by: 1 })).toBe(21);
    expect(counter.value?.count).toBe(21);
  });
});

describe('declared list keys, end to end', () => {
  const Cart = defineState('cart', {
    vars: () => ({ lines: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 1 }] }),
    keys: { lines: 'sku' },
    handlers: (h) => ({
      setQty: h.event({ args: v.object({ sku: v.string(), qty: v.number() }), run: (s, { sku, qty }) => { s.lines.find((line) => line.sku === sku)!.qty = qty; } }),
    }),
  });

  it('sends one op keyed by the declared field, and the client applies it and notifies that row only', async () => {
    const cartServer = await startServer([Cart]);
    const { origin } = cartServer;
    const PageWebSocket = class extends WebSocket {
      constructor(url: string) {
        super(url, { origin });
      }
    } as unknown as WebSocketConstructorLike;
    const raw = await join(cartServer, ['cart']);
    raw.client.send({ t: 'event', seq: 1, state: 'cart', handler: 'setQty', args: { sku: 'B', qty: 4 } });
    expect(await raw.client.next((f) => f.t === 'result')).toEqual({ t: 'result', seq: 1, patch: { cart: [{ op: 'set', path: ['lines', ['B', 'sku'], 'qty'], value: 4 }] } });
    raw.client.socket.close();
    const cartClient = createClient<typeof Cart>({ url: cartServer.wsUrl, token: await cartServer.token(), WebSocket: PageWebSocket });
    try {
      const cart = cartClient.state('cart');
      await cart.ready;
      const a = vi.fn();
      const b = vi.fn();
      cart.watch(['lines', ['A', 'sku'], 'qty'], a);
      cart.watch(['lines', ['B', 'sku']], b);
      await cart.call.setQty({ sku: 'A', qty: 7 });
      expect(cart.value?.lines).toEqual([{ sku: 'A', qty: 7 }, { sku: 'B', qty: 1 }]);
      expect(a).toHaveBeenCalledTimes(1);
      expect(b).not.toHaveBeenCalled();
    } finally {
      cartClient.close();
      await cartServer.close();
    }
  });
});
