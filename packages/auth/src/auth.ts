import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { onChange } from '@strata/model';
import type { ConnectionInfo, Middleware, ModelChange } from '@strata/state/server';
import { type AuthUser, type CurrentSession, CurrentUsers } from './currentUser.js';
import { AuthError } from './errors.js';
import { User } from './models.js';
import { defaultPasswordValidators, hashPassword, MAX_PASSWORD_LENGTH, type PasswordValidator, verifyDummy, verifyPassword } from './passwords.js';
import { databaseSessionStore, newSessionValue, redisSessionStore, type SessionStore, sessionKey } from './sessions.js';
import { createMemoryThrottle, createRedisThrottle, type Throttle } from './throttle.js';
import { csrfToken, sameText } from './tokens.js';

/** Options of {@link createAuth}. */
export interface AuthOptions {
  /** Signs CSRF and reset tokens: at least 32 bytes, from the environment (`STRATA_SECRET_KEY`). */
  secret: string | Buffer;
  /** Where the site is (`https://shop.example`): reset links are built from it, never from a request's Host. */
  siteOrigin: string;
  /** Secure cookies and terse errors. Default: `NODE_ENV === 'production'`. */
  production?: boolean;
  /** The session cookie's name. Default `strata_session`. */
  cookieName?: string;
  /** How long a session lasts (ms). Default 14 days. */
  sessionTtlMs?: number;
  /** Redis for sessions, throttling and sign-in exchanges (several workers need it); default: database sessions, in-memory throttle. */
  redis?: string | Redis;
  /** A session store of your own (overrides `redis` for sessions). */
  store?: SessionStore;
  /** Sign-in and reset attempts allowed per account and per client address: default 5 per minute. */
  throttle?: Throttle | { limit?: number; windowMs?: number };
  /** Password rules for registration, changes and resets. Default: {@link defaultPasswordValidators}. */
  passwordValidators?: readonly PasswordValidator[];
  /** How long a reset link works (ms). Default 1 hour. */
  resetTtlMs?: number;
  /** The page that takes a reset token: the link is `siteOrigin + resetPath + '?token=…'`. Default `/reset-password`. */
  resetPath?: string;
  /** Delivers a reset link (e-mail it). Default: logged (development only; production requires this). */
  sendPasswordReset?: (message: { email: string; link: string; userId: number }) => void | Promise<void>;
  /** Where the HTTP routes live. Default `/auth`. */
  routePrefix?: string;
  /** The longest a worker trusts its cached copy of a session and user (ms). Default 5 minutes; changes made through Strata invalidate it at once. */
  cacheMs?: number;
  /** HTTP requests that need no CSRF token (e.g. webhooks with their own signatures). */
  csrfExempt?: (request: FastifyRequest) => boolean;
}

/** The broadcast topic telling every worker that sessions ended. */
const ENDED = 'strata.auth.sessionsEnded';
const EXCHANGE_TTL_MS = 60_000;
const PERMISSION_MODELS = new Set(['auth.Permission', 'auth.Group', 'auth.User_groups', 'auth.User_permissions', 'auth.Group_permissions']);

/** The auth layer's settings and moving parts, shared by its HTTP routes, event middleware and handlers. */
export class AuthCore {
  readonly secret: string | Buffer;
  readonly siteOrigin: string;
  readonly production: boolean;
  readonly cookieName: string;
  readonly sessionTtlMs: number;
  readonly store: SessionStore;
  readonly throttle: Throttle;
  readonly validators: readonly PasswordValidator[];
  readonly resetTtlMs: number;
  readonly resetPath: string;
  readonly routePrefix: string;
  readonly users: CurrentUsers;
  readonly sendPasswordReset: NonNullable<AuthOptions['sendPasswordReset']> | undefined;
  readonly csrfExempt: AuthOptions['csrfExempt'];
  private app: FastifyInstance | undefined;
  private readonly stops: (() => void)[] = [];

