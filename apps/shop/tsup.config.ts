import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { app: 'src/app.ts', server: 'src/server.ts' },
  format: ['esm'],
  target: 'node20',
  // Not the whole of dist/: `strata build` puts the pages' client and server builds there.
  clean: ['*.js', '*.js.map'],
  sourcemap: true,
});
