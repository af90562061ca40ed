#!/usr/bin/env node
// The README's commands for a machine with only Node.js (>= 20.19) and npm:
//   npm test         install, build, typecheck and run every test, then print one summary line
//   npm run example  build the shop, migrate, seed and serve it on a printed URL
//   npm run bench    build and run the benchmarks
//   npm run bench:load  build and run the load benchmark (bench/load: 10,000 tabs on one worker)
// It fetches pnpm into .tools/ when the right one is not on PATH. Node built-ins only.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '12.21.0';
const MIN_NODE = [20, 19];
const NODE_MAJOR = process.versions.node.split('.')[0] ?? '';
const IS_WINDOWS = process.platform === 'win32';
const SHOP = '@strata/example-shop';
const REPORT_DIRS = ['packages', 'apps'];
const REPORT_SINGLE_DIRS = ['tooling', 'bench'];

const commands = {
  test: runTests,
  example: runExample,
  bench: benchScript('bench', 'The benchmarks'),
  'bench:load': benchScript('bench:load', 'The load benchmark'),
};

main(process.argv[2]);

/** @param {string | undefined} command */
function main(command) {
  const action = command && Object.hasOwn(commands, command) ? commands[/** @type {keyof commands} */ (command)] : undefined;
  if (!action) fail(`Unknown command '${command ?? ''}': use one of ${Object.keys(commands).join(', ')}.`, 2);
  checkNodeVersion();
  const env = buildEnv();
  const pnpm = findPnpm(env);
  ensureInstalled(pnpm, env);
  process.exitCode = action(pnpm, env);
}

/** @param {string} pnpm @param {NodeJS.ProcessEnv} env @returns {number} */
function runTests(pnpm, env) {
  if (!env.STRATA_TEST_PG_URL || !env.STRATA_TEST_REDIS_URL) {
    console.log('Note: PostgreSQL/Redis tests will be skipped because STRATA_TEST_PG_URL/STRATA_TEST_REDIS_URL are not set; '
      + 'to run them, set e.g. STRATA_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test STRATA_TEST_REDIS_URL=redis://127.0.0.1:6379');
  }
  // A package whose tests did not run this time must not count last run's report.
  for (const report of reportFiles()) fs.rmSync(report, { force: true });
  const code = run(pnpm, ['exec', 'turbo', 'run', 'build', 'typecheck', 'test', '--continue=dependencies-successful'], env);
  const totals = sumReports();
  console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  if (code !== 0) console.error('npm test failed: a build, typecheck, layer check or test step failed; see the errors above.');
  else if (totals.failed > 0) console.error('npm test failed: some tests failed; see the errors above.');
  return code !== 0 ? code : totals.failed > 0 ? 1 : 0;
}

/** @param {string} pnpm @param {NodeJS.ProcessEnv} env @returns {number} */
function runExample(pnpm, env) {
  if (!workspaceHas(SHOP)) fail(`The shop (${SHOP}, apps/shop) is not in this checkout.`);
  const built = run(pnpm, ['exec', 'turbo', 'run', 'build', `--filter=${SHOP}...`], env);
  if (built !== 0) fail('Building the shop failed; see the errors above.', built);
  // strata build (pages), migrate, seed (once), start — on SQLite in ./apps/shop/data unless DATABASE_URL says otherwise.
  return run(pnpm, ['--filter', SHOP, 'example'], env);
}

/**
 * A script of the bench package, after building it.
 * @param {string} script @param {string} what @returns {(pnpm: string, env: NodeJS.ProcessEnv) => number}
 */
function benchScript(script, what) {
  return (pnpm, env) => {
    const built = run(pnpm, ['exec', 'turbo', 'run', 'build', '--filter=@strata/bench...'], env);
    if (built !== 0) fail('Building the benchmarks failed; see the errors above.', built);
    const code = run(pnpm, ['--filter', '@strata/bench', script], env);
    if (code !== 0) console.error(`${what} failed; see the errors above.`);
    return code;
  };
}

function checkNodeVersion() {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < (MIN_NODE[0] ?? 0) || (major === MIN_NODE[0] && minor < (MIN_NODE[1] ?? 0))) {
    fail(`Strata needs Node.js ${MIN_NODE.join('.')} or newer, but this is ${process.version}; install a newer Node.js and try again.`);
  }
}

/** The environment every step runs with. @returns {NodeJS.ProcessEnv} */
function buildEnv() {
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', STRATA_NODE_VERSION: process.version };
  // pnpm's node-gyp ignores nodedir in .npmrc and would download headers from the internet,
  // which fails here; point it at headers for *this* Node, since native modules are ABI-specific.
  const matching = [path.dirname(path.dirname(process.execPath)), '/usr'].find((dir) => headersMajor(dir) === NODE_MAJOR);
  const current = env.npm_config_nodedir;
  if (current && headersMajor(current) !== undefined && headersMajor(current) !== NODE_MAJOR && matching) {
    console.log(`Note: npm_config_nodedir=${current} holds headers for Node ${headersMajor(current)}; using ${matching} for Node ${NODE_MAJOR}.`);
    env.npm_config_nodedir = matching;
  } else if (!current && matching) {
    env.npm_config_nodedir = matching;
  }
  return env;
}

