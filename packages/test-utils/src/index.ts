import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Where one test file's database lives: what to pass to `setup()`, and how to clean up. */
export interface DatabaseTarget {
  name: 'sqlite' | 'postgres';
  /** Creates a fresh database (a SQLite file, or a private PostgreSQL schema). */
  prepare(): Promise<{ databaseUrl: string; schema?: string }>;
  /** Removes what `prepare` made. */
  dispose(): Promise<void>;
}

const pgUrl = process.env.STRATA_TEST_PG_URL;
let told = false;

/**
 * SQLite (a temporary file) always; PostgreSQL (a private schema, dropped after) when
 * `STRATA_TEST_PG_URL` is set. Says once per process what it skipped.
 */
export function databaseTargets(): DatabaseTarget[] {
  if (!pgUrl && !told) {
    told = true;
    console.info('[strata] STRATA_TEST_PG_URL is not set: PostgreSQL tests are skipped (SQLite runs).');
  }
  return [sqliteTarget(), ...(pgUrl ? [postgresTarget(pgUrl)] : [])];
}

function sqliteTarget(): DatabaseTarget {
  let dir: string | undefined;
  return {
    name: 'sqlite',
    async prepare() {
      dir = mkdtempSync(join(tmpdir(), 'strata-test-'));
      return { databaseUrl: `sqlite:${join(dir, 'test.sqlite')}` };
    },
    async dispose() {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

function postgresTarget(url: string): DatabaseTarget {
  let schema: string | undefined;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    async prepare() {
      schema = `strata_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      await admin(`create schema ${schema}`);
      return { databaseUrl: url, schema };
    },
    async dispose() {
      if (schema) await admin(`drop schema ${schema} cascade`);
      schema = undefined;
    },
  };
}
