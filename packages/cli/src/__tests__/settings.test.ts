import { isStrataError } from '@strata/model';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CliError, DEV_SECRET_KEY, describeSettings, loadSettings, type Settings } from '..';
import { STRONG_KEY } from './fixtures.js';

function settingsError(env: Record<string, string>): CliError {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('loadSettings accepted the environment');
}

describe('loadSettings', () => {
  it('gives working development settings with no environment at all', () => {
    const settings = loadSettings({});
    expect(settings).toEqual({
      env: 'development',
      secretKey: DEV_SECRET_KEY,
      databaseUrl: 'sqlite:./data/app.sqlite',
      redisUrl: undefined,
      allowedHosts: ['localhost', '127.0.0.1'],
      allowedOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
      debug: true,
      siteOrigin: 'http://localhost:3000',
      port: 3000,
      host: '127.0.0.1',
      workers: 1,
      secureCookies: false,
      metricsToken: undefined,
      metricsPort: undefined,
      heapGrowthPercent: 0,
    });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.allowedHosts)).toBe(true);
    expectTypeOf(settings).toEqualTypeOf<Settings>();
    expectTypeOf<Settings['env']>().toEqualTypeOf<'development' | 'production' | 'test'>();
    expectTypeOf<Settings['redisUrl']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Settings['allowedHosts']>().toEqualTypeOf<readonly string[]>();
  });

  it('reads every variable, trimming lists and ignoring blank values', () => {
    const settings = loadSettings({
      STRATA_ENV: 'production',
      STRATA_SECRET_KEY: STRONG_KEY,
      DATABASE_URL: 'postgres://shop:pw@db.internal/shop',
      REDIS_URL: 'redis://cache.internal:6379',
      STRATA_ALLOWED_HOSTS: ' shop.example , www.shop.example ,',
      STRATA_ALLOWED_ORIGINS: 'https://shop.example, https://www.shop.example',
      STRATA_DEBUG: 'TRUE',
      STRATA_SITE_ORIGIN: 'https://shop.example',
      PORT: '8080',
      HOST: '10.0.0.5',
      STRATA_WORKERS: '4',
      STRATA_SECURE_COOKIES: '0',
      STRATA_METRICS_TOKEN: 'a-metrics-token-of-32-characters-or-more',
      STRATA_METRICS_PORT: '9464',
      STRATA_HEAP_GROWTH: '100',
      UNRELATED: 'ignored',
    });
    expect(settings).toEqual({
      env: 'production',
      secretKey: STRONG_KEY,
      databaseUrl: 'postgres://shop:pw@db.internal/shop',
      redisUrl: 'redis://cache.internal:6379',
      allowedHosts: ['shop.example', 'www.shop.example'],
      allowedOrigins: ['https://shop.example', 'https://www.shop.example'],
      debug: true,
      siteOrigin: 'https://shop.example',
      port: 8080,
      host: '10.0.0.5',
      workers: 4,
      secureCookies: false,
      metricsToken: 'a-metrics-token-of-32-characters-or-more',
      metricsPort: 9464,
      heapGrowthPercent: 100,
    });
    expect(loadSettings({ REDIS_URL: '  ', PORT: '' }).redisUrl).toBeUndefined();
  });

  it('defaults by environment: production is safe by default, test runs without debug', () => {
    const production = loadSettings({
      STRATA_ENV: 'production',
      STRATA_SECRET_KEY: STRONG_KEY,
      STRATA_ALLOWED_HOSTS: 'shop.example',
      STRATA_ALLOWED_ORIGINS: 'https://shop.example',
      STRATA_SITE_ORIGIN: 'https://shop.example',
    });
    expect(production).toMatchObject({ debug: false, secureCookies: true, host: '0.0.0.0', port: 3000, workers: 1 });
    expect(loadSettings({ STRATA_ENV: 'test' })).toMatchObject({ env: 'test', debug: false, secretKey: DEV_SECRET_KEY, host: '127.0.0.1', secureCookies: false });
  });

  it('names every bad variable in one STRATA_CLI_SETTINGS error, with what it expects', () => {
    const error = settingsError({
      STRATA_ENV: 'staging',
      DATABASE_URL: 'mysql://db/shop',
      REDIS_URL: 'localhost:6379',
      STRATA_ALLOWED_HOSTS: 'shop example',
      STRATA_ALLOWED_ORIGINS: 'https://shop.example/path',
      STRATA_DEBUG: 'yes',
      STRATA_SITE_ORIGIN: 'shop.example',
      PORT: '70000',
      HOST: 'two words',
      STRATA_WORKERS: '0',
      STRATA_SECURE_COOKIES: 'sometimes',
    });
    expect(isStrataError(error, 'STRATA_CLI_SETTINGS')).toBe(true);
    const named = error.problems.map((problem) => problem.split(' ')[0]);
    expect(named).toEqual([
      'STRATA_ENV',
      'DATABASE_URL',
      'REDIS_URL',
      'STRATA_ALLOWED_HOSTS',
      'STRATA_ALLOWED_ORIGINS',
      'STRATA_DEBUG',
      'STRATA_SITE_ORIGIN',
      'PORT',
      'HOST',
      'STRATA_WORKERS',
      'STRATA_SECURE_COOKIES',
    ]);
    for (const problem of error.problems) expect(error.message).toContain(problem);
    expect(error.message).toContain('STRATA_DEBUG must be 1, 0, true or false (got "yes")');
    expect(error.message).toContain('PORT must be an integer from 1 to 65535 (got "70000")');
    // URLs may hold passwords: named, never quoted.
    expect(error.message).not.toContain('mysql://db/shop');
  });

  it('never echoes the secret key, and requires the production secrets and origins', () => {
    const secret = 'too-short-but-secret-XYZ';
    const error = settingsError({ STRATA_ENV: 'production', STRATA_SECRET_KEY: secret });
    expect(error.message).not.toContain(secret);
    expect(error.problems).toEqual([
      expect.stringMatching(/^STRATA_SECRET_KEY must be a random string of at least 32 characters/),
      expect.stringMatching(/^STRATA_ALLOWED_HOSTS is required when STRATA_ENV=production/),
      expect.stringMatching(/^STRATA_ALLOWED_ORIGINS is required when STRATA_ENV=production/),
      expect.stringMatching(/^STRATA_SITE_ORIGIN is required when STRATA_ENV=production/),
    ]);
    expect(settingsError({ STRATA_ENV: 'production' }).problems[0]).toMatch(/^STRATA_SECRET_KEY is required when STRATA_ENV=production/);
  });

  it('validates the metrics token and port, never quoting the token', () => {
    const token = 'short-metrics-token-QRS';
    const error = settingsError({ STRATA_METRICS_TOKEN: token, STRATA_METRICS_PORT: '0' });
    expect(error.problems).toEqual([
      'STRATA_METRICS_TOKEN must be a random string of at least 32 characters',
      'STRATA_METRICS_PORT must be an integer from 1 to 65535 (got "0")',
    ]);
    expect(error.message).not.toContain(token);
    expect(settingsError({ STRATA_HEAP_GROWTH: '401' }).problems).toEqual(['STRATA_HEAP_GROWTH must be an integer from 0 to 400 (got "401")']);
    expect(settingsError({ STRATA_METRICS_PORT: '9464x' }).problems).toEqual(['STRATA_METRICS_PORT must be an integer from 1 to 65535 (got "9464x")']);
    expect(loadSettings({ STRATA_METRICS_TOKEN: 'x'.repeat(32) })).toMatchObject({ metricsToken: 'x'.repeat(32), metricsPort: undefined });
    expectTypeOf<Settings['metricsPort']>().toEqualTypeOf<number | undefined>();
  });
});

