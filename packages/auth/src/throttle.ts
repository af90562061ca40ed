import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { StrataError } from '@strata/model';
import { redisFailFastOptions } from '@strata/state/server';
import { Redis } from 'ioredis';

/** The answer of {@link Throttle.hit}: go ahead, or wait `retryAfterMs` before the next attempt. */
export type ThrottleResult = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Counts login and password-reset attempts per key (an account, an IP, …) in fixed windows.
 *
 * A window opens at a key's first attempt and lasts `windowMs`; within it the key allows
 * `limit` attempts, and `retryAfterMs` is the time left until it closes. Refused attempts are
 * not counted: they never reached the password check, and counting them would let a blocked
 * IP keep spending (and locking) the budgets of any account it names.
 *
 * The throttle knows nothing of accounts. Callers must hit the account key for unknown
 * accounts exactly as for known ones, or the answer reveals which accounts exist.
 */
export interface Throttle {
  /**
   * Records one attempt against every key at once, or none when any key is already at its
   * limit; then answers with the longest wait among the exhausted keys. Keys are opaque
   * (callers normalise them, e.g. lowercase emails); a key over 64 characters is stored as
   * its SHA-256. Rejects with {@link ThrottleUnavailableError} when the store cannot answer.
   */
  hit(keys: readonly string[]): Promise<ThrottleResult>;
  /** Forgets a key's attempts, e.g. after a successful login or a password reset by an admin. */
  reset(key: string): Promise<void>;
  /** Stops timers and releases a connection the throttle opened itself; later calls reject. */
  close(): Promise<void>;
}

/** Options shared by every throttle. */
export interface ThrottleOptions {
  /** Attempts allowed per key and window. Default 5. */
  limit?: number;
  /** Window length (ms), counted from a key's first attempt. Default 60,000. */
  windowMs?: number;
}

/** Options of {@link createMemoryThrottle}. */
export interface MemoryThrottleOptions extends ThrottleOptions {
  /** Keys kept at most; past it the oldest are forgotten. Default 100,000. */
  maxKeys?: number;
}

/** The in-process throttle: a {@link Throttle} that also tells how many keys it holds. */
export interface MemoryThrottle extends Throttle {
  /** Keys currently held (live windows, plus expired ones not yet swept). */
  readonly size: number;
}

/** Options of {@link createRedisThrottle}. */
export interface RedisThrottleOptions extends ThrottleOptions {
  /** A Redis URL (`redis://host:6379`), or an ioredis client (give it fail-fast options). */
  redis: string | Redis;
  /** Key prefix. Default `strata:throttle:`. On Redis Cluster use a hash tag (`strata:{throttle}:`) so one hit’s keys share a slot. */
  prefix?: string;
}

/**
 * `STRATA_AUTH_UNAVAILABLE`: the throttle could not count an attempt (Redis is down, or the
 * throttle was closed). Treat the attempt as refused: a throttle that fails open is no throttle.
 */
export class ThrottleUnavailableError extends StrataError<'STRATA_AUTH_UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STRATA_AUTH_UNAVAILABLE', message, options);
  }
}

/** Longer keys are stored as `sha256:<hex>` (71 characters), which no shorter key can equal. */
const maxVerbatimKeyLength = 64;

/**
 * The form a key is counted under: itself when at most 64 characters long, else `sha256:<hex>`
 * of it, so a 1 MB username costs 71 bytes of memory or Redis. Useful to find a key in Redis.
 */
