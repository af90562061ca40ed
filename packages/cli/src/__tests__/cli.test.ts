import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { authModels, User, verifyPassword } from '@strata/auth';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliIO, describeSettings, main } from '..';
import { applyMigrations, builtClient, type FixtureOptions, freePort, migrationsFor, Note, output, productionEnv, tempDir, writeAppModule } from './fixtures.js';

const COMMAND_OPTIONS: Record<string, string[]> = {
  check: ['--deploy'],
  migrate: [],
  makemigrations: ['--name <name>'],
  createsuperuser: ['--email <email>', '--password <password>', '--name <name>'],
  seed: [],
  dev: ['--no-reload'],
  build: [],
  start: ['--workers <n>'],
};

/** Runs `strata …` in-process; no stdin unless given (not a terminal). */
async function strata(argv: string[], io: Partial<CliIO> = {}) {
  const stdout = output();
  const stderr = output();
  const code = await main(argv, { stdout, stderr, stdin: undefined, env: {}, cwd: tempDir(), ...io });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const STACK_LINE = /^\s+at /m;

let migrations: string;

beforeAll(async () => {
  migrations = await migrationsFor([Note]);
});

/** An app module in a temp folder and the `--app` flag that loads it. */
function appFlag(options: Partial<FixtureOptions> = {}): string[] {
  return ['--app', writeAppModule(tempDir(), { migrations, ...options })];
}

describe('strata --help', () => {
  it('lists every command, the global options, every setting and the exit codes', async () => {
    const { code, stdout } = await strata(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: strata <command> \[options\]/);
    for (const command of Object.keys(COMMAND_OPTIONS)) expect(stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    for (const option of ['--app <path>', '--verbose', '-h, --help']) expect(stdout).toContain(option);
    for (const setting of describeSettings()) expect(stdout).toContain(`  ${setting.name}`);
    expect(stdout).toContain('default: development, test: 127.0.0.1; production: 0.0.0.0');
    expect(stdout).toContain('Exit codes: 0 success, 1 a failure (the error names its code), 2 a usage error.');
  });

  it.each(Object.entries(COMMAND_OPTIONS))('shows the usage and options of %s', async (command, options) => {
    const { code, stdout, stderr } = await strata([command, '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^Usage: strata ${command}\\b`));
    for (const option of [...options, '--app <path>', '--verbose']) expect(stdout).toContain(option);
    expect((await strata(['help', command])).stdout).toBe(stdout);
  });
});

describe('usage errors', () => {
  it('exits 2 with STRATA_CLI_USAGE on an unknown command', async () => {
    const { code, stdout, stderr } = await strata(['frobnicate']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('error STRATA_CLI_USAGE: Unknown command "frobnicate"; run strata --help to list the commands.\n');
  });

  it('exits 2 on an unknown option, a missing value, an extra argument or no command', async () => {
    expect(await strata(['check', '--force'])).toMatchObject({ code: 2, stderr: 'error STRATA_CLI_USAGE: Unknown option --force for strata check; run strata check --help.\n' });
    expect(await strata(['makemigrations', '--name'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error STRATA_CLI_USAGE: Option '--name <value>' argument missing; run strata makemigrations --help\.\n$/) });
    expect(await strata(['migrate', 'now'])).toMatchObject({ code: 2, stderr: expect.stringContaining('strata migrate takes no arguments, got "now"') });
    expect(await strata([])).toMatchObject({ code: 2, stderr: 'error STRATA_CLI_USAGE: No command given; run strata --help to list the commands.\n' });
  });

});

describe('strata start, build and dev', () => {
  it('serves the app until stopped, on the configured port', async () => {
    const url = `sqlite:${join(tempDir(), 'serve.sqlite')}`;
    await applyMigrations(url, [Note], migrations);
    const port = await freePort();
    const stop = new AbortController();
    const running = strata(['start', ...appFlag({ server: true })], { env: { DATABASE_URL: url, PORT: String(port) }, signal: stop.signal });
    let answer: unknown;
    try {
      for (let i = 0; i < 100 && answer === undefined; i++) {
        answer = await fetch(`http://127.0.0.1:${port}/ping`, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.json())
          .catch(() => new Promise((r) => setTimeout(r, 50)).then(() => undefined));
      }
    } finally {
      stop.abort();
    }
    const result = await running;
    expect(answer, JSON.stringify(result)).toEqual({ pong: true });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`Serving notes on http://localhost:${port}`);
  });

  it('refuses several workers without Redis, production with pending migrations, and dev in production', async () => {
    expect(await strata(['start', '--workers', '2', ...appFlag({ server: true })])).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_UNSAFE: 2 workers need REDIS_URL') });
    expect(await strata(['start', '--workers', 'many', ...appFlag({ server: true })])).toMatchObject({ code: 2, stderr: expect.stringContaining('STRATA_CLI_USAGE') });
    const pending = `sqlite:${join(tempDir(), 'pending.sqlite')}`;
    expect(await strata(['start', ...appFlag({ server: true, clientDir: builtClient() })], { env: productionEnv(pending) })).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_UNSAFE') });
    expect(await strata(['dev', ...appFlag({ server: true })], { env: productionEnv(pending) })).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_UNSAFE') });
  });

  it('says what an app lacks for start, build and dev', async () => {
    expect(await strata(['start', ...appFlag()])).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_APP: The app notes has no server') });
    expect(await strata(['build', ...appFlag()])).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_APP: The app notes has no web app to build') });
    expect(await strata(['dev', ...appFlag({ server: true })])).toMatchObject({ code: 1, stderr: expect.stringContaining('has no web app') });
  });
});

describe('strata check', () => {
  let migratedUrl: string;
  let clientDir: string;
  beforeAll(async () => {
    migratedUrl = `sqlite:${join(tempDir(), 'app.sqlite')}`;
    await applyMigrations(migratedUrl, [Note], migrations);
    clientDir = builtClient();
  });

  it('check --deploy exits 1 on development settings, printing each check', async () => {
    const { code, stdout, stderr } = await strata(['check', '--deploy', ...appFlag({ clientDir })], { env: { DATABASE_URL: migratedUrl } });
    expect(code).toBe(1);
    expect(stdout).toContain('✓ database: reachable at');
    expect(stdout).toContain('✗ production: STRATA_ENV is development; set STRATA_ENV=production\n');
    expect(stdout).toContain('✗ secret-key: STRATA_SECRET_KEY is the public development key');
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(13);
    expect(stderr).toBe('error STRATA_CLI_CHECK: 7 of 13 checks failed (production, debug, secret-key, allowed-hosts, allowed-origins, secure-cookies, site-origin); fix them and run strata check --deploy again.\n');
  });

  it('check --deploy exits 0 on the complete production configuration of the README', async () => {
    const { code, stdout, stderr } = await strata(['check', '--deploy', ...appFlag({ clientDir })], { env: productionEnv(migratedUrl) });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain('✗');
    expect(stdout).toContain('✓ handlers: every handler of 1 state is guarded or public\n');
    expect(stdout).toMatch(/All 13 checks passed\.\n$/);
  });

  it('finds the app through "strata": { "app" } in package.json, else dist/app.js', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'build'));
    writeAppModule(join(cwd, 'build'), { migrations }, 'server.mjs');
    writeFileSync(join(cwd, 'package.json'), JSON.stringify({ type: 'module', strata: { app: 'build/server.mjs' } }));
    expect(await strata(['check'], { cwd, env: { DATABASE_URL: migratedUrl } })).toMatchObject({ code: 0, stdout: expect.stringContaining('All 2 checks passed.') });

    const bare = tempDir();
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ type: 'module' }));
    const missing = await strata(['check'], { cwd: bare, env: { DATABASE_URL: migratedUrl } });
    expect(missing).toMatchObject({ code: 1, stderr: `error STRATA_CLI_APP: The app module ${join(bare, 'dist', 'app.js')} does not exist; build the app first, or pass --app <path> (or set "strata": { "app": … } in package.json).\n` });
    mkdirSync(join(bare, 'dist'));
    writeAppModule(join(bare, 'dist'), { migrations }, 'app.js');
    expect(await strata(['check'], { cwd: bare, env: { DATABASE_URL: migratedUrl } })).toMatchObject({ code: 0 });
  });

  it('prints invalid settings as one STRATA_CLI_SETTINGS line, exit 1', async () => {
    const { code, stderr } = await strata(['check', ...appFlag()], { env: { STRATA_DEBUG: 'maybe', PORT: 'eighty' } });
    expect(code).toBe(1);
    expect(stderr).toBe('error STRATA_CLI_SETTINGS: Invalid settings: STRATA_DEBUG must be 1, 0, true or false (got "maybe"); PORT must be an integer from 1 to 65535 (got "eighty"). Fix these environment variables (see strata --help).\n');
  });
});

