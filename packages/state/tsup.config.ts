import { strataTsup } from '@strata/tooling/tsup';

export default strataTsup({
  entry: { server: 'src/server.ts', client: 'src/client.ts' },
  external: ['@strata/model', '@strata/serializer', 'ioredis'],
});
