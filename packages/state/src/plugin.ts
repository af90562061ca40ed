import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConnectionInfo, Middleware } from './context.js';
import type { AnyServerStateDef, ModelChange } from './defineState.js';
import { StateError } from './errors.js';
import { Connection, type UpgradeFacts } from './internal/connection.js';
import { startHeartbeat } from './internal/heartbeat.js';
import { JoinTokens } from './internal/joinToken.js';
import { bearerCheck, checkMetricsOptions, closeServer, formatMetrics, listenMetrics, type MetricsOptions, PROMETHEUS_TYPE, serverUrl, type StrataMetrics } from './internal/metrics.js';
import { type RuntimeOptions, StateRuntime } from './internal/runtime.js';
import { Uploads } from './internal/uploads.js';
import { toWireError } from './internal/wireError.js';
import type { Tab } from './internal/tab.js';
import type { JsonValue } from './patch.js';
import { CLOSE_CODES, DEFAULT_LIMITS, type Limits } from './protocol.js';
import type { RedisErrorCounts } from './redisStateManager.js';
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
  /** Where uploads wait for their handler (a private temporary directory by default). */
  uploadDir?: string;
  /** How long an upload waits for a handler to take it (ms); then it is deleted. Default 10 minutes. */
  uploadTtlMs?: number;
  /**
   * Serves the metrics in the Prometheus text format (names in the README, "Metrics"): with
   * `token` on the app at `<path>/metrics`, with `port` on a separate server, or both. Without
   * this option there is no route (`app.strata.metrics()` counts all the same). `{}` serves the
   * app route without auth in development and is refused in production.
   */
  metrics?: MetricsOptions;
  /**
   * `'events'` (default): one line per answered event on the app's logger, at info level:
   * `{ tab, state, handler, ms, outcome }`, message `event` (`outcome` is `ok` or the error code).
   * Argument values are never logged in production; in development, with the logger at debug
   * level, the line is written at debug level with `args`. `false`: no event lines.
   */
  log?: 'events' | false;
}

/** What the plugin adds to the fastify instance, as `app.strata`. */
export interface StrataStateServer {
  /**
   * A join token for a new tab, to embed in the page that opens the socket. `bind` overrides
   * what `bindToken(request)` would give — for a response that sets a new session cookie the
   * request does not carry yet (after a login).
   */
  issueToken(request: FastifyRequest, options?: { bind?: string | undefined }): string;
  /** Tabs held and sockets open. */
  stats(): { tabs: number; connections: number };
  /** The numbers `/metrics` serves, read now, as a plain object (counters since start-up). */
  metrics(): StrataMetrics;
  /** The URL of the separate metrics server (`metrics.port`), e.g. `http://127.0.0.1:9464`; undefined without one. */
  metricsAddress(): string | undefined;
  /**
   * Sends `payload` (JSON) under `topic` to the `onBroadcast` listeners of this worker, at once,
   * and of every other worker sharing the state manager (Redis pub/sub; best effort).
   */
  broadcast(topic: string, payload: unknown): void;
  /** Hears `topic` from every worker; returns the unsubscribe function. */
  onBroadcast(topic: string, listener: (payload: unknown) => void): () => void;
  /**
   * Ends, on this worker, every tab whose socket's upgrade `match`es (e.g. of a session that
   * ended): the tab is forgotten and its socket closed with `signedOut` (4403); an event it
   * was running still answers first (within a second), none queued behind it runs. Returns how many.
   */
  endTabs(match: (info: ConnectionInfo) => boolean, reason?: string): number;
  /** Hears every committed model change of every worker (local ones too); returns the unsubscribe function. */
  onModelChange(listener: (change: ModelChange) => void): () => void;
  /**
   * Server-side rendering: makes the tab of the page being rendered, holding `states` after
   * `calls` ran (as events, with this request's cookies, headers and address as the context).
   * Returns the states' values for the HTML and the join token of this tab, so the socket
   * continues from exactly what the page showed. A failing call rejects with its error.
   */
  prepareTab(
    request: FastifyRequest,
    options: { states: readonly string[]; calls?: readonly { state: string; handler: string; args?: JsonValue }[] },
  ): Promise<{ token: string; states: Record<string, JsonValue> }>;
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
  if (options.metrics) checkMetricsOptions(options.metrics, production);
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
  const uploads = new Uploads({
    dir: options.uploadDir ?? join(tmpdir(), `strata-uploads-${process.pid}-${randomBytes(4).toString('hex')}`),
    maxBytes: limits.uploadBytes,
    perTab: limits.uploadsPerTab,
    ttlMs: options.uploadTtlMs ?? 10 * 60_000,
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
    uploads,
    logError: (error, where) => fastify.log.error({ err: error, ...where }, 'strata state event failed'),
    logEvent: options.log === false ? undefined : eventLogger(fastify.log, production),
  });
  await registerWebsocket(fastify, limits.hardFrameBytes);

