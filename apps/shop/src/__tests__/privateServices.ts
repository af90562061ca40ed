import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A private service the test stops and starts at will. */
export interface PrivateService {
  readonly url: string;
  /** Stops it (Redis: SIGKILL, a crash; PostgreSQL: `pg_ctl stop -m fast`). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with its data. */
  start(): Promise<void>;
  /** Stops it if running and deletes its files. */
  dispose(): Promise<void>;
}

/** Waits until something accepts connections on `port`, at most `ms`. */
async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Nothing listens on port ${port} after ${ms} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * redis-server on a spare port, or undefined without the binary. It keeps an append-only
 * file synced on every write (as a production Redis does), so a crash (SIGKILL) and restart
 * keeps the sessions and tabs: what the shop must recover from is the outage, not lost data.
 */
export async function startPrivateRedis(): Promise<PrivateService | undefined> {
  const binary = redisServerBin();
  if (!binary) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'strata-redis-'));
  let child: ChildProcess | undefined;
  const service: PrivateService = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
      child = spawn(binary, args, { stdio: 'ignore' });
      // If the test process exits before its afterAll, the server goes with it.
      const orphan = child;
      process.once('exit', () => orphan.kill('SIGKILL'));
      await listening(port, 5_000);
    },
    async stop() {
      const dying = child;
      child = undefined;
      if (!dying || dying.exitCode !== null) return;
      const exited = new Promise((resolve) => dying.once('exit', resolve));
      dying.kill('SIGKILL');
      await exited;
    },
    async dispose() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

/** The folder of PostgreSQL's server binaries (initdb, pg_ctl), newest version first; undefined without them. */
export function postgresBin(): string | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((x, y) => Number(y) - Number(x)) : [];
  return versions.map((version) => `/usr/lib/postgresql/${version}/bin`).find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/** The path of redis-server; undefined without it. */
export function redisServerBin(): string | undefined {
  return ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((path) => existsSync(path));
}

/**
 * A PostgreSQL cluster of its own (initdb + pg_ctl) in a temporary folder on a spare port,
 * or undefined without the binaries. PostgreSQL refuses to run as root: as root, it runs as
 * the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivateService | undefined> {
  const bin = postgresBin();
  if (!bin) return undefined;
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args], { timeout: 30_000 }) : run(command, args, { timeout: 30_000 }));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'strata-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  await as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let running = false;
  // If the test process exits before its afterAll, the cluster goes with it.
  const emergencyStop = () => {
    const command = [join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...command], { stdio: 'ignore', timeout: 10_000 });
      else execFileSync(command[0]!, command.slice(1), { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // Already stopped.
    }
  };
  const service: PrivateService = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '20', 'start']);
      running = true;
      process.once('exit', emergencyStop);
    },
    async stop() {
      if (!running) return;
      running = false;
      process.off('exit', emergencyStop);
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']);
    },
    async dispose() {
      await service.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await service.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return service;
}
