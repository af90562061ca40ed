/** A benchmark server in its own process (so its CPU and memory are its own), driven over IPC. */
import { fork, type ChildProcess } from 'node:child_process';

export interface ChildServer {
  child: ChildProcess;
  address: string;
  /** Sends `{ type, ...payload }` and resolves with the child's next message. */
  request<T>(type: string, payload?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Forks `script` (a path next to this file's build) with `args`; it answers `{ address }` once
 * listening. With STRATA_BENCH_PROF=dir, each child writes a CPU profile there.
 */
export async function startChild(script: string, args: string[], execArgv: string[] = []): Promise<ChildServer> {
  const profile = process.env.STRATA_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STRATA_BENCH_PROF}`] : [];
  const child = fork(new URL(script, import.meta.url), args, { execArgv: [...execArgv, ...profile] });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { address: string }) => resolve(m.address));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it listened`)));
  });
  return {
    child,
    address,
    request: (type, payload = {}) =>
      new Promise((resolve) => {
        child.once('message', resolve as never);
        child.send({ type, ...payload });
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}
