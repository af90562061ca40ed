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
      return { db: drizzle({ client, logger: logger as never }), client, close: async () => void client.close() };
    },
  };
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
      return { db: drizzle({ client: pool, logger: logger as never }), client: pool, close: () => pool.end() };
    },
  };
}

function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ModelError('STRATA_MODEL_DATABASE_URL', `Schema name "${name}" must be letters, digits and underscores.`);
  }
  return name;
}
