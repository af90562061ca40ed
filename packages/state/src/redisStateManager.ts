import { Redis, type RedisOptions } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { StateError } from './errors.js';
import type { ChangeBus, ManagedTab, Signal, SignalBus, StateManager } from './stateManager.js';

/** A tab a shared manager can store: a JSON record, and the version it was last loaded from or saved as. */
export interface StoredTab extends ManagedTab {
  version: number;
  /** The highest event sequence number processed. */
  lastSeq: number;
  /** An event a dead worker was running (answered STRATA_STATE_INTERRUPTED if sent again). */
  interrupted?: number;
  /** Ended for good (its session ended): its record is deleted, never saved again. */
  readonly ended?: boolean;
  toRecord(): unknown;
  loadRecord(record: never): void;
}

/** Options of {@link createRedisStateManager}. */
export interface RedisStateManagerOptions {
  /** A Redis URL (`redis://host:6379`) or an ioredis client (give it fail-fast options). */
  redis: string | Redis;
  /** Key prefix. Default `strata:tab:`. */
  prefix?: string;
  /** A stored tab untouched this long is dropped by Redis (ms). Default 30 minutes. */
  idleMs?: number;
  /** How long a worker may hold a tab's lock for one job (ms); a job outliving it is refused. Default 10 s. */
  lockMs?: number;
  /** How long a job waits for another worker's lock on the same tab (ms). Default 5 s. */
  waitMs?: number;
  /** Changes when the state definitions change shape: a record of another version is dropped and the tab starts afresh. */
  schemaVersion?: string;
  /** Tabs kept in this process between jobs. Default 10,000. */
  maxLocalTabs?: number;
}

/** Failures counted by a Redis state manager (the state plugin's metrics read them). */
export interface RedisErrorCounts {
  /** Commands and publishes that failed. */
  command: number;
  /** Connection errors (each failed reconnect attempt counts). */
  connection: number;
}

type RedisStateManager<TTab extends StoredTab> = StateManager<TTab> & { roundTrips: number; errors: RedisErrorCounts; ready(): Promise<void>; changes: ChangeBus; signals: SignalBus };

/**
 * Round trips: 1 — lock the tab and, when the stored version differs from ours, load it. A lock
 * still held under ARGV[4] is this worker's own, left by a save Redis failed: taken over. The
 * event this job runs (ARGV[5]) is recorded until the save; a record still naming one when a
 * new job locks it belongs to a worker that died mid-job (returned last).
 */
const LOCK_AND_LOAD = `
local held = redis.call('GET', KEYS[2])
if held and held ~= ARGV[4] then return {0} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local running = redis.call('HGET', KEYS[1], 'running')
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'running', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return {1, '0', false, false, running} end
if version == ARGV[3] then return {1, version, false, false, running} end
return {1, version, redis.call('HGET', KEYS[1], 'schema'), redis.call('HGET', KEYS[1], 'record'), running}`;

/** Round trip 2 — save and unlock, only while we still hold the lock. */
const SAVE_AND_UNLOCK = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'schema', ARGV[3], 'record', ARGV[4])
redis.call('HDEL', KEYS[1], 'running')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('DEL', KEYS[2])
return 1`;

const DELETE_AND_UNLOCK = `
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * The Redis state manager: tabs stored as JSON records (never a language-specific format),
 * shared by every worker, one job at a time per tab across workers, at most 2 round trips
 * per event (lock + load only what changed, save + unlock). Backend vars stay per worker.
 * A lost lock refuses the job's save instead of writing over another worker.
 *
 * @example
 * app.register(strataState, { states, secret, manager: createRedisStateManager({ redis: process.env.REDIS_URL! }) });
 */
