import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { main: 'src/main.ts', makemigrations: 'src/makemigrations.ts' },
  format: ['esm'],
  target: 'node20',
  clean: true,
  sourcemap: true,
});
