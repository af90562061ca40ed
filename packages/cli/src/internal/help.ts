import { describeSettings } from '../settings.js';
import { COMMANDS, type Command } from './commands.js';

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  app: { type: 'string', value: 'path', description: 'The built app module (default: "strata": { "app" } of ./package.json, else dist/app.js)' },
  verbose: { type: 'boolean', description: 'Print the stack of an error' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
} as const;

const EXIT_CODES = 'Exit codes: 0 success, 1 a failure (the error names its code), 2 a usage error.';

/** The text of `strata --help`: commands, global options, settings, exit codes. */
export function generalHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((name) => name.length)) + 2;
  const settings = describeSettings()
    .map((s) => `  ${s.name.padEnd(24)}${s.meaning}\n  ${''.padEnd(24)}default: ${s.default}`)
    .join('\n');
  return [
    'Usage: strata <command> [options]',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}${COMMANDS[name]!.summary}`),
    '',
    'Options:',
    optionLines(GLOBAL_OPTIONS),
    '',
    'Settings (environment variables):',
    settings,
    '',
    EXIT_CODES,
    'Run strata <command> --help for the options of a command.',
    '',
  ].join('\n');
}

/** The text of `strata <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    `Usage: ${command.usage} [--app <path>] [--verbose]`,
    '',
    `${command.summary}.`,
    ...(command.details ? ['', command.details] : []),
    '',
    'Options:',
    optionLines({ ...command.options, ...GLOBAL_OPTIONS }),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function optionLines(options: Record<string, { type: 'string' | 'boolean'; description: string; short?: string; value?: string }>): string {
  const flags = Object.entries(options).map(([name, option]) => {
    const value = option.type === 'string' ? ` <${option.value ?? name}>` : '';
    return [`${option.short ? `-${option.short}, ` : ''}--${name}${value}`, option.description] as const;
  });
  const width = Math.max(...flags.map(([flag]) => flag.length)) + 2;
  return flags.map(([flag, description]) => `  ${flag.padEnd(width)}${description}`).join('\n');
}