export function createRedisStateManager<TTab extends StoredTab>(options: RedisStateManagerOptions): RedisStateManager<TTab> {
  const redis = typeof options.redis === 'string' ? new Redis(options.redis, failFast) : options.redis;
  const errors: RedisErrorCounts = { command: 0, connection: 0 };
  // Without a listener ioredis prints every failed reconnect; the errors reach callers as rejections.
  redis.on('error', () => void errors.connection++);
  const owns = typeof options.redis === 'string';
  const prefix = options.prefix ?? 'strata:tab:';
  const idleMs = options.idleMs ?? 30 * 60_000;
  const lockMs = options.lockMs ?? 10_000;
  const waitMs = options.waitMs ?? 5_000;
  const schema = options.schemaVersion ?? '1';
  const maxLocal = options.maxLocalTabs ?? 10_000;
  const local = new Map<string, TTab>();
  let onDrop: ((tab: TTab, reason: 'evicted' | 'expired' | 'closed') => void) | undefined;
  const owner = randomBytes(9).toString('base64url');
  const keys = (id: string) => [`${prefix}${id}`, `${prefix}${id}:lock`];
  /** Tab id → the token of a lock this worker could not release (Redis failed at the save). */
  const abandoned = new Map<string, string>();

  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    manager.roundTrips++;
    try {
      return await fn();
    } catch (error) {
      errors.command++;
      throw new StateError('STRATA_STATE_UNAVAILABLE', 'The state store (Redis) is unavailable; try again in a moment.', { cause: error });
    }
  };

  const keepLocal = (tab: TTab) => {
    local.delete(tab.id);
    local.set(tab.id, tab);
    if (local.size <= maxLocal) return;
    for (const old of local.values()) {
      if (old.connected) continue;
      local.delete(old.id);
      onDrop?.(old, 'evicted');
      break;
    }
  };

  const channel = sharedChannels(redis, errors);
  const changes: ChangeBus = channel(`${prefix}changes`, (value): value is ModelChange => typeof (value as ModelChange)?.model === 'string' && Array.isArray((value as ModelChange).pks));
  const signals: SignalBus = channel(`${prefix}signals`, (value): value is Signal => typeof (value as Signal)?.topic === 'string' && typeof (value as Signal).origin === 'string');

  const manager: RedisStateManager<TTab> = {
    roundTrips: 0,
    errors,
    changes,
    signals,
    async ready() {
      // Commands are refused until the connection is up (no offline queue): wait for it, briefly.
      for (let waited = 0; redis.status !== 'ready' && waited < 2_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      try {
        await redis.ping();
      } catch (error) {
        throw new StateError('STRATA_STATE_UNAVAILABLE', `The Redis state manager cannot reach Redis (${typeof options.redis === 'string' ? options.redis.replace(/\/\/[^@/]*@/, '//…@') : 'the given client'}): start Redis or fix REDIS_URL.`, { cause: error });
      }
    },
    async open(id, create, rejoin) {
      const found = local.get(id);
      if (found) {
        keepLocal(found);
        return found;
      }
      // Another worker may hold it: an empty local copy, filled by the next job's lock + load.
      if (rejoin && !(await call(() => redis.exists(keys(id)[0]!)))) return undefined;
      const tab = create();
      keepLocal(tab);
      return tab;
    },
    async run(tab, job, seq) {
      const [key, lock] = keys(tab.id);
      const token = `${owner}:${randomBytes(6).toString('base64url')}`;
      const deadline = Date.now() + waitMs;
      let answer: [number, string?, (string | null)?, (string | null)?, (string | null)?];
      for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
        answer = (await call(() => redis.eval(LOCK_AND_LOAD, 2, key!, lock!, token, lockMs, String(tab.version), abandoned.get(tab.id) ?? '', seq === undefined ? '' : String(seq), idleMs))) as typeof answer;
        if (answer[0] === 1) {
          abandoned.delete(tab.id);
          break;
        }
        if (Date.now() > deadline) throw new StateError('STRATA_STATE_UNAVAILABLE', 'This tab is busy on another worker; try again.');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      const [, version, storedSchema, record, interrupted] = answer;
      if (record !== undefined && record !== null) {
        const stored = JSON.parse(record) as { seq: number };
        // After a deploy that changed the states' shape the tab starts from its defaults, but
        // keeps its event sequence, so nothing the old tab ran can run again.
        tab.loadRecord((storedSchema === schema ? stored : { seq: stored.seq, subscribed: [], states: {} }) as never);
        tab.version = Number(version);
      }
      // A worker died running event `interrupted`: its effects may be committed, so it never
      // runs again (at most once); its resend is answered STRATA_STATE_INTERRUPTED.
      const dead = Number(interrupted);
      if (interrupted && dead > tab.lastSeq) {
        tab.interrupted = dead;
        tab.lastSeq = dead;
      }
      let result: Awaited<ReturnType<typeof job>>;
      try {
        result = await job();
      } catch (error) {
        await saveAndUnlock(tab, key!, lock!, token);
        throw error;
      }
      try {
        await saveAndUnlock(tab, key!, lock!, token);
      } catch (error) {
        // Lost lock: another worker took the tab, its state wins and this job's answer is refused.
        if (tab.version === -1) throw error;
        // Redis failed after the job ran (its database writes may be committed): the answer stands.
        // The tab keeps its new state and its old version here, so the next job on this worker
        // saves it (its lock, still ours, is taken over at once).
        abandoned.set(tab.id, token);
      }
      return result;
    },
    touch(tab) {
      if (local.get(tab.id) === tab) keepLocal(tab);
    },
    delete(id) {
      local.delete(id);
      abandoned.delete(id);
      void call(() => redis.del(keys(id)[0]!)).catch(() => undefined);
    },
    onDrop(listener) {
      onDrop = listener;
    },
    get size() {
      return local.size;
    },
    async close() {
      for (const tab of [...local.values()]) onDrop?.(tab, 'closed');
      local.clear();
      channel.close();
      if (owns) redis.disconnect();
    },
  };

  async function saveAndUnlock(tab: TTab, key: string, lock: string, token: string): Promise<void> {
    if (tab.ended) {
      // A job that was running when its tab ended must not write the tab back.
      await call(() => redis.eval(DELETE_AND_UNLOCK, 2, key, lock, token));
      return;
    }
    const next = tab.version + 1;
    const saved = await call(() => redis.eval(SAVE_AND_UNLOCK, 2, key, lock, token, next, schema, JSON.stringify(tab.toRecord()), idleMs));
    if (saved !== 1) {
      // Another worker took the tab after our lock expired: its state wins; ours is reloaded next time.
      tab.version = -1;
      throw new StateError('STRATA_STATE_UNAVAILABLE', 'This event took longer than the tab lock allows; its state change was not saved.');
    }
    tab.version = next;
  }

  return manager;
}