describe('strata migrate and makemigrations', () => {
  it('migrate applies each pending migration, printing it, then has nothing to do', async () => {
    const url = `sqlite:${join(tempDir(), 'app.sqlite')}`;
    const first = await strata(['migrate', ...appFlag()], { env: { DATABASE_URL: url } });
    expect(first).toEqual({ code: 0, stderr: '', stdout: `Migrating ${url}\n  applying 0001_initial.sql\n✓ Applied 1 migration.\n` });
    expect((await strata(['migrate', ...appFlag()], { env: { DATABASE_URL: url } })).stdout).toBe(`Migrating ${url}\nNo migrations to apply.\n`);
  });

  it('makemigrations writes a named migration per dialect, then finds no changes', async () => {
    const cwd = tempDir();
    const dir = join(cwd, 'migrations');
    const flag = ['--app', writeAppModule(cwd, { migrations: dir })];
    const first = await strata(['makemigrations', '--name', 'notes', ...flag], { cwd });
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('✓ Wrote migrations/sqlite/0001_notes.sql (1 statement)\n✓ Wrote migrations/postgres/0001_notes.sql (1 statement)\n');
    expect(readdirSync(join(dir, 'sqlite')).sort()).toEqual(['0001_notes.sql', 'snapshot.json']);
    expect((await strata(['makemigrations', ...flag], { cwd })).stdout).toBe('No changes: the migrations match the models.\n');
    expect(await strata(['makemigrations', '--name', 'a b', ...flag], { cwd })).toMatchObject({ code: 2, stderr: expect.stringContaining('--name must be letters, digits') });
  });
});

