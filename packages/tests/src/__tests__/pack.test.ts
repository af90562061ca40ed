import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packagesDir = resolve(import.meta.dirname, '../../..');
/** Every public package, in layer order (a package's tarball installs with the ones before it). */
const PUBLIC = ['model', 'serializer', 'state', 'auth', 'solid', 'cli'] as const;
const work = mkdtempSync(join(tmpdir(), 'strata-pack-'));
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
const tarballs = new Map<string, string>();

/** The first ```ts block under "## Example" in a package README: what a new user copies. */
function readmeExample(pkg: string): string {
  const readme = readFileSync(join(packagesDir, pkg, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Example'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error(`packages/${pkg}/README.md has no \`\`\`ts example under "## Example"`);
  return match[1]!;
}

describe('the published packages', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(PUBLIC)('packs @strata/%s with only dist, README, LICENSE and package.json', (pkg) => {
    const dest = join(work, pkg);
    mkdirSync(dest);
    run('pnpm', ['pack', '--pack-destination', dest], join(packagesDir, pkg));
    const tarball = join(dest, readdirSync(dest).find((name) => name.endsWith('.tgz'))!);
    tarballs.set(pkg, tarball);
    const files = run('tar', ['-tzf', tarball], work).trim().split('\n');
    expect(files.filter((file) => !/^package\/(dist\/.+|README\.md|LICENSE|package\.json)$/.test(file))).toEqual([]);
    const entry = pkg === 'state' ? 'server' : 'index';
    expect(files).toContain(`package/dist/${entry}.js`);
    expect(files).toContain(`package/dist/${entry}.d.ts`);
    expect(files).toContain('package/LICENSE');
    const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], work));
    expect(JSON.stringify(manifest)).not.toMatch(/workspace:|catalog:/);
  });

  it(
    'installs with npm outside the monorepo, runs the model README example, loads every entry point and runs a state round trip',
    () => {
      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'strata-user', private: true, type: 'module' }));
      run('npm', ['install', '--no-audit', '--no-fund', ...PUBLIC.map((pkg) => tarballs.get(pkg)!), 'drizzle-kit@0.31.11', 'ws@8.23.0', 'solid-js@1.9.19'], app);
      writeFileSync(join(app, 'example.mjs'), readmeExample('model'));
      const output = run('node', ['example.mjs'], app);
      expect(output).toContain("name: 'Sencha', price: '12.50', stock: 2");
      expect(output).not.toContain('Matcha');
      const entries = ['@strata/model', '@strata/model/migrations', '@strata/serializer', '@strata/serializer/client', '@strata/state/server', '@strata/state/client', '@strata/auth', '@strata/auth/client', '@strata/solid', '@strata/solid/server', '@strata/cli'];
      const probe = `for (const name of ${JSON.stringify(entries)}) console.log(name, Object.keys(await import(name)).length > 0);`;
      writeFileSync(join(app, 'entries.mjs'), probe);
      expect(run('node', ['entries.mjs'], app).trim().split('\n')).toEqual(entries.map((name) => `${name} true`));
      writeFileSync(join(app, 'state.mjs'), STATE_ROUND_TRIP);
      expect(run('node', ['state.mjs'], app).trim()).toBe('count 2 double 4');
      // The strata command, installed as a user gets it.
      expect(run(join(app, 'node_modules', '.bin', 'strata'), ['--help'], app)).toMatch(/Usage: strata <command>[\s\S]*check/);
    },
    // npm compiles better-sqlite3 from source here (no prebuilt binary is reachable): 3–5 minutes on 2 busy cores.
    660_000,
  );
});

/** The state README's server + client, as a user would write them in plain JS, over a real socket. */
const STATE_ROUND_TRIP = `
import fastify from 'fastify';
import * as v from 'valibot';
import { WebSocket } from 'ws';
import { defineState, strataState } from '@strata/state/server';
import { createClient } from '@strata/state/client';

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({ increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => { s.count += by; } }) }),
});
const app = fastify();
await app.register(strataState, { states: [Counter], secret: 'pack-test-secret-pack-test-secret-!!' });
app.get('/token', (request) => ({ token: app.strata.issueToken(request) }));
const origin = await app.listen({ port: 0, host: '127.0.0.1' });
const { token } = (await app.inject({ url: '/token' })).json();
class NodeSocket extends WebSocket { constructor(url) { super(url, { headers: { origin } }); } }
const client = createClient({ url: origin.replace('http', 'ws') + '/strata/ws', token, WebSocket: NodeSocket });
const counter = client.state('counter');
await counter.call.increment({ by: 2 });
console.log('count', counter.value.count, 'double', counter.value.double);
client.close();
await app.close();
`;
