// Shared vitest config: node environment, generous hook timeouts for real databases.
import { defineConfig } from 'vitest/config';

/** @param {{ include?: string[] }} [options] */
export function strataVitest(options = {}) {
  return defineConfig({
    test: {
      include: options.include ?? ['src/**/__tests__/**/*.test.ts'],
      environment: 'node',
      testTimeout: 20_000,
      hookTimeout: 30_000,
      typecheck: { enabled: true, include: ['src/**/__tests__/**/*.test-d.ts'] },
      // Every run also writes a JSON report; .ci/run sums them into one 'N passed, N failed' line.
      reporters: ['default', ['json', { outputFile: 'test-report.json' }]],
    },
  });
}
