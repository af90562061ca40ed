import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Middleware } from './context.js';
import type { AnyServerStateDef } from './defineState.js';
import { StateError } from './errors.js';
import { Connection, type UpgradeFacts } from './internal/connection.js';
import { JoinTokens } from './internal/joinToken.js';
import { StateRuntime } from './internal/runtime.js';
import type { Tab } from './internal/tab.js';
import { CLOSE_CODES, DEFAULT_LIMITS, type Limits } from './protocol.js';
import { createMemoryStateManager, type StateManager } from './stateManager.js';

/** Options of the {@link strataState} fastify plugin. */
export interface StrataStateOptions {
  /** Every state the client may use (states they `use` are added). */
  states: readonly AnyServerStateDef[];
  /** Signs join tokens: at least 32 bytes, from the environment (`STRATA_SECRET_KEY`). */
  secret: string | Buffer;
  /** Mount point: the socket is `<path>/ws`, the health route `<path>/health`. Default `/strata`. */
  path?: string;
  /** Origins allowed to open a socket. Default: the app's own origin. `*` is refused in production. */
  allowedOrigins?: readonly string[];
  /** Production mode: no internal error messages to clients, no `*` origin. Default from NODE_ENV / STRATA_ENV. */
  production?: boolean;
  /** Runs around every event, outermost first (the auth layer's session middleware goes here). */
  middleware?: readonly Middleware[];
  /** Where tabs live. Default: {@link createMemoryStateManager}. */
  manager?: StateManager;
  /** Frame, rate and queue limits (see docs/protocol.md, "Limits"). */
  limits?: Partial<Limits>;
  /** How long a join token is valid (ms). Default 1 hour. */
  tokenTtlMs?: number;
  /** Ties join tokens to something of the request (e.g. the session id); verified again on the upgrade. */
  bindToken?: (request: FastifyRequest) => string | undefined;
  /** How long a tab's tasks survive a lost socket (ms). Default 15 s. */
  reconnectGraceMs?: number;
  /** WebSocket ping interval; a socket that misses a pong is dropped (ms). Default 30 s. */
  heartbeatMs?: number;
  /**
   * Live-update jobs (a tab re-reading its rows after a commit) running at once on this worker.
   * Default 4: a burst reaching 10,000 tabs queues instead of opening 10,000 queries together,
   * and the first tabs get their patch first. Raise it to the database pool's size.
   */
  liveConcurrency?: number;
}

/** What the plugin adds to the fastify instance, as `app.strata`. */
export interface StrataStateServer {
  /** A join token for a new tab, to embed in the page that opens the socket. */
  issueToken(request: FastifyRequest): string;
  /** Tabs held and sockets open. */
  stats(): { tabs: number; connections: number };
}

declare module 'fastify' {
  interface FastifyInstance {
    strata: StrataStateServer;
  }
}

/**
 * The fastify plugin serving the state runtime: the WebSocket endpoint (Origin checked on
 * every upgrade, signed expiring join tokens, bounded frames and rates) and a health route.
 *
 * @example
 * const app = fastify();
 * await app.register(strataState, { states: [Counter], secret: process.env.STRATA_SECRET_KEY! });
 * app.get('/', (request) => page({ token: app.strata.issueToken(request) }));
 */
