/**
 * The load run's child processes: each started through `sh` (to raise its file-descriptor
 * limit, which Node cannot do itself) and `taskset` when the machine has it, in its own process
 * group, killed as a group when the runner exits for any reason.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Child {
  process: ChildProcess;
  /** Sends `{ type, ...payload }` and resolves with the child's next message of that type. */
  request<T>(type: string, payload?: Record<string, unknown>): Promise<T>;
  /** The child's next message of `type`. */
  next<T>(type: string): Promise<T>;
}

const children = new Set<ChildProcess>();
const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** `taskset -c <cpus>` when available (cores are pinned), else nothing. */
export function pinning(cpus: string | undefined): string {
  return cpus !== undefined && HAS_TASKSET ? `taskset -c ${cpus} ` : '';
}

export function hasTaskset(): boolean {
  return HAS_TASKSET;
}

/**
 * Starts `script` (a file next to this one's build) with `args` on `cpus` with as many file
 * descriptors as the hard limit allows; resolves once it sends `{ type: 'ready' }`.
 */
export async function startProcess(script: string, args: string[], options: { cpus?: string; execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Child & { ready: Record<string, unknown> }> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const node = [process.execPath, ...(options.execArgv ?? []), path].map((word) => `'${word}'`).join(' ');
  // The hard limit may be `unlimited`, which `ulimit -n` refuses: then ask for 65536; run either way.
  const line = `ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null; exec ${pinning(options.cpus)}${node} "$@"`;
  const child = spawn('sh', ['-c', line, 'sh', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true, env: { ...process.env, ...options.env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string; message?: string }) => {
        if (message.type !== type && message.type !== 'error') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (message.type === 'error') reject(new Error(`${script}: ${message.message}`));
        else resolve(message as T);
      };
      const onExit = (code: number | null) => reject(new Error(`${script} exited with ${code} while the runner waited for '${type}'`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = await next<Record<string, unknown>>('ready');
  return {
    process: child,
    ready,
    next,
    request: (type, payload = {}) => {
      const answer = next<never>(type);
      child.send({ type, ...payload });
      return answer;
    },
  };
}

/** Kills every child's process group (a child's own children included); safe to call twice. */
export function killAll(): void {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  children.clear();
}

/** Kills the children whatever ends the runner, and bounds the whole run to `seconds`. */
export function guard(seconds: number): void {
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  setTimeout(() => {
    console.error(`load run: watchdog — still running after ${seconds} s; killing every child process.`);
    killAll();
    process.exit(1);
  }, seconds * 1000).unref();
}