describe('strata createsuperuser', () => {
  const PASSWORD = 'violet-lantern-orbit-7391';
  let emptyMigrations: string;
  beforeAll(() => {
    emptyMigrations = join(tempDir(), 'migrations');
  });

  /** A SQLite file with the auth tables, made by createSchema. */
  async function authDatabase(): Promise<string> {
    const url = `sqlite:${join(tempDir(), 'auth.sqlite')}`;
    await setup({ databaseUrl: url, models: [...authModels, Note] });
    await createSchema();
    await close();
    return url;
  }

  async function userOf(url: string, email: string) {
    await setup({ databaseUrl: url, models: [...authModels, Note] });
    try {
      return await User.objects.filter({ email }).first();
    } finally {
      await close();
    }
  }

  it('creates a superuser from --email and --password, without a terminal', async () => {
    const url = await authDatabase();
    const flag = appFlag({ auth: true, migrations: emptyMigrations });
    const result = await strata(['createsuperuser', '--email', 'Admin@Shop.example', '--password', PASSWORD, '--name', 'Ada', ...flag], { env: { DATABASE_URL: url } });
    expect(result).toEqual({ code: 0, stderr: '', stdout: '✓ Superuser admin@shop.example created.\n' });
    const user = await userOf(url, 'admin@shop.example');
    expect(user).toMatchObject({ isStaff: true, isSuperuser: true, isActive: true, name: 'Ada' });
    expect(user!.password).not.toContain(PASSWORD);
    expect((await verifyPassword(user!.password, PASSWORD)).ok).toBe(true);
  });

  it('reads STRATA_SUPERUSER_EMAIL and STRATA_SUPERUSER_PASSWORD', async () => {
    const url = await authDatabase();
    const env = { DATABASE_URL: url, STRATA_SUPERUSER_EMAIL: 'ops@shop.example', STRATA_SUPERUSER_PASSWORD: PASSWORD };
    expect(await strata(['createsuperuser', ...appFlag({ auth: true, migrations: emptyMigrations })], { env })).toMatchObject({ code: 0 });
    expect(await userOf(url, 'ops@shop.example')).toMatchObject({ isSuperuser: true });
  });

  it('refuses a weak password with the field message, and a missing one off a terminal', async () => {
    const url = await authDatabase();
    const flag = appFlag({ auth: true, migrations: emptyMigrations });
    const weak = await strata(['createsuperuser', '--email', 'a@shop.example', '--password', 'short', ...flag], { env: { DATABASE_URL: url } });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^error STRATA_AUTH_INVALID: Some fields are invalid: password: .+\n$/);
    const missing = await strata(['createsuperuser', '--email', 'a@shop.example', ...flag], { env: { DATABASE_URL: url } });
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error STRATA_CLI_USAGE: createsuperuser needs an e-mail and a password/) });
    expect(await userOf(url, 'a@shop.example')).toBeNull();
  });

  it('needs the auth models in the app', async () => {
    const { code, stderr } = await strata(['createsuperuser', '--email', 'a@shop.example', '--password', PASSWORD, ...appFlag()], { env: { DATABASE_URL: `sqlite:${join(tempDir(), 'x.sqlite')}` } });
    expect(code).toBe(1);
    expect(stderr).toBe('error STRATA_CLI_APP: createsuperuser needs the auth models: add ...authModels from @strata/auth to the models of notes.\n');
  });

  it('asks on a terminal, without echoing the password, and offers to bypass the validators', async () => {
    const url = await authDatabase();
    const terminal = fakeTerminal({ 'E-mail: ': 'root@shop.example\n', 'Password: ': 'short\r', 'Password (again): ': 'short\r', 'Bypass password validation and create the superuser anyway? [y/N] ': 'y\n' });
    const stderr = output();
    const code = await main(['createsuperuser', ...appFlag({ auth: true, migrations: emptyMigrations })], { stdin: terminal.stdin, stdout: terminal.stdout, stderr, env: { DATABASE_URL: url }, cwd: tempDir() });
    expect(stderr.text).toBe('');
    expect(code).toBe(0);
    expect(terminal.stdout.text).toContain('Password: \nPassword (again): \n');
    expect(terminal.stdout.text).not.toContain('short\n');
    expect(terminal.stdout.text).toContain('✓ Superuser root@shop.example created.');
    expect(terminal.rawModes).toEqual([true, false, true, false]);
    expect(await userOf(url, 'root@shop.example')).toMatchObject({ isSuperuser: true });
  });
});

