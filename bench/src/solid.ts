/**
 * @strata/solid benchmark (the UI layer): (a) patch application in Chromium — updating one
 * row's stock in a 1,000-row list rendered from the fine-grained store of `createStrata`,
 * against the same page re-rendering the list from a fresh deep copy on every change (DOM
 * mutation records, nodes and rows touched, time from the call to the DOM showing it); and
 * (b) the browser JS a page with a state, a form and sign-in loads (raw and gzip, per package
 * and as one bundle). Needs Debian's Chromium on PATH for (a); (b) runs anyway.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { buildPage, PARTS, sizes, sizesByPart } from './solidBuild.js';
import { ROWS, startListServer } from './solidServer.js';
import { median, printTable } from './table.js';

const UPDATES = 50;
const WARMUP = 5;
const MODES = { strata: 'createStrata store (patched paths)', copy: 'signal of a deep copy (baseline)' } as const;
type Mode = keyof typeof MODES;

/** What the page measured for one update (see fixtures/solid/list.tsx). */
interface Sample {
  ms: number;
  clientMs: number;
  records: number;
  nodes: number;
  rows: number;
}

/** Debian's Chromium (`apt-get install -y chromium`); never a downloaded one. */
function findChromium(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const kB = (bytes: number) => (bytes / 1000).toFixed(1);
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

/** Opens the list page in `mode`, waits for its 1,000 rows, and runs the updates inside the page. */
async function measure(browser: Browser, origin: string, mode: Mode): Promise<Sample[]> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`solid bench: page error (${mode}): ${error.message}`));
  await page.goto(`${origin}/?mode=${mode}`);
  await page.waitForFunction(`window.bench && window.bench.rendered() === ${ROWS}`, undefined, { timeout: 15_000 });
  const samples = await page.evaluate(
    ([count, warmup]) => (globalThis as unknown as { bench: { run(count: number, warmup: number): Promise<Sample[]> } }).bench.run(count, warmup),
    [UPDATES, WARMUP] as const,
  );
  await page.close();
  return samples;
}

/** (a): both pages against one server, in one browser. */
async function patchApplication(out: string, executablePath: string): Promise<Map<Mode, Sample[]>> {
  const chunks = await buildPage('list.tsx', join(out, 'list'), { write: true });
  const entry = chunks.find((chunk) => chunk.isEntry)!;
  const server = await startListServer({ assets: join(out, 'list', 'assets'), script: entry.fileName });
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const results = new Map<Mode, Sample[]>();
    for (const mode of Object.keys(MODES) as Mode[]) results.set(mode, await measure(browser, server.origin, mode));
    return results;
  } finally {
    await browser.close();
    await server.close();
  }
}

function printPatchTable(results: Map<Mode, Sample[]>): void {
  const summary = (samples: Sample[]) => ({
    records: median(samples.map((s) => s.records)),
    nodes: median(samples.map((s) => s.nodes)),
    rows: median(samples.map((s) => s.rows)),
    maxRows: Math.max(...samples.map((s) => s.rows)),
    p50: median(samples.map((s) => s.ms)),
    p95: percentile(samples.map((s) => s.ms), 0.95),
    client: median(samples.map((s) => s.clientMs)),
    clientP95: percentile(samples.map((s) => s.clientMs), 0.95),
  });
  const strata = summary(results.get('strata')!);
  const copy = summary(results.get('copy')!);
  const row = (name: string, s: typeof strata) => [name, s.records, s.nodes, `${s.rows} (max ${s.maxRows})`, s.p50.toFixed(2), s.p95.toFixed(2), s.client.toFixed(2), s.clientP95.toFixed(2)];
  printTable(
    `@strata/solid: one row's stock updated in a ${ROWS.toLocaleString('en')}-row <For> list, Chromium (medians of ${UPDATES} updates on random rows)`,
    ['page', 'mutation records', 'DOM nodes touched', 'rows touched', 'call → DOM p50 ms', 'call → DOM p95 ms', 'frame → DOM p50 ms', 'frame → DOM p95 ms'],
    [
      row(MODES.strata, strata),
      row(MODES.copy, copy),
      ['baseline / strata', `${(copy.records / strata.records).toFixed(0)}×`, `${(copy.nodes / strata.nodes).toFixed(0)}×`, `${(copy.rows / strata.rows).toFixed(0)}×`, `${(copy.p50 / strata.p50).toFixed(2)}×`, `${(copy.p95 / strata.p95).toFixed(2)}×`, `${(copy.client / strata.client).toFixed(2)}×`, `${(copy.clientP95 / strata.clientP95).toFixed(2)}×`],
    ],
  );
}

/** (b): the state + form + auth page, split per package and as one bundle. */
async function bundleSize(out: string): Promise<{ gzip: number }> {
  const split = sizes(await buildPage('app.tsx', join(out, 'split'), { split: true }));
  const single = sizes(await buildPage('app.tsx', join(out, 'single')));
  const parts = sizesByPart(split);
  const total = (list: { raw: number; gzip: number }[]) => ({ raw: list.reduce((sum, c) => sum + c.raw, 0), gzip: list.reduce((sum, c) => sum + c.gzip, 0) });
  const splitTotal = total(split);
  const singleTotal = total(single);
  printTable(
    '@strata/solid: browser JS of a page with a state + ConnectionIndicator, a form with an input validator, and sign-in (Vite production build, minified; gzip level 9; 1 kB = 1,000 bytes)',
    ['part', 'chunks', 'raw kB', 'gzip kB', 'share of gzip'],
    [
      ...[...parts].map(([part, size]) => [PARTS[part], size.chunks, kB(size.raw), kB(size.gzip), `${((size.gzip / splitTotal.gzip) * 100).toFixed(0)}%`]),
      ['total, split by package (each chunk gzipped)', split.length, kB(splitTotal.raw), kB(splitTotal.gzip), '100%'],
      ['total, single bundle (what a page loads)', single.length, kB(singleTotal.raw), kB(singleTotal.gzip), ''],
    ],
  );
  return { gzip: singleTotal.gzip };
}

const executablePath = findChromium();
const out = mkdtempSync(join(tmpdir(), 'strata-bench-solid-'));
try {
  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}; Chromium headless, server in this process on loopback`);
  if (executablePath) printPatchTable(await patchApplication(out, executablePath));
  else console.log('\n(a) patch application skipped: no chromium on PATH (apt-get install -y chromium).');
  const bundle = await bundleSize(out);
  console.log(`goals: 1 row touched per one-row update; ≤ 40 kB gzip for the state + form + auth page (single bundle: ${kB(bundle.gzip)} kB)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
