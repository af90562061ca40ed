import { defineConfig } from 'tsup';

export default defineConfig({ entry: { model: 'src/model.ts', serializer: 'src/serializer.ts', state: 'src/state.ts', stateSocket: 'src/stateSocket.ts', stateSocketServer: 'src/stateSocketServer.ts', modelState: 'src/modelState.ts', modelStateServer: 'src/modelStateServer.ts', auth: 'src/auth.ts', authServer: 'src/authServer.ts', solid: 'src/solid.ts', shop: 'src/shop.ts', fuzz: 'src/fuzz.ts', 'load/run': 'load/run.ts', 'load/server': 'load/server.ts', 'load/generator': 'load/generator.ts' }, format: ['esm'], target: 'node20', clean: true });