  fastify.get(`${path}/ws`, { websocket: true, preValidation: originCheck(options.allowedOrigins) }, (socket, request) => {
    const connection = new Connection(socket, upgradeFacts(request, options.bindToken), runtime, tokens, limits);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
  });
  fastify.get(`${path}/health`, async () => ({ status: 'ok' }));
  const scrape = (): StrataMetrics => {
    let joined = 0;
    for (const connection of connections) if (connection.joinedInfo) joined++;
    const errors = (manager as { errors?: Partial<RedisErrorCounts> }).errors;
    return runtime.metrics.snapshot({
      tabs: manager.size,
      connectedTabs: joined,
      openSockets: connections.size,
      redisErrors: { command: errors?.command ?? 0, connection: errors?.connection ?? 0 },
    });
  };
  if (options.metrics && (options.metrics.token !== undefined || options.metrics.port === undefined)) {
    const allowed = bearerCheck(options.metrics.token);
    fastify.get(`${path}/metrics`, async (request, reply) => {
      if (!allowed(request.headers.authorization)) return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain').send('Unauthorized\n');
      return reply.type(PROMETHEUS_TYPE).send(formatMetrics(scrape()));
    });
  }
  // Uploads: the raw body, streamed to disk under the size limit, for the tab whose current
  // token the `x-strata-token` header carries (a custom header: a cross-site form cannot send it).
  await fastify.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    // `csrfExempt`: a CSRF layer (the auth plugin's) leaves this route to its own checks above.
    scope.post(`${path}/upload`, { preValidation: originCheck(options.allowedOrigins), config: { csrfExempt: true } }, async (request, reply) => {
      try {
        const { tab } = tokens.verify(request.headers['x-strata-token'], options.bindToken?.(request));
        const declared = Number(request.headers['content-length']);
        const filename = decodeFilename(request.headers['x-strata-filename']);
        const contentType = String(request.headers['content-type'] ?? 'application/octet-stream').slice(0, 200);
        return await uploads.receive(tab, request.body as Readable, { filename, contentType, declaredBytes: Number.isFinite(declared) ? declared : undefined });
      } catch (error) {
        const wire = toWireError(error, production);
        const status = wire.code === 'STRATA_STATE_UPLOAD_TOO_LARGE' ? 413 : wire.code === 'STRATA_STATE_BAD_TOKEN' ? 401 : wire.code === 'STRATA_STATE_QUEUE_FULL' ? 429 : 400;
        // A body cut off mid-way: the connection cannot carry another request.
        if (status === 413) reply.header('connection', 'close');
        return reply.code(status).send({ error: wire });
      }
    });
  });

  const heartbeat = startHeartbeat(connections, options.heartbeatMs ?? 30_000, tokenTtlMs);

  const worker = randomBytes(9).toString('base64url');
  const topics = new Map<string, Set<(payload: unknown) => void>>();
  const hear = (topic: string, payload: unknown) => {
    for (const listener of topics.get(topic) ?? []) {
      try {
        listener(payload);
      } catch (error) {
        fastify.log.error({ err: error, topic }, 'strata broadcast listener failed');
      }
    }
  };
  const stopSignals = manager.signals?.subscribe((signal) => {
    if (signal.origin !== worker) hear(signal.topic, signal.payload);
  });
  fastify.decorate('strata', {
    issueToken: (request: FastifyRequest, issue?: { bind?: string | undefined }) =>
      tokens.issue({ bind: issue && 'bind' in issue ? issue.bind : options.bindToken?.(request) }),
    stats: () => ({ tabs: manager.size, connections: connections.size }),
    metrics: scrape,
    metricsAddress: () => metricsServer && serverUrl(metricsServer.address() as AddressInfo),
    broadcast(topic, payload) {
      hear(topic, payload);
      manager.signals?.publish({ topic, payload, origin: worker });
    },
    onBroadcast(topic, listener) {
      let set = topics.get(topic);
      if (!set) topics.set(topic, (set = new Set()));
      set.add(listener);
      return () => void set.delete(listener);
    },
    endTabs(match, reason = 'The session ended.') {
      let ended = 0;
      for (const connection of [...connections]) {
        const info = connection.joinedInfo;
        if (info && match(info)) {
          connection.end(reason);
          ended++;
        }
      }
      return ended;
    },
    onModelChange: (listener) => runtime.changes.listen(listener),
    async prepareTab(request, { states, calls = [] }) {
      const facts = upgradeFacts(request, options.bindToken);
      const tab = randomBytes(12).toString('base64url');
      const info = Object.freeze({ tab, cookies: facts.cookies, headers: facts.headers, ip: facts.ip, origin: facts.origin });
      const values = await runtime.prepareTab(info, states, calls);
      return { token: tokens.issue({ tab, bind: facts.bind }), states: values };
    },
  } satisfies StrataStateServer);
  // Last: nothing after it can fail and leave the port open.
  const metricsServer = options.metrics?.port === undefined ? undefined : await listenMetrics(options.metrics.port, options.metrics.host ?? '127.0.0.1', () => formatMetrics(scrape()));
  fastify.addHook('onClose', async () => {
    if (metricsServer) await closeServer(metricsServer);
    clearInterval(heartbeat);
    runtime.live.close();
    runtime.changes.close();
    await uploads.close();
    stopSignals?.();
    for (const connection of connections) connection.close(CLOSE_CODES.tryAgain, 'Server shutting down.');
    await manager.close();
  });
}

