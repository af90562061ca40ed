import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach } from 'vitest';
import { close, onChange, setup, type AnyModel, type ChangeEvent, type Registry } from '..';
import { createSchema } from '../migrations.js';

export interface OpenOptions {
  /** Registry debug mode (N+1 detector); default false so other tests stay quiet. */
  debug?: boolean;
}

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  open(models: readonly AnyModel[], options?: OpenOptions): Promise<Registry>;
  close(): Promise<void>;
}

const pgUrl = process.env.STRATA_TEST_PG_URL;
if (!pgUrl) console.info('[strata] STRATA_TEST_PG_URL is not set: PostgreSQL tests are skipped (SQLite runs).');

/** SQLite (a temporary file) always; PostgreSQL (a private schema per run) when STRATA_TEST_PG_URL is set. */
export const databases: TestDatabase[] = [sqliteDatabase(), ...(pgUrl ? [postgresDatabase(pgUrl)] : [])];

function sqliteDatabase(): TestDatabase {
  let dir: string | undefined;
  return {
    name: 'sqlite',
    async open(models, options = {}) {
      dir = mkdtempSync(join(tmpdir(), 'strata-model-'));
      const registry = await setup({ databaseUrl: `sqlite:${join(dir, 'test.sqlite')}`, models, debug: options.debug ?? false });
      await createSchema();
      return registry;
    },
    async close() {
      await close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresDatabase(url: string): TestDatabase {
  let schema: string | undefined;
  const admin = () => new pg.Client({ connectionString: url });
  return {
    name: 'postgres',
    async open(models, options = {}) {
      schema = `strata_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const client = admin();
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      const registry = await setup({ databaseUrl: url, models, schema, debug: options.debug ?? false, poolSize: 20 });
      await createSchema();
      return registry;
    },
    async close() {
      await close();
      if (!schema) return;
      const client = admin();
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

/** Collects change events from now until the end of the current test. */
export function recordChanges(): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  stops.push(onChange((event) => events.push(event)));
  return events;
}
