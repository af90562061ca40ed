import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppServer, StrataApp } from '../app.js';
import { assertSafeToStart } from '../check.js';
import { CliError } from '../errors.js';
import type { Settings } from '../settings.js';
import { withDatabase } from './database.js';
import type { CommandContext } from './commands.js';

/** Waits for SIGINT/SIGTERM (or the context's abort signal), then resolves. */
function untilStopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (signal?.aborted) done();
    signal?.addEventListener('abort', done, { once: true });
  });
}

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

/** `strata dev`: the app's server with Vite inside it (modules and HMR, pages rendered through Vite, no build). */
export async function dev(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  if (settings.env === 'production') throw new CliError('STRATA_CLI_UNSAFE', 'strata dev is for development; use strata start with STRATA_ENV=production.');
  const app = await ctx.app();
  const make = serverOf(app);
  if (!app.web) throw new CliError('STRATA_CLI_APP', `The app ${app.name} has no web app; add web: { config, ssrEntry, serverOutDir } to defineApp().`);
  const { createServer } = await importVite(ctx.cwd);
  const vite = await createServer({ configFile: app.web.config, server: { middlewareMode: true }, appType: 'custom', logLevel: 'warn' });
  try {
    await serve(ctx, settings, app, () => make(settings, { dev: { vite } }), 'Developing');
  } finally {
    await vite.close();
  }
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
