import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isStrataError } from '@strata/model';
import { loadApp, type StrataApp } from './app.js';
import { CliError } from './errors.js';
import { COMMANDS, type Command, type CommandContext } from './internal/commands.js';
import { commandHelp, generalHelp, GLOBAL_OPTIONS } from './internal/help.js';
import type { InputStream, OutputStream } from './internal/prompt.js';
import { loadSettings, type Settings } from './settings.js';

/** Where `main` reads and writes; every field defaults to the process's own. */
export interface CliIO {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Read by `createsuperuser` when it asks (only when `isTTY`). */
  stdin: InputStream | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Stops `start` and `dev` (besides SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;

interface CommandLine {
  name: string | undefined;
  command: Command | undefined;
  values: Record<string, string | boolean | undefined>;
}

/**
 * Runs the `strata` command line and returns the exit code: 0 on success, 1 on a failure,
 * 2 on a usage error. A failure prints one line, `error <CODE>: <what to do>`, on stderr;
 * the stack only with `--verbose`. Never calls `process.exit`.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 * // in a test: await main(['check', '--deploy'], { env, cwd, stdout, stderr })
 */
export async function main(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const streams: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: 'stdin' in io ? io.stdin : process.stdin,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    ...(io.signal ? { signal: io.signal } : {}),
  };
  let verbose = argv.includes('--verbose');
  try {
    const line = parseCommandLine(argv);
    verbose = line.values.verbose === true;
    if (line.values.help === true || line.name === 'help') {
      streams.stdout.write(line.command ? commandHelp(line.command) : generalHelp());
      return 0;
    }
    if (!line.command) throw new CliError('STRATA_CLI_USAGE', 'No command given; run strata --help to list the commands.');
    await line.command.run(commandContext(line, streams));
    return 0;
  } catch (error) {
    return report(error, streams.stderr, verbose);
  }
}

/** Finds the command (the first positional, or the one after `help`), then parses its options strictly. */
function parseCommandLine(argv: readonly string[]): CommandLine {
  const everyOption: Options = Object.assign({}, GLOBAL_OPTIONS, ...Object.values(COMMANDS).map((command) => command.options));
  const loose = parseArgs({ args: [...argv], options: toParseArgs(everyOption), strict: false, allowPositionals: true });
  const positionals = loose.positionals[0] === 'help' ? loose.positionals.slice(1) : loose.positionals;
  const name = positionals[0];
  const command = name === undefined ? undefined : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (name !== undefined && !command) throw new CliError('STRATA_CLI_USAGE', `Unknown command "${name}"; run strata --help to list the commands.`);
  const strict = (() => {
    try {
      return parseArgs({ args: [...argv], options: toParseArgs({ ...GLOBAL_OPTIONS, ...command?.options }), strict: true, allowPositionals: true });
    } catch (error) {
      throw usageError(error, name);
    }
  })();
  if (positionals.length > 1) throw new CliError('STRATA_CLI_USAGE', `strata ${name} takes no arguments, got "${positionals[1]}"; run strata ${name} --help.`);
  // No option is `multiple`, so every value is a string or a boolean.
  return { name: loose.positionals[0] === 'help' ? 'help' : name, command, values: strict.values as CommandLine['values'] };
}

function toParseArgs(options: Options): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(Object.entries(options).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]));
}

/** node:util's parse errors, as one sentence that says where to look. */
function usageError(error: unknown, name: string | undefined): CliError {
  const help = `run strata${name ? ` ${name}` : ''} --help`;
  const message = (error as Error)?.message ?? String(error);
  if ((error as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message;
    return new CliError('STRATA_CLI_USAGE', `Unknown option ${option}${name ? ` for strata ${name}` : ''}; ${help}.`, { cause: error });
  }
  return new CliError('STRATA_CLI_USAGE', `${message.replace(/\.$/, '')}; ${help}.`, { cause: error });
}

function commandContext(line: CommandLine, io: CliIO): CommandContext {
  let settings: Settings | undefined;
  let app: Promise<StrataApp> | undefined;
  return {
    values: line.values,
    stdout: io.stdout,
    stdin: io.stdin,
    env: io.env,
    cwd: io.cwd,
    signal: io.signal,
    settings: () => (settings ??= loadSettings(io.env)),
    app: () => (app ??= loadApp(appPath(line.values.app, io.cwd))),
    appPath: () => appPath(line.values.app, io.cwd),
  };
}

/** `--app`, else `"strata": { "app": … }` of ./package.json, else `dist/app.js`; relative to `cwd`. */
function appPath(option: string | boolean | undefined, cwd: string): string {
  if (typeof option === 'string') return resolve(cwd, option);
  const manifest = join(cwd, 'package.json');
  if (existsSync(manifest)) {
    let field: unknown;
    try {
      field = (JSON.parse(readFileSync(manifest, 'utf8')) as { strata?: { app?: unknown } } | null)?.strata?.app;
    } catch (error) {
      throw new CliError('STRATA_CLI_APP', `${manifest} is not valid JSON (${(error as Error).message}); fix it or pass --app <path>.`, { cause: error });
    }
    if (typeof field === 'string') return resolve(cwd, field);
  }
  return resolve(cwd, 'dist/app.js');
}

/** Prints one line for `error` (its stack and causes with `--verbose`) and returns the exit code. */
function report(error: unknown, stderr: OutputStream, verbose: boolean): number {
  const code = isStrataError(error) ? error.code : undefined;
  const text = describeError(error);
  stderr.write(code ? `error ${code}: ${text}\n` : `error: ${text}${verbose ? '' : ' (run with --verbose for the stack)'}\n`);
  if (verbose) {
    let depth = 0;
    for (let cause: unknown = error; cause !== undefined && depth < 5; cause = (cause as { cause?: unknown })?.cause, depth++) {
      stderr.write(`${depth ? 'caused by: ' : ''}${(cause as Error)?.stack ?? String(cause)}\n`);
    }
  }
  return code === 'STRATA_CLI_USAGE' ? 2 : 1;
}

/** The message on one line, with per-field messages (e.g. of `STRATA_AUTH_INVALID`) appended. */
function describeError(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ').trim();
  const fields = (error as { fields?: Record<string, string[]> } | null)?.fields;
  if (!fields || typeof fields !== 'object' || Object.keys(fields).length === 0) return message;
  const details = Object.entries(fields).map(([field, messages]) => `${field}: ${messages.join(' ')}`);
  return `${message.replace(/\.$/, '')}: ${details.join('; ')}`;
}
