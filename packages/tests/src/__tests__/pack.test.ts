import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '../../../model');
const work = mkdtempSync(join(tmpdir(), 'strata-pack-'));
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000 });

/** The first ```ts block under "## Example" in the package README: what a new user copies. */
function readmeExample(): string {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Example'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('packages/model/README.md has no ```ts example under "## Example"');
  return match[1]!;
}

describe('@strata/model package', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs only dist, README, LICENSE and package.json', () => {
    run('pnpm', ['pack', '--pack-destination', work], packageDir);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))!;
    const files = run('tar', ['-tzf', join(work, tarball)], work).trim().split('\n');
    const outside = files.filter((file) => !/^package\/(dist\/.+|README\.md|LICENSE|package\.json)$/.test(file));
    expect(outside).toEqual([]);
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    const manifest = JSON.parse(run('tar', ['-xzOf', join(work, tarball), 'package/package.json'], work));
    expect(JSON.stringify(manifest)).not.toMatch(/workspace:|catalog:/);
  });

  it(
    'installs alone with npm outside the monorepo and runs its README example',
    () => {
      const app = join(work, 'app');
      run('mkdir', ['-p', app], work);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'strata-model-user', private: true, type: 'module' }));
      const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))!;
      run('npm', ['install', '--no-audit', '--no-fund', join(work, tarball), 'drizzle-kit@0.31.11'], app);
      writeFileSync(join(app, 'example.mjs'), readmeExample());
      const output = run('node', ['example.mjs'], app);
      expect(output).toContain("name: 'Sencha', price: '12.50', stock: 2");
      expect(output).not.toContain('Matcha');
    },
    300_000,
  );
});
