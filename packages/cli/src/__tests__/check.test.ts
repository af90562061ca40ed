import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isStrataError } from '@strata/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertSafeToStart, type CheckResult, defineApp, DEV_SECRET_KEY, loadSettings, runChecks } from '..';
import { applyMigrations, builtClient, type FixtureOptions, fixtureApp, Note, productionEnv, STRONG_KEY, tempDir, migrationsFor } from './fixtures.js';

const DEPLOY_IDS = ['settings', 'database', 'production', 'debug', 'secret-key', 'allowed-hosts', 'allowed-origins', 'secure-cookies', 'site-origin', 'client-assets', 'migrations', 'handlers', 'workers'];

let migrations: string;
let migratedUrl: string;
let clientDir: string;

beforeAll(async () => {
  migrations = await migrationsFor([Note]);
  migratedUrl = `sqlite:${join(tempDir(), 'app.sqlite')}`;
  await applyMigrations(migratedUrl, [Note], migrations);
  clientDir = builtClient();
});

const appWith = (options: Partial<FixtureOptions> = {}) => defineApp(fixtureApp({ migrations, clientDir, ...options }));
const freshUrl = () => `sqlite:${join(tempDir(), 'fresh.sqlite')}`;

async function deployChecks(env: Record<string, string> = {}, app: Partial<FixtureOptions> = {}): Promise<CheckResult[]> {
  return runChecks(loadSettings({ ...productionEnv(migratedUrl), ...env }), appWith(app), { deploy: true });
}

const failures = (results: CheckResult[]) => results.filter((result) => !result.ok);

