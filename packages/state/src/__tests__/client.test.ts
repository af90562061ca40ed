import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import * as clientEntry from '../client.js';
import { type ClientFrame, type ClientOptions, type ClientStatus, createClient, isServerError, type JsonValue, type ServerFrame, type StrataClient } from '../client.js';

type Handler<TArgs = undefined> = { args: TArgs; result: unknown; task: boolean };
type Counter = { count: number; double: number; user: { name: string; prefs: { theme: string } }; list: { id: number; n: number }[] };
/** The states these tests talk about, declared the way `defineState` types them. */
type TestState<TName extends string> = {
  readonly name: TName;
  readonly '~types'?: {
    client: Counter;
    handlers: { increment: Handler<{ by: JsonValue }>; importRows: Handler; save: Handler; a: Handler; b: Handler; c: Handler };
  };
};
type Client = StrataClient<TestState<'counter'> | TestState<'cart'> | TestState<'orders'>>;

type FrameOf<T extends ClientFrame['t']> = Extract<ClientFrame, { t: T }>;

/** A scripted server: a real WebSocket endpoint on a loopback port; each test decides what it answers. */
class FakeServer {
  readonly sockets: WebSocket[] = [];
  /** Every frame received, with the index of the socket it came on. */
  readonly log: { socket: number; frame: ClientFrame }[] = [];
  readonly #unread: ClientFrame[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    wss.on('connection', (socket) => {
      const index = this.sockets.push(socket) - 1;
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ClientFrame;
        this.log.push({ socket: index, frame });
        this.#unread.push(frame);
      });
    });
  }

  static async start(): Promise<FakeServer> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    return new FakeServer(wss, `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/strata/ws`);
  }

  /** The first unread frame of type `t`, waiting for it if needed. */
  take<T extends ClientFrame['t']>(t: T): Promise<FrameOf<T>> {
    return vi.waitFor(
      () => {
        const index = this.#unread.findIndex((frame) => frame.t === t);
        if (index === -1) throw new Error(`No "${t}" frame arrived.`);
        return this.#unread.splice(index, 1)[0] as FrameOf<T>;
      },
      { timeout: 2000, interval: 5 },
    );
  }

  /** Frames not taken yet (after a short wait, so that a frame that should not come has had its chance). */
  async unread(waitMs = 50): Promise<ClientFrame[]> {
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return [...this.#unread];
  }

  /** The seqs of every event received, per socket. */
  eventSeqs(): number[][] {
    return this.sockets.map((_, i) => this.log.filter((entry) => entry.socket === i && entry.frame.t === 'event').map((entry) => (entry.frame as FrameOf<'event'>).seq));
  }

  send(frame: ServerFrame | Record<string, unknown> | string, socket = this.sockets.at(-1)): void {
    socket!.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Answers the next join with a welcome; returns the join. */
  async welcome(states: Record<string, unknown>, { ack = 0, token = 'tok-1' } = {}): Promise<FrameOf<'join'>> {
    const join = await this.take('join');
    this.send({ t: 'welcome', v: 1, tab: 'tab-1', token, ack, states });
    return join;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

let server: FakeServer;
const clients: Client[] = [];

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function connect(options: Partial<ClientOptions> = {}): Client {
  const client: Client = createClient({ url: server.url, token: 'tok-0', WebSocket, backoff: { initialMs: 5, maxMs: 20 }, ...options });
  clients.push(client);
  return client;
}

const live = (client: Client) => vi.waitFor(() => expect(client.status).toBe('live'), { timeout: 2000, interval: 5 });
const counter = (): Counter => ({ count: 0, double: 0, user: { name: 'Ada', prefs: { theme: 'dark' } }, list: [{ id: 1, n: 1 }, { id: 2, n: 2 }] });

describe('createClient: joining', () => {
  it('sends a join with the protocol version, the token and the states created so far', async () => {
    const client = connect();
    client.state('counter');
    client.state('cart');
    expect(client.state('counter')).toBe(client.state('counter'));
    expect(await server.take('join')).toEqual({ t: 'join', v: 1, token: 'tok-0', states: ['counter', 'cart'] });
  });

  it('takes the welcome: sets the values, resolves ready, notifies, and goes live', async () => {
    const client = connect();
    const statuses: ClientStatus[] = [];
    client.onStatus((status) => statuses.push(status));
    const state = client.state('counter');
    const subscriber = vi.fn();
    const watcher = vi.fn();
    state.subscribe(subscriber);
    state.watch(['user', 'name'], watcher);
    expect(client.status).toBe('connecting');
    expect(state.value).toBeUndefined();
    await server.welcome({ counter: counter() });
    await state.ready;
    expect(state.value).toEqual(counter());
    expect(client.status).toBe('live');
    expect(statuses).toEqual(['live']);
    expect([subscriber.mock.calls.length, watcher.mock.calls.length]).toEqual([1, 1]);
  });

  it('subscribes states created after the join was sent once the welcome arrives, never before', async () => {
    const client = connect();
    client.state('counter');
    await server.take('join');
    client.state('cart');
    expect(await server.unread()).toEqual([]);
    server.send({ t: 'welcome', v: 1, tab: 'tab-1', token: 'tok-1', ack: 0, states: { counter: counter() } });
    expect(await server.take('sub')).toEqual({ t: 'sub', states: ['cart'] });
  });

  it('subscribes with a sub frame when live, and release sends unsub and forgets the value', async () => {
    const client = connect();
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    await live(client);
    const orders = client.state('orders');
    expect(await server.take('sub')).toEqual({ t: 'sub', states: ['orders'] });
    server.send({ t: 'state', states: { orders: { list: [], page: 1 } } });
    await orders.ready;
    expect(orders.value).toEqual({ list: [], page: 1 });

    const subscriber = vi.fn();
    state.subscribe(subscriber);
    state.release();
    expect(await server.take('unsub')).toEqual({ t: 'unsub', states: ['counter'] });
    expect(state.value).toBeUndefined();
    expect(subscriber).toHaveBeenCalledTimes(1);
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 9 }] } });
    expect(client.state('counter')).toBe(state);
    expect(await server.take('sub')).toEqual({ t: 'sub', states: ['counter'] });
    expect(state.value).toBeUndefined();
  });
});

