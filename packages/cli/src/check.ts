import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getRegistry } from '@strata/model';
import { pendingMigrations } from '@strata/model/migrations';
import { auditHandlers } from '@strata/state/server';
import type { StrataApp } from './app.js';
import { CliError } from './errors.js';
import { countOf, redactUrl, withDatabase } from './internal/database.js';
import { DEV_SECRET_KEY, type Settings } from './settings.js';

/** The outcome of one check: a stable `id`, and a message saying what was found or what to change. */
export interface CheckResult {
  id: string;
  ok: boolean;
  message: string;
}

/** Options of {@link runChecks}. */
export interface CheckOptions {
  /** Also run the production checklist (`strata check --deploy`). */
  deploy?: boolean;
}

/** The fewest characters `check --deploy` accepts in a production secret key. */
export const SECRET_KEY_MIN_LENGTH = 50;
/** The fewest distinct characters `check --deploy` accepts in a production secret key (`'a'.repeat(60)` fails). */
export const SECRET_KEY_MIN_DISTINCT = 20;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Runs the checks: always `settings` and `database` (connects and closes; call it before
 * `setup()`). With `deploy`, the production checklist too: `production`, `debug`,
 * `secret-key`, `allowed-hosts`, `allowed-origins`, `secure-cookies`, `site-origin`,
 * `client-assets`, `migrations`, `handlers`, `workers`. Never throws for a failed check.
 *
 * @example
 * const failed = (await runChecks(loadSettings(), app, { deploy: true })).filter((c) => !c.ok);
 */
export async function runChecks(settings: Settings, app: StrataApp, options: CheckOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [{ id: 'settings', ok: true, message: `valid (STRATA_ENV=${settings.env})` }];
  let migrations: CheckResult = { id: 'migrations', ok: false, message: 'not checked: the database is unreachable' };
  const where = redactUrl(settings.databaseUrl);
  try {
    await withDatabase(settings, app, async () => {
      if (options.deploy) migrations = await checkMigrations(app);
    });
    results.push({ id: 'database', ok: true, message: `reachable at ${where}` });
  } catch (error) {
    results.push({ id: 'database', ok: false, message: `cannot use ${where}: ${(error as Error)?.message ?? String(error)}` });
  }
  if (!options.deploy) return results;
  results.push(...settingsChecks(settings), checkClientAssets(app), migrations, checkHandlers(app), checkWorkers(settings));
  return results;
}

/**
 * Refuses to start an unsafe production process: when `STRATA_ENV=production`, runs the deploy
 * checklist (pending migrations included) and throws `STRATA_CLI_UNSAFE` listing every failure.
 * Does nothing in development and test. Call it before `setup()`.
 */
export async function assertSafeToStart(settings: Settings, app: StrataApp): Promise<void> {
  if (settings.env !== 'production') return;
  const failed = (await runChecks(settings, app, { deploy: true })).filter((result) => !result.ok);
  if (failed.length === 0) return;
  const problems = failed.map((result) => `${result.id}: ${result.message}`);
  throw new CliError('STRATA_CLI_UNSAFE', `Refusing to start in production, ${countOf(failed.length, 'check')} failed: ${problems.join('; ')}. Fix them (strata check --deploy lists them).`, { problems });
}

const pass = (id: string, message: string): CheckResult => ({ id, ok: true, message });
const fail = (id: string, message: string): CheckResult => ({ id, ok: false, message });

function settingsChecks(settings: Settings): CheckResult[] {
  return [
    settings.env === 'production' ? pass('production', 'STRATA_ENV=production') : fail('production', `STRATA_ENV is ${settings.env}; set STRATA_ENV=production`),
    settings.debug ? fail('debug', 'STRATA_DEBUG is on; set STRATA_DEBUG=0 (debug output leaks internals)') : pass('debug', 'STRATA_DEBUG is off'),
    checkSecretKey(settings.secretKey),
    checkAllowedHosts(settings.allowedHosts),
    checkAllowedOrigins(settings.allowedOrigins),
    settings.secureCookies ? pass('secure-cookies', 'cookies are Secure (HTTPS only)') : fail('secure-cookies', 'STRATA_SECURE_COOKIES is off; set STRATA_SECURE_COOKIES=1'),
    checkSiteOrigin(settings),
  ];
}

