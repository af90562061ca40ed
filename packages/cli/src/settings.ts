import * as v from 'valibot';
import { CliError } from './errors.js';

/** Which configuration the process runs with (`STRATA_ENV`). */
export type StrataEnv = 'development' | 'production' | 'test';

/**
 * The one settings object of a Strata process, read from the environment by
 * {@link loadSettings}. Frozen; lists are trimmed and never empty.
 */
export interface Settings {
  readonly env: StrataEnv;
  readonly secretKey: string;
  readonly databaseUrl: string;
  readonly redisUrl: string | undefined;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly debug: boolean;
  readonly siteOrigin: string;
  readonly port: number;
  readonly host: string;
  readonly workers: number;
  readonly secureCookies: boolean;
  /** Bearer token of the state runtime's `/strata/metrics` route; unset: no route on the app. */
  readonly metricsToken: string | undefined;
  /** Port of a separate metrics server on 127.0.0.1 (no auth); unset: none. */
  readonly metricsPort: number | undefined;
  /** How far `strata start` lets V8's old generation grow between full collections, in %; 0: V8's own choice. */
  readonly heapGrowthPercent: number;
}

/** One documented environment variable, for `strata --help` and the docs. */
export interface SettingDescription {
  /** The environment variable, e.g. `STRATA_SECRET_KEY`. */
  readonly name: string;
  /** The {@link Settings} field it fills. */
  readonly field: keyof Settings;
  readonly meaning: string;
  /** What a valid value looks like. */
  readonly expected: string;
  /** The default per environment, e.g. `development, test: true; production: false`. */
  readonly default: string;
}

/**
 * The secret key development and test use when `STRATA_SECRET_KEY` is unset. It is public
 * (it is in this source), so `strata check --deploy` fails on it and production never defaults to it.
 */
export const DEV_SECRET_KEY = 'strata-insecure-development-secret-key-do-not-use-in-production';

const ENVS = ['development', 'production', 'test'] as const;

const splitList = (value: string) => value.split(',').map((item) => item.trim()).filter(Boolean);
const toBoolean = v.pipe(v.string(), v.toLowerCase(), v.picklist(['1', '0', 'true', 'false']), v.transform((value) => value === '1' || value === 'true'));
const toInteger = (min: number, max: number) => v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number), v.minValue(min), v.maxValue(max));

function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
}