describe('runChecks', () => {
  it('runs the settings and database checks without --deploy', async () => {
    const results = await runChecks(loadSettings({ DATABASE_URL: migratedUrl }), appWith());
    expect(results).toEqual([
      { id: 'settings', ok: true, message: 'valid (STRATA_ENV=development)' },
      { id: 'database', ok: true, message: `reachable at ${migratedUrl}` },
    ]);
  });

  it('fails the database check when the database is unreachable, without quoting its password', async () => {
    const results = await runChecks(loadSettings({ DATABASE_URL: 'postgres://shop:hunter2@127.0.0.1:1/shop' }), appWith(), { deploy: true });
    expect(results.find((result) => result.id === 'database')).toMatchObject({ ok: false, message: expect.stringMatching(/^cannot use postgres:\/\/shop:\*\*\*@127\.0\.0\.1:1\/shop: /) });
    expect(results.find((result) => result.id === 'migrations')).toEqual({ id: 'migrations', ok: false, message: 'not checked: the database is unreachable' });
    expect(JSON.stringify(results)).not.toContain('hunter2');
  });

  it('passes every deploy check on the complete production configuration', async () => {
    const results = await deployChecks();
    expect(results.map((result) => result.id)).toEqual(DEPLOY_IDS);
    expect(failures(results)).toEqual([]);
    expect(results.find((result) => result.id === 'migrations')?.message).toBe('1 migration applied, none pending');
    expect(JSON.stringify(results)).not.toContain(STRONG_KEY);
  });

  const cases: { check: string; why: string; env?: Record<string, string>; app?: Partial<FixtureOptions>; message: RegExp }[] = [
    { check: 'production', why: 'STRATA_ENV is not production', env: { STRATA_ENV: 'test', STRATA_SECURE_COOKIES: '1' }, message: /^STRATA_ENV is test; set STRATA_ENV=production$/ },
    { check: 'debug', why: 'debug is on', env: { STRATA_DEBUG: '1' }, message: /^STRATA_DEBUG is on/ },
    { check: 'secret-key', why: 'the key is the development key', env: { STRATA_SECRET_KEY: DEV_SECRET_KEY }, message: /public development key/ },
    { check: 'secret-key', why: 'the key is short', env: { STRATA_SECRET_KEY: STRONG_KEY.slice(0, 40) }, message: /^STRATA_SECRET_KEY has 40 characters; use a random key of at least 50$/ },
    { check: 'secret-key', why: 'the key repeats one character', env: { STRATA_SECRET_KEY: 'a'.repeat(60) }, message: /^STRATA_SECRET_KEY has only 1 distinct characters/ },
    { check: 'allowed-hosts', why: 'any host is allowed', env: { STRATA_ALLOWED_HOSTS: 'shop.example,*' }, message: /allows any host/ },
    { check: 'allowed-hosts', why: 'only local hosts are listed', env: { STRATA_ALLOWED_HOSTS: 'localhost,127.0.0.1:3000' }, message: /lists only local hosts/ },
    { check: 'allowed-origins', why: 'any origin is allowed', env: { STRATA_ALLOWED_ORIGINS: 'https://shop.example,*' }, message: /allows any origin/ },
    { check: 'allowed-origins', why: 'an origin is http', env: { STRATA_ALLOWED_ORIGINS: 'https://shop.example,http://shop.example' }, message: /must be https origins, not http:\/\/shop\.example$/ },
    { check: 'secure-cookies', why: 'cookies are not Secure', env: { STRATA_SECURE_COOKIES: 'false' }, message: /STRATA_SECURE_COOKIES is off/ },
    { check: 'site-origin', why: 'the site origin is http', env: { STRATA_SITE_ORIGIN: 'http://shop.example' }, message: /must be https, not http:\/\/shop\.example$/ },
    { check: 'site-origin', why: 'the site origin is not an allowed origin', env: { STRATA_SITE_ORIGIN: 'https://other.example' }, message: /is not in STRATA_ALLOWED_ORIGINS/ },
    { check: 'client-assets', why: 'the client is not built', app: { clientDir: join('/nonexistent', 'client') }, message: /\.vite\/manifest\.json is missing/ },
    { check: 'migrations', why: 'migrations are pending', env: { DATABASE_URL: 'FRESH' }, message: /^1 migration not applied \(0001_initial\.sql\); run strata migrate$/ },
    { check: 'handlers', why: 'a state has unguarded handlers', app: { open: true }, message: /^2 handlers anyone may call: openNotes\.add, openNotes\.clear; add a guard/ },
    { check: 'workers', why: 'several workers have no Redis', env: { STRATA_WORKERS: '4' }, message: /^STRATA_WORKERS=4 needs REDIS_URL/ },
  ];

  it.each(cases)('fails only $check when $why', async ({ check, env = {}, app = {}, message }) => {
    const resolved = env.DATABASE_URL === 'FRESH' ? { ...env, DATABASE_URL: freshUrl() } : env;
    const failed = failures(await deployChecks(resolved, app));
    expect(failed.map((result) => result.id)).toEqual([check]);
    expect(failed[0]?.message).toMatch(message);
    expect(failed[0]?.message).not.toContain(STRONG_KEY.slice(0, 40));
  });

  it('passes the workers check with several workers when REDIS_URL is set', async () => {
    const results = await deployChecks({ STRATA_WORKERS: '4', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(results.find((result) => result.id === 'workers')).toEqual({ id: 'workers', ok: true, message: '4 workers sharing Redis' });
  });

  it('fails every settings item of the checklist on development settings', async () => {
    const results = await runChecks(loadSettings({ DATABASE_URL: migratedUrl }), appWith(), { deploy: true });
    expect(failures(results).map((result) => result.id)).toEqual(['production', 'debug', 'secret-key', 'allowed-hosts', 'allowed-origins', 'secure-cookies', 'site-origin']);
    expect(JSON.stringify(results)).not.toContain(DEV_SECRET_KEY);
  });
});

describe('the migrations check', () => {
  it('tells pending from applied migrations on a SQLite file', async () => {
    const url = freshUrl();
    const migrationsOf = async () => (await deployChecks({ DATABASE_URL: url })).find((result) => result.id === 'migrations');
    expect(await migrationsOf()).toMatchObject({ ok: false, message: expect.stringContaining('0001_initial.sql') });
    await applyMigrations(url, [Note], migrations);
    expect(await migrationsOf()).toEqual({ id: 'migrations', ok: true, message: '1 migration applied, none pending' });
  });

  it('fails when an app with models has no migrations at all', async () => {
    const empty = join(tempDir(), 'migrations');
    mkdirSync(empty);
    const results = await runChecks(loadSettings({ ...productionEnv(freshUrl()) }), appWith({ migrations: empty }), { deploy: true });
    expect(results.find((result) => result.id === 'migrations')).toEqual({ id: 'migrations', ok: false, message: `${join(empty, 'sqlite')} holds no migrations; run strata makemigrations and commit them` });
  });
});

describe('assertSafeToStart', () => {
  it('lets development and test start whatever the checklist says', async () => {
    await expect(assertSafeToStart(loadSettings({ DATABASE_URL: freshUrl() }), appWith({ open: true }))).resolves.toBeUndefined();
    await expect(assertSafeToStart(loadSettings({ STRATA_ENV: 'test', DATABASE_URL: freshUrl() }), appWith({ open: true }))).resolves.toBeUndefined();
  });

  it('lets a complete production configuration start', async () => {
    await expect(assertSafeToStart(loadSettings(productionEnv(migratedUrl)), appWith())).resolves.toBeUndefined();
  });

  it('refuses production with pending migrations and every other failure, with STRATA_CLI_UNSAFE', async () => {
    const settings = loadSettings({ ...productionEnv(freshUrl()), STRATA_SECRET_KEY: 'a'.repeat(60) });
    const error = await assertSafeToStart(settings, appWith({ open: true })).then(() => undefined, (caught: unknown) => caught);
    expect(isStrataError(error, 'STRATA_CLI_UNSAFE')).toBe(true);
    const { message, problems } = error as { message: string; problems: string[] };
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['secret-key', 'migrations', 'handlers']);
    expect(message).toMatch(/^Refusing to start in production, 3 checks failed: secret-key: .*; migrations: 1 migration not applied \(0001_initial\.sql\); run strata migrate; handlers: /);
    expect(message).not.toContain('a'.repeat(60));
  });
});