describe('createClient: calls', () => {
  it('sends an event, applies the result patch, notifies only the watchers it concerns, and resolves the value', async () => {
    const client = connect();
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    await live(client);
    const value = state.value!;
    const [user, secondRow] = [value.user, value.list[1]];
    const paths = { root: [], count: ['count'], double: ['double'], list: ['list'], row1: ['list', [1]], row2: ['list', [2]], row1n: ['list', [1], 'n'], user: ['user'], theme: ['user', 'prefs', 'theme'] } as const;
    const watchers = Object.fromEntries(Object.entries(paths).map(([name, path]) => [name, vi.fn()]));
    for (const [name, path] of Object.entries(paths)) state.watch(path, watchers[name]!);
    const subscriber = vi.fn();
    state.subscribe(subscriber);
    const both = vi.fn();
    state.watch(['count'], both);
    state.watch(['list', [1]], both);

    const call = state.call.increment({ by: 2 });
    expect(call.seq).toBe(1);
    expect(await server.take('event')).toEqual({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 2 } });
    server.send({ t: 'result', seq: 1, value: 42, patch: { counter: [{ op: 'set', path: ['count'], value: 2 }, { op: 'set', path: ['list', [1], 'n'], value: 5 }] } });
    expect(await call).toBe(42);
    expect(value.count).toBe(2);
    expect(value.list[0]!.n).toBe(5);
    expect(state.value).toBe(value);
    expect(value.user).toBe(user);
    expect(value.list[1]).toBe(secondRow);
    const counts = Object.fromEntries(Object.entries(watchers).map(([name, fn]) => [name, fn.mock.calls.length]));
    expect(counts).toEqual({ root: 1, count: 1, double: 0, list: 1, row1: 1, row2: 0, row1n: 1, user: 0, theme: 0 });
    expect([subscriber.mock.calls.length, both.mock.calls.length]).toEqual([1, 1]);

    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['user'], value: { name: 'Grace', prefs: { theme: 'light' } } }] } });
    await vi.waitFor(() => expect(watchers.theme).toHaveBeenCalledTimes(1));
    expect(watchers.count).toHaveBeenCalledTimes(1);
    expect(watchers.root).toHaveBeenCalledTimes(2);
  });

  it('stops calling a watcher once it is removed', async () => {
    const client = connect();
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    const watcher = vi.fn();
    const stop = state.watch(['count'], watcher);
    await state.ready;
    stop();
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 3 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(3));
    expect(watcher).toHaveBeenCalledTimes(1);
  });

  it('rejects a failed result with a ServerError carrying code, message and fields', async () => {
    const client = connect();
    const call = client.state('counter').call.increment({ by: '2' });
    await server.welcome({ counter: counter() });
    const error = { code: 'STRATA_STATE_BAD_ARGS', message: 'counter.increment was called with invalid arguments.', fields: { by: ['Invalid type'] } };
    server.send({ t: 'result', seq: (await server.take('event')).seq, error });
    const thrown = await call.then(() => undefined, (reason: unknown) => reason);
    expect(isServerError(thrown)).toBe(true);
    expect(isServerError(thrown, 'STRATA_STATE_BAD_ARGS')).toBe(true);
    expect(thrown).toMatchObject({ name: 'ServerError', ...error });
    expect((thrown as Record<symbol, unknown>)[Symbol.for('strata.error')]).toBe(true);
    expect(isServerError(new Error('x'))).toBe(false);
  });

  it('queues events made before the join and keeps at most maxInFlight unanswered, sending the rest in order', async () => {
    const client = connect({ maxInFlight: 2 });
    const state = client.state('counter');
    const calls = [1, 2, 3, 4, 5].map((by) => state.call.increment({ by }));
    expect(calls.map((call) => call.seq)).toEqual([1, 2, 3, 4, 5]);
    await server.welcome({ counter: counter() });
    expect([(await server.take('event')).seq, (await server.take('event')).seq]).toEqual([1, 2]);
    expect(await server.unread()).toEqual([]);
    server.send({ t: 'result', seq: 1, value: 'one' });
    expect((await server.take('event')).seq).toBe(3);
    expect(await server.unread()).toEqual([]);
    for (const seq of [2, 3]) server.send({ t: 'result', seq, value: seq });
    expect([(await server.take('event')).seq, (await server.take('event')).seq]).toEqual([4, 5]);
    for (const seq of [4, 5]) server.send({ t: 'result', seq, value: seq });
    expect(await Promise.all(calls)).toEqual(['one', 2, 3, 4, 5]);
  });

  it('keeps a task call pending across result{task:true} and settles it on done; cancel sends a cancel frame once the task is acknowledged', async () => {
    const client = connect();
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    const task = state.call.importRows();
    const { seq } = await server.take('event');
    server.send({ t: 'result', seq, task: true });
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 40 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(40));
    const settled = vi.fn();
    task.then(settled, settled);
    await server.unread(20);
    expect(settled).not.toHaveBeenCalled();
    server.send({ t: 'done', seq, value: { imported: 120 } });
    expect(await task).toEqual({ imported: 120 });

    const cancelled = state.call.importRows();
    await server.take('event');
    cancelled.cancel();
    // Not before the server says the event is a task: one not started yet has nothing to abort.
    expect(await server.unread()).toEqual([]);
    server.send({ t: 'result', seq: cancelled.seq, task: true });
    expect(await server.take('cancel')).toEqual({ t: 'cancel', seq: cancelled.seq });
    cancelled.cancel();
    expect(await server.take('cancel')).toEqual({ t: 'cancel', seq: cancelled.seq });
    server.send({ t: 'done', seq: cancelled.seq, error: { code: 'STRATA_STATE_CANCELLED', message: 'Cancelled.' } });
    await expect(cancelled).rejects.toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
    cancelled.cancel();
    const plain = state.call.increment({ by: 1 });
    await server.take('event');
    plain.cancel();
    server.send({ t: 'result', seq: plain.seq, value: 1 });
    expect(await plain).toBe(1);
    expect(await server.unread()).toEqual([]);
  });

  it('drops an event cancelled before it was sent, without a frame', async () => {
    const client = connect({ maxInFlight: 1 });
    const state = client.state('counter');
    const [first, second, third] = [state.call.a(), state.call.b(), state.call.c()];
    second.cancel();
    await expect(second).rejects.toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
    await server.welcome({ counter: counter() });
    expect((await server.take('event')).seq).toBe(1);
    server.send({ t: 'result', seq: 1 });
    expect((await server.take('event')).seq).toBe(3);
    server.send({ t: 'result', seq: 3 });
    expect(await Promise.all([first, third])).toEqual([undefined, undefined]);
    expect(server.log.filter((entry) => entry.frame.t === 'cancel')).toEqual([]);
  });
});

