import { databaseTargets } from '@strata/test-utils';
import { close, setup, type AnyModel } from '@strata/model';
import { createSchema } from '@strata/model/migrations';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  open(models: readonly AnyModel[]): Promise<void>;
  close(): Promise<void>;
}

/** SQLite always; PostgreSQL when STRATA_TEST_PG_URL is set. Each file gets a fresh database. */
export const databases: TestDatabase[] = databaseTargets().map((target) => ({
  name: target.name,
  async open(models) {
    await setup({ ...(await target.prepare()), models, debug: false });
    await createSchema();
  },
  async close() {
    await close();
    await target.dispose();
  },
}));
