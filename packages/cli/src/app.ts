import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyModel } from '@strata/model';
import type { AnyServerStateDef } from '@strata/state/server';
import { CliError } from './errors.js';
import type { Settings } from './settings.js';

/** Marks a {@link StrataApp}; a symbol of the registry, so two copies of the package agree. */
const appBrand = Symbol.for('strata.app');

/** What an app tells the `strata` command about itself. */
export interface AppDefinition {
  /** A short name, shown in output. */
  name: string;
  /** Every model the app uses (add `...authModels` from `@strata/auth` for users and sessions). */
  models: readonly AnyModel[];
  /** Every state the app serves; `check --deploy` audits their handlers. */
  states?: readonly AnyServerStateDef[];
  /** The migrations folder, an absolute path (`fileURLToPath(new URL('../migrations', import.meta.url))`). */
  migrations: string;
  /** Fills the database with sample data (`strata seed`). */
  seed?: () => Promise<void>;
  /** The built browser assets, an absolute path (e.g. `dist/client`, holding `.vite/manifest.json`). */
  clientDir?: string;
  /**
   * Makes the app's HTTP server (auth, states, pages) for these settings, the database already
   * set up; in `strata dev`, `dev.vite` is Vite's dev server (middleware mode) to serve pages with.
   */
  server?: (settings: Settings, options: { dev?: { vite: unknown } }) => Promise<AppServer>;
  /** The browser app for `strata build` and `strata dev`: its Vite config, SSR entry and where the SSR build goes (absolute paths). */
  web?: { config: string; ssrEntry: string; serverOutDir: string };
}

/** What `strata start` and `strata dev` need of the app's server (a fastify instance fits). */
export interface AppServer {
  listen(options: { port: number; host: string }): Promise<string>;
  close(): Promise<unknown>;
}

/** An app as the `strata` command loads it: {@link defineApp}'s frozen result. */
export interface StrataApp {
  readonly name: string;
  readonly models: readonly AnyModel[];
  readonly states: readonly AnyServerStateDef[];
  readonly migrations: string;
  readonly seed: (() => Promise<void>) | undefined;
  readonly clientDir: string | undefined;
  readonly server: AppDefinition['server'];
  readonly web: AppDefinition['web'];
}

/**
 * Declares the app the `strata` command runs: the default export of the built app module
 * (`dist/app.js`, or the `strata.app` field of package.json). Checks the definition and
 * returns it frozen; throws `STRATA_CLI_APP` saying what is wrong.
 *
 * @example
 * export default defineApp({
 *   name: 'shop',
 *   models: [...authModels, Category, Product],
 *   states: [Cart, Catalog],
 *   migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
 *   clientDir: fileURLToPath(new URL('./client', import.meta.url)),
 * });
 */
export function defineApp(definition: AppDefinition): StrataApp {
  const problems = appProblems(definition);
  if (problems.length) throw new CliError('STRATA_CLI_APP', `defineApp(): ${problems.join('; ')}.`, { problems });
  return Object.freeze<StrataApp>({
    name: definition.name,
    models: Object.freeze([...definition.models]),
    states: Object.freeze([...(definition.states ?? [])]),
    migrations: definition.migrations,
    seed: definition.seed,
    clientDir: definition.clientDir,
    server: definition.server,
    web: definition.web,
    [appBrand]: true,
  } as StrataApp);
}

/** True when `value` is a {@link StrataApp} (made by any copy of `defineApp`). */
export function isStrataApp(value: unknown): value is StrataApp {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[appBrand] === true;
}

/**
 * Imports the built app module at `path` (resolved against the working directory) and
 * returns its default export. Throws `STRATA_CLI_APP` naming the path and what is wrong:
 * missing, failing to load, no default export, or not a valid app.
 */
export async function loadApp(path: string): Promise<StrataApp> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new CliError('STRATA_CLI_APP', `The app module ${file} does not exist; build the app first, or pass --app <path> (or set "strata": { "app": … } in package.json).`);
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    throw new CliError('STRATA_CLI_APP', `The app module ${file} failed to load: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  const app = module.default;
  if (app === undefined) throw new CliError('STRATA_CLI_APP', `The app module ${file} has no default export; end it with \`export default defineApp({ … })\`.`);
  if (!isStrataApp(app)) throw new CliError('STRATA_CLI_APP', `The default export of ${file} was not made by defineApp(); export \`defineApp({ … })\` from @strata/cli.`);
  const problems = appProblems(app);
  if (problems.length) throw new CliError('STRATA_CLI_APP', `The app in ${file} is invalid: ${problems.join('; ')}.`, { problems });
  return app;
}

/** What is wrong with an app definition, one phrase each (empty when valid). */
function appProblems(app: Partial<Record<keyof AppDefinition, unknown>>): string[] {
  const problems: string[] = [];
  if (typeof app.name !== 'string' || app.name.trim() === '') problems.push('name must be a non-empty string');
  if (!Array.isArray(app.models) || app.models.some((model) => !isModelLike(model))) problems.push('models must be an array of models made by defineModel()');
  if (app.states !== undefined && (!Array.isArray(app.states) || app.states.some((state) => !isStateLike(state)))) {
    problems.push('states must be an array of states made by defineState() or defineModelState()');
  }
  if (typeof app.migrations !== 'string' || !isAbsolute(app.migrations)) problems.push('migrations must be an absolute folder path');
  if (app.seed !== undefined && typeof app.seed !== 'function') problems.push('seed must be an async function');
  if (app.clientDir !== undefined && (typeof app.clientDir !== 'string' || !isAbsolute(app.clientDir))) problems.push('clientDir must be an absolute folder path');
  if (app.server !== undefined && typeof app.server !== 'function') problems.push('server must be an async function of the settings');
  const web = app.web as AppDefinition['web'] | undefined;
  if (web !== undefined && ![web?.config, web?.ssrEntry, web?.serverOutDir].every((path) => typeof path === 'string' && isAbsolute(path))) {
    problems.push('web must hold absolute paths: config, ssrEntry and serverOutDir');
  }
  return problems;
}

function isModelLike(value: unknown): value is AnyModel {
  const model = value as { name?: unknown; tableName?: unknown } | null;
  return typeof model === 'object' && model !== null && typeof model.name === 'string' && typeof model.tableName === 'string';
}

function isStateLike(value: unknown): value is AnyServerStateDef {
  const state = value as { name?: unknown; definition?: unknown } | null;
  return typeof state === 'object' && state !== null && typeof state.name === 'string' && typeof state.definition === 'object' && state.definition !== null;
}
