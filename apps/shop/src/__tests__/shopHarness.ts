import type { AddressInfo } from 'node:net';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { type DatabaseTarget, databaseTargets } from '@strata/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { createShop, models } from '../server.js';

export const databases = databaseTargets();
export const PASSWORD = 'vermilion tugboat orbit';
/** The secret the test shop signs its join tokens with (a test can forge one to prove the check). */
export const SECRET = 'shop-test-secret-shop-test-secret-0123';

export async function openDatabase(db: DatabaseTarget): Promise<void> {
  await setup({ ...(await db.prepare()), models });
  await createSchema();
}

export async function closeDatabase(db: DatabaseTarget): Promise<void> {
  await close();
  await db.dispose();
}

const apps = new Set<FastifyInstance>();
afterEach(async () => {
  for (const app of apps) await app.close();
  apps.clear();
});

/** The shop on a loopback port (closed after the test). */
export async function startShop(options: { redisUrl?: string; redisPrefix?: string } = {}): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createShop({ secret: SECRET, siteOrigin: 'https://shop.example', sendPasswordReset: () => undefined, ...options });
  apps.add(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

type Result = { value?: unknown; error?: { code: string; message: string; fields?: Record<string, string[]> }; patch?: unknown };

/** A visitor: a cookie jar over HTTP and sockets that carry its cookies, as a browser tab would. */
export class Visitor {
  private readonly cookies = new Map<string, string>();
  private csrf = '';
  private token = '';
  constructor(private readonly shop: { app: FastifyInstance; url: string }) {}

  async http(method: 'GET' | 'POST', url: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await this.shop.app.inject({
      method,
      url,
      headers: { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(method === 'POST' ? { 'x-csrf-token': this.csrf } : {}) },
      ...(body ? { payload: body } : {}),
    });
    for (const cookie of response.cookies as { name: string; value: string }[]) {
      if (cookie.value) this.cookies.set(cookie.name, cookie.value);
      else this.cookies.delete(cookie.name);
    }
    const json = (response.body ? response.json() : {}) as Record<string, unknown>;
    if (typeof json.csrf === 'string') this.csrf = json.csrf;
    if (typeof json.token === 'string') this.token = json.token;
    return { status: response.statusCode, body: json };
  }

  /** The `cookie` header this browser sends. */
  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** The CSRF token of the page it opened last. */
  get csrfToken(): string {
    return this.csrf;
  }

  /** The join token of the page it opened last. */
  get joinToken(): string {
    return this.token;
  }

  /** The same browser (its cookies) talking to another worker. */
  on(shop: { app: FastifyInstance; url: string }): Visitor {
    const other = new Visitor(shop);
    for (const [name, value] of this.cookies) other.cookies.set(name, value);
    return other;
  }

  /** Carries an existing session's cookie (a customer signed in elsewhere). */
  useSession(value: string): void {
    this.cookies.set('strata_session', value);
  }

  /** Opens the page (a session, its CSRF and join tokens). */
  open() {
    return this.http('GET', '/auth/csrf');
  }

  async register(email: string) {
    await this.open();
    return this.http('POST', '/auth/register', { email, password: PASSWORD });
  }

  async login(email: string) {
    return this.http('POST', '/auth/login', { login: email, password: PASSWORD });
  }

  /** A tab: a socket joined to `states`, with `call` and `state`. */
  async tab(states: string[] = ['products', 'cart', 'orders']) {
    if (!this.token) await this.open();
    const socket = new WebSocket(`${this.shop.url.replace('http', 'ws')}/strata/ws`, { headers: { origin: this.shop.url, cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    const frames: Record<string, unknown>[] = [];
    const waiting: [(f: Record<string, unknown>) => boolean, (f: Record<string, unknown>) => void][] = [];
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      const i = waiting.findIndex(([match]) => match(frame));
      if (i >= 0) waiting.splice(i, 1)[0]![1](frame);
      else frames.push(frame);
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const next = (match: (f: Record<string, unknown>) => boolean) => {
      const i = frames.findIndex(match);
      if (i >= 0) return Promise.resolve(frames.splice(i, 1)[0]!);
      return new Promise<Record<string, unknown>>((resolve) => waiting.push([match, resolve]));
    };
    socket.send(JSON.stringify({ t: 'join', v: 1, token: this.token, states }));
    await next((f) => f.t === 'welcome');
    let seq = 0;
    return {
      socket,
      next,
      async call(state: string, handler: string, args?: unknown): Promise<Result> {
        const n = ++seq;
        socket.send(JSON.stringify({ t: 'event', seq: n, state, handler, ...(args === undefined ? {} : { args }) }));
        return (await next((f) => f.t === 'result' && f.seq === n)) as Result;
      },
      async state<T = Record<string, unknown>>(name: string): Promise<T> {
        socket.send(JSON.stringify({ t: 'sub', states: [name] }));
        return ((await next((f) => f.t === 'state')).states as Record<string, T>)[name]!;
      },
    };
  }
}
