import type { OutputStream } from './prompt.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A progress line: animated on a terminal, a single line otherwise (logs, CI). */
export interface Spinner {
  succeed(message: string): void;
  fail(): void;
}

/** Starts a spinner showing `label` and the elapsed seconds. */
export function startSpinner(output: OutputStream, label: string): Spinner {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  if (!output.isTTY) {
    output.write(`${label}…\n`);
    return { succeed: (message) => void output.write(`✓ ${message} (${elapsed()})\n`), fail: () => undefined };
  }
  let frame = 0;
  const draw = () => output.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}… ${elapsed()}`);
  draw();
  const timer = setInterval(draw, 80);
  timer.unref();
  const stop = (line: string) => {
    clearInterval(timer);
    output.write(`\r\x1b[K${line}`);
  };
  return { succeed: (message) => stop(`✓ ${message} (${elapsed()})\n`), fail: () => stop(`✗ ${label} failed\n`) };
}
