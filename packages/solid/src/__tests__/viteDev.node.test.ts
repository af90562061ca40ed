import { join } from 'node:path';
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
