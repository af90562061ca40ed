import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { defineState, EventError } from '../server.js';
import { call, connect, startServer } from './serverHelpers.js';

const Page = defineState('page', {
  vars: () => ({ count: 0, who: '' }),
  handlers: (h) => ({
    load: h.event({ args: v.object({ from: v.number() }), run: (s, { from }, ctx) => {
        s.count = from;
        s.who = ctx.cookies.user ?? 'nobody';
      } }),
    increment: h.event((s) => {
      s.count += 1;
    }),
    secret: h.event({
      guard: (ctx) => {
        if (ctx.cookies.user !== 'admin') throw new EventError('TEST_DENIED', 'Admins only.');
      },
      run: (s) => {
        s.who = 'admin';
      },
    }),
  }),
});

describe('prepareTab (server-side rendering)', () => {
  it('makes the page’s tab with its calls run, and the socket continues from exactly that state', async () => {
    let prepared: { token: string; states: Record<string, unknown> } | undefined;
    const server = await startServer([Page], { bindToken: (request) => request.headers.cookie?.match(/user=(\w+)/)?.[1] }, (app) =>
      app.get('/ssr', async (request) => (prepared = await app.strata.prepareTab(request, { states: ['page'], calls: [{ state: 'page', handler: 'load', args: { from: 41 } }] }))),
    );
    await server.app.inject({ url: '/ssr', headers: { cookie: 'user=alice' } });
    expect(prepared!.states).toEqual({ page: { count: 41, who: 'alice' } });

    const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'user=alice' } });
    client.send({ t: 'join', v: 1, token: prepared!.token, states: ['page'] });
    const welcome = (await client.next((f) => f.t === 'welcome')) as unknown as { ack: number; states: Record<string, unknown> };
    expect(welcome).toMatchObject({ ack: 0, states: { page: { count: 41, who: 'alice' } } });
    expect(await call(client, 1, 'page', 'increment')).toMatchObject({ patch: { page: [{ op: 'set', path: ['count'], value: 42 }] } });

    // The token is bound to the page's session: another browser's socket cannot take the tab.
    const other = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'user=mallory' } });
    other.send({ t: 'join', v: 1, token: prepared!.token, states: ['page'] });
    expect((await other.closed).code).toBe(4401);
  });

  it('rejects with the call’s own error (bad arguments, a guard) and leaves nothing half-prepared', async () => {
    const server = await startServer([Page], {}, (app) =>
      app.post('/ssr', async (req) => app.strata.prepareTab(req, { states: ['page'], calls: req.body as { state: string; handler: string }[] })),
    );
    const request = async (calls: { state: string; handler: string; args?: unknown }[]) =>
      (await server.app.inject({ method: 'POST', url: '/ssr', payload: calls })).json() as { code?: string };
    expect(await request([{ state: 'page', handler: 'load', args: { from: 'x' } }])).toMatchObject({ code: 'STRATA_STATE_BAD_ARGS' });
    expect(await request([{ state: 'page', handler: 'secret' }])).toMatchObject({ code: 'TEST_DENIED' });
    expect(await request([{ state: 'page', handler: 'nope' }])).toMatchObject({ code: 'STRATA_STATE_UNKNOWN_HANDLER' });
  });
});