describe('createClient: reconnecting', () => {
  it('reconnects after a drop with the last token and resends exactly the events the server has not processed, in order', async () => {
    const client = connect({ maxInFlight: 3 });
    const statuses: ClientStatus[] = [];
    client.onStatus((status) => statuses.push(status));
    const state = client.state('counter');
    await server.welcome({ counter: counter() }, { token: 'tok-1' });
    const calls = [1, 2, 3, 4, 5].map(() => state.call.increment({ by: 1 }));
    for (let i = 0; i < 3; i++) await server.take('event');
    server.send({ t: 'result', seq: 1, value: 'one', patch: { counter: [{ op: 'set', path: ['count'], value: 1 }] } });
    await calls[0];
    expect((await server.take('event')).seq).toBe(4);
    // The server processed 2 as well, but its result is lost with the socket.
    server.sockets[0]!.terminate();

    await vi.waitFor(() => expect(statuses).toContain('reconnecting'));
    const join = await server.welcome({ counter: { ...counter(), count: 2 } }, { ack: 2, token: 'tok-2' });
    expect(join).toEqual({ t: 'join', v: 1, token: 'tok-1', states: ['counter'] });
    for (const seq of [3, 4, 5]) expect((await server.take('event')).seq).toBe(seq);
    expect(await calls[1]).toBeUndefined();
    expect(state.value?.count).toBe(2);
    for (const seq of [3, 4, 5]) server.send({ t: 'result', seq, value: seq });
    expect(await Promise.all(calls.slice(2))).toEqual([3, 4, 5]);
    const sixth = state.call.increment({ by: 1 });
    expect((await server.take('event')).seq).toBe(6);
    server.send({ t: 'result', seq: 6, value: 6 });
    await sixth;
    expect(server.eventSeqs()).toEqual([
      [1, 2, 3, 4],
      [3, 4, 5, 6],
    ]);
    expect(statuses).toEqual(['live', 'reconnecting', 'live']);

    server.sockets[1]!.terminate();
    expect((await server.take('join')).token).toBe('tok-2');
  });

  it.each([
    [4401, 'expired'],
    [4410, 'expired'],
    [4409, 'closed'],
  ] as const)('stops after close code %i with status %s, rejecting pending calls with STRATA_STATE_CLOSED', async (code, status) => {
    const client = connect();
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    const call = state.call.increment({ by: 1 });
    await server.take('event');
    server.sockets[0]!.close(code);
    await expect(call).rejects.toMatchObject({ name: 'ServerError', code: 'STRATA_STATE_CLOSED' });
    expect(client.status).toBe(status);
    await expect(state.call.increment({ by: 1 })).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED' });
    await server.unread(100);
    expect(server.sockets).toHaveLength(1);
  });

  it('rejects a state’s ready when the client closes before its first full state', async () => {
    const client = connect();
    const state = client.state('counter');
    await server.take('join');
    client.close();
    await expect(state.ready).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED' });
    expect(client.status).toBe('closed');
  });

  it('is offline while the browser says so and retries at once when it comes back online', async () => {
    const online: (() => void)[] = [];
    vi.stubGlobal('navigator', { onLine: false });
    vi.stubGlobal('addEventListener', (type: string, listener: () => void) => type === 'online' && online.push(listener));
    vi.stubGlobal('removeEventListener', () => undefined);
    const client = connect({ backoff: { initialMs: 60_000 } });
    await server.welcome({});
    await live(client);
    server.sockets[0]!.terminate();
    await vi.waitFor(() => expect(client.status).toBe('offline'));
    for (const listener of online) listener();
    expect(client.status).toBe('reconnecting');
    await server.welcome({});
    await live(client);
  });
});

