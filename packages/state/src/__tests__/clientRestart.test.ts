import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { type ClientStatus, createClient, type StrataClient, type WebSocketConstructorLike } from '../client.js';
import { defineState } from '../server.js';
import { startServer, type TestServer } from './serverHelpers.js';

/** Holds the `hold` handler until the test opens it, so a call stays in flight. */
function createGate() {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  return { open, opened, arrive, arrived };
}
let gate = createGate();

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => (s.count += by) }),
    tabId: h.event((_s, _args, ctx) => ctx.tab),
    hold: h.event(async () => {
      gate.arrive();
      await gate.opened;
      return 'held';
    }),
  }),
});

let server: TestServer;
let client: StrataClient<typeof Counter> | undefined;

beforeEach(() => {
  gate = createGate();
});
afterEach(() => {
  gate.open();
  client?.close();
  client = undefined;
});

/** A live client of a fresh server, as a page of its origin opens it (`ws` sends no Origin by itself). */
async function openClient() {
  server = await startServer([Counter]);
  const { origin } = server;
  const PageWebSocket = class extends WebSocket {
    constructor(url: string) {
      super(url, { origin });
    }
  } as unknown as WebSocketConstructorLike;
  const opened = createClient<typeof Counter>({ url: server.wsUrl, token: await server.token(), WebSocket: PageWebSocket, backoff: { initialMs: 5, maxMs: 20 } });
  client = opened;
  const counter = opened.state('counter');
  await counter.ready;
  const statuses: ClientStatus[] = [];
  opened.onStatus((status) => statuses.push(status));
  return { client: opened, counter, statuses };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createClient: the session ends (close code 4403)', () => {
  it('expires, and rejects the pending call and later ones with STRATA_STATE_CLOSED saying the session ended', async () => {
    const { client, counter, statuses } = await openClient();
    const pending = counter.call.hold();
    await gate.arrived;
    expect(server.app.strata.endTabs(() => true)).toBe(1);

    await expect(pending).rejects.toMatchObject({ name: 'ServerError', code: 'STRATA_STATE_CLOSED', message: expect.stringContaining('session ended') });
    expect(client.status).toBe('expired');
    expect(statuses).toEqual(['expired']);
    await expect(counter.call.increment({ by: 1 })).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED', message: expect.stringContaining('session ended') });
    // It does not reconnect to the ended tab, nor to a new one.
    await sleep(100);
    expect(server.app.strata.stats()).toEqual({ tabs: 0, connections: 0 });
  });
});

describe('createClient: restart', () => {
  it('starts over as a new tab after the session ended: live again, with the new tab’s state and answers', async () => {
    const { client, counter, statuses } = await openClient();
    expect(await counter.call.increment({ by: 3 })).toBe(3);
    const firstTab = await counter.call.tabId();
    server.app.strata.endTabs(() => true);
    await vi.waitFor(() => expect(client.status).toBe('expired'));

    client.restart(await server.token());
    expect(client.status).toBe('connecting');
    await vi.waitFor(() => expect(client.status).toBe('live'));
    await counter.ready;
    expect(counter.value).toEqual({ count: 0 });
    const secondTab = await counter.call.tabId();
    expect(secondTab).toEqual(expect.any(String));
    expect(secondTab).not.toBe(firstTab);
    expect(await counter.call.increment({ by: 1 })).toBe(1);
    expect(counter.value).toEqual({ count: 1 });
    expect(server.app.strata.stats()).toEqual({ tabs: 1, connections: 1 });
    expect(statuses).toEqual(['expired', 'connecting', 'live']);
  });

  it('rejects the call in flight when restarted while live, and numbers the new tab’s events from 1', async () => {
    const { client, counter, statuses } = await openClient();
    expect(await counter.call.increment({ by: 2 })).toBe(2);
    const firstTab = await counter.call.tabId();
    const inFlight = counter.call.hold();
    expect(inFlight.seq).toBe(3);
    await gate.arrived;

    client.restart(await server.token());
    await expect(inFlight).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED', message: expect.stringContaining('started over') });
    await vi.waitFor(() => expect(client.status).toBe('live'));
    expect(counter.value).toEqual({ count: 0 });
    // Seq 1 again: the new tab answers it (a replay would resolve with undefined), from its own count.
    const next = counter.call.increment({ by: 5 });
    expect(next.seq).toBe(1);
    expect(await next).toBe(5);
    expect(await counter.call.tabId()).not.toBe(firstTab);
    expect(statuses).toEqual(['connecting', 'live']);
  });

  it('sends the calls made before the new tab’s welcome once it is live', async () => {
    const { client, counter } = await openClient();
    client.restart(await server.token());
    const early = counter.call.increment({ by: 4 });
    expect(client.status).toBe('connecting');
    expect(await early).toBe(4);
    expect(early.seq).toBe(1);
  });

  it('starts over after close() as well', async () => {
    const { client, counter } = await openClient();
    client.close();
    expect(client.status).toBe('closed');
    client.restart(await server.token());
    await vi.waitFor(() => expect(client.status).toBe('live'));
    expect(await counter.call.increment({ by: 1 })).toBe(1);
  });

  it('throws a TypeError for an empty token and stays on its tab', async () => {
    const { client, counter } = await openClient();
    expect(await counter.call.increment({ by: 1 })).toBe(1);
    expect(() => client.restart('')).toThrow(TypeError);
    expect(client.status).toBe('live');
    expect(await counter.call.increment({ by: 1 })).toBe(2);
  });
});