/** A host name, an IP address (IPv6 in brackets), a `.example.com` suffix, or `*` (which check --deploy refuses). */
const isHost = (value: string) => /^(\*|\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(value);

/** The environment as valibot reads it: every variable is a string; defaults are merged in before. */
const envSchema = v.object({
  STRATA_ENV: v.picklist(ENVS),
  STRATA_SECRET_KEY: v.pipe(v.string(), v.minLength(32)),
  DATABASE_URL: v.pipe(v.string(), v.regex(/^(sqlite:|file:|postgres(ql)?:\/\/)\S*$/)),
  REDIS_URL: v.optional(v.pipe(v.string(), v.regex(/^rediss?:\/\/\S+$/), v.check((value) => URL.canParse(value)))),
  STRATA_ALLOWED_HOSTS: v.pipe(v.string(), v.transform(splitList), v.minLength(1), v.check((hosts) => hosts.every(isHost))),
  STRATA_ALLOWED_ORIGINS: v.pipe(v.string(), v.transform(splitList), v.minLength(1), v.check((origins) => origins.every((o) => o === '*' || isOrigin(o)))),
  STRATA_DEBUG: toBoolean,
  STRATA_SITE_ORIGIN: v.pipe(v.string(), v.check(isOrigin)),
  PORT: toInteger(1, 65_535),
  HOST: v.pipe(v.string(), v.regex(/^[\w.:[\]-]+$/)),
  STRATA_WORKERS: toInteger(1, 256),
  STRATA_SECURE_COOKIES: toBoolean,
  STRATA_METRICS_TOKEN: v.optional(v.pipe(v.string(), v.minLength(32))),
  STRATA_METRICS_PORT: v.optional(toInteger(1, 65_535)),
  STRATA_HEAP_GROWTH: toInteger(0, 400),
});

type VariableName = keyof typeof envSchema.entries;

const DEV_DEFAULTS = {
  STRATA_SECRET_KEY: DEV_SECRET_KEY,
  DATABASE_URL: 'sqlite:./data/app.sqlite',
  STRATA_ALLOWED_HOSTS: 'localhost,127.0.0.1',
  STRATA_ALLOWED_ORIGINS: 'http://localhost:3000,http://127.0.0.1:3000',
  STRATA_DEBUG: 'true',
  STRATA_SITE_ORIGIN: 'http://localhost:3000',
  PORT: '3000',
  HOST: '127.0.0.1',
  STRATA_WORKERS: '1',
  STRATA_SECURE_COOKIES: 'false',
  STRATA_HEAP_GROWTH: '0',
} satisfies Partial<Record<VariableName, string>>;

/** Variables that may stay unset in every environment. */
const OPTIONAL = new Set<string>(['REDIS_URL', 'STRATA_METRICS_TOKEN', 'STRATA_METRICS_PORT']);

/** Defaults per environment; a variable missing here is required there (unless {@link OPTIONAL}). */
const DEFAULTS: Record<StrataEnv, Partial<Record<VariableName, string>>> = {
  development: DEV_DEFAULTS,
  test: { ...DEV_DEFAULTS, STRATA_DEBUG: 'false' },
  production: { DATABASE_URL: DEV_DEFAULTS.DATABASE_URL, STRATA_DEBUG: 'false', PORT: '3000', HOST: '0.0.0.0', STRATA_WORKERS: '1', STRATA_SECURE_COOKIES: 'true', STRATA_HEAP_GROWTH: '0' },
};

interface VariableDoc {
  field: keyof Settings;
  meaning: string;
  expected: string;
  /** Never quoted back in an error: the value is a secret or may hold a password. */
  secret?: true;
}

const VARIABLES: Record<VariableName, VariableDoc> = {
  STRATA_ENV: { field: 'env', meaning: 'Which configuration to run: defaults, and the checks `start` enforces.', expected: 'development, production or test' },
  STRATA_SECRET_KEY: { field: 'secretKey', meaning: 'Signs sessions, CSRF and join tokens, and reset links.', expected: 'a random string of at least 32 characters (50+ for production)', secret: true },
  DATABASE_URL: { field: 'databaseUrl', meaning: 'The database: SQLite (embedded) or PostgreSQL.', expected: 'sqlite:path/to/file.sqlite, sqlite::memory: or postgres://user:password@host/db', secret: true },
  REDIS_URL: { field: 'redisUrl', meaning: 'Redis for sessions, state and live updates shared by several workers.', expected: 'redis://host:6379 or rediss://…', secret: true },
  STRATA_ALLOWED_HOSTS: { field: 'allowedHosts', meaning: 'Host names the server answers to (the Host header).', expected: 'comma-separated host names, e.g. shop.example,www.shop.example' },
  STRATA_ALLOWED_ORIGINS: { field: 'allowedOrigins', meaning: 'Origins whose pages may open the state socket and post forms.', expected: 'comma-separated origins, scheme://host[:port] without a path, e.g. https://shop.example' },
  STRATA_DEBUG: { field: 'debug', meaning: 'Development aids: detailed errors, the N+1 query detector.', expected: '1, 0, true or false' },
  STRATA_SITE_ORIGIN: { field: 'siteOrigin', meaning: 'The public origin links are built from (e.g. password-reset e-mails).', expected: 'an origin such as https://shop.example' },
  PORT: { field: 'port', meaning: 'The port the server listens on.', expected: 'an integer from 1 to 65535' },
  HOST: { field: 'host', meaning: 'The address the server binds.', expected: 'an address or host name, e.g. 127.0.0.1 or 0.0.0.0' },
  STRATA_WORKERS: { field: 'workers', meaning: 'How many worker processes `strata start` runs.', expected: 'an integer from 1 to 256' },
  STRATA_SECURE_COOKIES: { field: 'secureCookies', meaning: 'Marks cookies Secure (sent over HTTPS only).', expected: '1, 0, true or false' },
  STRATA_METRICS_TOKEN: { field: 'metricsToken', meaning: 'Serves Prometheus metrics at /strata/metrics to requests with `Authorization: Bearer <token>`.', expected: 'a random string of at least 32 characters', secret: true },
  STRATA_METRICS_PORT: { field: 'metricsPort', meaning: 'Serves Prometheus metrics without auth at /metrics on this port of 127.0.0.1 (for a scraper on the same machine).', expected: 'an integer from 1 to 65535' },
  STRATA_HEAP_GROWTH: {
    field: 'heapGrowthPercent',
    meaning: 'How much the JavaScript heap may grow between full garbage collections in `strata start`, in % (0: V8 decides). With thousands of tabs per worker, a fixed growth makes full collections rarer; the heap may peak that much above what is live.',
    expected: 'an integer from 0 to 400',
  },
};

const NAMES = Object.keys(VARIABLES) as VariableName[];

/**
 * Reads and validates the settings from `env`. With no environment at all it gives working
 * development settings; in production the secret key, allowed hosts and origins and the site
 * origin must be set. Throws `STRATA_CLI_SETTINGS` naming every bad variable (values of
 * secrets are never quoted).
 *
 * @example
 * const settings = loadSettings(); // process.env
 * await setup({ databaseUrl: settings.databaseUrl, models, debug: settings.debug });
 */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const given = readEnvironment(env);
  const strataEnv = (ENVS as readonly string[]).includes(given.STRATA_ENV ?? 'development') ? ((given.STRATA_ENV ?? 'development') as StrataEnv) : 'development';
  const input = { STRATA_ENV: 'development', ...DEFAULTS[strataEnv], ...given };
  const result = v.safeParse(envSchema, input);
  if (!result.success) throw settingsError(result.issues, given, strataEnv);
  const out = result.output;
  return Object.freeze({
    env: out.STRATA_ENV,
    secretKey: out.STRATA_SECRET_KEY,
    databaseUrl: out.DATABASE_URL,
    redisUrl: out.REDIS_URL,
    allowedHosts: Object.freeze(out.STRATA_ALLOWED_HOSTS),
    allowedOrigins: Object.freeze(out.STRATA_ALLOWED_ORIGINS),
    debug: out.STRATA_DEBUG,
    siteOrigin: out.STRATA_SITE_ORIGIN,
    port: out.PORT,
    host: out.HOST,
    workers: out.STRATA_WORKERS,
    secureCookies: out.STRATA_SECURE_COOKIES,
    metricsToken: out.STRATA_METRICS_TOKEN,
    metricsPort: out.STRATA_METRICS_PORT,
    heapGrowthPercent: out.STRATA_HEAP_GROWTH,
  });
}

