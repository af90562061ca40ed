import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** What {@link supervise} watches and runs. */
export interface SuperviseOptions {
  /** Folders whose files restart the server when their content changes (`.js`, `.mjs`, `.cjs`, `.json`). */
  dirs: readonly string[];
  /** Folders under them that never restart it (the browser app's build output). */
  ignore: readonly string[];
  /** Starts the server process. */
  start(): ChildProcess;
  log(line: string): void;
  /** Stops supervising (besides SIGINT and SIGTERM): the server is stopped, the watchers closed. */
  signal: AbortSignal | undefined;
  /** Quiet time after the last change before restarting (a build writes several files). Default 200 ms. */
  debounceMs?: number;
  /** How long a stopping server may take before it is killed. Default 5 s. */
  stopTimeoutMs?: number;
}

const WATCHED = /\.(m?js|cjs|json)$/;

/** Waits for SIGINT/SIGTERM (or `signal`'s abort), then resolves. */
export function untilStopped(signal: AbortSignal | undefined): Promise<void> {
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

/** The content hash of a file, or undefined when it is gone. */
function digest(file: string): string | undefined {
  try {
    return createHash('sha1').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Runs a server process and starts it again whenever the code it runs changes: the files
 * under `dirs` are hashed, so a rebuild that writes the same bytes restarts nothing. One
 * restart at a time; a server that exits on its own is started again at the next change.
 */
export async function supervise(options: SuperviseOptions): Promise<void> {
  const isIgnored = (file: string) => !WATCHED.test(file) || options.ignore.some((dir) => !relative(dir, file).startsWith('..'));
  const hashes = new Map<string, string>();
  const scan = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      const file = join(entry.parentPath, entry.name);
      if (entry.isFile() && !isIgnored(file)) hashes.set(file, digest(file) ?? '');
    }
  };
  for (const dir of options.dirs) scan(dir);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  const run = () => {
    const started = options.start();
    child = started;
    exited = new Promise((resolve) => {
      started.once('exit', (code, signal) => {
        if (child === started && !stopping) options.log(`The server exited (${signal ?? `code ${code}`}); it starts again when a file changes.`);
        resolve();
      });
    });
  };
  const stop = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGTERM');
    const killer = setTimeout(() => running.kill('SIGKILL'), options.stopTimeoutMs ?? 5000);
    await exited;
    clearTimeout(killer);
  };

  let restarts = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = (files: string[]) => {
    restarts = restarts.then(async () => {
      if (stopping) return;
      options.log(`${files.map((file) => relative(options.dirs[0]!, file).split(sep).join('/')).join(', ')} changed: restarting the server…`);
      stopping = true;
      await stop();
      stopping = false;
      run();
    });
  };
  let pending: string[] = [];
  const watchers: FSWatcher[] = options.dirs.map((dir) =>
    watch(dir, { recursive: true }, (_event, name) => {
      if (!name) return;
      const file = join(dir, name.toString());
      if (isIgnored(file)) return;
      const now = digest(file);
      if (now === hashes.get(file)) return;
      if (now === undefined) hashes.delete(file);
      else hashes.set(file, now);
      if (!pending.includes(file)) pending.push(file);
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = pending;
        pending = [];
        changed(files);
      }, options.debounceMs ?? 200);
    }),
  );

  run();
  await untilStopped(options.signal);
  for (const watcher of watchers) watcher.close();
  clearTimeout(timer);
  await restarts;
  stopping = true;
  await stop();
}
