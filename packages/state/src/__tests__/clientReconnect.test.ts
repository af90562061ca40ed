import { describe, expect, it, vi } from 'vitest';
import * as clientEntry from '../client.js';
import { type ClientStatus, createClient, isServerError } from '../client.js';
import { counter, type FrameOf, live, useFakeServer } from './clientFakeServer.js';

const fake = useFakeServer();
const { connect } = fake;

describe('createClient: reconnecting', () => {
  it('reconnects after a drop with the last token and resends exactly the events the fake.server has not processed, in order', async () => {
    const client = connect({ maxInFlight: 3 });
    const statuses: ClientStatus[] = [];
    client.onStatus((status) => statuses.push(status));
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() }, { token: 'tok-1' });
    const calls = [1, 2, 3, 4, 5].map(() => state.call.increment({ by: 1 }));
    for (let i = 0; i < 3; i++) await fake.server.take('event');
    fake.server.send({ t: 'result', seq: 1, value: 'one', patch: { counter: [{ op: 'set', path: ['count'], value: 1 }] } });
    await calls[0];
    expect((await fake.server.take('event')).seq).toBe(4);
    // The fake.server processed 2 as well, but its result is lost with the socket.
    fake.server.sockets[0]!.terminate();

    await vi.waitFor(() => expect(statuses).toContain('reconnecting'));
    const join = await fake.server.welcome({ counter: { ...counter(), count: 2 } }, { ack: 2, token: 'tok-2' });
    expect(join).toEqual({ t: 'join', v: 1, token: 'tok-1', states: ['counter'] });
    for (const seq of [3, 4, 5]) expect((await fake.server.take('event')).seq).toBe(seq);
    expect(await calls[1]).toBeUndefined();
    expect(state.value?.count).toBe(2);
    for (const seq of [3, 4, 5]) fake.server.send({ t: 'result', seq, value: seq });
    expect(await Promise.all(calls.slice(2))).toEqual([3, 4, 5]);
    const sixth = state.call.increment({ by: 1 });
    expect((await fake.server.take('event')).seq).toBe(6);
    fake.server.send({ t: 'result', seq: 6, value: 6 });
    await sixth;
    expect(fake.server.eventSeqs()).toEqual([
      [1, 2, 3, 4],
      [3, 4, 5, 6],
    ]);
    expect(statuses).toEqual(['live', 'reconnecting', 'live']);

    fake.server.sockets[1]!.terminate();
    expect((await fake.server.take('join')).token).toBe('tok-2');
  });

  it.each([
    [4401, 'expired'],
    [4410, 'expired'],
    [4409, 'closed'],
  ] as const)('stops after close code %i with status %s, rejecting pending calls with STRATA_STATE_CLOSED', async (code, status) => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    const call = state.call.increment({ by: 1 });
    await fake.server.take('event');
    fake.server.sockets[0]!.close(code);
    await expect(call).rejects.toMatchObject({ name: 'ServerError', code: 'STRATA_STATE_CLOSED' });
    expect(client.status).toBe(status);
    await expect(state.call.increment({ by: 1 })).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED' });
    await fake.server.unread(100);
    expect(fake.server.sockets).toHaveLength(1);
  });

  it('treats a replay of a resent event as done (it ran on the old socket’s worker), not as a failure', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    const call = state.call.increment({ by: 1 });
    await fake.server.take('event');
    fake.server.sockets[0]!.terminate();
    // The new worker's welcome was built before the old worker ran event 1: ack 0, so it is resent.
    await fake.server.welcome({ counter: counter() }, { ack: 0, token: 'tok-2' });
    expect((await fake.server.take('event')).seq).toBe(1);
    fake.server.send({ t: 'result', seq: 1, error: { code: 'STRATA_STATE_REPLAYED', message: 'Event 1 was already processed (last: 1).' } });
    await expect(call).resolves.toBeUndefined();
    const failed = state.call.increment({ by: 1 });
    await fake.server.take('event');
    fake.server.send({ t: 'result', seq: 2, error: { code: 'STRATA_STATE_BAD_ARGS', message: 'Bad.' } });
    await expect(failed).rejects.toMatchObject({ code: 'STRATA_STATE_BAD_ARGS' });
  });

  it('rejects a state’s ready when the client closes before its first full state', async () => {
    const client = connect();
    const state = client.state('counter');
    await fake.server.take('join');
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
    await fake.server.welcome({});
    await live(client);
    fake.server.sockets[0]!.terminate();
    await vi.waitFor(() => expect(client.status).toBe('offline'));
    for (const listener of online) listener();
    expect(client.status).toBe('reconnecting');
    await fake.server.welcome({});
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
    await fake.server.welcome({ counter: counter() });
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
    fake.server.send({ t: 'result', seq: (await fake.server.take('event')).seq, value: null, patch: { counter: [{ op: 'set', path: ['count'], value: 7 }] }, actions });
    expect(await call).toBeNull();
    expect(log).toEqual([['readCount', 7], ['toast', 'Saved.'], ['redirect', '/orders/42'], ['download', 'report.csv'], ['focusField', 'email']]);
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      expect.stringContaining('"nope"'),
      expect.stringContaining('javascript:alert(1)'),
      expect.stringContaining('//evil.example/x'),
    ]);
    unregister();
    fake.server.send({ t: 'patch', patch: {}, actions: [{ type: 'call', name: 'readCount', args: [] }] });
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(4));
  });

  it('asks for the full state again when a patch does not fit, and ignores patches until it arrives', async () => {
    const onError = vi.fn();
    const client = connect({ onError });
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    await live(client);
    const seen: unknown[] = [];
    state.subscribe(() => seen.push(state.value?.count));
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['missing', 'x'], value: 1 }] } });
    expect(await fake.server.take('sub')).toEqual({ t: 'sub', states: ['counter'] });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'STRATA_STATE_BAD_PATCH' }));
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 5 }] } });
    fake.server.send({ t: 'state', states: { counter: { ...counter(), count: 4 } } });
    await vi.waitFor(() => expect(state.value?.count).toBe(4));
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 6 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(6));
    expect(seen).toEqual([4, 6]);
    expect(await fake.server.unread()).toEqual([]);
  });

  it('reports bad frames and error frames through onError, rejects the call an error frame names, and keeps going', async () => {
    const onError = vi.fn();
    const client = connect({ onError });
    const state = client.state('counter');
    await fake.server.welcome({ counter: counter() });
    const call = state.call.increment({ by: 1 });
    const rejected = expect(call).rejects.toMatchObject({ code: 'STRATA_STATE_UNKNOWN_HANDLER' });
    const { seq } = await fake.server.take('event');
    for (const bad of ['not json', '[1]', { t: 'nope' }, { t: 'result', seq: 'x' }, { t: 'patch', patch: { counter: 'x' } }]) fake.server.send(bad);
    fake.server.send({ t: 'error', error: { code: 'STRATA_STATE_RATE_LIMITED', message: 'Slow down.' } });
    fake.server.send({ t: 'error', seq, error: { code: 'STRATA_STATE_UNKNOWN_HANDLER', message: 'No such handler.' } });
    const codes = () => onError.mock.calls.map(([error]) => (error as { code: string }).code);
    await vi.waitFor(() => expect(codes()).toHaveLength(6));
    await rejected;
    expect(codes()).toEqual([...Array(5).fill('STRATA_STATE_BAD_FRAME'), 'STRATA_STATE_RATE_LIMITED']);
    fake.server.send({ t: 'patch', patch: { counter: [{ op: 'set', path: ['count'], value: 1 }] } });
    await vi.waitFor(() => expect(state.value?.count).toBe(1));
  });

  it('closes for good: pending calls reject with STRATA_STATE_CLOSED and nothing reconnects', async () => {
    const client = connect();
    await fake.server.welcome({ counter: counter() });
    const call = client.state('counter').call.increment({ by: 1 });
    await fake.server.take('event');
    client.close();
    await expect(call).rejects.toMatchObject({ code: 'STRATA_STATE_CLOSED' });
    expect(client.status).toBe('closed');
    await fake.server.unread(100);
    expect(fake.server.sockets).toHaveLength(1);
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

