import { createInterface } from 'node:readline';
import { CliError } from '../errors.js';

/** A terminal-like input: `process.stdin`, or a stream standing in for it in tests. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

/** Somewhere to write text: `process.stdout`, or a collector in tests. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Asks a question and reads one line, echoed as typed (the terminal edits the line). */
export function ask(question: string, input: InputStream, output: OutputStream): Promise<string> {
  output.write(question);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input, terminal: false });
    let answered = false;
    lines.once('line', (line) => {
      answered = true;
      lines.close();
      resolve(line.trim());
    });
    lines.once('close', () => {
      if (!answered) reject(cancelled());
    });
  });
}

/**
 * Asks for a secret: the terminal is put in raw mode so nothing typed is echoed. Backspace
 * erases; Ctrl-C or Ctrl-D on an empty answer cancels.
 */
export function askHidden(question: string, input: InputStream, output: OutputStream): Promise<string> {
  if (typeof input.setRawMode !== 'function') return ask(question, input, output);
  output.write(question);
  const setRawMode = input.setRawMode.bind(input);
  setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = (error?: CliError) => {
      input.removeListener('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: string | Buffer) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || (char === '\u0004' && answer === '')) return finish(cancelled());
        if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
        else if (char >= ' ') answer += char;
      }
    };
    input.on('data', onData);
  });
}

function cancelled(): CliError {
  return new CliError('STRATA_CLI_USAGE', 'Cancelled: no answer was given.');
}
