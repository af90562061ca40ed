import { StrataError } from '@strata/model';

/** Every CLI error code, with the sentence docs/errors.md expands on. */
export const cliErrorCodes = {
  STRATA_CLI_SETTINGS: 'One or more settings read from the environment are missing or invalid; the message names each variable.',
  STRATA_CLI_UNSAFE: 'STRATA_ENV=production and the configuration fails the deploy checklist, so the app refuses to start.',
  STRATA_CLI_USAGE: 'The command line is wrong: an unknown command or option, a missing value, or a command that is not available.',
  STRATA_CLI_APP: 'The app module cannot be found or loaded, or its default export is not a valid defineApp() result.',
  STRATA_CLI_CHECK: '`strata check` found failing checks; each is printed with what to change.',
  STRATA_CLI_MIGRATIONS_PENDING: 'The database lacks migrations the app ships; the command needs them applied first.',
} as const;

/** A code of {@link cliErrorCodes}. */
export type CliErrorCode = keyof typeof cliErrorCodes;

/**
 * An error of the `strata` command. `problems` holds one line per failed item (a bad
 * variable, a failed check) when the message summarises several.
 */
export class CliError extends StrataError<CliErrorCode> {
  readonly problems: readonly string[];
  constructor(code: CliErrorCode, message: string, options: { problems?: readonly string[]; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.problems = Object.freeze([...(options.problems ?? [])]);
  }
}
