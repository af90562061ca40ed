import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import fastify from 'fastify';
import { createServer } from 'vite';
import solid from 'vite-plugin-solid';
import { afterAll, describe, expect, it } from 'vitest';
import { mountViteDev } from '../server.js';

describe('mountViteDev', () => {
  const app = fastify({ logger: false });
  afterAll(() => app.close());

  it('serves the browser modules through Vite and loads the SSR entry through it, inside the app’s server', async () => {
    const root = join(import.meta.dirname, 'browser');
    const vite = await createServer({ root, configFile: false, logLevel: 'silent', server: { middlewareMode: true, hmr: false }, appType: 'custom', plugins: [solid({ ssr: true })] });
    const dev = mountViteDev(app, vite);
    app.get('/', async () => 'page');
    await app.ready();

    expect((await app.inject({ url: '/src/missing.tsx' })).statusCode).toBe(404);
    const entry = await app.inject({ url: '/@fs' + join(root, 'entry-client.tsx') });
    expect(entry.statusCode).toBe(200);
    expect(entry.headers['content-type']).toContain('javascript');
    // Compiled by vite-plugin-solid: no JSX left, the hydration runtime imported.
    expect(entry.body).not.toContain('<App');
    expect(entry.body).toContain('hydrate');
    expect((await app.inject({ url: '/@vite/client' })).statusCode).toBe(200);
    // The app's own routes are untouched.
    expect((await app.inject({ url: '/' })).body).toBe('page');

    const server = (await dev.load('/entry-server.tsx')) as { render(states: Record<string, unknown>): { body: string } };
    expect(server.render({ counter: { count: 5 } }).body).toContain('>5<');
  });
});

/** Debian's Chromium, when installed (the real-browser tests skip without it). */
function chromiumPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const executablePath = chromiumPath();

describe.skipIf(!executablePath)('mountViteDev in Chromium', () => {
  it('hot-replaces an edited component in the open page (HMR through Vite’s own socket)', async () => {
    // A copy of the fixture inside the package (so its imports resolve), rendered without SSR.
    const root = mkdtempSync(join(import.meta.dirname, '..', '..', '.hmr-'));
    try {
      for (const file of ['app.tsx', 'entry-client.tsx']) {
        const source = readFileSync(join(import.meta.dirname, 'browser', file), 'utf8').replace("'../../index.js'", `'${join(import.meta.dirname, '..', 'index.ts')}'`);
        writeFileSync(join(root, file), file === 'entry-client.tsx' ? source.replace("import { hydrate } from 'solid-js/web';", "import { render as hydrate } from 'solid-js/web';") : source);
      }
      const vite = await createServer({ root, configFile: false, logLevel: 'silent', server: { middlewareMode: true, hmr: { port: 0 } }, appType: 'custom', plugins: [solid()] });
      const app = fastify({ logger: false });
      mountViteDev(app, vite);
      app.get('/', async (_request, reply) =>
        reply.type('text/html').send('<!doctype html><div id="root"></div><script>window.__STRATA__={token:"t",states:{counter:{count:1}}}</script><script type="module" src="/@vite/client"></script><script type="module" src="/entry-client.tsx"></script>'),
      );
      const origin = await app.listen({ port: 0, host: '127.0.0.1' });
      const browser = await chromium.launch({ executablePath: executablePath!, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        await page.goto(origin);
        await page.getByRole('heading', { name: 'Counter' }).waitFor();
        writeFileSync(join(root, 'app.tsx'), readFileSync(join(root, 'app.tsx'), 'utf8').replace('<h1>Counter</h1>', '<h1>Counter, edited</h1>'));
        await page.getByRole('heading', { name: 'Counter, edited' }).waitFor({ timeout: 15_000 });
      } finally {
        await browser.close();
        await app.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