/**
 * The event log line: info level without arguments; in development with the logger at debug
 * level, debug level with them. Levels are checked before anything is built.
 */
function eventLogger(log: FastifyBaseLogger, production: boolean): NonNullable<RuntimeOptions['logEvent']> {
  const pino = log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };
  // fastify's logger: false is a no-op logger without levels: nothing to write.
  const enabled = typeof pino.isLevelEnabled === 'function' ? (level: string) => pino.isLevelEnabled!(level) : () => typeof log.level === 'string' && log.level !== 'silent';
  return (tab, state, handler, ms, outcome, args) => {
    if (!enabled('info')) return;
    const rounded = Math.round(ms * 1000) / 1000;
    if (!production && enabled('debug')) log.debug({ tab, state, handler, ms: rounded, outcome, args }, 'event');
    else log.info({ tab, state, handler, ms: rounded, outcome }, 'event');
  };
}

/** Registers @fastify/websocket with the hard frame limit, or checks the app's registration keeps to it. */
async function registerWebsocket(fastify: FastifyInstance, hardFrameBytes: number): Promise<void> {
  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(websocket, {
      options: { maxPayload: hardFrameBytes },
      // A client's protocol error (a frame over the hard limit: 1009, text that is not UTF-8: 1007)
      // is the client's fault, answered by ws with its close code: not a server error to log as one.
      errorHandler: (error, socket, request) => {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('WS_ERR_')) request.log.debug({ err: error }, 'websocket protocol error from the client');
        else request.log.error(error);
        socket.terminate();
      },
    });
    return;
  }
  const maxPayload = (fastify.websocketServer as { options?: { maxPayload?: number } } | undefined)?.options?.maxPayload;
  if (maxPayload === undefined || maxPayload > hardFrameBytes) {
    throw new StateError('STRATA_STATE_DEFINITION', `@fastify/websocket was registered with maxPayload ${maxPayload ?? 'unset'}; register it with options.maxPayload ≤ ${hardFrameBytes} (limits.hardFrameBytes), or let the state plugin register it.`);
  }
}

/** The upgrade check: the Origin must be one of `allowed`, by default the app's own origin. */
/** The `x-strata-filename` header (URI-encoded), bounded; `upload` when absent or unreadable. */
function decodeFilename(header: string | string[] | undefined): string {
  if (typeof header !== 'string' || header === '') return 'upload';
  try {
    return decodeURIComponent(header).replace(/[\u0000-\u001f/\\]/g, '_').slice(0, 255) || 'upload';
  } catch {
    return 'upload';
  }
}

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
