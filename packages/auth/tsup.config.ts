import { strataTsup } from '@strata/tooling/tsup';

export default strataTsup({
  entry: { index: 'src/index.ts', client: 'src/client.ts' },
  external: ['@strata/model', '@strata/serializer', '@strata/state', 'ioredis', '@node-rs/argon2'],
});