export function throttleKey(key: string): string {
  if (key.length <= maxVerbatimKeyLength) return key;
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * An in-process throttle with fixed windows, for one worker (tests, a single server).
 *
 * Memory is bounded: expired keys are swept on every hit and by an unref'd timer, and past
 * `maxKeys` the keys whose windows opened first are forgotten. That fails toward allowing
 * attempts, and only for those oldest keys; it never throws. Size `maxKeys` above the distinct
 * keys one window sees, and use {@link createRedisThrottle} when workers must share counts.
 *
 * @example
 * const throttle = createMemoryThrottle({ limit: 5, windowMs: 60_000 });
 * const verdict = await throttle.hit([`login:account:${email}`, `login:ip:${request.ip}`]);
 * if (!verdict.ok) reply.header('retry-after', Math.ceil(verdict.retryAfterMs / 1000)).code(429);
 */
export function createMemoryThrottle(options: MemoryThrottleOptions = {}): MemoryThrottle {
  const { limit, windowMs } = windowOptions('createMemoryThrottle', options);
  const maxKeys = positiveInteger('createMemoryThrottle', 'maxKeys', options.maxKeys ?? 100_000);
  // One window length for every key, and a key is re-inserted when its window reopens: the
  // map's order is the order windows end in, so the sweep and the eviction both read its head.
  const windows = new Map<string, { count: number; endsAt: number }>();
  let closed = false;

  const sweep = (now: number) => {
    for (const [key, window] of windows) {
      if (window.endsAt > now) return;
      windows.delete(key);
    }
  };
  // Node runs a timer longer than 2^31 - 1 ms every millisecond instead; a minute-long sweep is as good.
  const timer = setInterval(() => sweep(performance.now()), Math.min(Math.max(windowMs, 1_000), 60_000));
  timer.unref();

  const waitFor = (keys: readonly string[], now: number) => {
    let wait = 0;
    for (const key of keys) {
      const window = windows.get(key);
      if (window && window.count >= limit) wait = Math.max(wait, Math.ceil(window.endsAt - now));
    }
    return wait;
  };

  const record = (keys: readonly string[], now: number) => {
    for (const key of keys) {
      const window = windows.get(key);
      if (window) window.count++;
      else windows.set(key, { count: 1, endsAt: now + windowMs });
    }
    for (const key of windows.keys()) {
      if (windows.size <= maxKeys) break;
      windows.delete(key);
    }
  };

  return {
    get size() {
      return windows.size;
    },
    async hit(keys) {
      if (closed) throw new ThrottleUnavailableError('The throttle was closed; create a new one.');
      const stored = storedKeys(keys);
      const now = performance.now();
      sweep(now);
      const wait = waitFor(stored, now);
      if (wait > 0) return { ok: false, retryAfterMs: wait };
      record(stored, now);
      return { ok: true };
    },
    async reset(key) {
      windows.delete(throttleKey(key));
    },
    async close() {
      closed = true;
      clearInterval(timer);
      windows.clear();
    },
  };
}

/**
 * One round trip: refuse with the longest PTTL among the keys at the limit, or else count the
 * attempt against every key, opening a window (PEXPIRE) for a key seen the first time.
 * KEYS: the counters. ARGV: limit, windowMs. Returns 0 (allowed) or the wait in ms.
 */
const HIT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl == -1 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
    wait = math.max(wait, ttl, 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
end
return 0`;


/**
 * A throttle whose counters live in Redis, shared by every worker: one EVAL per hit, counted
 * and expired atomically, so concurrent attempts on any worker never exceed the limit.
 *
 * It fails closed: while Redis is down `hit` rejects within about a second with
 * {@link ThrottleUnavailableError} and never answers ok. `close()` disconnects only a
 * connection the throttle opened from a URL; a client passed in stays the caller's.
 *
 * @example
 * const throttle = createRedisThrottle({ redis: process.env.REDIS_URL!, limit: 5, windowMs: 15 * 60_000 });
 * const verdict = await throttle.hit([`login:account:${email}`, `login:ip:${request.ip}`]);
 */
export function createRedisThrottle(options: RedisThrottleOptions): Throttle {
  const { limit, windowMs } = windowOptions('createRedisThrottle', options);
  const prefix = options.prefix ?? 'strata:throttle:';
  if (typeof prefix !== 'string') throw definitionError('createRedisThrottle: prefix must be a string.');
  const owns = typeof options.redis === 'string';
  const redis = typeof options.redis === 'string' ? new Redis(options.redis, redisFailFastOptions) : options.redis;
  // Without a listener ioredis prints every failed reconnect; failures reach callers as rejections.
  if (owns) redis.on('error', () => undefined);
  const connecting = firstConnection(redis);
  let closed = false;

  const call = async <T>(command: () => Promise<T>): Promise<T> => {
    if (closed) throw new ThrottleUnavailableError('The throttle was closed; create a new one.');
    await connecting;
    try {
      return await command();
    } catch (error) {
      throw new ThrottleUnavailableError('The attempt throttle (Redis) is unavailable; refuse the attempt and try again in a moment.', { cause: error });
    }
  };

  return {
    async hit(keys) {
      const counters = storedKeys(keys).map((key) => prefix + key);
      const wait = await call(() => redis.eval(HIT, counters.length, ...counters, limit, windowMs));
      if (typeof wait !== 'number') throw new ThrottleUnavailableError(`The attempt throttle got an unexpected reply from Redis (${String(wait)}).`);
      return wait === 0 ? { ok: true } : { ok: false, retryAfterMs: wait };
    },
    async reset(key) {
      await call(() => redis.del(prefix + throttleKey(key)));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!owns) return;
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

/**
 * Settles when a client still opening its first connection is ready or has failed (at most
 * ~1 s), so hits sent at boot are not refused by the disabled offline queue. Later outages
 * are not waited for: commands then fail at once.
 */
function firstConnection(redis: Redis): Promise<void> {
  if (redis.status !== 'connecting' && redis.status !== 'connect') return Promise.resolve();
  return new Promise((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      for (const event of ['ready', 'error', 'end'] as const) redis.off(event, settle);
      resolve();
    };
    const timer = setTimeout(settle, 1_000);
    timer.unref();
    for (const event of ['ready', 'error', 'end'] as const) redis.once(event, settle);
  });
}

/** The keys of one hit as stored: hashed when long, each once (a repeated key counts once). */
function storedKeys(keys: readonly string[]): string[] {
  if (!Array.isArray(keys) || keys.length === 0) throw new TypeError('Throttle.hit() needs a non-empty array of keys.');
  for (const key of keys) {
    if (typeof key !== 'string') throw new TypeError(`Throttle.hit() keys must be strings (got ${typeof key}).`);
  }
  return [...new Set(keys.map(throttleKey))];
}

function windowOptions(where: string, options: ThrottleOptions): { limit: number; windowMs: number } {
  return {
    limit: positiveInteger(where, 'limit', options.limit ?? 5),
    windowMs: positiveInteger(where, 'windowMs', options.windowMs ?? 60_000),
  };
}

function positiveInteger(where: string, name: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  throw definitionError(`${where}: ${name} must be a positive integer (got ${String(value)}).`);
}

function definitionError(message: string): StrataError<'STRATA_AUTH_CONFIG'> {
  return new StrataError('STRATA_AUTH_CONFIG', message);
}
