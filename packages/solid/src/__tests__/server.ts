/** A real Strata server in the test's process, and pages connected to it. Import it before `@strata/state/server` (see ./nodeWs.ts). */
import './nodeWs.js';
import fastify, { type FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { afterEach } from 'vitest';
import { type AnyServerStateDef, type StrataStateOptions, strataState } from '@strata/state/server';
import type { AnyStateDef, WebSocketConstructorLike, WebSocketLike } from '@strata/state/client';
import { createStrata, type Strata, type StrataOptions } from '..';

export type App = FastifyInstance;

/** What the tests use of a `ws` client socket. */
interface NodeSocket extends WebSocketLike {
  on(event: 'message', listener: (data: { toString(): string }) => void): this;
}
const NodeWebSocket = WebSocket as unknown as new (url: string, options: { headers: Record<string, string> }) => NodeSocket;

const cleanups: (() => unknown)[] = [];

/** Registers something to undo after the test (run last-in, first-out). */
export function onTestEnd(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
});

export const SECRET = 'solid-test-secret-solid-test-secret-0123456789';

/** A JSON frame a socket sent or received. */
export type Frame = Record<string, unknown> & { t: string };

/** Frames of every socket one page class opened. */
export interface SocketLog {
  sent: Frame[];
  received: Frame[];
}

/**
 * A `ws` WebSocket as a page of `origin` opens it: it sends the Origin header (and the
 * cookies of `cookies`, read at each connect, as a browser would), and logs every frame.
 */
export function pageWebSocket(origin: string, cookies?: () => string): { WebSocket: WebSocketConstructorLike; log: SocketLog } {
  const log: SocketLog = { sent: [], received: [] };
  class PageWebSocket extends NodeWebSocket {
    constructor(url: string) {
      const cookie = cookies?.() ?? '';
      super(url, { headers: { origin, ...(cookie ? { cookie } : {}) } });
      this.on('message', (data) => log.received.push(JSON.parse(data.toString()) as Frame));
    }

    override send(data: string): void {
      log.sent.push(JSON.parse(data) as Frame);
      super.send(data);
    }
  }
  return { WebSocket: PageWebSocket, log };
}

export interface TestServer {
  app: App;
  origin: string;
  wsUrl: string;
  /** A join token, as the page would be served with. */
  token(): Promise<string>;
  /** Drops every open socket, as a network failure would. */
  dropSockets(): void;
}

/** A fastify app with nothing registered yet (closed after the test); `listen` starts it. */
export function createApp(): App {
  const app = fastify({ logger: false });
  cleanups.push(() => app.close());
  return app;
}

/** Starts listening on an ephemeral loopback port. */
export async function listen(app: App): Promise<TestServer> {
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    origin,
    wsUrl: `${origin.replace('http', 'ws')}/strata/ws`,
    async token() {
      const response = await app.inject({ method: 'GET', url: '/page' });
      return (response.json() as { token: string }).token;
    },
    dropSockets() {
      // @fastify/websocket's decoration (its types are not a dependency of this package).
      const { websocketServer } = app as unknown as { websocketServer: { clients: Set<{ terminate(): void }> } };
      for (const socket of websocketServer.clients) socket.terminate();
    },
  };
}

/** A fastify app with the state runtime and a page route handing out join tokens. */
export async function startServer(states: readonly AnyServerStateDef[], options: Partial<StrataStateOptions> = {}): Promise<TestServer> {
  const app = createApp();
  await app.register(strataState, { states, secret: SECRET, ...options });
  app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));
  return listen(app);
}

/** `createStrata` connected to `server` as a page would be (closed after the test). */
export async function connectStrata<TStates extends AnyStateDef>(
  server: TestServer,
  options: Partial<StrataOptions> = {},
): Promise<{ strata: Strata<TStates>; log: SocketLog }> {
  const { WebSocket, log } = pageWebSocket(server.origin);
  const strata = createStrata<TStates>({ url: server.wsUrl, token: await server.token(), WebSocket, backoff: { initialMs: 5, maxMs: 20 }, ...options });
  cleanups.push(() => strata.close());
  return { strata, log };
}

/** A promise and the function that settles it: lets a test hold a handler in flight. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
