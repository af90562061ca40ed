import { strataTsup } from '@strata/tooling/tsup';

export default strataTsup({
  entry: { index: 'src/index.ts', server: 'src/server.ts' },
  external: ['solid-js', '@strata/state', '@strata/serializer', '@strata/auth'],
});
