import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, type WebSocketConstructorLike } from '../client.js';
import { defineState } from '../server.js';
import { call, join as joinTab, startServer, type TestServer } from './serverHelpers.js';

const Files = defineState('files', {
  vars: () => ({ attached: [] as string[] }),
  handlers: (h) => ({
    attach: h.event({
      args: v.object({ id: v.string() }),
      run: (s, { id }, ctx) => {
        const file = ctx.upload(id);
        s.attached.push(file.filename);
        return { filename: file.filename, size: file.size, contentType: file.contentType, text: readFileSync(file.path, 'utf8') };
      },
    }),
  }),
});

async function server(limits: { uploadBytes?: number; uploadsPerTab?: number } = {}): Promise<{ s: TestServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-uploads-test-'));
  return { s: await startServer([Files], { uploadDir: dir, limits }), dir };
}

const post = (s: TestServer, token: string, body: string | Uint8Array | Blob, headers: Record<string, string> = {}) =>
  fetch(`${s.origin}/strata/upload`, { method: 'POST', body, headers: { origin: s.origin, 'x-strata-token': token, 'x-strata-filename': 'notes.txt', ...headers } });

describe('uploads', () => {
  it('uploads a file for the tab and hands it once to a handler of that tab, with progress', async () => {
    const { s } = await server();
    const { origin } = s;
    const PageWebSocket = class extends WebSocket {
      constructor(url: string) {
        super(url, { origin });
      }
    } as unknown as WebSocketConstructorLike;
    const client = createClient<typeof Files>({ url: s.wsUrl, token: await s.token(), WebSocket: PageWebSocket });
    // A browser sends its Origin with a POST; Node's fetch does not, so the page's is added here.
    const nodeFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => nodeFetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), origin } });
    try {
      const files = client.state('files');
      await files.ready;
      const progress: number[] = [];
      // Node's fetch has no upload progress: the end is reported (XMLHttpRequest reports as bytes go).
      const uploaded = await client.upload(new Blob(['hello strata'], { type: 'text/plain' }), { filename: 'héllo.txt', onProgress: (p) => progress.push(p.loaded) });
      expect(uploaded).toEqual({ id: expect.any(String), size: 12 });
      expect(progress).toEqual([12]);
      expect(await files.call.attach({ id: uploaded.id })).toEqual({ filename: 'héllo.txt', size: 12, contentType: 'text/plain', text: 'hello strata' });
      expect(files.value?.attached).toEqual(['héllo.txt']);
      await expect(files.call.attach({ id: uploaded.id })).rejects.toMatchObject({ code: 'STRATA_STATE_UPLOAD_NOT_FOUND' });
    } finally {
      globalThis.fetch = nodeFetch;
      client.close();
    }
  });

  it('refuses a file over the limit while it arrives, keeping nothing — declared or streamed without a length', async () => {
    const { s, dir } = await server({ uploadBytes: 1000 });
    const { welcome } = await joinTab(s, ['files']);
    const declared = await post(s, welcome.token, new Uint8Array(5000));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: { code: 'STRATA_STATE_UPLOAD_TOO_LARGE' } });

    // A chunked body that never says its length: cut off at the limit. The server answers 413
    // and closes; a client still writing may see the reset before it reads that answer.
    const status = await new Promise<number | 'reset'>((resolve, reject) => {
      const url = new URL(`${s.origin}/strata/upload`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { origin: s.origin, 'x-strata-token': welcome.token, 'transfer-encoding': 'chunked' } }, (res) => resolve(res.statusCode!));
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve('reset') : reject(error)));
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(500, 1));
      req.end();
    });
    expect([413, 'reset']).toContain(status);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps uploads to their tab, and refuses a forged token, a foreign origin and a full tab', async () => {
    const { s } = await server({ uploadsPerTab: 2 });
    const [a, b] = [await joinTab(s, ['files']), await joinTab(s, ['files'])];
    const { id } = (await (await post(s, a.welcome.token, 'for a')).json()) as { id: string };
    expect(await call(b.client, 1, 'files', 'attach', { id })).toMatchObject({ error: { code: 'STRATA_STATE_UPLOAD_NOT_FOUND' } });
    expect(await call(a.client, 1, 'files', 'attach', { id })).toMatchObject({ value: { text: 'for a' } });

    expect((await post(s, `${a.welcome.token}x`, 'x')).status).toBe(401);
    expect((await post(s, a.welcome.token, 'x', { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(s, a.welcome.token, '1')).status).toBe(200);
    expect((await post(s, a.welcome.token, '2')).status).toBe(200);
    const full = await post(s, a.welcome.token, '3');
    expect([full.status, ((await full.json()) as { error: { code: string } }).error.code]).toEqual([429, 'STRATA_STATE_QUEUE_FULL']);
  });
});
