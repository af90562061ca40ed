import { strataTsup } from '@strata/tooling/tsup';

export default strataTsup({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  external: ['@strata/model', '@strata/state', '@strata/auth', 'drizzle-kit'],
});