describe('describeSettings', () => {
  it('documents one variable per settings field, with its meaning and default', () => {
    const described = describeSettings();
    const fields = described.map((setting) => setting.field).sort();
    const settingsKeys = Object.keys(loadSettings({})).sort();
    expect(fields).toEqual(settingsKeys);
    expect(described.map((setting) => setting.name)).toEqual([
      'STRATA_ENV',
      'STRATA_SECRET_KEY',
      'DATABASE_URL',
      'REDIS_URL',
      'STRATA_ALLOWED_HOSTS',
      'STRATA_ALLOWED_ORIGINS',
      'STRATA_DEBUG',
      'STRATA_SITE_ORIGIN',
      'PORT',
      'HOST',
      'STRATA_WORKERS',
      'STRATA_SECURE_COOKIES',
      'STRATA_METRICS_TOKEN',
      'STRATA_METRICS_PORT',
      'STRATA_HEAP_GROWTH',
    ]);
    const byName = Object.fromEntries(described.map((setting) => [setting.name, setting]));
    expect(byName.STRATA_DEBUG?.default).toBe('development: true; production, test: false');
    expect(byName.HOST?.default).toBe('development, test: 127.0.0.1; production: 0.0.0.0');
    expect(byName.STRATA_SECRET_KEY?.default).toBe('development, test: DEV_SECRET_KEY (insecure, public); production: required');
    expect(byName.STRATA_SECRET_KEY?.default).not.toContain(DEV_SECRET_KEY);
    expect(byName.STRATA_METRICS_TOKEN?.default).toBe('unset');
    expect(byName.STRATA_METRICS_PORT?.default).toBe('unset');
    expect(byName.STRATA_HEAP_GROWTH?.default).toBe('0');
    for (const setting of described) expect(setting.meaning.length).toBeGreaterThan(10);
  });
});
