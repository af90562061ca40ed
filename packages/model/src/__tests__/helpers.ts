import { databaseTargets } from '@strata/test-utils';
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

/** SQLite (a temporary file) always; PostgreSQL (a private schema per run) when STRATA_TEST_PG_URL is set. */
export const databases: TestDatabase[] = databaseTargets().map((target) => ({
  name: target.name,
  async open(models, options = {}) {
    const where = await target.prepare();
    const registry = await setup({ ...where, models, debug: options.debug ?? false, poolSize: 20 });
    await createSchema();
    return registry;
  },
  async close() {
    await close();
    await target.dispose();
  },
}));

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

/** Collects change events from now until the end of the current test. */
export function recordChanges(): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  stops.push(onChange((event) => events.push(event)));
  return events;
}
