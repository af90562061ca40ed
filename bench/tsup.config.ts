import { defineConfig } from 'tsup';

export default defineConfig({ entry: { model: 'src/model.ts', serializer: 'src/serializer.ts', state: 'src/state.ts' }, format: ['esm'], target: 'node20', clean: true });