  constructor(options: AuthOptions) {
    const secretBytes = typeof options.secret === 'string' ? Buffer.byteLength(options.secret) : options.secret?.length;
    if (!secretBytes || secretBytes < 32) throw new AuthError('STRATA_AUTH_CONFIG', 'The auth secret must be at least 32 bytes; read it from STRATA_SECRET_KEY.');
    let origin: URL;
    try {
      origin = new URL(options.siteOrigin);
    } catch {
      throw new AuthError('STRATA_AUTH_CONFIG', `siteOrigin must be the site's URL (https://shop.example), got ${JSON.stringify(options.siteOrigin)}.`);
    }
    if (origin.protocol !== 'https:' && origin.protocol !== 'http:') throw new AuthError('STRATA_AUTH_CONFIG', 'siteOrigin must be an http(s) URL.');
    this.production = options.production ?? process.env.NODE_ENV === 'production';
    if (this.production && !options.sendPasswordReset) throw new AuthError('STRATA_AUTH_CONFIG', 'In production, sendPasswordReset must deliver reset links (they are only logged in development).');
    this.secret = options.secret;
    this.siteOrigin = origin.origin;
    this.cookieName = options.cookieName ?? 'strata_session';
    this.sessionTtlMs = options.sessionTtlMs ?? 14 * 24 * 3600_000;
    this.store = options.store ?? (options.redis ? redisSessionStore({ redis: options.redis }) : databaseSessionStore());
    const throttle = options.throttle;
    this.throttle =
      throttle && 'hit' in throttle
        ? throttle
        : options.redis
          ? createRedisThrottle({ redis: options.redis, ...throttle })
          : createMemoryThrottle({ ...throttle });
    this.validators = options.passwordValidators ?? defaultPasswordValidators;
    this.resetTtlMs = options.resetTtlMs ?? 3600_000;
    this.resetPath = options.resetPath ?? '/reset-password';
    this.routePrefix = options.routePrefix ?? '/auth';
    this.sendPasswordReset = options.sendPasswordReset;
    this.csrfExempt = options.csrfExempt;
    this.users = new CurrentUsers(this.store, {
      cacheMs: options.cacheMs ?? 5 * 60_000,
      maxEntries: 50_000,
      onInactive: (key) => void this.endSessions([key]).catch(() => undefined),
    });
  }

  /** Wires the invalidation of cached sessions: model changes and ended sessions, from every worker when Redis is shared. */
  attach(app: FastifyInstance): void {
    this.app = app;
    const strata = app.hasDecorator('strata') ? app.strata : undefined;
    const changed = (change: ModelChange) => {
      if (change.model === User.name) for (const pk of change.pks) this.users.dropUser(Number(pk));
      else if (PERMISSION_MODELS.has(change.model)) this.users.dropPermissions();
    };
    // This worker's own changes at once (synchronously, after commit); with a shared state
    // manager, every worker's through it too (dropping twice is harmless).
    this.stops.push(onChange(changed));
    if (strata) this.stops.push(strata.onModelChange(changed));
    if (strata) {
      this.stops.push(
        strata.onBroadcast(ENDED, (payload) => {
          const keys = new Set(Array.isArray((payload as { keys?: unknown }).keys) ? ((payload as { keys: unknown[] }).keys.filter((key) => typeof key === 'string') as string[]) : []);
          for (const key of keys) this.users.dropSession(key);
          strata.endTabs((info) => keys.has(this.sessionKeyOf(info) ?? ''), 'You were signed out.');
        }),
      );
    }
  }

  /** Logs through the app's logger once attached (development reset links). */
  log(message: string): void {
    if (this.app) this.app.log.info(message);
    else console.info(message);
  }

  async close(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    await this.throttle.close();
    await this.store.close?.();
  }

  /** The store key of a socket's or request's session cookie. */
  sessionKeyOf(source: ConnectionInfo | FastifyRequest): string | undefined {
    return this.users.keyOf((source as { cookies?: Record<string, string | undefined> }).cookies?.[this.cookieName]);
  }

  /** The event middleware: `ctx.user` and `ctx.session` from the server-side session, on every event (fails closed). */
  readonly middleware: Middleware = async (ctx, next) => {
    const { user, session } = await this.users.resolve(ctx.cookies[this.cookieName]);
    ctx.user = user;
    ctx.session = session;
    await next();
  };

  /** Binds join tokens to the session: a token of one session does not open a socket of another. */
  readonly bindToken = (request: FastifyRequest): string | undefined => {
    const key = this.sessionKeyOf(request);
    return key && createHash('sha256').update(`bind\n${key}`).digest('base64url').slice(0, 22);
  };

  /** The binding of a session key, for a token issued with a new session cookie. */
  bindingOf(key: string): string {
    return createHash('sha256').update(`bind\n${key}`).digest('base64url').slice(0, 22);
  }

  /** The CSRF token of a session. */
  csrfFor(key: string): string {
    return csrfToken(this.secret, key);
  }

  /** True when `token` is the CSRF token of session `key`. */
  checkCsrf(key: string | undefined, token: unknown): boolean {
    return key !== undefined && typeof token === 'string' && token.length < 100 && sameText(token, this.csrfFor(key));
  }

  /** Records an attempt against each key; refuses (typed, with retry-after) when any is exhausted; fails closed. */
  async throttled(keys: string[]): Promise<void> {
    let result: Awaited<ReturnType<Throttle['hit']>>;
    try {
      result = await this.throttle.hit(keys);
    } catch (error) {
      throw new AuthError('STRATA_AUTH_UNAVAILABLE', 'Sign-in is unavailable right now; try again shortly.', { cause: error });
    }
    if (!result.ok) {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      throw new AuthError('STRATA_AUTH_THROTTLED', `Too many attempts; try again in ${seconds} s.`, { retryAfterMs: result.retryAfterMs });
    }
  }

