import { relative } from 'node:path';
import { authModels, createSuperuser } from '@strata/auth';
import { isStrataError } from '@strata/model';
import { makeMigrations, migrate } from '@strata/model/migrations';
import type { StrataApp } from '../app.js';
import { runChecks } from '../check.js';
import { CliError } from '../errors.js';
import type { Settings } from '../settings.js';
import { countOf, redactUrl, requireMigrated, withDatabase } from './database.js';
import { ask, askHidden, type InputStream, type OutputStream } from './prompt.js';
import { build, dev, start } from './serve.js';
import { startSpinner } from './spinner.js';

/** What a command gets: its parsed options, the streams, and lazy settings and app. */
export interface CommandContext {
  values: Record<string, string | boolean | undefined>;
  stdout: OutputStream;
  stdin: InputStream | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
  signal: AbortSignal | undefined;
  settings(): Settings;
  app(): Promise<StrataApp>;
  /** The app module's path (`--app`, package.json's `strata.app`, or dist/app.js). */
  appPath(): string;
}

/** One `strata` command: its options (node:util parseArgs), its help, and what it does. */
export interface Command {
  summary: string;
  usage: string;
  options: Record<string, { type: 'string' | 'boolean'; description: string }>;
  details?: string;
  run(ctx: CommandContext): Promise<void>;
}

/** Every command, in the order `strata --help` lists them. */
export const COMMANDS: Record<string, Command> = {
  check: {
    summary: 'Check the settings and the database; --deploy adds the production checklist',
    usage: 'strata check [--deploy]',
    options: { deploy: { type: 'boolean', description: 'Also run the production checklist (exits 1 when any item fails)' } },
    details:
      'Deploy checks: production, debug, secret-key, allowed-hosts, allowed-origins, secure-cookies,\nsite-origin, client-assets, migrations, handlers, workers.',
    run: check,
  },
  migrate: {
    summary: 'Apply the pending migrations, in order',
    usage: 'strata migrate',
    options: {},
    run: runMigrate,
  },
  makemigrations: {
    summary: 'Write a migration for each dialect whose models changed',
    usage: 'strata makemigrations [--name <name>]',
    options: { name: { type: 'string', description: 'A short name for the file (default auto)' } },
    details: 'Reads the models of the built app: build it after changing models, then run this.\nNeeds drizzle-kit installed (a dev dependency of the app).',
    run: makeMigrationsCommand,
  },
  createsuperuser: {
    summary: 'Create a user with the staff and superuser flags',
    usage: 'strata createsuperuser [--email <email>] [--password <password>] [--name <name>]',
    options: {
      email: { type: 'string', description: 'The e-mail (login); or STRATA_SUPERUSER_EMAIL' },
      password: { type: 'string', description: 'The password; prefer STRATA_SUPERUSER_PASSWORD (flags show in ps)' },
      name: { type: 'string', description: 'The display name' },
    },
    details: 'On a terminal it asks for what is missing (the password is not echoed).\nThe app must include ...authModels from @strata/auth in its models.',
    run: createSuperuserCommand,
  },
  seed: {
    summary: "Fill the database with the app's sample data (its seed function)",
    usage: 'strata seed',
    options: {},
    run: seed,
  },
  dev: {
    summary: 'Run the app with Vite inside its server: modules with hot reload, pages rendered without a build',
    usage: 'strata dev [--no-reload]',
    options: { 'no-reload': { type: 'boolean', description: 'Serve in this process; server code changes then need a restart' } },
    details:
      'Needs web: { config, ssrEntry, serverOutDir } and server in defineApp(), and vite in the app.\nThe server restarts when the built app (the folder of its module) changes; with a tsup config\nand a src/ folder here, tsup --watch rebuilds it as those files change.',
    run: dev,
  },
  build: {
    summary: 'Build the browser assets and the server-side renderer with Vite',
    usage: 'strata build',
    options: {},
    run: build,
  },
  start: {
    summary: 'Run the server; in production it refuses an unsafe configuration or pending migrations',
    usage: 'strata start [--workers <n>]',
    options: { workers: { type: 'string', description: 'Processes on node:cluster (default STRATA_WORKERS or 1); more than 1 needs REDIS_URL' } },
    run: start,
  },
};

async function check(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  const deploy = ctx.values.deploy === true;
  const results = await runChecks(settings, await ctx.app(), { deploy });
  for (const result of results) ctx.stdout.write(`${result.ok ? '✓' : '✗'} ${result.id}: ${result.message}\n`);
  const failed = results.filter((result) => !result.ok);
  if (failed.length) {
    const ids = failed.map((result) => result.id).join(', ');
    throw new CliError('STRATA_CLI_CHECK', `${failed.length} of ${results.length} checks failed (${ids}); fix them and run strata check${deploy ? ' --deploy' : ''} again.`, {
      problems: failed.map((result) => `${result.id}: ${result.message}`),
    });
  }
  ctx.stdout.write(`All ${results.length} checks passed.\n`);
}