/** The documented variables, their meaning and defaults, in a stable order. */
export function describeSettings(): readonly SettingDescription[] {
  return NAMES.map((name) => {
    const { field, meaning, expected } = VARIABLES[name];
    return Object.freeze({ name, field, meaning, expected, default: describeDefault(name) });
  });
}

/** The known variables that are set and not blank, trimmed. */
function readEnvironment(env: Record<string, string | undefined>): Partial<Record<VariableName, string>> {
  const given: Partial<Record<VariableName, string>> = {};
  for (const name of NAMES) {
    const value = env[name]?.trim();
    if (value) given[name] = value;
  }
  return given;
}

function settingsError(issues: readonly v.BaseIssue<unknown>[], given: Partial<Record<VariableName, string>>, env: StrataEnv): CliError {
  const bad = new Set(issues.map((issue) => issue.path?.[0]?.key).filter((key): key is VariableName => NAMES.includes(key as VariableName)));
  const problems = NAMES.filter((name) => bad.has(name)).map((name) => {
    const { expected, secret } = VARIABLES[name];
    const value = given[name];
    if (value === undefined) return `${name} is required when STRATA_ENV=${env}: ${expected}`;
    return `${name} must be ${expected}${secret ? '' : ` (got ${JSON.stringify(value)})`}`;
  });
  return new CliError('STRATA_CLI_SETTINGS', `Invalid settings: ${problems.join('; ')}. Fix these environment variables (see strata --help).`, { problems });
}

function describeDefault(name: VariableName): string {
  const shown = (env: StrataEnv) => {
    const value = DEFAULTS[env][name];
    if (value === undefined) return OPTIONAL.has(name) ? 'unset' : 'required';
    return value === DEV_SECRET_KEY ? 'DEV_SECRET_KEY (insecure, public)' : value;
  };
  if (name === 'STRATA_ENV') return 'development';
  const groups = new Map<string, StrataEnv[]>();
  for (const env of ENVS) groups.set(shown(env), [...(groups.get(shown(env)) ?? []), env]);
  if (groups.size === 1) return [...groups.keys()][0]!;
  return [...groups].map(([value, envs]) => `${envs.join(', ')}: ${value}`).join('; ');
}
