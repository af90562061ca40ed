/**
 * @strata/cli — the `strata` command and what it builds on: the settings read from the
 * environment, the app convention (`defineApp`), and the checks `check --deploy` runs.
 */
export { defineApp, isStrataApp, loadApp } from './app.js';
export type { AppDefinition, StrataApp } from './app.js';
export { assertSafeToStart, runChecks, SECRET_KEY_MIN_DISTINCT, SECRET_KEY_MIN_LENGTH } from './check.js';
export type { CheckOptions, CheckResult } from './check.js';
export { main } from './cli.js';
export type { CliIO } from './cli.js';
export { CliError, cliErrorCodes } from './errors.js';
export type { CliErrorCode } from './errors.js';
export type { InputStream, OutputStream } from './internal/prompt.js';
export { DEV_SECRET_KEY, describeSettings, loadSettings } from './settings.js';
export type { SettingDescription, Settings, StrataEnv } from './settings.js';
