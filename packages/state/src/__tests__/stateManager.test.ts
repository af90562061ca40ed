import * as v from 'valibot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryStateManager, defineState, type ManagedTab, type ServerFrame, type StateManager } from '../server.js';
import { connect, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

interface FakeTab extends ManagedTab {
  lastSeen: number;
  connected: boolean;
}

const fake = (id: string, connected = false): FakeTab => ({ id, lastSeen: Date.now(), connected });

type Dropped = [string, 'evicted' | 'expired' | 'closed'];

function managed(options: Parameters<typeof createMemoryStateManager>[0] = {}) {
  const manager = createMemoryStateManager<FakeTab>(options);
  const dropped: Dropped[] = [];
  manager.onDrop((tab, reason) => dropped.push([tab.id, reason]));
  const open = (tab: FakeTab) => manager.open(tab.id, () => tab);
  return { manager, dropped, open };
}

describe('createMemoryStateManager', () => {
  let manager: StateManager<FakeTab> | undefined;
  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    vi.useRealTimers();
  });

  it('opens a tab once: a second open returns the same tab without calling create', async () => {
    const m = managed();
    manager = m.manager;
    const a = fake('a');
    expect(await m.open(a)).toBe(a);
    const create = vi.fn(() => fake('a'));
    expect(await m.manager.open('a', create)).toBe(a);
    expect(create).not.toHaveBeenCalled();
    expect(m.manager.size).toBe(1);
  });

  it('evicts the least recently used disconnected tab at maxTabs, in the order opens and touches left', async () => {
    const m = managed({ maxTabs: 3 });
    manager = m.manager;
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((id) => fake(id));
    for (const tab of [a, b, c]) await m.open(tab!);
    m.manager.touch(a!); // order now b, c, a
    await m.open(d!);
    expect(m.dropped).toEqual([['b', 'evicted']]);
    expect(m.manager.size).toBe(3);
    await m.manager.open('c', () => fake('c')); // reopening c makes it recent: order a, d, c
    await m.open(e!);
    expect(m.dropped).toEqual([['b', 'evicted'], ['a', 'evicted']]);
    // The evicted tabs are gone: opening them creates afresh.
    const fresh = fake('b');
    expect(await m.manager.open('b', () => fresh)).toBe(fresh);
    expect(m.dropped.at(-1)).toEqual(['d', 'evicted']);
  });

  it('ignores a touch of a tab it does not hold (an evicted one)', async () => {
    const m = managed({ maxTabs: 2 });
    manager = m.manager;
    const [a, b, c] = ['a', 'b', 'c'].map((id) => fake(id));
    await m.open(a!);
    await m.open(b!);
    await m.open(c!); // evicts a
    m.manager.touch(a!);
    expect(m.manager.size).toBe(2);
    await m.open(fake('d')); // evicts b, the least recent of b, c
    expect(m.dropped).toEqual([['a', 'evicted'], ['b', 'evicted']]);
  });

  it('never evicts a connected tab, and refuses open with STRATA_STATE_QUEUE_FULL when all are connected', async () => {
    const m = managed({ maxTabs: 3 });
    manager = m.manager;
    const a = fake('a', true);
    const b = fake('b', false);
    const c = fake('c', true);
    for (const tab of [a, b, c]) await m.open(tab);
    await m.open(fake('d', true)); // a is the least recent but connected: b goes
    expect(m.dropped).toEqual([['b', 'evicted']]);

    const create = vi.fn(() => fake('e'));
    await expect(m.manager.open('e', create)).rejects.toMatchObject({ code: 'STRATA_STATE_QUEUE_FULL' });
    expect(create).not.toHaveBeenCalled();
    expect(m.manager.size).toBe(3);
    expect(m.dropped).toHaveLength(1);

    // Once one disconnects, it can make room.
    c.connected = false;
    await m.open(fake('e'));
    expect(m.dropped).toEqual([['b', 'evicted'], ['c', 'evicted']]);
  });

  it('drops a disconnected tab idle for idleMs (within one sweep), never a connected one', async () => {
    vi.useFakeTimers();
    const idleMs = 5 * 60_000;
    const m = managed({ idleMs });
    manager = m.manager;
    const idle = fake('idle');
    const active = fake('active');
    const online = fake('online', true);
    for (const tab of [idle, active, online]) await m.open(tab);

    vi.advanceTimersByTime(idleMs - 1000);
    expect(m.dropped).toEqual([]);
    active.lastSeen = Date.now(); // the runtime records activity on the tab

    // The sweep runs every min(idleMs, 1 min): a tab idle past idleMs goes at the next sweep.
    vi.advanceTimersByTime(60_000 + 1000);
    expect(m.dropped).toEqual([['idle', 'expired']]);
    expect(m.manager.size).toBe(2);

    vi.advanceTimersByTime(idleMs + 60_000);
    expect(m.dropped).toEqual([['idle', 'expired'], ['active', 'expired']]);
    // Connected, however long idle.
    vi.advanceTimersByTime(10 * idleMs);
    expect(m.dropped).toHaveLength(2);
    expect(m.manager.size).toBe(1);

    // Once its socket is gone, it expires like the others.
    online.connected = false;
    vi.advanceTimersByTime(60_000);
    expect(m.dropped.at(-1)).toEqual(['online', 'expired']);
    expect(m.manager.size).toBe(0);
  });

  it('drops every tab with reason closed on close, and stops sweeping', async () => {
    vi.useFakeTimers();
    const m = managed({ idleMs: 1000 });
    const a = fake('a', true);
    const b = fake('b');
    await m.open(a);
    await m.open(b);
    await m.manager.close();
    expect(m.dropped).toEqual([['a', 'closed'], ['b', 'closed']]);
    expect(m.manager.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('forgets a deleted tab without calling the drop listener', async () => {
    const m = managed();
    manager = m.manager;
    await m.open(fake('a'));
    m.manager.delete('a');
    expect(m.manager.size).toBe(0);
    expect(m.dropped).toEqual([]);
    const again = fake('a');
    expect(await m.manager.open('a', () => again)).toBe(again);
  });

  it('runs a job and returns its value', async () => {
    const m = managed();
    manager = m.manager;
    const tab = await m.open(fake('a'));
    expect(await m.manager.run(tab!, async () => 42)).toBe(42);
  });
});

describe('tabs through the plugin', () => {
  const Counter = defineState('counter', {
    vars: () => ({ count: 0 }),
    handlers: (h) => ({
      add: h.event({ args: v.number(), run: (s, by) => { s.count += by; } }),
    }),
  });

  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function call(client: RawClient, seq: number, by: number) {
    client.send({ t: 'event', seq, state: 'counter', handler: 'add', args: by });
    return (await client.next((f) => f.t === 'result' && f.seq === seq)) as Extract<ServerFrame, { t: 'result' }>;
  }

  it('lets a second socket joining with the same token take the tab over: 4409 for the old one, same state and ack for the new', async () => {
    server = await startServer([Counter]);
    const token = await server.token();
    const first = await join(server, ['counter'], token);
    await call(first.client, 1, 2);
    await call(first.client, 2, 3);

    const second = await join(server, ['counter'], token);
    expect(await first.client.closed).toMatchObject({ code: 4409 });
    expect(second.welcome.tab).toBe(first.welcome.tab);
    expect(second.welcome.ack).toBe(2);
    expect(second.welcome.states).toEqual({ counter: { count: 5 } });
    // The server sees the old socket's close a moment after the client does.
    await vi.waitFor(() => expect(server!.app.strata.stats()).toEqual({ tabs: 1, connections: 1 }));

    // The tab goes on from where it was: an old seq is a replay, a new one runs.
    expect((await call(second.client, 2, 100)).error?.code).toBe('STRATA_STATE_REPLAYED');
    expect(await call(second.client, 3, 1)).toEqual({ t: 'result', seq: 3, patch: { counter: [{ op: 'set', path: ['count'], value: 6 }] } });
    second.client.socket.close();
  });

  it('refuses a new tab with STRATA_STATE_QUEUE_FULL and 1013 when the manager is full of connected tabs', async () => {
    server = await startServer([Counter], { manager: createMemoryStateManager({ maxTabs: 1 }) });
    const first = await join(server, ['counter']);
    const late = await connect(server.wsUrl, { origin: server.origin });
    late.send({ t: 'join', v: 1, token: await server.token(), states: ['counter'] });
    expect(await late.next((f) => f.t === 'error')).toMatchObject({ error: { code: 'STRATA_STATE_QUEUE_FULL' } });
    expect(await late.closed).toMatchObject({ code: 1013 });
    // The connected tab is untouched.
    expect(await call(first.client, 1, 1)).toMatchObject({ patch: { counter: [{ op: 'set', path: ['count'], value: 1 }] } });

    // Once it disconnects, a new tab evicts it.
    first.client.socket.close();
    await first.client.closed;
    await vi.waitFor(() => expect(server!.app.strata.stats().connections).toBe(0));
    const next = await join(server, ['counter']);
    expect(next.welcome.states).toEqual({ counter: { count: 0 } });
    expect(server.app.strata.stats().tabs).toBe(1);
    next.client.socket.close();
  });
});
