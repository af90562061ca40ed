// The layer check: dependencies point down only, browser entries stay free of
// server code, and every published package has an exact exports map.
// Plain Node built-ins only, so it runs before anything is built.
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { scanImports } from './importScanner.js';

/**
 * @typedef {object} Violation
 * @property {'layer' | 'client-import' | 'exports'} rule
 * @property {string} package  the package name (or its folder when it has none)
 * @property {string} [file]   path relative to the workspace root, with `:line` when known
 * @property {string} message  what is wrong and what to do
 */

/**
 * @typedef {object} WorkspacePackage
 * @property {string} dir       absolute folder
 * @property {string} relDir    folder relative to the root, e.g. `packages/state`
 * @property {string} name
 * @property {'package' | 'app'} kind
 * @property {Record<string, any>} manifest  parsed package.json
 */

/** Rank of every `apps/*` package: above the CLI, which apps use to run. */
export const APP_RANK = 6;

/** Rank of each layer; a package may import only layers of a strictly lower rank. */
export const LAYERS = Object.freeze({
  '@strata/model': 0,
  '@strata/serializer': 1,
  '@strata/state': 2,
  '@strata/auth': 3,
  '@strata/solid': 4,
  '@strata/cli': 5,
  // Private cross-package tests (STYLE.md) sit on top with the apps.
  '@strata/tests': APP_RANK,
});

/** Build and test helpers: any package may use them, as devDependencies only. */
const DEV_HELPERS = new Set(['@strata/tooling', '@strata/test-utils']);

/** Packages that must never reach a browser bundle (subpaths included). */
export const SERVER_ONLY = Object.freeze([
  'drizzle-orm', 'drizzle-kit', 'drizzle-valibot', 'fastify', '@fastify/*', 'pg', 'postgres', 'ioredis',
  'better-sqlite3', '@libsql/*', '@electric-sql/pglite', '@node-rs/*', 'argon2', 'ws',
]);

const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];
const SOURCE_EXT = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const SCANNED_EXT = /\.(ts|tsx|js|mjs)$/;
const TSUP_CONFIGS = ['tsup.config.ts', 'tsup.config.mts', 'tsup.config.js', 'tsup.config.mjs'];

/**
 * Check a Strata workspace and list every violation (empty when clean).
 * Scans `packages/*` and `apps/*`; `tooling/` and `bench/` are not layers.
 * @param {string} rootDir  the folder holding pnpm-workspace.yaml
 * @returns {Promise<Violation[]>}
 * @example
 * const violations = await checkWorkspace(process.cwd());
 * if (violations.length) process.exitCode = 1;
 */
export async function checkWorkspace(rootDir) {
  const root = path.resolve(rootDir);
  /** @type {Violation[]} */
  const violations = [];
  const packages = listWorkspacePackages(root, violations);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const apps = new Set(packages.filter((p) => p.kind === 'app').map((p) => p.name));
  for (const pkg of packages) {
    if (DEV_HELPERS.has(pkg.name)) continue;
    violations.push(...checkLayers(root, pkg, apps));
  }
  for (const pkg of packages) violations.push(...checkClientEntries(root, pkg, byName));
  for (const pkg of packages) {
    if (pkg.kind === 'package' && pkg.manifest.private !== true) violations.push(...checkExports(pkg));
  }
  return violations;
}

/**
 * The packages the check covers: every `packages/*` and `apps/*` folder with a package.json.
 * @param {string} rootDir
 * @param {Violation[]} [problems]  receives unreadable package.json files
 * @returns {WorkspacePackage[]}
 */
