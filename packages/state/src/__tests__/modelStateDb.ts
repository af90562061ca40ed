import { type AnyModel, close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { databaseTargets } from '@strata/test-utils';

/** SQLite always; PostgreSQL when STRATA_TEST_PG_URL is set. */
export const databases = databaseTargets().map((target) => ({
  name: target.name,
  async open(models: readonly AnyModel[]) {
    await setup({ ...(await target.prepare()), models, debug: false });
    await createSchema();
  },
  async close() {
    await close();
    await target.dispose();
  },
}));
