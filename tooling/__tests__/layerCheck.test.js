import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { scanImports } from '../src/importScanner.js';
import { checkWorkspace } from '../src/layerCheck.js';

const __dirname = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(__dirname, '../..');
const cli = path.resolve(__dirname, '../src/cli.js');

/** A published library package.json with one exact export per entry name. */
function library(name, entries, deps = {}) {
  const exports = Object.fromEntries(entries.map((e) => [
    e === 'index' ? '.' : `./${e}`,
    { types: `./dist/${e}.d.ts`, import: `./dist/${e}.js` },
  ]));
  return { name, version: '0.0.0', type: 'module', exports, files: ['dist'], ...deps };
}

const tsup = (entries) =>
  `import { strataTsup } from '@strata/tooling/tsup';\nexport default strataTsup({ entry: { ${entries
    .map((e) => `${e}: 'src/${e}.ts'`).join(', ')} } });\n`;

/** A small workspace that follows every rule: model ← state (with a client entry) ← solid ← app. */
const cleanWorkspace = () => ({
  'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n  - "apps/*"\n',
  'packages/model/package.json': library('@strata/model', ['index'], { devDependencies: { '@strata/tooling': 'workspace:*' } }),
  'packages/model/tsup.config.ts': tsup(['index']),
  'packages/model/src/index.ts': "// import { x } from '@strata/state' is only a comment\nimport { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
  'packages/model/src/__tests__/model.test.ts': "import { strataVitest } from '@strata/tooling/vitest';\nimport { read } from '..';\n",
  'packages/state/package.json': library('@strata/state', ['index', 'client'], { dependencies: { '@strata/model': 'workspace:*' } }),
  'packages/state/tsup.config.ts': tsup(['index', 'client']),
  'packages/state/src/index.ts': "import { read } from '@strata/model';\nimport Fastify from 'fastify';\nexport const server = () => Fastify();\n",
  'packages/state/src/client.ts': "import { Queue } from './internal/queue.js';\nexport { Queue };\n",
  'packages/state/src/internal/queue.ts': "import { delay } from './delay';\nexport class Queue {}\n",
  'packages/state/src/internal/delay.ts': 'export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));\n',
  'packages/solid/package.json': library('@strata/solid', ['index'], { dependencies: { '@strata/state': 'workspace:*' } }),
  'packages/solid/tsup.config.ts': "export default { entry: ['src/index.tsx'] };\n",
  'packages/solid/src/index.tsx': "import { Queue } from '@strata/state/client';\nimport type { server } from '@strata/state';\n",
  'apps/shop/package.json': { name: '@strata/shop', private: true, type: 'module',
    dependencies: { '@strata/solid': 'workspace:*', '@strata/cli': 'workspace:*' } },
  'apps/shop/src/main.ts': "import '@strata/solid';\nconst cli = await import('@strata/cli');\n",
});

const roots = [];
afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