export function listWorkspacePackages(rootDir, problems = []) {
  const root = path.resolve(rootDir);
  /** @type {WorkspacePackage[]} */
  const found = [];
  for (const [group, kind] of /** @type {const} */ ([['packages', 'package'], ['apps', 'app']])) {
    const groupDir = path.join(root, group);
    if (!isDir(groupDir)) continue;
    for (const entry of fs.readdirSync(groupDir).sort()) {
      const dir = path.join(groupDir, entry);
      const manifestPath = path.join(dir, 'package.json');
      if (!isFile(manifestPath)) continue;
      const relDir = `${group}/${entry}`;
      try {
        const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
        found.push({ dir, relDir, name: typeof manifest.name === 'string' ? manifest.name : relDir, kind, manifest });
      } catch (error) {
        problems.push({ rule: 'exports', package: relDir, file: `${relDir}/package.json`,
          message: `package.json is not valid JSON (${/** @type {Error} */ (error).message}); fix it` });
      }
    }
  }
  return found;
}

/**
 * Rule 1: `@strata/*` dependencies and imports point to strictly lower layers.
 * @param {string} root @param {WorkspacePackage} pkg @param {Set<string>} apps
 * @returns {Violation[]}
 */
function checkLayers(root, pkg, apps) {
  /** @type {Violation[]} */
  const out = [];
  const rank = pkg.kind === 'app' ? APP_RANK : rankOf(pkg.name, apps);
  if (rank === undefined) {
    out.push({ rule: 'layer', package: pkg.name, file: `${pkg.relDir}/package.json`,
      message: `${pkg.name} has an unknown layer, add it to the layer table in tooling/src/layerCheck.js` });
    return out;
  }
  for (const field of DEP_FIELDS) {
    for (const dep of Object.keys(pkg.manifest[field] ?? {})) {
      const problem = layerProblem(pkg.name, rank, dep, apps, field);
      if (problem) out.push({ rule: 'layer', package: pkg.name, file: `${pkg.relDir}/package.json`, message: `${field}: ${problem}` });
    }
  }
  for (const file of listFiles(path.join(pkg.dir, 'src'), SCANNED_EXT)) {
    for (const ref of scanImports(fs.readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('@strata/')) continue;
      const problem = layerProblem(pkg.name, rank, packageName(ref.specifier), apps);
      if (problem) out.push({ rule: 'layer', package: pkg.name, file: `${rel(root, file)}:${ref.line}`, message: `import '${ref.specifier}': ${problem}` });
    }
  }
  return out;
}

/**
 * Why `from` (of rank `rank`) may not use `dep`, or null when it may.
 * @param {string} from @param {number} rank @param {string} dep @param {Set<string>} apps
 * @param {string} [field]  the package.json field, when checking the manifest
 * @returns {string | null}
 */
function layerProblem(from, rank, dep, apps, field) {
  if (!dep.startsWith('@strata/') || dep === from) return null;
  if (DEV_HELPERS.has(dep)) {
    return field && field !== 'devDependencies' ? `${dep} is a build/test helper; list it under devDependencies` : null;
  }
  const depRank = rankOf(dep, apps);
  if (depRank === undefined) return `${dep} has an unknown layer, add it to the layer table in tooling/src/layerCheck.js`;
  if (depRank >= rank) {
    return `${from} (layer ${rank}) must not depend on ${dep} (layer ${depRank}); dependencies point down only (model → serializer → state → auth → solid → cli/apps)`;
  }
  return null;
}

/**
 * Rule 2: what a browser entry reaches through relative imports holds no server code.
 * @param {string} root @param {WorkspacePackage} pkg @param {Map<string, WorkspacePackage>} byName
 * @returns {Violation[]}
 */
