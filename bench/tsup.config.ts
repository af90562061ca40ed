import { defineConfig } from 'tsup';

export default defineConfig({ entry: { model: 'src/model.ts', serializer: 'src/serializer.ts' }, format: ['esm'], target: 'node20', clean: true });