describe('createClient: frames', () => {
  it('performs actions in order after applying the patch: registered functions run, unknown ones warn', async () => {
    const log: unknown[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const client = connect({
      actions: { redirect: (a) => log.push(['redirect', a.to]), toast: (a) => log.push(['toast', a.message]), download: (a) => log.push(['download', a.filename]) },
      functions: { focusField: (...args) => log.push(['focusField', ...args]) },
    });
    const state = client.state('counter');
    const unregister = client.registerFunction('readCount', () => log.push(['readCount', state.value?.count]));
    await server.welcome({ counter: counter() });
    const call = state.call.save();
    const actions = [
      { type: 'call', name: 'readCount', args: [] },
      { type: 'toast', message: 'Saved.', level: 'success' },
      { type: 'call', name: 'nope', args: [] },
      { type: 'redirect', to: 'javascript:alert(1)' },
      { type: 'redirect', to: '//evil.example/x' },
      { type: 'redirect', to: '/orders/42' },
      { type: 'download', filename: 'report.csv', content: 'id\n1\n', contentType: 'text/csv' },
      { type: 'call', name: 'focusField', args: ['email'] },
    ];
    server.send({ t: 'result', seq: (await server.take('event')).seq, value: null, patch: { counter: [{ op: 'set', path: ['count'], value: 7 }] }, actions });
    expect(await call).toBeNull();
    expect(log).toEqual([['readCount', 7], ['toast', 'Saved.'], ['redirect', '/orders/42'], ['download', 'report.csv'], ['focusField', 'email']]);
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      expect.stringContaining('"nope"'),
      expect.stringContaining('javascript:alert(1)'),
      expect.stringContaining('//evil.example/x'),
    ]);
    unregister();
    server.send({ t: 'patch', patch: {}, actions: [{ type: 'call', name: 'readCount', args: [] }] });
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(4));
  });

  it('asks for the full state again when a patch does not fit, and ignores patches until it arrives', async () => {
    const onError = vi.fn();
    const client = connect({ onError });
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    await live(client);
    const seen: unknown[] = [];
    state.subscribe(() => seen.push(state.value?.count));
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['missing', 'x'], value: 1 }] } });
    expect(await server.take('sub')).toEqual({ t: 'sub', states: ['counter'] });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'STRATA_STATE_BAD_PATCH' }));
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 5 }] } });
    server.send({ t: 'state', states: { counter: { ...counter(), count: 4 } } });
    await vi.waitFor(() => expect(state.value?.count).toBe(4));
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 6 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(6));
    expect(seen).toEqual([4, 6]);
    expect(await server.unread()).toEqual([]);
  });

  it('reports bad frames and error frames through onError, rejects the call an error frame names, and keeps going', async () => {
    const onError = vi.fn();
    const client = connect({ onError });
    const state = client.state('counter');
    await server.welcome({ counter: counter() });
    const call = state.call.increment({ by: 1 });
    const rejected = expect(call).rejects.toMatchObject({ code: 'STRATA_STATE_UNKNOWN_HANDLER' });
    const { seq } = await server.take('event');
    for (const bad of ['not json', '[1]', { t: 'nope' }, { t: 'result', seq: 'x' }, { t: 'patch', patch: { counter: 'x' } }]) server.send(bad);
    server.send({ t: 'error', error: { code: 'STRATA_STATE_RATE_LIMITED', message: 'Slow down.' } });
    server.send({ t: 'error', seq, error: { code: 'STRATA_STATE_UNKNOWN_HANDLER', message: 'No such handler.' } });
    const codes = () => onError.mock.calls.map(([error]) => (error as { code: string }).code);
    await vi.waitFor(() => expect(codes()).toHaveLength(6));
    await rejected;
    expect(codes()).toEqual([...Array(5).fill('STRATA_STATE_BAD_FRAME'), 'STRATA_STATE_RATE_LIMITED']);
    server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 1 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(1));
  });

  it('closes for good: pending calls reject with STRATA_STATE_CLOSED and nothing reconnects', async () => {
    const client = connect();
    await server.welcome({ counter: counter() });
    const call = client.state('counter').call.increment({ by: 1 });
    await server.take('event');
    client.close();
    await expect(call).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED' });
    expect(client.status).toBe('closed');
    await server.unread(100);
    expect(server.sockets).toHaveLength(1);
  });
});

describe('@strata/state/client exports', () => {
  it('does not change the names it exports unnoticed', () => {
    expect(Object.keys(clientEntry).sort()).toMatchInlineSnapshot(`
      [
        "CLOSE_CODES",
        "PROTOCOL_VERSION",
        "PatchError",
        "ServerError",
        "applyPatch",
        "createClient",
        "isServerError",
      ]
    `);
  });
});
