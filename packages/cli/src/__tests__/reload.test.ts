import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { supervise } from '../internal/reload.js';
import { freePort, tempDir } from './fixtures.js';

/** A server that answers its pid and the version in version.json of its folder; GET /crash exits 1. */
const SERVER = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const version = JSON.parse(readFileSync(new URL('./version.json', import.meta.url), 'utf8')).version;
const server = createServer((request, response) => {
  if (request.url === '/crash') process.exit(1);
  response.end(JSON.stringify({ pid: process.pid, version }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** What the server answers once it answers (it may be restarting). */
async function answer(port: number, path = '/'): Promise<{ pid: number; version: number }> {
  for (let i = 0; i < 200; i++) {
    try {
      return (await (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) })).json()) as { pid: number; version: number };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error('the server never answered');
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('strata dev: restarting the server on changes', () => {
  it('restarts on changed content only, ignores the browser build, starts again after a crash, stops with the supervisor', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'client'));
    writeFileSync(join(dir, 'server.mjs'), SERVER);
    writeFileSync(join(dir, 'version.json'), '{ "version": 1 }');
    const port = await freePort();
    const logs: string[] = [];
    const stop = new AbortController();
    const running = supervise({
      dirs: [dir],
      ignore: [join(dir, 'client')],
      start: () => fork(join(dir, 'server.mjs'), [], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' }),
      log: (line) => logs.push(line),
      signal: stop.signal,
      debounceMs: 50,
    });
    const waitFor = async (predicate: (a: { pid: number; version: number }) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const now = await answer(port);
        if (predicate(now)) return now;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`the server did not change: ${JSON.stringify(logs)}`);
    };
    try {
      const first = await answer(port);
      expect(first.version).toBe(1);

      // The same bytes written again (a rebuild that changed nothing), and the browser build: no restart.
      writeFileSync(join(dir, 'version.json'), '{ "version": 1 }');
      writeFileSync(join(dir, 'client', 'entry.js'), 'console.log(1)');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await answer(port)).toEqual(first);
      expect(logs).toEqual([]);

      writeFileSync(join(dir, 'version.json'), '{ "version": 2 }');
      const second = await waitFor((a) => a.version === 2);
      expect(second.pid).not.toBe(first.pid);
      expect(alive(first.pid)).toBe(false);
      expect(logs).toEqual(['version.json changed: restarting the server…']);

      await answer(port, '/crash').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(logs.at(-1)).toBe('The server exited (code 1); it starts again when a file changes.');
      writeFileSync(join(dir, 'version.json'), '{ "version": 3 }');
      const third = await waitFor((a) => a.version === 3);

      stop.abort();
      await running;
      expect(alive(third.pid)).toBe(false);
    } finally {
      stop.abort();
      await running;
    }
  }, 30_000);
});
