import { strataTsup } from '@strata/tooling/tsup';

export default strataTsup({
  entry: { index: 'src/index.ts', migrations: 'src/migrations.ts' },
  external: ['drizzle-kit', 'better-sqlite3', 'pg'],
});
