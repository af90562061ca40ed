import { type ChildProcess, fork, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AppServer, StrataApp } from '../app.js';
import { assertSafeToStart } from '../check.js';
import { CliError } from '../errors.js';
import type { Settings } from '../settings.js';
import { withDatabase } from './database.js';
import { supervise, untilStopped } from './reload.js';
import type { CommandContext } from './commands.js';

function serverOf(app: StrataApp): NonNullable<StrataApp['server']> {
  if (!app.server) throw new CliError('STRATA_CLI_APP', `The app ${app.name} has no server; add server: (settings) => createServer(settings) to defineApp().`);
  return app.server;
}

/** Serves until stopped: the database set up, the app's server listening, both closed at the end. */
async function serve(ctx: CommandContext, settings: Settings, app: StrataApp, make: () => Promise<AppServer>, label: string): Promise<void> {
  await withDatabase(settings, app, async () => {
    const server = await make();
    const url = await server.listen({ port: settings.port, host: settings.host });
    ctx.stdout.write(`${label} ${app.name} on ${url.replace('127.0.0.1', 'localhost')}${cluster.isWorker ? ` (worker ${process.pid})` : ''}\n`);
    await untilStopped(ctx.signal);
    await server.close();
  });
}

/**
 * `strata start`: the production server. In production it first refuses an unsafe
 * configuration or pending migrations; `--workers N` (N > 1) runs N processes on node:cluster,
 * which share tabs, sessions and live updates through Redis — so it requires REDIS_URL.
 */
