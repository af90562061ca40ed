import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type AnyStateDef, createClient, type StrataClient, type WebSocketConstructorLike } from '@strata/state/client';
import { WebSocket } from 'ws';

/** The public origin of the shop in these tests (the workers sit behind it, as behind a load balancer). */
export const ORIGIN = 'https://shop.example';
const script = fileURLToPath(new URL('./workerProcess.mjs', import.meta.url));

/** One shop worker in a child process (the built shop, dist/). */
export interface ShopProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGKILL: no shutdown, no cleanup (a crash, an OOM kill). Resolves once it is gone. */
  kill(): Promise<void>;
}

export interface ShopProcessOptions {
  databaseUrl: string;
  schema?: string | undefined;
  redisUrl: string;
  redisPrefix: string;
}

/** Forks a worker and waits (at most 20 s) for the port it listens on. */
export async function startShopProcess(options: ShopProcessOptions): Promise<ShopProcess> {
  const child = fork(script, [JSON.stringify({ ...options, origin: ORIGIN })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The shop worker did not start within 20 s.')), 20_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    void exited.then(() => reject(new Error(`The shop worker exited before listening (code ${child.exitCode}).`)));
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Where a load balancer sends new connections: whichever worker is alive. */
export interface Balancer {
  target: { url: string };
}

/** A browser over real HTTP and sockets through a {@link Balancer}: its cookie jar, CSRF token and join token. */
export class Browser {
  private readonly cookies = new Map<string, string>();
  private csrf = '';
  token = '';
  constructor(private readonly balancer: Balancer) {}

  async http(method: 'GET' | 'POST', path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.balancer.target.url}${path}`, {
      method,
      headers: { cookie: this.cookieHeader(), origin: ORIGIN, ...(body ? { 'content-type': 'application/json' } : {}), ...(method === 'POST' ? { 'x-csrf-token': this.csrf } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim()];
      if (value) this.cookies.set(name, value);
      else this.cookies.delete(name);
    }
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (typeof json.csrf === 'string') this.csrf = json.csrf;
    if (typeof json.token === 'string') this.token = json.token;
    return { status: response.status, body: json };
  }

  /** Opens the page: a session, its CSRF token and a join token. */
  open() {
    return this.http('GET', '/auth/csrf');
  }

  async register(email: string, password: string) {
    await this.open();
    const answer = await this.http('POST', '/auth/register', { email, password });
    if (answer.status !== 200) throw new Error(`register ${email}: ${answer.status} ${JSON.stringify(answer.body)}`);
    // A join token of the signed-in session.
    await this.open();
  }

  /** A tab: the real client, its sockets opened on whichever worker the balancer points at. */
  tab<TStates extends AnyStateDef = AnyStateDef>(): StrataClient<TStates> {
    const { balancer } = this;
    const headers = () => ({ origin: ORIGIN, cookie: this.cookieHeader() });
    class BalancedSocket extends WebSocket {
      constructor(_url: string) {
        super(`${balancer.target.url.replace('http', 'ws')}/strata/ws`, { headers: headers() });
      }
    }
    return createClient<TStates>({
      url: 'wss://shop.example/strata/ws',
      token: this.token,
      WebSocket: BalancedSocket as unknown as WebSocketConstructorLike,
      backoff: { initialMs: 100, maxMs: 1_000 },
      onError: () => undefined,
      actions: { toast: () => undefined },
    });
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** Rejects with `what` after `ms`: every wait of these tests is bounded. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits until `check` holds (polling), at most `ms`. */
export async function until(ms: number, what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