/** Write a fixture workspace to a fresh temp folder; a `null` value leaves that file out. */
function writeWorkspace(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-layer-check-'));
  roots.push(root);
  for (const [file, content] of Object.entries(files)) {
    if (content === null) continue;
    const full = path.join(root, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return root;
}

const check = (overrides = {}) => checkWorkspace(writeWorkspace({ ...cleanWorkspace(), ...overrides }));

describe('checkWorkspace', () => {
  it('does report nothing for a workspace that follows every rule', async () => {
    expect(await check()).toEqual([]);
  });

  it('does flag the model importing @strata/state', async () => {
    const violations = await check({
      'packages/model/src/internal/live.ts': "export {};\nimport {\n  createState,\n} from '@strata/state';\n",
    });
    expect(violations).toEqual([expect.objectContaining({
      rule: 'layer', package: '@strata/model', file: 'packages/model/src/internal/live.ts:2',
    })]);
    expect(violations[0].message).toContain('@strata/state (layer 2)');
  });

  it('does flag a package.json dependency on a higher layer', async () => {
    const violations = await check({
      'packages/model/package.json': library('@strata/model', ['index'], { devDependencies: { '@strata/serializer': 'workspace:*' } }),
    });
    expect(violations).toEqual([expect.objectContaining({ rule: 'layer', package: '@strata/model', file: 'packages/model/package.json' })]);
    expect(violations[0].message).toMatch(/^devDependencies: .*@strata\/serializer \(layer 1\)/);
  });

  it('does flag an `import type` of a higher layer like any import', async () => {
    const violations = await check({ 'packages/state/src/types.ts': "import type { User } from '@strata/auth';\n" });
    expect(violations.map((v) => [v.rule, v.file])).toEqual([['layer', 'packages/state/src/types.ts:1']]);
  });

  it('does flag an unknown @strata package and says where to add it', async () => {
    const violations = await check({ 'packages/state/src/index.ts': "export * from '@strata/mailer';\n" });
    expect(violations).toHaveLength(1);
    expect(violations[0].message).toContain('unknown layer, add it to the layer table in tooling/src/layerCheck.js');
  });

  it('does let apps depend on the CLI but not on another app', async () => {
    const violations = await check({
      'apps/admin/package.json': { name: '@strata/admin', private: true, dependencies: { '@strata/shop': 'workspace:*' } },
    });
    expect(violations).toEqual([expect.objectContaining({ rule: 'layer', package: '@strata/admin' })]);
  });

  it('does flag a client entry that reaches node:fs through two relative hops', async () => {
    const violations = await check({
      'packages/state/src/internal/delay.ts': "import { readFile } from 'node:fs';\nexport const delay = readFile;\n",
    });
    expect(violations).toEqual([expect.objectContaining({
      rule: 'client-import', package: '@strata/state', file: 'packages/state/src/internal/delay.ts:1',
    })]);
    expect(violations[0].message).toContain('src/client.ts → src/internal/queue.ts → src/internal/delay.ts → node:fs');
  });

  it('does flag a client entry importing drizzle-orm or a bare Node built-in', async () => {
    const violations = await check({
      'packages/state/src/client.ts': "import {\n  eq,\n  and,\n} from 'drizzle-orm/sql';\nimport { join } from 'path';\n",
    });
    expect(violations.map((v) => [v.rule, v.file])).toEqual([
      ['client-import', 'packages/state/src/client.ts:1'],
      ['client-import', 'packages/state/src/client.ts:5'],
    ]);
    expect(violations[0].message).toContain('server-only code: src/client.ts → drizzle-orm/sql');
  });

  it('does flag a client entry importing a server entry of a lower layer', async () => {
    const violations = await check({ 'packages/solid/src/index.tsx': "export {};\n", 'packages/solid/src/client.tsx': "import { server } from '@strata/state';\n",
      'packages/solid/package.json': library('@strata/solid', ['index', 'client'], { dependencies: { '@strata/state': 'workspace:*' } }),
      'packages/solid/tsup.config.ts': "export default { entry: ['src/index.tsx', 'src/client.tsx'] };\n" });
    expect(violations).toEqual([expect.objectContaining({ rule: 'client-import', file: 'packages/solid/src/client.tsx:1' })]);
    expect(violations[0].message).toContain("a server entry of @strata/state (import '@strata/state/client' instead, or use import type)");
  });

  it('does not flag `import type` of server modules in a client entry, but flags inline `type` specifiers', async () => {
    const typeOnly = {
      'packages/state/src/client.ts': [
        "import type { server } from './index.js';",
        "import type { Database } from 'drizzle-orm';",
        "export type { read } from '@strata/model';",
        "export type Server = typeof import('./index.js');",
      ].join('\n'),
    };
    expect(await check(typeOnly)).toEqual([]);
    // With verbatimModuleSyntax, `import { type X }` keeps a runtime `import {} from` in the bundle.
    const inline = await check({ 'packages/state/src/client.ts': "import { type server } from './index.js';\n" });
    expect(inline.map((v) => v.message)).toEqual([
      expect.stringContaining('src/client.ts → src/index.ts → @strata/model'),
      expect.stringContaining('src/client.ts → src/index.ts → fastify'),
    ]);
  });

  it('does flag a wildcard export', async () => {
    const manifest = library('@strata/model', ['index']);
    manifest.exports['./*'] = { types: './dist/*.d.ts', import: './dist/*.js' };
    const violations = await check({ 'packages/model/package.json': manifest });
    expect(violations).toEqual([expect.objectContaining({ rule: 'exports', package: '@strata/model' })]);
    expect(violations[0].message).toContain('wildcard');
  });

  it('does flag an export that points to a missing source', async () => {
    const violations = await check({
      'packages/model/package.json': library('@strata/model', ['index', 'migrations']),
      'packages/model/tsup.config.ts': tsup(['index', 'migrations']),
    });
    expect(violations).toEqual([expect.objectContaining({ rule: 'exports', package: '@strata/model' })]);
    expect(violations[0].message).toContain('create src/migrations.ts');
  });

  it('does flag an export that tsup does not build or that is not exactly types + import', async () => {
    const manifest = library('@strata/model', ['index']);
    manifest.exports['.'] = { import: './dist/index.js', types: './dist/index.d.ts' };
    const violations = await check({
      'packages/model/package.json': manifest,
      'packages/model/tsup.config.ts': "export default { entry: ['src/main.ts'] };\n",
    });
    expect(violations.map((v) => v.message)).toEqual([
      expect.stringContaining("exports '.' must be exactly"),
      expect.stringContaining('tsup.config.ts does not build src/index.ts'),
    ]);
  });

  it('does flag `files` that is not exactly ["dist"], a stray main and a missing "type"', async () => {
    const manifest = { ...library('@strata/model', ['index']), files: ['dist', 'src'], main: './src/index.ts' };
    delete manifest.type;
    const violations = await check({ 'packages/model/package.json': manifest });
    expect(violations.map((v) => v.message)).toEqual([
      '"type" must be "module"',
      '"files" must be exactly ["dist"], found ["dist","src"]',
      '"main" must be absent or "./dist/index.js", found "./src/index.ts"',
    ]);
  });

  it('does not apply the exports rule to private packages', async () => {
    const violations = await check({
      'packages/tests/package.json': { name: '@strata/tests', private: true, devDependencies: { '@strata/solid': 'workspace:*' } },
    });
    expect(violations).toEqual([]);
  });

  it('does report zero violations for this repository', async () => {
    expect(await checkWorkspace(repoRoot)).toEqual([]);
  });
});

describe('scanImports', () => {
  it('does find static, multi-line, side-effect, dynamic and require imports, skipping comments', () => {
    const source = [
      "import a, {",
      "  b as c,",
      "} from 'one';",
      "/* import x from 'no' */ import 'two';",
      "// export * from 'no'",
      "const three = await import('three');",
      "const four = require(\"four\");",
      "export * as five from './five.js'",
      "const text = `import x from 'no'`;",
    ].join('\n');
    expect(scanImports(source)).toEqual([
      { specifier: 'one', typeOnly: false, line: 1 },
      { specifier: 'two', typeOnly: false, line: 4 },
      { specifier: 'three', typeOnly: false, line: 6 },
      { specifier: 'four', typeOnly: false, line: 7 },
      { specifier: './five.js', typeOnly: false, line: 8 },
    ]);
  });

  it('does tell `import type` statements from a default import named `type`', () => {
    const source = "import type { A } from 'a';\nimport type from 'b';\nexport type * from 'c';\nimport type, { d } from 'd';\n";
    expect(scanImports(source).map((r) => [r.specifier, r.typeOnly])).toEqual([
      ['a', true], ['b', false], ['c', true], ['d', false],
    ]);
  });

  it('does not let an `export type` alias swallow the next import when semicolons are omitted', () => {
    const source = "export type T = { a: string }\nimport { readFile } from 'node:fs'\n";
    expect(scanImports(source)).toEqual([{ specifier: 'node:fs', typeOnly: false, line: 2 }]);
  });
});

describe('strata-layer-check', () => {
  it('does print one line per violation and exit 1, or a summary and exit 0 when clean', () => {
    const dirty = writeWorkspace({ ...cleanWorkspace(), 'packages/model/src/up.ts': "import '@strata/solid';\n" });
    const failed = spawnSync(process.execPath, [cli], { cwd: path.join(dirty, 'packages/model'), encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('[layer] @strata/model (packages/model/src/up.ts:1): ');
    expect(failed.stdout.trim().split('\n').at(-1)).toBe('layer check: 4 packages, 1 violations');

    const clean = spawnSync(process.execPath, [cli], { cwd: writeWorkspace(cleanWorkspace()), encoding: 'utf8' });
    expect(clean.status).toBe(0);
    expect(clean.stdout.trim()).toBe('layer check: 4 packages, 0 violations');
  });
});
