import { createRequire } from 'node:module';
import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
/**
 * The DOM tests resolve with the browser condition (Solid's DOM build), which would also give
 * the test's own server the browser stub of `ws`: the server side keeps Node's `ws`.
 */
const wsForNode = require.resolve('ws').replace(/index\.js$/, 'wrapper.mjs');
const shared = { testTimeout: 20_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-report.json' }]],
    projects: [
      {
        plugins: [solid()],
        resolve: { alias: [{ find: /^ws$/, replacement: wsForNode }] },
        test: {
          ...shared,
          name: 'dom',
          include: ['src/**/__tests__/**/*.test.{ts,tsx}'],
          exclude: ['src/**/__tests__/**/*.node.test.ts'],
          environment: 'jsdom',
          // Before any test file: Node's own require('ws') (inside @fastify/websocket) gets the Node build too.
          setupFiles: ['src/__tests__/nodeWs.ts'],
          typecheck: { enabled: true, include: ['src/**/__tests__/**/*.test-d.ts'] },
        },
      },
      {
        // Server-side rendering and the real browser: Node's resolution, no DOM.
        test: { ...shared, name: 'node', include: ['src/**/__tests__/**/*.node.test.ts'], environment: 'node' },
      },
    ],
  },
});