  /**
   * Checks a login (e-mail or username) and password: throttled per account and per address,
   * as slow for an unknown or inactive account as for a wrong password, and never saying
   * which. Re-hashes a password stored with older parameters. Returns the user.
   */
  async authenticate(login: string, password: string, ip: string) {
    const name = login.trim().toLowerCase();
    await this.throttled([`login:account:${name}`, `login:ip:${ip}`]);
    const user = await User.objects.filter(name.includes('@') ? { email: name } : { username: login.trim() }).first();
    const refused = () => new AuthError('STRATA_AUTH_INVALID_CREDENTIALS', 'The login or password is wrong.');
    if (!user) {
      await verifyDummy(password.slice(0, MAX_PASSWORD_LENGTH));
      throw refused();
    }
    const { ok, needsRehash } = await verifyPassword(user.password, password);
    if (!ok || !user.isActive) throw refused();
    await this.throttle.reset(`login:account:${name}`).catch(() => undefined);
    // A new sign-in spends outstanding reset links (they cover lastLogin).
    await User.objects.filter({ id: user.id }).update({ lastLogin: new Date(), ...(needsRehash ? { password: await hashPassword(password) } : {}) });
    return user;
  }

  /**
   * Starts a signed-in session with a new key (never the one from before sign-in), carrying
   * the old session's data over and ending the old session everywhere. Returns the cookie value.
   */
  async startSession(userId: number, previous: CurrentSession | null | undefined): Promise<string> {
    const value = newSessionValue();
    await this.store.save({ key: sessionKey(value)!, userId, data: { ...previous?.data }, expiresAt: Date.now() + this.sessionTtlMs });
    if (previous) await this.endSessions([previous.key]);
    return value;
  }

  /** A session for a visitor who has none (a page with a form needs it for its CSRF token). Returns the cookie value. */
  async anonymousSession(): Promise<string> {
    const value = newSessionValue();
    await this.store.save({ key: sessionKey(value)!, userId: null, data: {}, expiresAt: Date.now() + this.sessionTtlMs });
    return value;
  }

  /**
   * Ends sessions on every worker: deleted from the store, dropped from caches, their sockets
   * closed (4403). With `afterReply`, sockets close on the next turn, so the event that asked
   * (a logout over the socket) still gets its answer.
   */
  async endSessions(keys: string[], options: { afterReply?: boolean } = {}): Promise<void> {
    for (const key of keys) await this.store.delete(key);
    for (const key of keys) this.users.dropSession(key);
    const strata = this.app?.hasDecorator('strata') ? this.app.strata : undefined;
    if (!strata) return;
    if (options.afterReply) setImmediate(() => strata.broadcast(ENDED, { keys }));
    else strata.broadcast(ENDED, { keys });
  }

  /** Ends every session of a user but `except` (a password change keeps the one that made it). */
  async endUserSessions(userId: number, except?: string): Promise<void> {
    const keys = await this.store.deleteForUser(userId, except);
    this.users.dropUser(userId);
    if (keys.length) await this.endSessions(keys);
  }

  /**
   * A one-time code that turns into the session cookie over HTTP (sign-in over the socket):
   * valid for a minute, once, and only for the browser whose session `bind` it was made for.
   */
  async createExchange(userId: number, bind: string): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const exchange = { userId, bind, password: await this.passwordMark(userId) };
    await this.store.save({ key: exchangeKey(code), userId: null, data: { exchange }, expiresAt: Date.now() + EXCHANGE_TTL_MS });
    return code;
  }

  /** A mark of the user's password hash: a code made before a password change or reset is spent by it. */
  private async passwordMark(userId: number): Promise<string | undefined> {
    const row = await User.objects.filter({ id: userId, isActive: true }).only('id', 'password').first();
    return row ? createHash('sha256').update(`exchange-password\n${row.password}`).digest('base64url') : undefined;
  }

  /** Spends an exchange code from the browser with session `bind`; returns the user id, or throws STRATA_AUTH_BAD_TOKEN. */
  async spendExchange(code: unknown, bind: string | undefined): Promise<number> {
    const bad = new AuthError('STRATA_AUTH_BAD_TOKEN', 'This sign-in link is invalid or was already used; sign in again.');
    if (typeof code !== 'string' || !/^[\w-]{43}$/.test(code)) throw bad;
    const key = exchangeKey(code);
    // Checked before it is spent: another browser presenting the code cannot burn it.
    const exchange = (await this.store.get(key))?.data.exchange as { userId?: unknown; bind?: unknown; password?: unknown } | undefined;
    if (!exchange || typeof exchange.userId !== 'number' || typeof exchange.bind !== 'string' || !bind || !sameText(exchange.bind, bind)) throw bad;
    if (!(await this.store.take(key))) throw bad;
    const mark = await this.passwordMark(exchange.userId);
    if (!mark || typeof exchange.password !== 'string' || !sameText(exchange.password, mark)) throw bad;
    return exchange.userId;
  }
}

function exchangeKey(code: string): string {
  return createHash('sha256').update(`exchange\n${code}`).digest('hex');
}

export type { AuthUser };
