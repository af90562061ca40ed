import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { close, defineModel, f, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { type AnyServerStateDef, defineState, strataState, type StateManager } from '@strata/state/server';
import { databaseTargets, type DatabaseTarget } from '@strata/test-utils';
import * as v from 'valibot';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { type AuthOptions, createAuth, permissionRequired, staffRequired } from '../index.js';
import { authModels } from '../models.js';

export const SECRET = 'auth-test-secret-auth-test-secret-0123456789';
export const Product = defineModel('shop.Product', { fields: { name: f.text({ maxLength: 50 }) } });

/** A state with guarded handlers, as an app would write them. */
export const Admin = defineState('admin', {
  vars: () => ({ touched: 0, who: '' }),
  handlers: (h) => ({
    whoami: h.event({ public: true, run: (s, _args, ctx) => void (s.who = ctx.user?.email ?? 'anonymous') }),
    staffOnly: h.event({ guard: staffRequired, run: (s) => void s.touched++ }),
    editProduct: h.event({ args: v.object({ id: v.number() }), guard: permissionRequired('shop.change_product'), run: (s) => void s.touched++ }),
  }),
});

export const databases = databaseTargets();

/** Opens a database for the file's tests (auth models plus Product), created fresh. */
export async function openDatabase(db: DatabaseTarget): Promise<void> {
  await setup({ ...(await db.prepare()), models: [...authModels, Product] });
  await createSchema();
}

export async function closeDatabase(db: DatabaseTarget): Promise<void> {
  await close();
  await db.dispose();
}

/** A browser's cookie jar over `inject`: keeps what Set-Cookie sends. */
export class Browser {
  readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly app: TestApp) {}

  get header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await this.app.app.inject({
      method,
      url,
      headers: { ...(this.cookies.size ? { cookie: this.header } : {}), ...(method === 'POST' && this.csrf ? { 'x-csrf-token': this.csrf } : {}), ...headers },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    for (const cookie of response.cookies as { name: string; value: string; expires?: Date; maxAge?: number }[]) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() <= Date.now()) || cookie.maxAge === 0) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const json = response.body ? (response.json() as Record<string, unknown>) : {};
    if (typeof json.csrf === 'string') this.csrf = json.csrf;
    return { status: response.statusCode, body: json, headers: response.headers, cookies: response.cookies as { name: string; value: string; httpOnly?: boolean; sameSite?: string; secure?: boolean; path?: string }[] };
  }

  /** Loads a page: a session and its CSRF token. */
  async open(): Promise<void> {
    await this.request('GET', '/auth/csrf');
  }

  /** Opens a socket as this browser (its cookies) with a join token issued for its current session. */
  async socket(states: string[] = ['auth', 'admin'], token?: string): Promise<Socket> {
    const joinToken = token ?? ((await this.request('GET', '/page')).body.token as string);
    const socket = new WebSocket(`${this.app.url.replace('http', 'ws')}/strata/ws`, { headers: { origin: this.app.url, ...(this.cookies.size ? { cookie: this.header } : {}) } });
    const frames: Record<string, unknown>[] = [];
    const waiting: { match: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void }[] = [];
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      const index = waiting.findIndex((w) => w.match(frame));
      if (index >= 0) waiting.splice(index, 1)[0]!.resolve(frame);
      else frames.push(frame);
    });
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const next = (match: (f: Record<string, unknown>) => boolean) => {
      const index = frames.findIndex(match);
      if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0]!);
      return new Promise<Record<string, unknown>>((resolve) => waiting.push({ match, resolve }));
    };
    socket.send(JSON.stringify({ t: 'join', v: 1, token: joinToken, states }));
    const welcome = await Promise.race([next((f) => f.t === 'welcome'), closed.then((code) => ({ t: 'closed', code }))]);
    let seq = 0;
    return {
      socket,
      welcome,
      closed,
      async call(state: string, handler: string, args?: unknown) {
        const n = ++seq;
        socket.send(JSON.stringify({ t: 'event', seq: n, state, handler, ...(args === undefined ? {} : { args }) }));
        return (await Promise.race([next((f) => f.t === 'result' && f.seq === n), closed.then((code) => ({ t: 'closed', code }))])) as { value?: unknown; error?: { code: string; message: string; fields?: Record<string, string[]> }; patch?: Record<string, unknown> };
      },
      async state(name: string) {
        socket.send(JSON.stringify({ t: 'sub', states: [name] }));
        return ((await next((f) => f.t === 'state')).states as Record<string, Record<string, unknown>>)[name]!;
      },
    };
  }
}
export type Socket = {
  socket: WebSocket;
  welcome: Record<string, unknown>;
  closed: Promise<number>;
  call(state: string, handler: string, args?: unknown): Promise<{ value?: unknown; error?: { code: string; message: string; fields?: Record<string, string[]> }; patch?: Record<string, unknown> }>;
  state(name: string): Promise<Record<string, unknown>>;
};

export interface TestApp {
  app: FastifyInstance;
  url: string;
  auth: ReturnType<typeof createAuth>;
  /** Reset links the app "sent". */
  mail: { email: string; link: string; userId: number }[];
  browser(): Browser;
}

