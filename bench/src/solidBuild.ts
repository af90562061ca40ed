/**
 * Vite builds of the Solid fixture pages (bench/fixtures/solid) for bench/src/solid.ts, as
 * an app builds them: production mode, minified, for the browser.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rolldown } from 'vite';
import solid from 'vite-plugin-solid';

/** The fixture pages' sources. */
export const FIXTURE = fileURLToPath(new URL('../fixtures/solid/', import.meta.url));

/** One emitted JS chunk: its name (a package group's name, or the entry's) and its sizes. */
export interface ChunkSize {
  name: string;
  fileName: string;
  raw: number;
  gzip: number;
}

/** The package a module belongs to, for the per-package split (null: app code). */
export const PARTS = {
  solid: 'Solid runtime (solid-js, web, store)',
  state: '@strata/state client core',
  strataSolid: '@strata/solid',
  auth: '@strata/auth client',
  serializer: 'valibot + @strata/serializer client',
  app: 'app code (+ bundler runtime)',
} as const;
export type Part = keyof typeof PARTS;

function partOf(moduleId: string): Exclude<Part, 'app'> | null {
  const id = moduleId.replaceAll('\\', '/');
  if (/\/node_modules\/solid-js\//.test(id)) return 'solid';
  if (/\/packages\/state\/|\/@strata\/state\//.test(id)) return 'state';
  if (/\/packages\/solid\/|\/@strata\/solid\//.test(id)) return 'strataSolid';
  if (/\/packages\/auth\/|\/@strata\/auth\//.test(id)) return 'auth';
  if (/\/packages\/serializer\/|\/@strata\/serializer\/|\/node_modules\/valibot\//.test(id)) return 'serializer';
  return null;
}

function chunksOf(result: Awaited<ReturnType<typeof build>>): Rolldown.OutputChunk[] {
  const outputs = Array.isArray(result) ? result : [result as Rolldown.RolldownOutput];
  return outputs.flatMap((output) => output.output.filter((item): item is Rolldown.OutputChunk => item.type === 'chunk'));
}

/**
 * Builds `entry` (a file of the fixture) into `outDir`. `split`: each package in its own chunk
 * (for the per-package sizes); otherwise every chunk Vite decides on (one, for these pages).
 */
export async function buildPage(entry: string, outDir: string, options: { split?: boolean; write?: boolean } = {}): Promise<Rolldown.OutputChunk[]> {
  const codeSplitting = options.split ? { groups: [{ name: (moduleId: string) => partOf(moduleId) }] } : false;
  const result = await build({
    root: FIXTURE,
    configFile: false,
    logLevel: 'silent',
    mode: 'production',
    plugins: [solid()],
    build: {
      outDir,
      emptyOutDir: true,
      write: options.write ?? false,
      minify: true,
      rolldownOptions: { input: { app: join(FIXTURE, entry) }, output: { codeSplitting } },
    },
  });
  return chunksOf(result);
}

/** Raw and gzip (level 9) size of each chunk. */
export function sizes(chunks: readonly Rolldown.OutputChunk[]): ChunkSize[] {
  return chunks.map((chunk) => ({ name: chunk.name, fileName: chunk.fileName, raw: Buffer.byteLength(chunk.code), gzip: gzipSync(chunk.code, { level: 9 }).length }));
}

/** The split build's chunks summed per part (a chunk named after no part is app code). */
export function sizesByPart(chunks: readonly ChunkSize[]): Map<Part, { raw: number; gzip: number; chunks: number }> {
  const parts = new Map<Part, { raw: number; gzip: number; chunks: number }>(Object.keys(PARTS).map((part) => [part as Part, { raw: 0, gzip: 0, chunks: 0 }]));
  for (const chunk of chunks) {
    const part = (chunk.name in PARTS ? chunk.name : 'app') as Part;
    const sum = parts.get(part)!;
    sum.raw += chunk.raw;
    sum.gzip += chunk.gzip;
    sum.chunks++;
  }
  return parts;
}
