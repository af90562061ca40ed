import fastify, { type FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { type AnyServerStateDef, type StrataStateOptions, strataState } from '../server.js';
import type { ServerFrame } from '../protocol.js';

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

export interface TestServer {
  app: FastifyInstance;
  origin: string;
  wsUrl: string;
  /** A fresh join token, as a page would embed it. */
  token(): Promise<string>;
  close(): Promise<void>;
}

const running = new Set<TestServer>();

// Every server a test starts is closed after it, whatever the test did.
afterEach(async () => {
  const servers = [...running];
  running.clear();
  await Promise.all(servers.map((server) => server.close()));
});

/** A fastify app with the state plugin on an ephemeral loopback port (closed after the test). */
export async function startServer(states: readonly AnyServerStateDef[], options: Partial<StrataStateOptions> = {}, routes?: (app: FastifyInstance) => void): Promise<TestServer> {
  const app = fastify({ logger: false });
  await app.register(strataState, { states, secret: SECRET, ...options });
  app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));
  routes?.(app);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = address;
  let closing: Promise<void> | undefined;
  const server: TestServer = {
    app,
    origin,
    wsUrl: `${address.replace('http', 'ws')}/strata/ws`,
    async token() {
      const response = await app.inject({ method: 'GET', url: '/page' });
      return (response.json() as { token: string }).token;
    },
    close: () => {
      running.delete(server);
      closing ??= app.close().then(() => undefined);
      return closing;
    },
  };
  running.add(server);
  return server;
}

/** A raw protocol client: a real socket plus every frame it received. */
export interface RawClient {
  socket: WebSocket;
  frames: ServerFrame[];
  send(frame: unknown): void;
  /** Resolves with the first received frame (from now or already received, unconsumed) matching `match`. */
  next(match?: (frame: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function connect(url: string, options: { origin?: string; headers?: Record<string, string> } = {}): Promise<RawClient> {
  const socket = new WebSocket(url, { headers: { ...(options.origin === undefined ? {} : { origin: options.origin }), ...options.headers } });
  const frames: ServerFrame[] = [];
  let consumed = 0;
  const waiters: (() => void)[] = [];
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as ServerFrame);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next(match = () => true, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames.slice(consumed))}`)), timeoutMs);
        const check = () => {
          for (let i = consumed; i < frames.length; i++) {
            if (match(frames[i]!)) {
              consumed = i + 1;
              clearTimeout(timer);
              return resolve(frames[i]!);
            }
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Connects and joins; resolves with the client and its welcome frame. */
export async function join(server: TestServer, states: string[], token?: string): Promise<{ client: RawClient; welcome: Extract<ServerFrame, { t: 'welcome' }> }> {
  const client = await connect(server.wsUrl, { origin: server.origin });
  client.send({ t: 'join', v: 1, token: token ?? (await server.token()), states });
  const welcome = (await client.next((f) => f.t === 'welcome')) as Extract<ServerFrame, { t: 'welcome' }>;
  return { client, welcome };
}

/** Sends one event and resolves with its result frame. */
export async function call(client: RawClient, seq: number, state: string, handler: string, args?: unknown): Promise<Extract<ServerFrame, { t: 'result' }>> {
  client.send(args === undefined ? { t: 'event', seq, state, handler } : { t: 'event', seq, state, handler, args });
  return (await client.next((f) => f.t === 'result' && f.seq === seq)) as Extract<ServerFrame, { t: 'result' }>;
}

/** Connects, records every raw text frame (from the welcome on), and joins. */
export async function joinRaw(s: TestServer, states: string[]): Promise<{ client: RawClient; raw: string[] }> {
  const client = await connect(s.wsUrl, { origin: s.origin });
  const raw: string[] = [];
  client.socket.on('message', (data) => raw.push(data.toString()));
  client.send({ t: 'join', v: 1, token: await s.token(), states });
  await client.next((f) => f.t === 'welcome');
  return { client, raw };
}