/** A stand-in terminal: answers each prompt when it is written, and records raw mode switches. */
function fakeTerminal(answers: Record<string, string>) {
  const rawModes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (mode: boolean) => void rawModes.push(mode) });
  let text = '';
  const stdout = {
    isTTY: false,
    write(chunk: string) {
      text += chunk;
      const answer = answers[chunk];
      if (answer !== undefined) setImmediate(() => stdin.write(answer));
    },
    get text() {
      return text;
    },
  };
  return { stdin, stdout, rawModes };
}

describe('strata seed', () => {
  it('runs the app seed after checking the migrations, with a progress line', async () => {
    const url = `sqlite:${join(tempDir(), 'app.sqlite')}`;
    const flag = appFlag({ seed: 'notes' });
    const pending = await strata(['seed', ...flag], { env: { DATABASE_URL: url } });
    expect(pending).toMatchObject({ code: 1, stderr: 'error STRATA_CLI_MIGRATIONS_PENDING: 1 migration is not applied yet (0001_initial.sql); run `strata migrate` first.\n' });
    await applyMigrations(url, [Note], migrations);
    const seeded = await strata(['seed', ...flag], { env: { DATABASE_URL: url } });
    expect(seeded).toMatchObject({ code: 0, stderr: '' });
    expect(seeded.stdout).toMatch(/^Seeding notes…\n✓ Seeded notes \(\d+\.\d s\)\n$/);
    await setup({ databaseUrl: url, models: [Note] });
    try {
      expect(await Note.objects.values('title')).toEqual([{ title: 'Seeded' }]);
    } finally {
      await close();
    }
  });

  it('says when the app has no seed', async () => {
    expect(await strata(['seed', ...appFlag()])).toMatchObject({ code: 1, stderr: expect.stringContaining('error STRATA_CLI_APP: The app notes has no seed function') });
  });
});

describe('failures', () => {
  it('print one line and no stack without --verbose, and the stack with it', async () => {
    const url = `sqlite:${join(tempDir(), 'app.sqlite')}`;
    await applyMigrations(url, [Note], migrations);
    const flag = appFlag({ seed: 'throws' });
    const quiet = await strata(['seed', ...flag], { env: { DATABASE_URL: url } });
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toBe('error: seed exploded (run with --verbose for the stack)\n');
    const verbose = await strata(['seed', '--verbose', ...flag], { env: { DATABASE_URL: url } });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/^error: seed exploded\nError: seed exploded\n\s+at /);
  });

  it('keep the code of a lower layer and hide its stack and causes', async () => {
    const env = { DATABASE_URL: 'postgres://shop:hunter2@127.0.0.1:1/shop' };
    const quiet = await strata(['migrate', ...appFlag()], { env });
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toMatch(/^error STRATA_MODEL_DATABASE_URL: Could not connect to PostgreSQL at postgres:\/\/shop:\*\*\*@127\.0\.0\.1:1\/shop: .*\n$/);
    expect(quiet.stderr).not.toMatch(STACK_LINE);
    expect(quiet.stderr).not.toContain('hunter2');
    const verbose = await strata(['migrate', '--verbose', ...appFlag()], { env });
    expect(verbose.stderr).toMatch(STACK_LINE);
    expect(verbose.stderr).toContain('caused by: ');
  });
});
