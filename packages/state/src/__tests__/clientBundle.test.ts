import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('@strata/state/client', () => {
  it('bundles for the browser from its own sources only: no node: modules, no server packages', async () => {
    const result = await build({
      entryPoints: [new URL('../client.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((input) => !/^src\/(client|patch|protocol|types|safeTarget)(\/|\.ts$)/.test(input.replace(/^.*packages\/state\//, '')))).toEqual([]);
    // Nothing left unresolved either (an import esbuild could not bundle would stay an import).
    expect(Object.values(result.metafile.outputs).flatMap((output) => output.imports)).toEqual([]);
  });
});