type ModelChange = Parameters<Parameters<ChangeBus['subscribe']>[0]>[0];

/**
 * Pub/sub channels of one Redis connection, sharing one subscriber connection made on first
 * use. Publishing is fire-and-forget: a message that cannot be sent never fails the caller.
 */
function sharedChannels(redis: Redis, errors: RedisErrorCounts) {
  let subscriber: Redis | undefined;
  const listeners = new Map<string, Set<(message: string) => void>>();
  const open = (name: string, listener: (message: string) => void) => {
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    set.add(listener);
    if (!subscriber) {
      // A subscriber may queue its SUBSCRIBE until connected; ioredis subscribes again after every reconnect.
      subscriber = redis.duplicate({ enableOfflineQueue: true });
      subscriber.on('error', () => void errors.connection++);
      subscriber.on('message', (from: string, message: string) => {
        for (const each of listeners.get(from) ?? []) each(message);
      });
    }
    if (set.size === 1) void subscriber.subscribe(name).catch(() => void errors.command++);
    return () => void set.delete(listener);
  };
  function channel<T>(name: string, accept: (value: unknown) => value is T) {
    return {
      publish(value: T): void {
        void redis.publish(name, JSON.stringify(value)).catch(() => void errors.command++);
      },
      subscribe(listener: (value: T) => void): () => void {
        return open(name, (message) => {
          let value: unknown;
          try {
            value = JSON.parse(message);
          } catch {
            return;
          }
          if (accept(value)) listener(value);
        });
      },
    };
  }
  channel.close = () => subscriber?.disconnect();
  return channel;
}

/** ioredis options that fail a command at once while Redis is down (instead of after ~73 s), and keep reconnecting. */
export const failFast = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
  connectTimeout: 1_000,
} satisfies RedisOptions;