/** The major version of the Node headers under `dir/include/node`, if any. @param {string} dir */
function headersMajor(dir) {
  try {
    const header = fs.readFileSync(path.join(dir, 'include', 'node', 'node_version.h'), 'utf8');
    return /#define NODE_MAJOR_VERSION (\d+)/.exec(header)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * pnpm PNPM_VERSION: the one on PATH if it is that version, else a copy in .tools/.
 * The copy's folder goes first on env's PATH, because turbo runs each task with `pnpm`.
 * @param {NodeJS.ProcessEnv} env
 */
function findPnpm(env) {
  if (pnpmVersion('pnpm', env) === PNPM_VERSION) return 'pnpm';
  const bin = path.join(ROOT, '.tools', 'node_modules', '.bin');
  const local = path.join(bin, IS_WINDOWS ? 'pnpm.cmd' : 'pnpm');
  if (pnpmVersion(local, env) !== PNPM_VERSION) {
    console.log(`Installing pnpm ${PNPM_VERSION} into .tools/ (once) ...`);
    const code = run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', path.join(ROOT, '.tools'), `pnpm@${PNPM_VERSION}`], env);
    if (code !== 0 || pnpmVersion(local, env) !== PNPM_VERSION) {
      fail(`Could not install pnpm ${PNPM_VERSION} with npm; check that the npm registry is reachable and try again.`);
    }
  }
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  env[pathKey] = [bin, env[pathKey]].filter(Boolean).join(path.delimiter);
  return local;
}

/** @param {string} command @param {NodeJS.ProcessEnv} env @returns {string | undefined} */
function pnpmVersion(command, env) {
  const probe = spawnSync(command, ['--version'], {
    cwd: ROOT, env: { ...env, COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' }, encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'], shell: IS_WINDOWS, timeout: 60_000,
  });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/**
 * `pnpm install --frozen-lockfile` unless node_modules is newer than the lockfile and
 * was installed by this Node major; rebuild better-sqlite3 when the Node major changed.
 * @param {string} pnpm @param {NodeJS.ProcessEnv} env
 */
function ensureInstalled(pnpm, env) {
  const modules = path.join(ROOT, 'node_modules', '.modules.yaml');
  const marker = path.join(ROOT, 'node_modules', '.strata-node');
  const installedBy = readText(marker)?.trim();
  if (mtime(modules) <= mtime(path.join(ROOT, 'pnpm-lock.yaml'))) {
    const code = run(pnpm, ['install', '--frozen-lockfile'], env);
    if (code !== 0) fail('Installing dependencies failed (pnpm install --frozen-lockfile); see the errors above.', code);
  }
  // No marker: installed before this script kept one, so ask the module itself.
  const stale = installedBy === undefined ? !nativeModulesLoad(env) : installedBy !== NODE_MAJOR;
  if (stale) {
    console.log(`Rebuilding better-sqlite3 for Node ${NODE_MAJOR} (its native module is specific to a Node major) ...`);
    const code = run(pnpm, ['-r', 'rebuild', 'better-sqlite3'], env);
    if (code !== 0) fail(`Rebuilding better-sqlite3 for Node ${NODE_MAJOR} failed; see the errors above.`, code);
  }
  fs.writeFileSync(marker, `${NODE_MAJOR}\n`);
}

/** Whether every installed copy of better-sqlite3 loads in this Node. @param {NodeJS.ProcessEnv} env */
function nativeModulesLoad(env) {
  const store = path.join(ROOT, 'node_modules', '.pnpm');
  const copies = listDir(store).filter((d) => d.startsWith('better-sqlite3@'))
    .map((d) => path.join(store, d, 'node_modules', 'better-sqlite3'));
  return copies.every((dir) => spawnSync(process.execPath, ['-e', `new (require(${JSON.stringify(dir)}))(':memory:').close()`],
    { env, stdio: 'ignore', timeout: 60_000 }).status === 0);
}

/** Every test report the test run may write. */
function reportFiles() {
  const dirs = [
    ...REPORT_DIRS.flatMap((group) => listDir(path.join(ROOT, group)).map((d) => path.join(ROOT, group, d))),
    ...REPORT_SINGLE_DIRS.map((d) => path.join(ROOT, d)),
  ];
  return dirs.map((d) => path.join(d, 'test-report.json')).filter((f) => fs.existsSync(f));
}

/** Sum vitest's JSON reports; a suite that failed without a failed test counts as one failure. */
function sumReports() {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const file of reportFiles()) {
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8'));
      totals.passed += r.numPassedTests ?? 0;
      totals.failed += (r.numFailedTests ?? 0) || (r.success === false ? Math.max(1, r.numFailedTestSuites ?? 0) : 0);
      totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    } catch {
      console.error(`Could not read ${path.relative(ROOT, file)}; counting it as one failure.`);
      totals.failed += 1;
    }
  }
  return totals;
}

/** Whether an apps/* or packages/* package has this name. @param {string} name */
function workspaceHas(name) {
  return REPORT_DIRS.some((group) => listDir(path.join(ROOT, group)).some((d) => {
    const manifest = readText(path.join(ROOT, group, d, 'package.json'));
    return manifest !== undefined && JSON.parse(manifest).name === name;
  }));
}

/**
 * Run a command in the repo root with stdio passed through; its exit code (128+n for signal n).
 * @param {string} command @param {string[]} args @param {NodeJS.ProcessEnv} env
 */
function run(command, args, env) {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: 'inherit', shell: IS_WINDOWS });
  if (result.error) fail(`Could not start '${command}': ${result.error.message}.`);
  if (result.signal) return 128 + (constants.signals[result.signal] ?? 0);
  return result.status ?? 1;
}

/** @param {string} message @param {number} [code] @returns {never} */
function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

/** @param {string} file */
function mtime(file) {
  return fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
}

/** @param {string} file */
function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** @param {string} dir */
function listDir(dir) {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}
