import { describe, expect, it, vi } from 'vitest';
import { type ClientStatus, createClient, isServerError } from '../client.js';
import { counter, type FrameOf, live, useFakeServer } from './clientFakeServer.js';

const fake = useFakeServer();
const { connect } = fake;

describe('createClient: joining', () => {
  it('sends a join with the protocol version, the token and the states created so far', async () => {
    const client = connect();
    client.state('counter');
    client.state('cart');
    expect(client.state('counter')).toBe(client.state('counter'));
    expect(await fake.server.take('join')).toEqual({ t: 'join', v: 1, token: 'tok-0', states: ['counter', 'cart'] });
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
    await fake.server.welcome({ counter: counter() });
    await state.ready;
    expect(state.value).toEqual(counter());
    expect(client.status).toBe('live');
    expect(statuses).toEqual(['live']);
    expect([subscriber.mock.calls.length, watcher.mock.calls.length]).toEqual([1, 1]);
  });

  it('subscribes states created after the join was sent once the welcome arrives, never before', async () => {
    const client = connect();
    client.state('counter');
    await fake.server.take('join');
    client.state('cart');
    expect(await fake.server.unread()).toEqual([]);
    fake.server.send({ t: 'welcome', v: 1, tab: 'tab-1', token: 'tok-1', ack: 0, states: { counter: counter() } });
    expect(await fake.server.take('sub')).toEqual({ t: 'sub', states: ['cart'] });
  });

  it('subscribes with a sub frame when live, and release sends unsub and forgets the value', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    await live(client);
    const orders = client.state('orders');
    expect(await fake.server.take('sub')).toEqual({ t: 'sub', states: ['orders'] });
    fake.server.send({ t: 'state', states: { orders: { list: [], page: 1 } } });
    await orders.ready;
    expect(orders.value).toEqual({ list: [], page: 1 });

    const subscriber = vi.fn();
    state.subscribe(subscriber);
    state.release();
    expect(await fake.server.take('unsub')).toEqual({ t: 'unsub', states: ['counter'] });
    expect(state.value).toBeUndefined();
    expect(subscriber).toHaveBeenCalledTimes(1);
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 9 }] } });
    expect(client.state('counter')).toBe(state);
    expect(await fake.server.take('sub')).toEqual({ t: 'sub', states: ['counter'] });
    expect(state.value).toBeUndefined();
  });
});

describe('createClient: calls', () => {
  it('sends an event, applies the result patch, notifies only the watchers it concerns, and resolves the value', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
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
    expect(await fake.server.take('event')).toEqual({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 2 } });
    fake.server.send({ t: 'result', seq: 1, value: 42, patch: { counter: [{ op: 'set', path: ['count'], value: 2 }, { op: 'set', path: ['list', [1], 'n'], value: 5 }] } });
    expect(await call).toBe(42);
    expect(value.count).toBe(2);
    expect(value.list[0]!.n).toBe(5);
    expect(state.value).toBe(value);
    expect(value.user).toBe(user);
    expect(value.list[1]).toBe(secondRow);
    const counts = Object.fromEntries(Object.entries(watchers).map(([name, fn]) => [name, fn.mock.calls.length]));
    expect(counts).toEqual({ root: 1, count: 1, double: 0, list: 1, row1: 1, row2: 0, row1n: 1, user: 0, theme: 0 });
    expect([subscriber.mock.calls.length, both.mock.calls.length]).toEqual([1, 1]);

    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['user'], value: { name: 'Grace', prefs: { theme: 'light' } } }] } });
    await vi.waitFor(() => expect(watchers.theme).toHaveBeenCalledTimes(1));
    expect(watchers.count).toHaveBeenCalledTimes(1);
    expect(watchers.root).toHaveBeenCalledTimes(2);
  });

  it('stops calling a watcher once it is removed', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    const watcher = vi.fn();
    const stop = state.watch(['count'], watcher);
    await state.ready;
    stop();
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 3 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(3));
    expect(watcher).toHaveBeenCalledTimes(1);
  });

  it('rejects a failed result with a ServerError carrying code, message and fields', async () => {
    const client = connect();
    const call = client.state('counter').call.increment({ by: '2' });
    await fake.server.welcome({ counter: counter() });
    const error = { code: 'STRATA_STATE_BAD_ARGS', message: 'counter.increment was called with invalid arguments.', fields: { by: ['Invalid type'] } };
    fake.server.send({ t: 'result', seq: (await fake.server.take('event')).seq, error });
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
    await fake.server.welcome({ counter: counter() });
    expect([(await fake.server.take('event')).seq, (await fake.server.take('event')).seq]).toEqual([1, 2]);
    expect(await fake.server.unread()).toEqual([]);
    fake.server.send({ t: 'result', seq: 1, value: 'one' });
    expect((await fake.server.take('event')).seq).toBe(3);
    expect(await fake.server.unread()).toEqual([]);
    for (const seq of [2, 3]) fake.server.send({ t: 'result', seq, value: seq });
    expect([(await fake.server.take('event')).seq, (await fake.server.take('event')).seq]).toEqual([4, 5]);
    for (const seq of [4, 5]) fake.server.send({ t: 'result', seq, value: seq });
    expect(await Promise.all(calls)).toEqual(['one', 2, 3, 4, 5]);
  });

  it('keeps a task call pending across result{task:true} and settles it on done; cancel sends a cancel frame once the task is acknowledged', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    const task = state.call.importRows();
    const { seq } = await fake.server.take('event');
    fake.server.send({ t: 'result', seq, task: true });
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 40 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(40));
    const settled = vi.fn();
    task.then(settled, settled);
    await fake.server.unread(20);
    expect(settled).not.toHaveBeenCalled();
    fake.server.send({ t: 'done', seq, value: { imported: 120 } });
    expect(await task).toEqual({ imported: 120 });

    const cancelled = state.call.importRows();
    await fake.server.take('event');
    cancelled.cancel();
    // Not before the fake.server says the event is a task: one not started yet has nothing to abort.
    expect(await fake.server.unread()).toEqual([]);
    fake.server.send({ t: 'result', seq: cancelled.seq, task: true });
    expect(await fake.server.take('cancel')).toEqual({ t: 'cancel', seq: cancelled.seq });
    cancelled.cancel();
    expect(await fake.server.take('cancel')).toEqual({ t: 'cancel', seq: cancelled.seq });
    fake.server.send({ t: 'done', seq: cancelled.seq, error: { code: 'STRATA_STATE_CANCELLED', message: 'Cancelled.' } });
    await expect(cancelled).rejects.toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
    cancelled.cancel();
    const plain = state.call.increment({ by: 1 });
    await fake.server.take('event');
    plain.cancel();
    fake.server.send({ t: 'result', seq: plain.seq, value: 1 });
    expect(await plain).toBe(1);
    expect(await fake.server.unread()).toEqual([]);
  });

  it('drops an event cancelled before it was sent, without a frame', async () => {
    const client = connect({ maxInFlight: 1 });
    const state = client.state('counter');
    const [first, second, third] = [state.call.a(), state.call.b(), state.call.c()];
    second.cancel();
    await expect(second).rejects.toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
    await fake.server.welcome({ counter: counter() });
    expect((await fake.server.take('event')).seq).toBe(1);
    fake.server.send({ t: 'result', seq: 1 });
    expect((await fake.server.take('event')).seq).toBe(3);
    fake.server.send({ t: 'result', seq: 3 });
    expect(await Promise.all([first, third])).toEqual([undefined, undefined]);
    expect(fake.server.log.filter((entry) => entry.frame.t === 'cancel')).toEqual([]);
  });
});

