import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { createMemoryStateManager, defineState, type Middleware } from '../server.js';
import { call, connect, join, startServer } from './serverHelpers.js';

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  backend: () => ({ apiKey: 'BACKEND-SECRET' }),
  handlers: (h) => ({
    increment: h.event((s) => {
      s.count += 1;
    }),
    spread: h.event((s) => ({ ...s })),
    escape: h.event((_s, _args, ctx) => ctx.redirect('/\t/evil.example')),
    wait: h.task({ args: v.object({ ms: v.number() }), run: (_task, { ms }) => new Promise((resolve) => setTimeout(resolve, ms)) }),
  }),
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reconnect tokens', () => {
  it('refuses a reconnect to a tab the server no longer holds with 4410 instead of a new empty tab', async () => {
    const server = await startServer([Counter], { manager: createMemoryStateManager({ idleMs: 30 }) });
    const { client, welcome } = await join(server, ['counter']);
    await call(client, 1, 'counter', 'increment');
    client.socket.close();
    await sleep(150);
    const again = await connect(server.wsUrl, { origin: server.origin });
    again.send({ t: 'join', v: 1, token: welcome.token, states: ['counter'] });
    expect(await again.next((f) => f.t === 'error')).toMatchObject({ error: { code: 'STRATA_STATE_TAB_EXPIRED' } });
    expect((await again.closed).code).toBe(4410);
    expect(again.frames.some((f) => f.t === 'welcome')).toBe(false);
    const fresh = await join(server, ['counter']);
    expect(fresh.welcome.states.counter).toEqual({ count: 0 });
  });

  it('keeps a reconnect token of the same tab while the socket stays open, past the first token’s expiry', async () => {
    const server = await startServer([Counter], { tokenTtlMs: 300, heartbeatMs: 40 });
    const { client, welcome } = await join(server, ['counter']);
    await call(client, 1, 'counter', 'increment');
    const refreshed = await client.next((f) => f.t === 'token', 2000);
    await sleep(350);
    client.socket.close();
    const stale = await connect(server.wsUrl, { origin: server.origin });
    stale.send({ t: 'join', v: 1, token: welcome.token, states: ['counter'] });
    expect((await stale.closed).code).toBe(4401);
    const latest = [...client.frames].reverse().find((f) => f.t === 'token') ?? refreshed;
    const again = await join(server, ['counter'], (latest as { token: string }).token);
    expect(again.welcome).toMatchObject({ tab: welcome.tab, ack: 1, states: { counter: { count: 1 } } });
  });

  it('closes a join that names an unknown state with 1008 after a typed error', async () => {
    const server = await startServer([Counter]);
    const client = await connect(server.wsUrl, { origin: server.origin });
    client.send({ t: 'join', v: 1, token: await server.token(), states: ['counter', 'nope'] });
    expect(await client.next((f) => f.t === 'error')).toMatchObject({ error: { code: 'STRATA_STATE_UNKNOWN_STATE' } });
    expect((await client.closed).code).toBe(1008);
  });
});

describe('limits on cheap frames and tasks', () => {
  it('spends the tab’s frame budget on sub frames too, and the budget survives a reconnect', async () => {
    const server = await startServer([Counter], { limits: { burst: 10, eventsPerSecond: 1 } });
    const { client, welcome } = await join(server, ['counter']);
    for (let i = 0; i < 30; i++) client.send({ t: 'sub', states: ['counter'] });
    await client.next((f) => f.t === 'error' && f.error.code === 'STRATA_STATE_RATE_LIMITED');
    await sleep(100);
    expect(client.frames.filter((f) => f.t === 'state').length).toBeLessThanOrEqual(11);
    client.socket.close();
    const again = await join(server, ['counter'], welcome.token);
    again.client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment' });
    expect(await again.client.next((f) => f.t === 'result')).toMatchObject({ seq: 1, error: { code: 'STRATA_STATE_RATE_LIMITED' } });
  });

  it('runs at most 8 tasks of one tab at once', async () => {
    const server = await startServer([Counter]);
    const { client } = await join(server, ['counter']);
    for (let seq = 1; seq <= 8; seq++) expect(await call(client, seq, 'counter', 'wait', { ms: 500 })).toEqual({ t: 'result', seq, task: true });
    expect(await call(client, 9, 'counter', 'wait', { ms: 1 })).toMatchObject({ seq: 9, error: { code: 'STRATA_STATE_QUEUE_FULL' } });
  });

  it('does not start a task whose event failed after its handler (in middleware after next())', async () => {
    const failAfter: Middleware = async (ctx, next) => {
      await next();
      if (ctx.handler === 'wait') throw new Error('audit log down');
    };
    const server = await startServer([Counter], { middleware: [failAfter] });
    const { client } = await join(server, ['counter']);
    expect(await call(client, 1, 'counter', 'wait', { ms: 1 })).toMatchObject({ seq: 1, error: { code: 'STRATA_STATE_HANDLER_FAILED' } });
    await sleep(100);
    expect(client.frames.filter((f) => f.t === 'done' || f.t === 'patch')).toEqual([]);
  });
});

describe('the state object', () => {
  it('never lists backend vars, so spreading it leaks none', async () => {
    const server = await startServer([Counter]);
    const { client } = await join(server, ['counter']);
    const raw: string[] = [];
    client.socket.on('message', (data) => raw.push(data.toString()));
    expect(await call(client, 1, 'counter', 'spread')).toEqual({ t: 'result', seq: 1, value: { count: 0 } });
    expect(raw.join('')).not.toContain('BACKEND-SECRET');
  });

  it('refuses a redirect a browser would read as off-site (a control character in the path)', async () => {
    const server = await startServer([Counter]);
    const { client } = await join(server, ['counter']);
    expect(await call(client, 1, 'counter', 'escape')).toMatchObject({ seq: 1, error: { code: 'STRATA_STATE_BAD_ACTION' } });
  });
});
