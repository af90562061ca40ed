import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fastify, { type FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { defineState, strataState } from '@strata/state/server';
import * as v from 'valibot';
import { build } from 'vite';
import solid from 'vite-plugin-solid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDocument, serveAssets } from '../server.js';

/** Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it); never a downloaded one. */
function findChromium(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const executablePath = findChromium();
if (!executablePath) console.log('browser.test: no chromium on PATH (apt-get install -y chromium); the real-browser tests are skipped.');

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  handlers: (h) => ({
    load: h.event({ args: v.object({ from: v.number() }), run: (s, { from }) => void (s.count = from) }),
    increment: h.event((s) => void (s.count += 1)),
    attach: h.event({ args: v.object({ id: v.string() }), run: (_s, { id }, ctx) => {
        const file = ctx.upload(id);
        return `${file.filename} ${file.size}`;
      } }),
  }),
});

describe.skipIf(!executablePath)('a server-rendered page in Chromium', () => {
  const out = mkdtempSync(join(tmpdir(), 'strata-ssr-'));
  const fixture = join(import.meta.dirname, 'browser');
  let app: FastifyInstance;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    // The fixture app built as an app would build it: the client bundle and the SSR bundle.
    const base = { root: fixture, logLevel: 'silent' as const, configFile: false as const, plugins: [solid({ ssr: true })] };
    await build({ ...base, build: { outDir: join(out, 'client'), manifest: true, rollupOptions: { input: join(fixture, 'entry-client.tsx') } } });
    await build({ ...base, build: { ssr: join(fixture, 'entry-server.tsx'), outDir: join(out, 'server') } });
    const manifest = JSON.parse(readFileSync(join(out, 'client', '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; isEntry?: boolean }>;
    const entry = Object.values(manifest).find((chunk) => chunk.isEntry)!.file;
    const { render } = (await import(pathToFileURL(join(out, 'server', 'entry-server.js')).href)) as { render(states: Record<string, unknown>): { body: string; hydration: string } };

    app = fastify({ logger: false });
    await app.register(strataState, { states: [Counter], secret: 'browser-test-secret-browser-test-secret!' });
    serveAssets(app, { dir: join(out, 'client', 'assets'), prefix: '/assets/' });
    app.get('/', async (request, reply) => {
      const { token, states } = await app.strata.prepareTab(request, { states: ['counter'], calls: [{ state: 'counter', handler: 'load', args: { from: 41 } }] });
      const { body, hydration } = render(states);
      return reply.type('text/html').send(renderDocument({ title: 'Counter', body, hydration, strata: { token, states, url: '/strata/ws' }, scripts: [`/${entry}`] }));
    });
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('shows the server’s data in the first HTML, with JavaScript off', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(origin);
    expect(await page.getByLabel('count').textContent()).toBe('41');
    expect(await page.locator('[role="status"][data-status]').textContent()).toBe('Connecting…');
    await context.close();
  });

  it('hydrates without a flash, joins the same tab, and shows the server’s patch after a click', async () => {
    const page = await browser.newPage();
    const seen: string[] = [];
    await page.exposeFunction('recordCount', (text: string) => void seen.push(text));
    // Every value the count shows from the first paint on: never empty, never 0.
    await page.addInitScript(() => {
      const watch = () => {
        const output = document.querySelector('output');
        if (!output) return requestAnimationFrame(watch);
        (window as unknown as { recordCount(t: string): void }).recordCount(output.textContent ?? '');
        new MutationObserver(() => (window as unknown as { recordCount(t: string): void }).recordCount(output.textContent ?? '')).observe(output, { subtree: true, childList: true, characterData: true });
      };
      watch();
    });
    await page.goto(origin);
    await page.locator('[data-status="live"]').waitFor();
    await page.getByRole('button', { name: 'Add' }).click();
    await expect.poll(() => page.getByLabel('count').textContent()).toBe('42');
    expect(seen[0]).toBe('41');
    expect(seen.every((text) => text === '41' || text === '42')).toBe(true);
    await page.close();
  });

  it('uploads a file from the page with progress, and a handler takes it', async () => {
    const page = await browser.newPage();
    await page.goto(origin);
    await page.locator('[data-status="live"]').waitFor();
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.getByTestId('stored').textContent()).toBe('big.txt 300000');
    expect(await page.getByLabel('upload').evaluate((el) => (el as HTMLProgressElement).value)).toBe(1);
    await page.close();
  });

  it('serves hashed assets for good and the rest revalidated, and nothing outside the build', async () => {
    const html = await (await fetch(origin)).text();
    const script = /src="(\/assets\/[^"]+)"/.exec(html)![1]!;
    const asset = await fetch(`${origin}${script}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${origin}${script}`, { headers: { 'if-none-match': asset.headers.get('etag')! } })).status).toBe(304);
    expect((await fetch(`${origin}/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${origin}/assets/%2Fetc%2Fpasswd`)).status).toBe(404);
  });
});
