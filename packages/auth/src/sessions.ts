import { createHash, randomBytes } from 'node:crypto';
import { redisFailFastOptions } from '@strata/state/server';
import { Redis } from 'ioredis';
import { Session } from './models.js';

/** A server-side session: who (if anyone) is signed in, its data, and when it ends. */
export interface SessionRecord {
  /** SHA-256 (hex) of the cookie's value; the store never sees the value itself. */
  key: string;
  userId: number | null;
  /** JSON data of the session (e.g. an anonymous cart), carried over at sign-in. */
  data: Record<string, unknown>;
  /** Ends at (ms since the epoch). */
  expiresAt: number;
}

/** Where sessions live: the database (default) or Redis. Every method may throw when the store is down. */
export interface SessionStore {
  get(key: string): Promise<SessionRecord | undefined>;
  /** Creates or replaces the session. */
  save(record: SessionRecord): Promise<void>;
  delete(key: string): Promise<void>;
  /** Reads and deletes the session in one step: of two concurrent takes, one gets it (single use). */
  take(key: string): Promise<SessionRecord | undefined>;
  /** Deletes every session of a user but `except`; returns the keys deleted. */
  deleteForUser(userId: number, except?: string): Promise<string[]>;
  close?(): Promise<void>;
}

/** A new cookie value: 256 random bits. */
export function newSessionValue(): string {
  return randomBytes(32).toString('base64url');
}

/** The store key of a cookie value. Values that are not ours (wrong length or alphabet) have none. */
export function sessionKey(value: string | undefined): string | undefined {
  if (typeof value !== 'string' || !/^[\w-]{43}$/.test(value)) return undefined;
  return createHash('sha256').update(value).digest('hex');
}

/** Sessions in the `auth.Session` table; expired rows are ignored and removed when met. */
export function databaseSessionStore(): SessionStore {
  const toRecord = (row: { key: string; userId: number | null; data: Record<string, unknown>; expiresAt: Date }): SessionRecord => ({
    key: row.key,
    userId: row.userId,
    data: row.data ?? {},
    expiresAt: row.expiresAt.getTime(),
  });
  return {
    async get(key) {
      const row = await Session.objects.filter({ key }).first();
      if (!row) return undefined;
      if (row.expiresAt.getTime() <= Date.now()) {
        await Session.objects.filter({ key }).delete();
        return undefined;
      }
      return toRecord(row);
    },
    async save(record) {
      await Session.objects.updateOrCreate({ key: record.key }, { userId: record.userId, data: record.data, expiresAt: new Date(record.expiresAt) });
    },
    async delete(key) {
      await Session.objects.filter({ key }).delete();
    },
    async take(key) {
      const row = await Session.objects.filter({ key }).first();
      if (!row) return undefined;
      // Only the caller whose delete removed the row took it.
      const deleted = await Session.objects.filter({ key }).delete();
      if (deleted.count === 0) return undefined;
      return row.expiresAt.getTime() > Date.now() ? toRecord(row) : undefined;
    },
    async deleteForUser(userId, except) {
      const keys = (await Session.objects.filter({ userId }).values('key')).map((row) => row.key as string).filter((key) => key !== except);
      if (keys.length) await Session.objects.filter({ key: { in: keys } }).delete();
      return keys;
    },
  };
}


/**
 * Sessions in Redis: one key per session (expiring with it) and a set of keys per user, so a
 * password change or deactivation ends every session of that user on every worker.
 */
export function redisSessionStore(options: { redis: string | Redis; prefix?: string }): SessionStore {
  const redis = typeof options.redis === 'string' ? new Redis(options.redis, redisFailFastOptions) : options.redis;
  redis.on('error', () => undefined);
  const owns = typeof options.redis === 'string';
  const prefix = options.prefix ?? 'strata:session:';
  const sessionKeyOf = (key: string) => `${prefix}s:${key}`;
  const userKeyOf = (userId: number) => `${prefix}u:${userId}`;
  return {
    async get(key) {
      const text = await redis.get(sessionKeyOf(key));
      if (!text) return undefined;
      const record = JSON.parse(text) as SessionRecord;
      return record.expiresAt > Date.now() ? record : undefined;
    },
    async save(record) {
      const ttl = Math.max(1, record.expiresAt - Date.now());
      const batch = redis.multi().set(sessionKeyOf(record.key), JSON.stringify(record), 'PX', ttl);
      // The user's set lives as long as its longest session (NX: a new set gets one; GT: only ever later).
      if (record.userId !== null) batch.sadd(userKeyOf(record.userId), record.key).pexpire(userKeyOf(record.userId), ttl, 'NX').pexpire(userKeyOf(record.userId), ttl, 'GT');
      const results = await batch.exec();
      for (const [error] of results ?? []) if (error) throw error;
    },
    async delete(key) {
      const text = await redis.getdel(sessionKeyOf(key));
      const userId = text ? (JSON.parse(text) as SessionRecord).userId : null;
      if (userId !== null) await redis.srem(userKeyOf(userId), key);
    },
    async take(key) {
      const text = await redis.getdel(sessionKeyOf(key));
      if (!text) return undefined;
      const record = JSON.parse(text) as SessionRecord;
      return record.expiresAt > Date.now() ? record : undefined;
    },
    async deleteForUser(userId, except) {
      const keys = (await redis.smembers(userKeyOf(userId))).filter((key) => key !== except);
      if (keys.length) await redis.multi().del(...keys.map(sessionKeyOf)).srem(userKeyOf(userId), ...keys).exec();
      return keys;
    },
    async close() {
      if (owns) redis.disconnect();
    },
  };
}