export async function start(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  const workers = ctx.values.workers === undefined ? settings.workers : Number(ctx.values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new CliError('STRATA_CLI_USAGE', `--workers must be a whole number from 1 to 64, not ${JSON.stringify(ctx.values.workers)}.`);
  if (workers > 1 && !settings.redisUrl) {
    throw new CliError('STRATA_CLI_UNSAFE', `${workers} workers need REDIS_URL: workers share tabs, sessions, throttling and live updates through Redis.`);
  }
  const app = await ctx.app();
  const make = serverOf(app);
  if (settings.env === 'production') await assertSafeToStart(settings, app);
  applyHeapGrowth(settings.heapGrowthPercent);
  if (workers > 1 && cluster.isPrimary) {
    ctx.stdout.write(`Starting ${workers} workers of ${app.name}\n`);
    const forks = Array.from({ length: workers }, () => cluster.fork({ STRATA_WORKERS: '1' }));
    cluster.on('exit', (worker, code) => {
      if (code !== 0) ctx.stdout.write(`worker ${worker.process.pid} exited with ${code}\n`);
    });
    await untilStopped(ctx.signal);
    for (const worker of forks) worker.kill('SIGTERM');
    return;
  }
  await serve(ctx, settings, app, () => make(settings, {}), 'Serving');
}

/**
 * Fixes how much V8's old generation grows between full collections (every process of
 * `strata start` sets it, cluster workers included). A worker holding thousands of tabs
 * keeps each tab's last page for seconds, so those values reach the old generation; with
 * V8's own choice (~15–30 % growth there) a full collection — marking the whole heap,
 * hundreds of milliseconds on one core — comes every few seconds and events queue behind
 * it. Off by default (0): the load runs have not shown a steady gain yet (docs/performance.md).
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** `strata build`: the browser assets and the SSR bundle, with Vite. */
export async function build(ctx: CommandContext): Promise<void> {
  const app = await ctx.app();
  if (!app.web) throw new CliError('STRATA_CLI_APP', `The app ${app.name} has no web app to build; add web: { config, ssrEntry, serverOutDir } to defineApp().`);
  const vite = await importVite(ctx.cwd);
  ctx.stdout.write('Building the browser assets…\n');
  await vite.build({ configFile: app.web.config, logLevel: 'warn' });
  ctx.stdout.write('Building the server-side renderer…\n');
  await vite.build({ configFile: app.web.config, logLevel: 'warn', build: { ssr: app.web.ssrEntry, outDir: app.web.serverOutDir, emptyOutDir: true } });
  ctx.stdout.write(`✓ Built ${app.name}.\n`);
}

/**
 * `strata dev`: the app's server with Vite inside it (modules and HMR, pages rendered through
 * Vite, no build), restarted when its built server code changes. With a tsup config next to
 * the app's package.json, `tsup --watch` rebuilds that code as the files of src/ change.
 * `--no-reload` serves in this process instead.
 */
export async function dev(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  if (settings.env === 'production') throw new CliError('STRATA_CLI_UNSAFE', 'strata dev is for development; use strata start with STRATA_ENV=production.');
  const app = await ctx.app();
  const make = serverOf(app);
  if (!app.web) throw new CliError('STRATA_CLI_APP', `The app ${app.name} has no web app; add web: { config, ssrEntry, serverOutDir } to defineApp().`);
  if (ctx.values['no-reload'] !== true) return superviseDev(ctx, app, app.web);
  const { createServer } = await importVite(ctx.cwd);
  const vite = await createServer({ configFile: app.web.config, server: { middlewareMode: true }, appType: 'custom', logLevel: 'warn' });
  try {
    await serve(ctx, settings, app, () => make(settings, { dev: { vite } }), 'Developing');
  } finally {
    await vite.close();
  }
}

/** The supervising side of `strata dev`: the server in a child process, restarted on changes. */
async function superviseDev(ctx: CommandContext, app: StrataApp, web: NonNullable<StrataApp['web']>): Promise<void> {
  const appFile = ctx.appPath();
  const builder = watchBuild(ctx);
  const log = (line: string) => void ctx.stdout.write(`${line}\n`);
  if (builder) log('Rebuilding the server code as src/ changes (tsup --watch).');
  try {
    await supervise({
      dirs: [dirname(appFile)],
      ignore: [app.clientDir, web.serverOutDir].filter((dir): dir is string => dir !== undefined),
      start: () =>
        fork(cliBin(), ['dev', '--no-reload', '--app', appFile, ...(ctx.values.verbose === true ? ['--verbose'] : [])], {
          cwd: ctx.cwd,
          env: ctx.env as NodeJS.ProcessEnv,
          stdio: 'inherit',
        }),
      log,
      signal: ctx.signal,
    });
  } finally {
    builder?.kill('SIGTERM');
  }
}

/**
 * `tsup --watch` over the app's `src/` when it builds with tsup (a tsup config, tsup installed
 * and a src folder there). The files are named by a glob: tsup 9 watches nothing when given a folder.
 */
function watchBuild(ctx: CommandContext): ChildProcess | undefined {
  const hasConfig = ['tsup.config.ts', 'tsup.config.mts', 'tsup.config.js', 'tsup.config.mjs', 'tsup.config.json'].some((name) => existsSync(join(ctx.cwd, name)));
  const bin = join(ctx.cwd, 'node_modules', '.bin', process.platform === 'win32' ? 'tsup.cmd' : 'tsup');
  if (!hasConfig || !existsSync(bin) || !existsSync(join(ctx.cwd, 'src'))) return undefined;
  return spawn(bin, ['--watch', 'src/**/*', '--silent'], { cwd: ctx.cwd, env: ctx.env as NodeJS.ProcessEnv, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** This package's `strata` executable (dist/bin.js), found from this module's own folder. */
function cliBin(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name, bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; bin?: Record<string, string> };
    if (name !== '@strata/cli' || !bin?.strata) continue;
    const file = resolve(dir, bin.strata);
    if (existsSync(file)) return file;
    break;
  }
  throw new CliError('STRATA_CLI_APP', 'strata dev could not find its own executable (dist/bin.js of @strata/cli): build @strata/cli, or run strata dev --no-reload.');
}

type Vite = {
  build(config: object): Promise<unknown>;
  createServer(config: object): Promise<{ close(): Promise<void> }>;
};

/** The app's own Vite (resolved from its folder, where it is a dev dependency). */
async function importVite(cwd: string): Promise<Vite> {
  try {
    const resolved = createRequire(join(cwd, 'package.json')).resolve('vite');
    return (await import(pathToFileURL(resolved).href)) as Vite;
  } catch (error) {
    throw new CliError('STRATA_CLI_APP', 'strata build and strata dev need Vite: add vite and vite-plugin-solid to the app (pnpm add -D vite vite-plugin-solid).', { cause: error });
  }
}
