import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { app: 'src/app.ts', server: 'src/server.ts' },
  format: ['esm'],
  target: 'node20',
  // Never cleaned: `strata build` puts the pages' client and server builds in dist/ too.
  clean: false,
  sourcemap: true,
});