function checkClientEntries(root, pkg, byName) {
  /** @type {Violation[]} */
  const out = [];
  const declared = new Set(DEP_FIELDS.flatMap((f) => Object.keys(pkg.manifest[f] ?? {})));
  for (const subpath of exportKeys(pkg.manifest).filter(isClientSubpath)) {
    const entry = findSource(pkg.dir, subpathName(subpath));
    if (!entry) continue; // rule 3 reports the missing source
    for (const { chain, ref } of walkRuntimeImports(entry)) {
      const why = browserProblem(ref.specifier, declared, byName);
      if (!why) continue;
      const trail = [...chain.map((f) => rel(pkg.dir, f)), ref.specifier].join(' → ');
      out.push({ rule: 'client-import', package: pkg.name, file: `${rel(root, /** @type {string} */ (chain.at(-1)))}:${ref.line}`,
        message: `browser entry '${subpath}' reaches ${why}: ${trail}. Keep server code out of client entries (import type is fine)` });
    }
  }
  return out;
}

/**
 * Every runtime import reachable from `entry` through relative imports, with
 * the chain of files that leads to it. `import type` is erased and not followed.
 * @param {string} entry
 * @returns {{ chain: string[], ref: import('./importScanner.js').ImportRef }[]}
 */
function walkRuntimeImports(entry) {
  /** @type {Map<string, string[]>} */
  const chains = new Map([[entry, [entry]]]);
  const queue = [entry];
  const out = [];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const chain = /** @type {string[]} */ (chains.get(file));
    for (const ref of scanImports(fs.readFileSync(file, 'utf8'))) {
      if (ref.typeOnly) continue;
      if (!ref.specifier.startsWith('.')) {
        out.push({ chain, ref });
        continue;
      }
      const target = resolveRelative(file, ref.specifier);
      if (target && !chains.has(target)) {
        chains.set(target, [...chain, target]);
        queue.push(target);
      }
    }
  }
  return out;
}

/**
 * @param {string} specifier @param {Set<string>} declared @param {Map<string, WorkspacePackage>} byName
 * @returns {string | null}
 */
function browserProblem(specifier, declared, byName) {
  if (specifier.startsWith('node:')) return 'a Node built-in';
  const name = packageName(specifier);
  // A declared dependency named like a built-in (e.g. `events`) is its browser polyfill.
  if (builtinModules.includes(specifier) && !declared.has(name)) return 'a Node built-in';
  if (SERVER_ONLY.some((p) => (p.endsWith('/*') ? name.startsWith(p.slice(0, -1)) : name === p))) return 'server-only code';
  if (name.startsWith('@strata/')) {
    const subpath = `.${specifier.slice(name.length)}`;
    const target = byName.get(name);
    const isClient = isClientSubpath(subpath) && (!target || exportKeys(target.manifest).includes(subpath));
    if (isClient) return null;
    const client = target && exportKeys(target.manifest).find(isClientSubpath);
    return `a server entry of ${name} (${client ? `import '${name}${client.slice(1)}' instead, or ` : ''}use import type)`;
  }
  return null;
}

/**
 * Rule 3: a published package's exports map is exact and matches src/ and tsup.
 * @param {WorkspacePackage} pkg
 * @returns {Violation[]}
 */