export async function strataState(fastify: FastifyInstance, options: StrataStateOptions): Promise<void> {
  const production = options.production ?? (process.env.NODE_ENV === 'production' || process.env.STRATA_ENV === 'production');
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const path = (options.path ?? '/strata').replace(/\/$/, '');
  if (production && options.allowedOrigins?.includes('*')) throw new StateError('STRATA_STATE_DEFINITION', 'allowedOrigins "*" is refused in production: list the origins the app is served from.');
  const tokenTtlMs = options.tokenTtlMs ?? 60 * 60_000;
  const tokens = new JoinTokens(options.secret, tokenTtlMs);
  const connections = new Set<Connection>();
  const manager = (options.manager ?? createMemoryStateManager<Tab>()) as StateManager<Tab>;
  // A store that is down at start-up is a clear boot error, not a stream of failing events.
  await manager.ready?.();
  manager.onDrop((tab) => {
    runtime.live.forget(tab);
    tab.cancelTasks();
    tab.connection?.close(CLOSE_CODES.expired, 'This tab expired on the server; reload the page.');
  });
  const runtime = new StateRuntime({
    states: options.states,
    middleware: options.middleware ?? [],
    manager,
    tokens,
    production,
    queueLength: limits.queueLength,
    reconnectGraceMs: options.reconnectGraceMs ?? 15_000,
    liveConcurrency: options.liveConcurrency ?? 4,
    logError: (error, where) => fastify.log.error({ err: error, ...where }, 'strata state event failed'),
  });
  await registerWebsocket(fastify, limits.hardFrameBytes);

  fastify.get(`${path}/ws`, { websocket: true, preValidation: originCheck(options.allowedOrigins) }, (socket, request) => {
    const connection = new Connection(socket, upgradeFacts(request, options.bindToken), runtime, tokens, limits);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
  });
  fastify.get(`${path}/health`, async () => ({ status: 'ok' }));

  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      if (!connection.alive) connection.socket.terminate();
      else {
        connection.alive = false;
        connection.socket.ping();
        connection.refreshToken(tokenTtlMs, now);
      }
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  fastify.decorate('strata', {
    issueToken: (request: FastifyRequest) => tokens.issue({ bind: options.bindToken?.(request) }),
    stats: () => ({ tabs: manager.size, connections: connections.size }),
  } satisfies StrataStateServer);
  fastify.addHook('onClose', async () => {
    clearInterval(heartbeat);
    runtime.live.close();
    for (const connection of connections) connection.close(CLOSE_CODES.tryAgain, 'Server shutting down.');
    await manager.close();
  });
}

/** Registers @fastify/websocket with the hard frame limit, or checks the app's registration keeps to it. */
async function registerWebsocket(fastify: FastifyInstance, hardFrameBytes: number): Promise<void> {
  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(websocket, { options: { maxPayload: hardFrameBytes } });
    return;
  }
  const maxPayload = (fastify.websocketServer as { options?: { maxPayload?: number } } | undefined)?.options?.maxPayload;
  if (maxPayload === undefined || maxPayload > hardFrameBytes) {
    throw new StateError('STRATA_STATE_DEFINITION', `@fastify/websocket was registered with maxPayload ${maxPayload ?? 'unset'}; register it with options.maxPayload ≤ ${hardFrameBytes} (limits.hardFrameBytes), or let the state plugin register it.`);
  }
}

/** The upgrade check: the Origin must be one of `allowed`, by default the app's own origin. */
function originCheck(allowed: readonly string[] | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    const ok = typeof origin === 'string' && (allowed ? allowed.includes(origin) || allowed.includes('*') : origin === `${request.protocol}://${request.host}`);
    if (!ok) return reply.code(403).send({ error: { code: 'STRATA_STATE_BAD_ORIGIN', message: 'This origin may not open a state socket.' } });
  };
}

// Like fastify-plugin: the decoration and routes belong to the app, not to a child context.
Object.assign(strataState, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@strata/state' });

const HANDSHAKE_HEADERS = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

function upgradeFacts(request: FastifyRequest, bindToken: StrataStateOptions['bindToken']): UpgradeFacts {
  const parsed = (request as { cookies?: Record<string, string | undefined> }).cookies;
  // No prototype: a cookie named "__proto__" stays a cookie.
  const cookies: Record<string, string> = Object.create(null);
  if (parsed) {
    for (const [name, value] of Object.entries(parsed)) if (value !== undefined) cookies[name] = value;
  } else {
    for (const part of (request.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) cookies[part.slice(0, eq).trim()] = decodeCookie(part.slice(eq + 1).trim());
    }
  }
  // The handshake's own headers mean nothing to handlers; dropping them saves memory per tab.
  const headers: Record<string, string | string[] | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(request.headers)) if (!HANDSHAKE_HEADERS.has(name)) headers[name] = value;
  return {
    cookies: Object.freeze(cookies),
    headers: Object.freeze(headers),
    ip: request.ip,
    origin: request.headers.origin ?? '',
    bind: bindToken?.(request),
  };
}

function decodeCookie(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