const running = new Set<FastifyInstance>();
afterEach(async () => {
  for (const app of running) await app.close();
  running.clear();
});

/** An app with the auth plugin and the state runtime wired as the README says; closed after each test. */
export async function startApp(options: Partial<AuthOptions> & { manager?: StateManager; states?: AnyServerStateDef[] } = {}): Promise<TestApp> {
  const mail: TestApp['mail'] = [];
  const { manager, states = [], ...authOptions } = options;
  const app = fastify({ logger: false });
  running.add(app);
  const auth = createAuth({ secret: SECRET, siteOrigin: 'https://shop.example', sendPasswordReset: (message) => void mail.push(message), ...authOptions });
  await app.register(auth.plugin);
  await app.register(strataState, { states: [auth.AuthState, Admin, ...states], secret: SECRET, middleware: [auth.middleware], bindToken: auth.bindToken, ...(manager ? { manager } : {}) });
  app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const test: TestApp = { app, url, auth, mail, browser: () => new Browser(test) };
  return test;
}

/** Rejects when `promise` has not settled within `ms`, so a missing frame or close fails the test fast instead of hanging it. */
export function within<T>(ms: number, promise: Promise<T>, what = 'the awaited event'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A request as `browser` would send it (its cookies and CSRF token), from the client address `ip`; the jar keeps the answer's cookies. */
export async function requestFrom(browser: Browser, ip: string, method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await browser.app.app.inject({
    method,
    url,
    remoteAddress: ip,
    headers: { ...(browser.cookies.size ? { cookie: browser.header } : {}), ...(method === 'POST' && browser.csrf ? { 'x-csrf-token': browser.csrf } : {}) },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  for (const cookie of response.cookies as { name: string; value: string }[]) {
    if (cookie.value === '') browser.cookies.delete(cookie.name);
    else browser.cookies.set(cookie.name, cookie.value);
  }
  return { status: response.statusCode, body: (response.body ? response.json() : {}) as Record<string, unknown>, headers: response.headers };
}

/** The same browser (a copy of its cookie jar and CSRF token) talking to another app, e.g. another worker. */
export function sameBrowserOn(browser: Browser, app: TestApp): Browser {
  const copy = app.browser();
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  copy.csrf = browser.csrf;
  return copy;
}

export type Frame = Record<string, unknown> & { t?: string; seq?: number; error?: { code: string; message: string; fields?: Record<string, string[]> } };

/** A WebSocket that sees every frame the server sends (errors outside results too), with bounded waits. */
export interface RawSocket {
  ws: WebSocket;
  /** The welcome frame, or `{ t: 'closed', code }` when the join was refused. */
  welcome: Frame;
  closed: Promise<number>;
  /** Every frame received so far that no `next` took. */
  frames: Frame[];
  send(frame: unknown): void;
  next(match: (frame: Frame) => boolean, ms?: number): Promise<Frame>;
  /** Sends an event and answers its `result`, or the `error` frame naming its seq (a refused frame). */
  call(state: string, handler: string, args?: unknown): Promise<Frame>;
}

/** Opens a raw socket with `browser`'s cookies and `token` (default: one issued by GET /page for its session). */
export async function rawSocket(browser: Browser, options: { token?: string; states?: string[] } = {}): Promise<RawSocket> {
  const token = options.token ?? ((await browser.request('GET', '/page')).body.token as string);
  const ws = new WebSocket(`${browser.app.url.replace('http', 'ws')}/strata/ws`, { headers: { origin: browser.app.url, ...(browser.cookies.size ? { cookie: browser.header } : {}) } });
  const frames: Frame[] = [];
  const waiting: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    const index = waiting.findIndex((w) => w.match(frame));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(frame);
    else frames.push(frame);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await within(5_000, new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the WebSocket upgrade');
  const next = (match: (frame: Frame) => boolean, ms = 5_000) => {
    const index = frames.findIndex(match);
    if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0]!);
    const frame = new Promise<Frame>((resolve) => waiting.push({ match, resolve }));
    return within(ms, Promise.race([frame, closed.then((code) => ({ t: 'closed', code }) as Frame)]), 'the awaited frame');
  };
  const send = (frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  send({ t: 'join', v: 1, token, states: options.states ?? ['auth', 'admin'] });
  const welcome = await next((f) => f.t === 'welcome');
  let seq = 0;
  return {
    ws,
    welcome,
    closed,
    frames,
    send,
    next,
    call(state, handler, args) {
      const n = ++seq;
      send({ t: 'event', seq: n, state, handler, ...(args === undefined ? {} : { args }) });
      return next((f) => (f.t === 'result' || f.t === 'error') && f.seq === n);
    },
  };
}

/** Subscribes a raw socket to `name` and answers its full state. */
export async function rawState(socket: RawSocket, name: string): Promise<Record<string, unknown>> {
  socket.send({ t: 'sub', states: [name] });
  const frame = await socket.next((f) => f.t === 'state');
  return (frame.states as Record<string, Record<string, unknown>>)[name]!;
}
