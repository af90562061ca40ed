import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

// Components in tests are JSX compiled by vite-plugin-solid for the DOM, in jsdom.
export default defineConfig({
  plugins: [solid()],
  test: {
    include: ['src/**/__tests__/**/*.test.{ts,tsx}'],
    environment: 'jsdom',
    testTimeout: 20_000,
    typecheck: { enabled: true, include: ['src/**/__tests__/**/*.test-d.ts'] },
    reporters: ['default', ['json', { outputFile: 'test-report.json' }]],
  },
});