async function runMigrate(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  const app = await ctx.app();
  ctx.stdout.write(`Migrating ${redactUrl(settings.databaseUrl)}\n`);
  const applied = await withDatabase(settings, app, () => migrate({ dir: app.migrations, onProgress: (name) => ctx.stdout.write(`  applying ${name}\n`) }));
  ctx.stdout.write(applied.length ? `✓ Applied ${countOf(applied.length, 'migration')}.\n` : 'No migrations to apply.\n');
}

async function makeMigrationsCommand(ctx: CommandContext): Promise<void> {
  const app = await ctx.app();
  const name = ctx.values.name;
  if (typeof name === 'string' && !/^[\w-]+$/.test(name)) throw new CliError('STRATA_CLI_USAGE', `--name must be letters, digits, "_" and "-" only, not ${JSON.stringify(name)}.`);
  const written = await makeMigrations({ models: app.models, dir: app.migrations, ...(typeof name === 'string' ? { name } : {}) });
  for (const file of written) ctx.stdout.write(`✓ Wrote ${relative(ctx.cwd, file.file)} (${countOf(file.statements, 'statement')})\n`);
  if (written.length === 0) ctx.stdout.write('No changes: the migrations match the models.\n');
}

async function createSuperuserCommand(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  const app = await ctx.app();
  if (!authModels.every((model) => app.models.includes(model))) {
    throw new CliError('STRATA_CLI_APP', `createsuperuser needs the auth models: add ...authModels from @strata/auth to the models of ${app.name}.`);
  }
  const given = {
    email: stringOption(ctx.values.email) ?? ctx.env.STRATA_SUPERUSER_EMAIL,
    password: stringOption(ctx.values.password) ?? ctx.env.STRATA_SUPERUSER_PASSWORD,
  };
  const stdin = ctx.stdin?.isTTY ? ctx.stdin : undefined;
  if ((!given.email || !given.password) && !stdin) {
    throw new CliError('STRATA_CLI_USAGE', 'createsuperuser needs an e-mail and a password: pass --email and --password, or set STRATA_SUPERUSER_EMAIL and STRATA_SUPERUSER_PASSWORD (it can only ask on a terminal).');
  }
  await withDatabase(settings, app, async () => {
    await requireMigrated(app);
    const email = given.email || (await ask('E-mail: ', stdin!, ctx.stdout));
    const password = given.password || (await askPassword(stdin!, ctx.stdout));
    const input = { email, password, ...(typeof ctx.values.name === 'string' ? { name: ctx.values.name } : {}) };
    let user;
    try {
      user = await createSuperuser(input);
    } catch (error) {
      if (!stdin || !isWeakPassword(error)) throw error;
      ctx.stdout.write(`${error.fields.password!.join(' ')}\n`);
      const answer = await ask('Bypass password validation and create the superuser anyway? [y/N] ', stdin, ctx.stdout);
      if (!/^y(es)?$/i.test(answer)) throw error;
      user = await createSuperuser(input, { skipValidation: true });
    }
    ctx.stdout.write(`✓ Superuser ${user.email} created.\n`);
  });
}

async function askPassword(stdin: InputStream, stdout: OutputStream): Promise<string> {
  const password = await askHidden('Password: ', stdin, stdout);
  if ((await askHidden('Password (again): ', stdin, stdout)) !== password) throw new CliError('STRATA_CLI_USAGE', 'The two passwords do not match; run createsuperuser again.');
  return password;
}

/** A refusal that names the password only: on a terminal the CLI offers to skip the validators. */
function isWeakPassword(error: unknown): error is { fields: Record<string, string[]> } {
  if (!isStrataError(error, 'STRATA_AUTH_INVALID')) return false;
  const fields = (error as { fields?: Record<string, string[]> }).fields;
  return fields !== undefined && Object.keys(fields).length === 1 && fields.password !== undefined;
}

async function seed(ctx: CommandContext): Promise<void> {
  const settings = ctx.settings();
  const app = await ctx.app();
  const run = app.seed;
  if (!run) throw new CliError('STRATA_CLI_APP', `The app ${app.name} has no seed function; add seed: async () => { … } to defineApp().`);
  await withDatabase(settings, app, async () => {
    await requireMigrated(app);
    const spinner = startSpinner(ctx.stdout, `Seeding ${app.name}`);
    try {
      await run();
    } catch (error) {
      spinner.fail();
      throw error;
    }
    spinner.succeed(`Seeded ${app.name}`);
  });
}

const stringOption = (value: string | boolean | undefined) => (typeof value === 'string' && value !== '' ? value : undefined);