function checkExports(pkg) {
  /** @type {Violation[]} */
  const out = [];
  const file = `${pkg.relDir}/package.json`;
  const fail = (/** @type {string} */ message) => out.push({ rule: 'exports', package: pkg.name, file, message });
  const m = pkg.manifest;
  if (m.type !== 'module') fail('"type" must be "module"');
  if (JSON.stringify(m.files) !== '["dist"]') fail(`"files" must be exactly ["dist"], found ${JSON.stringify(m.files)}`);
  const pointers = { main: './dist/index.js', module: './dist/index.js', types: './dist/index.d.ts', typings: './dist/index.d.ts' };
  for (const [field, expected] of Object.entries(pointers)) {
    if (m[field] !== undefined && normalize(m[field]) !== expected) fail(`"${field}" must be absent or "${expected}", found ${JSON.stringify(m[field])}`);
  }
  if (!m.exports || typeof m.exports !== 'object' || Array.isArray(m.exports) || Object.keys(m.exports).length === 0) {
    fail('needs an "exports" map of subpaths, e.g. { ".": { "types": "./dist/index.d.ts", "import": "./dist/index.js" } }');
    return out;
  }
  const tsup = TSUP_CONFIGS.map((f) => path.join(pkg.dir, f)).find(isFile);
  const tsupText = tsup ? fs.readFileSync(tsup, 'utf8') : '';
  if (!tsup) fail('has no tsup.config.ts to build its exports');
  for (const [key, value] of Object.entries(m.exports)) {
    if (key.includes('*') || JSON.stringify(value).includes('*')) {
      fail(`exports '${key}' uses a wildcard; list each subpath explicitly`);
      continue;
    }
    if (key !== '.' && !key.startsWith('./')) {
      fail(`exports key '${key}' is not a subpath; use "." or "./name"`);
      continue;
    }
    const name = subpathName(key);
    const expected = { types: `./dist/${name}.d.ts`, import: `./dist/${name}.js` };
    if (JSON.stringify(value) !== JSON.stringify(expected)) {
      fail(`exports '${key}' must be exactly ${JSON.stringify(expected)}, found ${JSON.stringify(value)}`);
    }
    const source = findSource(pkg.dir, name);
    if (!source) {
      fail(`exports '${key}' has no source: create src/${name}.ts (or src/${name}.tsx, src/${name}/index.ts)`);
    } else if (tsup && !tsupText.includes(rel(pkg.dir, source))) {
      fail(`exports '${key}': ${rel(pkg.dir, tsup)} does not build ${rel(pkg.dir, source)}; add it to the entry list`);
    }
  }
  return out;
}

/** @param {string} dir @param {string} name @returns {string | undefined} */
function findSource(dir, name) {
  const base = path.join(dir, 'src', name);
  return [`${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts'), path.join(base, 'index.tsx')].find(isFile);
}

/** Resolve `./x`, `./x.js` (→ x.ts), `./x/index.ts`; undefined for non-code or missing files. */
function resolveRelative(/** @type {string} */ from, /** @type {string} */ specifier) {
  const base = path.resolve(path.dirname(from), specifier);
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const candidates = /^\.[cm]?jsx?$/.test(ext)
    ? [`${stem}.ts`, `${stem}.tsx`, `${stem}${ext.replace('js', 'ts')}`, base]
    : [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, `${base}.mjs`];
  candidates.push(path.join(base, 'index.ts'), path.join(base, 'index.tsx'), path.join(base, 'index.js'));
  return candidates.find((c) => SOURCE_EXT.test(c) && isFile(c));
}

/** @param {string} name @param {Set<string>} apps */
function rankOf(name, apps) {
  if (Object.hasOwn(LAYERS, name)) return LAYERS[/** @type {keyof typeof LAYERS} */ (name)];
  return apps.has(name) ? APP_RANK : undefined;
}

/** `@strata/state/client` → `@strata/state`, `pg/lib` → `pg`. */
function packageName(/** @type {string} */ specifier) {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** @param {Record<string, any>} manifest @returns {string[]} */
function exportKeys(manifest) {
  const e = manifest.exports;
  return e && typeof e === 'object' && !Array.isArray(e) ? Object.keys(e).filter((k) => k.startsWith('.')) : [];
}

const isClientSubpath = (/** @type {string} */ subpath) => subpath.includes('client');
const subpathName = (/** @type {string} */ subpath) => (subpath === '.' ? 'index' : subpath.slice(2));
const normalize = (/** @type {unknown} */ p) => (typeof p === 'string' && !p.startsWith('./') ? `./${p}` : p);
const rel = (/** @type {string} */ from, /** @type {string} */ to) => path.relative(from, to).split(path.sep).join('/');

/** @param {string} dir @param {RegExp} pattern @returns {string[]} */
function listFiles(dir, pattern) {
  if (!isDir(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : listFiles(full, pattern);
    return pattern.test(e.name) ? [full] : [];
  });
}

function isFile(/** @type {string} */ p) {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDir(/** @type {string} */ p) {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
