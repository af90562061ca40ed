import { AsyncLocalStorage } from 'node:async_hooks';
import { ModelError } from './errors.js';
import { recordQuery } from './queryScope.js';
import type { AnyModel } from './types.js';
import { compileModels, expandModels, type CompiledModel } from './internal/compile.js';
import type { Dialect } from './internal/columns.js';
import { translateError } from './internal/integrity.js';
import { emitChanges, type ChangeEvent } from './changeEvents.js';
import { Mutex } from './internal/mutex.js';

export interface SetupOptions {
  /**
   * `sqlite:path/to/file.sqlite` (created if missing), `sqlite::memory:`, or `postgres://…`.
   * Default: `DATABASE_URL` from the environment, else `sqlite:./db.sqlite`.
   */
  databaseUrl?: string;
  /** Every model the app uses (relations must point inside this set). */
  models: readonly AnyModel[] | Record<string, AnyModel>;
  /** Development checks such as the N+1 detector (default: `NODE_ENV !== 'production'`). */
  debug?: boolean;
  /** PostgreSQL only: the schema to use (set as `search_path`). */
  schema?: string;
  /** PostgreSQL only: connection pool size (default 10). */
  poolSize?: number;
}

/** @internal The transaction an async context is in. */
export interface TxContext {
  registry: Registry;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: any;
  depth: number;
  events: ChangeEvent[];
  /** False once its atomic() block has ended (a query may still run in its async context). */
  open: boolean;
  parent: TxContext | undefined;
  /** Serialises the nested atomic() blocks opened directly in this one (see transaction.ts). */
  children: Mutex;
}

export const txStorage = new AsyncLocalStorage<TxContext>();

/**
 * @internal The innermost transaction of `registry` still open in this async context.
 * A query started in an atomic() block but run after the block ended (an un-awaited promise,
 * a timer) must not use the ended transaction's connection: on SQLite that would run it inside
 * whichever transaction is open then, on PostgreSQL on a client returned to the pool.
 */
export function currentTx(registry: Registry): TxContext | undefined {
  for (let tx = txStorage.getStore(); tx; tx = tx.parent) if (tx.open && tx.registry === registry) return tx;
  return undefined;
}

/**
 * A connected database with its compiled models. Created by {@link setup}; the current
 * one serves every `Model.objects` query. Drop to drizzle with `registry.db` and `registry.table(Model)`.
 */
export class Registry {
  readonly dialect: Dialect;
  /** The drizzle database (better-sqlite3 or node-postgres). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: any;
  readonly debug: boolean;
  readonly models: readonly AnyModel[];
  /** @internal Serialises SQLite transactions on the one connection. */
  readonly writeLock = new Mutex();
  private readonly compiled: Map<AnyModel, CompiledModel>;
  private readonly byTable = new Map<string, AnyModel>();
  private readonly closeClient: () => Promise<void>;
  /** @internal */
  readonly client: unknown;

  /** @internal */
  constructor(init: { dialect: Dialect; models: AnyModel[]; debug: boolean; connect: (logger: object) => { db: unknown; client: unknown; close: () => Promise<void> } }) {
    this.dialect = init.dialect;
    this.debug = init.debug;
    this.models = init.models;
    this.compiled = compileModels(init.models, init.dialect);
    for (const model of init.models) this.byTable.set(model.tableName, model);
    const logger = {
      logQuery: (query: string) => {
        if (!/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(query)) {
          recordQuery(query, this.debug, (text) => this.describeQuery(text));
        }
      },
    };
    const connection = init.connect(logger);
    this.db = connection.db;
    this.client = connection.client;
    this.closeClient = connection.close;
  }

  /** The drizzle table of a model, for dropping down to drizzle. */
  table(model: AnyModel) {
    return this.meta(model).table;
  }

  /** @internal */
  meta(model: AnyModel): CompiledModel {
    const compiled = this.compiled.get(model);
    if (!compiled) {
      throw new ModelError('STRATA_MODEL_UNKNOWN_MODEL', `${model.name} was not passed to setup({ models }); add it to the list.`);
    }
    return compiled;
  }