/** Never quotes the key. */
function checkSecretKey(key: string): CheckResult {
  if (key === DEV_SECRET_KEY) return fail('secret-key', 'STRATA_SECRET_KEY is the public development key; set a random key of 50+ characters from the environment');
  if (key.length < SECRET_KEY_MIN_LENGTH) return fail('secret-key', `STRATA_SECRET_KEY has ${key.length} characters; use a random key of at least ${SECRET_KEY_MIN_LENGTH}`);
  const distinct = new Set(key).size;
  if (distinct < SECRET_KEY_MIN_DISTINCT) return fail('secret-key', `STRATA_SECRET_KEY has only ${distinct} distinct characters; use a random key (at least ${SECRET_KEY_MIN_DISTINCT} distinct)`);
  return pass('secret-key', `STRATA_SECRET_KEY is set (${key.length} characters)`);
}

function checkAllowedHosts(hosts: readonly string[]): CheckResult {
  if (hosts.some((host) => host.includes('*'))) return fail('allowed-hosts', 'STRATA_ALLOWED_HOSTS allows any host ("*"); list the host names the site answers to');
  if (hosts.every((host) => LOOPBACK.has(host.replace(/:\d+$/, '')))) return fail('allowed-hosts', `STRATA_ALLOWED_HOSTS lists only local hosts (${hosts.join(', ')}); list the public host names`);
  return pass('allowed-hosts', hosts.join(', '));
}

function checkAllowedOrigins(origins: readonly string[]): CheckResult {
  if (origins.includes('*')) return fail('allowed-origins', 'STRATA_ALLOWED_ORIGINS allows any origin ("*"); list the https origins of the site');
  const insecure = origins.filter((origin) => !origin.startsWith('https://'));
  if (insecure.length) return fail('allowed-origins', `STRATA_ALLOWED_ORIGINS must be https origins, not ${insecure.join(', ')}`);
  return pass('allowed-origins', origins.join(', '));
}

function checkSiteOrigin(settings: Settings): CheckResult {
  if (!settings.siteOrigin.startsWith('https://')) return fail('site-origin', `STRATA_SITE_ORIGIN must be https, not ${settings.siteOrigin}`);
  if (!settings.allowedOrigins.includes(settings.siteOrigin)) return fail('site-origin', `STRATA_SITE_ORIGIN ${settings.siteOrigin} is not in STRATA_ALLOWED_ORIGINS; add it`);
  return pass('site-origin', settings.siteOrigin);
}

function checkClientAssets(app: StrataApp): CheckResult {
  if (app.clientDir === undefined) return pass('client-assets', 'the app serves no browser assets (no clientDir)');
  const manifest = join(app.clientDir, '.vite', 'manifest.json');
  if (!existsSync(manifest)) return fail('client-assets', `${manifest} is missing; build the client (strata build) before deploying`);
  return pass('client-assets', `built (${manifest})`);
}

/** Runs inside a connected database. */
async function checkMigrations(app: StrataApp): Promise<CheckResult> {
  const folder = join(app.migrations, getRegistry().dialect);
  const files = existsSync(folder) ? readdirSync(folder).filter((file) => file.endsWith('.sql')) : [];
  if (files.length === 0 && app.models.length > 0) return fail('migrations', `${folder} holds no migrations; run strata makemigrations and commit them`);
  const pending = await pendingMigrations({ dir: app.migrations });
  if (pending.length) return fail('migrations', `${countOf(pending.length, 'migration')} not applied (${pending.join(', ')}); run strata migrate`);
  return pass('migrations', files.length ? `${countOf(files.length, 'migration')} applied, none pending` : 'the app has no models and no migrations');
}

function checkHandlers(app: StrataApp): CheckResult {
  let open: { state: string; handler: string }[];
  try {
    open = auditHandlers(app.states);
  } catch (error) {
    return fail('handlers', `cannot audit the states: ${(error as Error)?.message ?? String(error)}`);
  }
  if (open.length === 0) return pass('handlers', `every handler of ${countOf(app.states.length, 'state')} is guarded or public`);
  const names = open.map(({ state, handler }) => `${state}.${handler}`);
  return fail('handlers', `${countOf(open.length, 'handler')} anyone may call: ${names.join(', ')}; add a guard, or public: true where that is intended`);
}

function checkWorkers(settings: Settings): CheckResult {
  if (settings.workers === 1) return pass('workers', '1 worker');
  if (!settings.redisUrl) return fail('workers', `STRATA_WORKERS=${settings.workers} needs REDIS_URL: workers share sessions, state and live updates through Redis`);
  return pass('workers', `${settings.workers} workers sharing Redis`);
}
