/**
 * Lets the test's own server run in the DOM project. vite-plugin-solid adds the `browser`
 * resolve condition in test mode and vitest hands it to Node (`--conditions browser`), so the
 * native `require('ws')` inside @fastify/websocket loads ws's browser stub ("WebSocket.Server
 * is not a constructor"); vitest.config.ts's `ws` alias only covers imports vite resolves.
 * The stub's require-cache entry is pointed at ws's Node build, before anything loads
 * @fastify/websocket: ./server.js imports this module first, and test files import
 * ./server.js before `@strata/state/server`.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(join(import.meta.dirname, '../../package.json'));
const stub = require.resolve('ws');
const node = join(dirname(stub), 'index.js');
if (stub !== node) {
  require(node);
  require.cache[stub] = require.cache[node];
}
