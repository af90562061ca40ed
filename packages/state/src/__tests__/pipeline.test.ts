import { ValidationError } from '@strata/model';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { defineState, type EventContext, EventError, type Guard, type Middleware, type ServerFrame, type StrataStateOptions } from '../server.js';
import { call, connect, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type Result = Extract<ServerFrame, { t: 'result' }>;
type User = { name: string; admin: boolean };

let server: TestServer | undefined;

/** Connects with extra upgrade headers (cookies), then joins by hand. */
async function joinWith(s: TestServer, headers: Record<string, string>, states: string[]) {
  const client = await connect(s.wsUrl, { origin: s.origin, headers });
  client.send({ t: 'join', v: 1, token: await s.token(), states });
  const welcome = (await client.next((f) => f.t === 'welcome')) as Extract<ServerFrame, { t: 'welcome' }>;
  return { client, welcome };
}

const userOf = (ctx: EventContext) => (ctx as EventContext & { user?: User }).user;

/** What the handlers and guards saw, reset per test. */
let log: string[] = [];
let seen: EventContext[] = [];
let ran = 0;
afterEach(() => {
  log = [];
  seen = [];
  ran = 0;
});

const loggedIn: Guard = (ctx) => {
  log.push(`guard:loggedIn:${userOf(ctx)?.name ?? '-'}`);
  if (!userOf(ctx)) throw new EventError('STRATA_AUTH_LOGIN_REQUIRED', 'Log in first.');
};
const admin: Guard = (ctx) => {
  log.push('guard:admin');
  if (!userOf(ctx)?.admin) throw new EventError('STRATA_AUTH_FORBIDDEN', 'Admins only.');
};

const Shop = defineState('shop', {
  vars: () => ({ n: 0 }),
  handlers: (h) => ({
    open: h.event((s, _args, ctx) => {
      ran++;
      seen.push(ctx);
      log.push(`handler:${userOf(ctx)?.name ?? '-'}`);
      s.n += 1;
      return { user: userOf(ctx)?.name ?? null, fromMiddleware: (ctx.locals.fromMiddleware as string | undefined) ?? null };
    }),
    members: h.event({ guard: loggedIn, run: () => { ran++; log.push('handler'); return 'members'; } }),
    adminOnly: h.event({ guard: [loggedIn, admin], run: () => { ran++; log.push('handler'); return 'admin'; } }),
    first: h.event((_s, _a, ctx) => {
      seen.push(ctx);
      ctx.locals.leak = 'from first';
      (ctx as unknown as Record<string, unknown>).extra = 'from first';
      return Object.keys(ctx.locals).sort();
    }),
    second: h.event((_s, _a, ctx) => {
      seen.push(ctx);
      return { leak: ctx.locals.leak ?? null, extra: (ctx as unknown as Record<string, unknown>).extra ?? null, keys: Object.keys(ctx.locals).sort() };
    }),
    whoami: h.event({
      args: v.optional(v.record(v.string(), v.unknown())),
      run: (_s, _args, ctx) => {
        seen.push(ctx);
        return { tab: ctx.tab, cookies: { ...ctx.cookies }, ip: ctx.ip, origin: ctx.origin, cookieHeader: (ctx.headers.cookie as string | undefined) ?? null, custom: (ctx.headers['x-custom'] as string | undefined) ?? null, user: userOf(ctx)?.name ?? null, state: ctx.state, handler: ctx.handler };
      },
    }),
    actions: h.event((s, _a, ctx) => {
      s.n += 1;
      ctx.toast('Saved.', 'success');
      ctx.redirect('/orders/42');
      ctx.download({ filename: 'report.csv', content: 'id,total\n1,9.50\n', contentType: 'text/csv' });
      ctx.callClient('focusField', 'email');
      ctx.redirect('https://example.com/done', { replace: true });
    }),
    badRedirect: h.event({
      args: v.string(),
      run: (s, to, ctx) => {
        s.n += 1;
        ctx.toast('before the redirect');
        ctx.redirect(to);
      },
    }),
    limited: h.event({ rateLimit: { max: 2, windowMs: 60_000 }, run: () => { ran++; } }),
    refuse: h.event(() => {
      ran++;
      throw new EventError('SHOP_OUT_OF_STOCK', 'Only 2 left.', { fields: { qty: ['Only 2 left.'] } });
    }),
    invalid: h.event((s) => {
      s.n += 1;
      throw new ValidationError('Product', { name: ['Required.'] });
    }),
    crash: h.event(() => {
      throw new Error('connection to db at 10.0.0.5 failed');
    }),
    read: h.event((s) => s.n),
  }),
});

/** Sets ctx.user from the session cookie, and records the order of layers. */
const session: Middleware = async (ctx, next) => {
  log.push('session:before');
  ctx.locals.fromMiddleware = 'session';
  if (ctx.cookies.sid === 'abc') (ctx as EventContext & { user?: User }).user = { name: 'ann', admin: false };
  if (ctx.cookies.sid === 'root') (ctx as EventContext & { user?: User }).user = { name: 'root', admin: true };
  await next();
  log.push('session:after');
};
const timing: Middleware = async (ctx, next) => {
  log.push(`timing:before:${userOf(ctx)?.name ?? '-'}`);
  await next();
  log.push('timing:after');
};

async function serve(options: Partial<StrataStateOptions> = {}): Promise<TestServer> {
  server = await startServer([Shop], { middleware: [session, timing], ...options });
  return server;
}

describe('middleware', () => {
  it('runs around every event, outermost first, and sets ctx.user for guards and the handler', async () => {
    const s = await serve();
    const { client } = await joinWith(s, { cookie: 'sid=abc' }, ['shop']);
    expect(await call(client, 1, 'shop', 'open')).toMatchObject({ value: { user: 'ann', fromMiddleware: 'session' } });
    expect(log).toEqual(['session:before', 'timing:before:ann', 'handler:ann', 'timing:after', 'session:after']);
    log = [];
    expect(await call(client, 2, 'shop', 'members')).toMatchObject({ value: 'members' });
    expect(log).toEqual(['session:before', 'timing:before:ann', 'guard:loggedIn:ann', 'handler', 'timing:after', 'session:after']);
    client.socket.close();
  });

  it('refuses an event by throwing before next(): the handler never runs, the client gets the code and message', async () => {
    const gate: Middleware = async (ctx, next) => {
      if (ctx.cookies.sid === undefined) throw new EventError('STRATA_AUTH_LOGIN_REQUIRED', 'Log in first.');
      await next();
    };
    const s = await serve({ middleware: [session, gate] });
    const { client } = await join(s, ['shop']);
    const result = await call(client, 1, 'shop', 'open');
    expect(result).toEqual({ t: 'result', seq: 1, error: { code: 'STRATA_AUTH_LOGIN_REQUIRED', message: 'Log in first.' } });
    expect(ran).toBe(0);
    expect((await call(client, 2, 'shop', 'read')).error?.code).toBe('STRATA_AUTH_LOGIN_REQUIRED');
    client.socket.close();
  });
});

describe('guards', () => {
  it('refuse or allow, single and in a list (in order, the first refusal wins)', async () => {
    const s = await serve();
    const anon = (await join(s, ['shop'])).client;
    expect(await call(anon, 1, 'shop', 'members')).toEqual({ t: 'result', seq: 1, error: { code: 'STRATA_AUTH_LOGIN_REQUIRED', message: 'Log in first.' } });
    expect(await call(anon, 2, 'shop', 'adminOnly')).toMatchObject({ error: { code: 'STRATA_AUTH_LOGIN_REQUIRED' } });
    expect(ran).toBe(0);
    expect(log.filter((line) => line.startsWith('guard'))).toEqual(['guard:loggedIn:-', 'guard:loggedIn:-']);

    log = [];
    const ann = (await joinWith(s, { cookie: 'sid=abc' }, ['shop'])).client;
    expect(await call(ann, 1, 'shop', 'members')).toMatchObject({ value: 'members' });
    expect(await call(ann, 2, 'shop', 'adminOnly')).toEqual({ t: 'result', seq: 2, error: { code: 'STRATA_AUTH_FORBIDDEN', message: 'Admins only.' } });
    expect(ran).toBe(1);
    expect(log.filter((line) => line.startsWith('guard'))).toEqual(['guard:loggedIn:ann', 'guard:loggedIn:ann', 'guard:admin']);

    const root = (await joinWith(s, { cookie: 'sid=root' }, ['shop'])).client;
    expect(await call(root, 1, 'shop', 'adminOnly')).toMatchObject({ value: 'admin' });
    expect(ran).toBe(2);
    for (const c of [anon, ann, root]) c.socket.close();
  });
});

describe('the event context', () => {
  it('is rebuilt for every event: locals and fields set in one event are gone in the next', async () => {
    const s = await serve();
    const { client } = await join(s, ['shop']);
    expect((await call(client, 1, 'shop', 'first')).value).toEqual(['fromMiddleware', 'leak']);
    expect((await call(client, 2, 'shop', 'second')).value).toEqual({ leak: null, extra: null, keys: ['fromMiddleware'] });
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    client.socket.close();
  });

  it('carries the cookies, headers, address, origin and tab of the upgrade request', async () => {
    const s = await serve();
    const { client, welcome } = await joinWith(s, { cookie: 'sid=abc; theme=dark%20blue', 'x-custom': 'yes' }, ['shop']);
    expect((await call(client, 1, 'shop', 'whoami')).value).toEqual({
      tab: welcome.tab,
      cookies: { sid: 'abc', theme: 'dark blue' },
      ip: '127.0.0.1',
      origin: s.origin,
      cookieHeader: 'sid=abc; theme=dark%20blue',
      custom: 'yes',
      user: 'ann',
      state: 'shop',
      handler: 'whoami',
    });
    client.socket.close();
  });

  it('takes nothing from the client: args named like context fields stay args, extra frame fields are refused', async () => {
    const s = await serve();
    const { client, welcome } = await joinWith(s, { cookie: 'sid=abc' }, ['shop']);
    const spoof = { cookies: { sid: 'root' }, tab: 'someone-else', ip: '10.0.0.1', user: { name: 'root', admin: true }, locals: { admin: true } };
    const result = await call(client, 1, 'shop', 'whoami', spoof);
    expect(result.value).toMatchObject({ tab: welcome.tab, cookies: { sid: 'abc' }, ip: '127.0.0.1', user: 'ann' });
    expect(seen[0]!.cookies).toEqual({ sid: 'abc' });
    expect(seen[0]!.locals).toEqual({ fromMiddleware: 'session' });

    // A `cookies` (or `ctx`) field on the event frame itself is not part of the protocol.
    client.send({ t: 'event', seq: 2, state: 'shop', handler: 'whoami', cookies: { sid: 'root' } });
    expect(await client.next((f) => f.t === 'error')).toMatchObject({ t: 'error', seq: 2, error: { code: 'STRATA_STATE_BAD_FRAME' } });
    expect(seen).toHaveLength(1);
    client.socket.close();
  });
});

describe('client actions', () => {
  it('reach the result frame in the order the handler emitted them, with its patch', async () => {
    const s = await serve();
    const { client } = await join(s, ['shop']);
    expect(await call(client, 1, 'shop', 'actions')).toEqual({
      t: 'result', seq: 1,
      patch: { shop: [{ op: 'set', path: ['n'], value: 1 }] },
      actions: [
        { type: 'toast', message: 'Saved.', level: 'success' },
        { type: 'redirect', to: '/orders/42' },
        { type: 'download', filename: 'report.csv', content: 'id,total\n1,9.50\n', contentType: 'text/csv' },
        { type: 'call', name: 'focusField', args: ['email'] },
        { type: 'redirect', to: 'https://example.com/done', replace: true },
      ],
    });
    client.socket.close();
  });

  it('refuse off-site and script redirects with STRATA_STATE_BAD_ACTION, dropping the event and its other actions', async () => {
    const s = await serve();
    const { client } = await join(s, ['shop']);
    let seq = 0;
    for (const to of ['//evil.com', 'javascript:alert(1)', '/\\evil.com', 'data:text/html,<script>alert(1)</script>', 'evil.com/path']) {
      const result = await call(client, ++seq, 'shop', 'badRedirect', to);
      expect(result.error?.code, to).toBe('STRATA_STATE_BAD_ACTION');
      expect(result.actions, to).toBeUndefined();
      expect(result.patch, to).toBeUndefined();
    }
    expect((await call(client, ++seq, 'shop', 'read')).value).toBe(0);
    client.socket.close();
  });
});

describe('per-handler rate limits', () => {
  it('refuse the third call in the window with STRATA_STATE_RATE_LIMITED; the handler ran twice; per tab', async () => {
    const s = await serve();
    const { client } = await join(s, ['shop']);
    expect((await call(client, 1, 'shop', 'limited')).error).toBeUndefined();
    expect((await call(client, 2, 'shop', 'limited')).error).toBeUndefined();
    expect((await call(client, 3, 'shop', 'limited')).error?.code).toBe('STRATA_STATE_RATE_LIMITED');
    expect(ran).toBe(2);
    // Other handlers are not limited by it.
    expect((await call(client, 4, 'shop', 'read')).error).toBeUndefined();
    // Another tab has its own window.
    const other = (await join(s, ['shop'])).client;
    expect((await call(other, 1, 'shop', 'limited')).error).toBeUndefined();
    expect(ran).toBe(3);
    for (const c of [client, other]) c.socket.close();
  });
});

describe('errors on the wire', () => {
  for (const production of [false, true]) {
    it(`an EventError keeps its code, message and fields (production: ${production})`, async () => {
      const s = await serve({ production });
      const { client } = await join(s, ['shop']);
      expect(await call(client, 1, 'shop', 'refuse')).toEqual({
        t: 'result', seq: 1, error: { code: 'SHOP_OUT_OF_STOCK', message: 'Only 2 left.', fields: { qty: ['Only 2 left.'] } },
      });
      expect(ran).toBe(1);
      client.socket.close();
    });
  }

  it('a model ValidationError is STRATA_MODEL_VALIDATION with fields, its message generic in production; the event is reverted', async () => {
    const prod = await serve({ production: true });
    const a = (await join(prod, ['shop'])).client;
    expect(await call(a, 1, 'shop', 'invalid')).toEqual({
      t: 'result', seq: 1, error: { code: 'STRATA_MODEL_VALIDATION', message: 'Some fields are invalid.', fields: { name: ['Required.'] } },
    });
    expect((await call(a, 2, 'shop', 'read')).value).toBe(0);
    a.socket.close();
    await prod.close();

    const dev = await serve({ production: false });
    const b = (await join(dev, ['shop'])).client;
    expect(await call(b, 1, 'shop', 'invalid')).toEqual({
      t: 'result', seq: 1, error: { code: 'STRATA_MODEL_VALIDATION', message: 'Invalid Product: name: Required.', fields: { name: ['Required.'] } },
    });
    b.socket.close();
  });

  it('an unexpected error is STRATA_STATE_HANDLER_FAILED: generic in production, its message (never a stack) in development', async () => {
    const prod = await serve({ production: true });
    const a = (await join(prod, ['shop'])).client;
    expect(await call(a, 1, 'shop', 'crash')).toEqual({
      t: 'result', seq: 1, error: { code: 'STRATA_STATE_HANDLER_FAILED', message: 'The server could not complete this action.' },
    });
    a.socket.close();
    await prod.close();

    const dev = await serve({ production: false });
    const b = (await join(dev, ['shop'])).client;
    const result = await call(b, 1, 'shop', 'crash');
    expect(result).toEqual({ t: 'result', seq: 1, error: { code: 'STRATA_STATE_HANDLER_FAILED', message: 'connection to db at 10.0.0.5 failed' } });
    expect(JSON.stringify(result)).not.toMatch(/at .*\.ts:\d+/);
    b.socket.close();
  });
});
