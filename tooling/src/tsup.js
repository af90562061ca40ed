// Shared tsup config: ESM + .d.ts, one entry per public export path.
import { defineConfig } from 'tsup';

/**
 * @param {{ entry: Record<string, string>, external?: string[] }} options
 */
export function strataTsup({ entry, external = [] }) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    dts: true,
    clean: true,
    sourcemap: true,
    splitting: true,
    treeshake: true,
    external,
  });
}
