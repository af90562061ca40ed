import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ModelError } from '../errors.js';
import type { Dialect } from './columns.js';

interface Connector {
  dialect: Dialect;
  open: (logger: object) => { db: unknown; client: unknown; close: () => Promise<void> };
}

/** Picks the driver for a database URL and returns how to open it. */
export async function connectorFor(url: string, options: { schema?: string; poolSize?: number }): Promise<Connector> {
  if (url.startsWith('sqlite:') || url.startsWith('file:')) return sqliteConnector(url);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return postgresConnector(url, options);
  throw new ModelError(
    'STRATA_MODEL_DATABASE_URL',
    `Unsupported database URL "${url.split(':')[0]}:…"; use sqlite:path/to/db.sqlite, sqlite::memory: or postgres://user@host/db.`,
  );
}

async function sqliteConnector(url: string): Promise<Connector> {
  const { default: Database } = await import('better-sqlite3');
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
  return {
    dialect: 'sqlite',
    open: (logger) => {
      const memory = path === ':memory:' || path === '';
      if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
      const client = new Database(memory ? ':memory:' : path);
      client.defaultSafeIntegers(true);
      client.pragma('journal_mode = WAL');
      client.pragma('foreign_keys = ON');
      client.pragma('busy_timeout = 5000');
      client.pragma('synchronous = NORMAL');
      // Case-insensitive lookups fold case like PostgreSQL does (SQLite's lower() is ASCII-only).
      client.function('strata_lower', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
      return { db: drizzle({ client: cachingStatements(client), logger: logger as never }), client, close: async () => void client.close() };
    },
  };
}

/** How many prepared statements a SQLite connection keeps for reuse (least recently used dropped first). */
export const STATEMENT_CACHE_SIZE = 500;

type SqliteDatabase = import('better-sqlite3').Database;
type SqliteStatement = import('better-sqlite3').Statement;

/**
 * The connection as drizzle sees it, with `prepare` reusing the statement of an SQL text seen
 * before: drizzle prepares every query it runs, and compiling the SQL again costs about as much
 * as running a small query. A reused statement is handed back in its default mode (drizzle
 * switches statements to raw rows for some queries), and one still running (an open iterator)
 * is never shared.
 */
function cachingStatements(client: SqliteDatabase): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  const prepare = (source: string): SqliteStatement => {
    const cached = cache.get(source);
    if (cached && !cached.busy) {
      // Most recently used last: the first key is the one to drop.
      cache.delete(source);
      cache.set(source, cached);
      return cached.reader ? cached.raw(false) : cached;
    }
    const statement = client.prepare(source);
    if (cached) return statement;
    cache.set(source, statement);
    if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    return statement;
  };
  return new Proxy(client, {
    get(target, key) {
      if (key === 'prepare') return prepare;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function postgresConnector(url: string, options: { schema?: string; poolSize?: number }): Promise<Connector> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  return {
    dialect: 'postgres',
    open: (logger) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: options.poolSize ?? 10,
        ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
      });
      // An idle client's error (server restart) must not crash the process; the next query reports it.
      pool.on('error', () => {});
      return { db: drizzle({ client: namingStatements(pool), logger: logger as never }), client: pool, close: () => pool.end() };
    },
  };
}

/** How many distinct SQL texts a process names as server-side prepared statements on PostgreSQL. */
export const NAMED_STATEMENT_LIMIT = 256;
const NAMED_TEXT_LENGTH = 8_000;

type PgPool = import('pg').Pool;
type PgQueryConfig = { text?: string; name?: string; values?: unknown[] };
/** A pool or pooled client, as far as drizzle queries it. */
interface PgQueryable {
  query(config: unknown, values?: unknown[]): Promise<unknown>;
}

/**
 * The pool as drizzle sees it, with its queries named: PostgreSQL then parses and plans a
 * statement once per connection instead of on every run (a third less time per statement on a
 * loaded machine). Only statements with parameters are named (single statements by
 * construction), the first {@link NAMED_STATEMENT_LIMIT} distinct texts, so the server's
 * per-connection memory stays bounded. A statement whose result type changed under it (a
 * migration altered a column: "cached plan must not change result type") is not named again;
 * outside a transaction it runs again at once, inside one the transaction fails.
 */
function namingStatements(pool: PgPool): PgPool {
  const names = new Map<string, string | null>();
  const heard = new WeakSet<object>();
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined) return known ?? undefined;
    if (names.size >= NAMED_STATEMENT_LIMIT || text.length > NAMED_TEXT_LENGTH) return undefined;
    const name = `strata_${names.size + 1}`;
    names.set(text, name);
    return name;
  };
  /** `retry`: outside a transaction, a statement refused for its stale plan runs again unnamed. */
  const query = (target: PgQueryable, retry: boolean) => (config: unknown, values?: unknown[]) => {
    const given = config as PgQueryConfig;
    const text = typeof config === 'object' && config !== null && !given.name ? given.text : undefined;
    const name = text !== undefined && (values ?? given.values)?.length ? nameOf(text) : undefined;
    if (!name) return target.query(config, values);
    return target.query({ ...given, name }, values).catch((error: { code?: string }) => {
      // 0A000 "cached plan must not change result type": stop naming this text.
      if (error?.code !== '0A000') throw error;
      names.set(text!, null);
      if (!retry) throw error;
      return target.query(config, values);
    });
  };
  const wrap = <T extends object>(target: T, extra: (key: string | symbol) => unknown): T =>
    new Proxy(target, {
      get(object, key) {
        const special = extra(key);
        if (special !== undefined) return special;
        const value = Reflect.get(object, key, object) as unknown;
        return typeof value === 'function' ? value.bind(object) : value;
      },
    });
  return wrap(pool, (key) => {
    if (key === 'query') return query(pool as unknown as PgQueryable, true);
    if (key === 'connect') {
      return async () => {
        const client = await pool.connect();
        // A checked-out client whose connection dies between queries emits 'error'; unheard, that
        // would crash the process. Its next query fails (STRATA_MODEL_UNAVAILABLE) instead.
        if (!heard.has(client)) {
          heard.add(client);
          client.on('error', () => undefined);
        }
        return wrap(client, (inner) => (inner === 'query' ? query(client as unknown as PgQueryable, false) : undefined));
      };
    }
    return undefined;
  });
}

function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ModelError('STRATA_MODEL_DATABASE_URL', `Schema name "${name}" must be letters, digits and underscores.`);
  }
  return name;
}