  /**
   * @internal Runs `build(db)` on the connection of the current transaction, translating
   * database errors. A statement must never land inside a transaction or savepoint that is
   * not its own: on SQLite, outside a transaction, it waits while another context's
   * transaction holds the one connection; inside a transaction, it waits while a nested
   * savepoint opened by a sibling is running (its rollback would undo the statement).
   * Waiting goes through the same FIFO queue as the transactions, so nobody starves.
   */
  async run<T>(build: (db: any) => PromiseLike<T> | T): Promise<T> {
    const tx = currentTx(this);
    const db = tx ? tx.db : this.db;
    const gate = tx ? tx.children : this.dialect === 'sqlite' ? this.writeLock : undefined;
    if (!gate?.locked) return this.execute(build, db);
    const release = await gate.acquire();
    try {
      return await this.execute(build, db);
    } finally {
      release();
    }
  }

  /**
   * Starts the statement in this very turn (a drizzle query runs when `then` is called, and
   * synchronously on SQLite), so no transaction can begin between the gate check and the statement.
   */
  private async execute<T>(build: (db: any) => PromiseLike<T> | T, db: unknown): Promise<T> {
    try {
      const query = build(db);
      return await (isThenable(query) ? query.then() : query);
    } catch (error) {
      throw translateError(error, this);
    }
  }

  /** @internal Records change events for delivery after commit (or at once outside a transaction). */
  changed(event: ChangeEvent): void {
    if (event.pks.length === 0) return;
    const tx = currentTx(this);
    if (tx) tx.events.push(event);
    else emitChanges([event]);
  }

  /** @internal */
  modelByTable(table: string): AnyModel | undefined {
    return this.byTable.get(table);
  }

  private describeQuery(text: string): string {
    const table = /\bfrom\s+["`]?(\w+)["`]?/i.exec(text)?.[1];
    return (table && this.byTable.get(table)?.name) ?? table ?? 'an unknown table';
  }

  /** Closes the connection(s). */
  async close(): Promise<void> {
    await this.closeClient();
  }
}

function isThenable<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}

let current: Registry | undefined;
/** True while a setup() is connecting, so a concurrent second call is refused, not raced. */
let connecting = false;

/**
 * Connects the database and registers the models. Importing models never connects;
 * this does. Call once at start-up (tests: once per file, with `close()` after).
 * @example await setup({ databaseUrl: 'sqlite:./shop.sqlite', models: [Category, Product] });
 */
export async function setup(options: SetupOptions): Promise<Registry> {
  if (current || connecting) {
    throw new ModelError('STRATA_MODEL_ALREADY_SETUP', 'setup() was already called; call close() before connecting another database.');
  }
  connecting = true;
  try {
    current = await connect(options);
    return current;
  } finally {
    connecting = false;
  }
}

async function connect(options: SetupOptions): Promise<Registry> {
  const models = expandModels(Array.isArray(options.models) ? options.models : Object.values(options.models));
  const url = options.databaseUrl ?? process.env.DATABASE_URL ?? 'sqlite:./db.sqlite';
  const debug = options.debug ?? process.env.NODE_ENV !== 'production';
  const { connectorFor } = await import('./internal/connect.js');
  const connector = await connectorFor(url, options);
  const registry = new Registry({ dialect: connector.dialect, models, debug, connect: connector.open });
  if (connector.dialect === 'postgres') {
    try {
      await registry.run((db) => db.execute('select 1'));
    } catch (error) {
      await registry.close();
      throw new ModelError('STRATA_MODEL_DATABASE_URL', `Could not connect to PostgreSQL at ${redact(url)}: ${(error as Error).message}`, { cause: error });
    }
  }
  return registry;
}

/** The registry set up by {@link setup}; throws `STRATA_MODEL_NOT_READY` before it. */
export function getRegistry(): Registry {
  if (!current) {
    throw new ModelError(
      'STRATA_MODEL_NOT_READY',
      'The database is not set up: call `await setup({ databaseUrl, models })` from @strata/model before running queries.',
    );
  }
  return current;
}

/** Closes the current registry's connections; a later {@link setup} may connect again. */
export async function close(): Promise<void> {
  const registry = current;
  current = undefined;
  await registry?.close();
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
