/**
 * @strata/model/migrations — generate SQL migrations from model changes (per dialect,
 * drizzle-kit underneath), apply them in order, and tell whether any are pending.
 *
 * Layout of a migrations folder (checked into the app):
 * `<dir>/<dialect>/0001_<name>.sql` (statements separated by `--> statement-breakpoint`)
 * and `<dir>/<dialect>/snapshot.json` (the schema the last migration produced).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { ModelError } from './errors.js';
import { getRegistry, type Registry } from './registry.js';
import { atomic, atomicWithoutForeignKeys } from './transaction.js';
import type { AnyModel } from './types.js';
import { compileModels, expandModels } from './internal/compile.js';
import type { Dialect } from './internal/columns.js';

const BREAKPOINT = '\n--> statement-breakpoint\n';
const TABLE = 'strata_migrations';
/** Key of the PostgreSQL advisory lock that serialises migrations across workers ('STRATA'). */
const MIGRATION_LOCK = 0x535452415441;
const FOREIGN_KEYS_PRAGMA = /^PRAGMA foreign_keys\s*=\s*(ON|OFF);?$/i;

export interface MakeMigrationsOptions {
  models: readonly AnyModel[];
  /** The migrations folder, e.g. `./migrations`. */
  dir: string;
  /** Which dialects to generate for (default both). */
  dialects?: readonly Dialect[];
  /** Short name for the file (default `auto`). */
  name?: string;
}

/** A migration file written by {@link makeMigrations}. */
export interface GeneratedMigration {
  dialect: Dialect;
  file: string;
  statements: number;
}

/**
 * Compares the models with the last snapshot and writes one migration file per dialect
 * that changed. Returns the files written (empty when nothing changed).
 */
export async function makeMigrations(options: MakeMigrationsOptions): Promise<GeneratedMigration[]> {
  const models = expandModels(options.models);
  const written: GeneratedMigration[] = [];
  for (const dialect of options.dialects ?? (['sqlite', 'postgres'] as const)) {
    const folder = join(options.dir, dialect);
    const previous = readSnapshot(folder);
    const { snapshot, statements } = await diff(models, dialect, previous);
    if (statements.length === 0) continue;
    mkdirSync(folder, { recursive: true });
    // After the highest number, not the count: with a gap, the count would reuse a number.
    const highest = Math.max(0, ...listMigrations(folder).map((file) => Number(file.slice(0, 4))));
    const number = String(highest + 1).padStart(4, '0');
    const name = (options.name ?? 'auto').replace(/[^\w-]+/g, '_');
    const file = join(folder, `${number}_${name}.sql`);
    writeFileSync(file, statements.map((statement) => statement.trim()).join(BREAKPOINT) + '\n');
    writeFileSync(join(folder, 'snapshot.json'), JSON.stringify(snapshot, null, 2) + '\n');
    written.push({ dialect, file, statements: statements.length });
  }
  return written;
}

async function diff(models: AnyModel[], dialect: Dialect, previous: unknown): Promise<{ snapshot: unknown; statements: string[] }> {
  const kit = await loadDrizzleKit();
  const tables = Object.fromEntries([...compileModels(models, dialect).values()].map((meta) => [meta.model.tableName, meta.table]));
  if (dialect === 'sqlite') {
    const snapshot = await kit.generateSQLiteDrizzleJson(tables);
    const before = previous ?? (await kit.generateSQLiteDrizzleJson({}));
    const statements = await kit.generateSQLiteMigration(before as never, snapshot);
    return { snapshot, statements: statements.map((statement) => copyExistingColumns(statement, before)) };
  }
  const snapshot = kit.generateDrizzleJson(tables);
  const before = previous ?? kit.generateDrizzleJson({});
  // Unqualified names, so the migration applies to whichever schema search_path selects.
  const statements = await kit.generateMigration(before as never, snapshot);
  return { snapshot, statements: statements.map((statement) => statement.replaceAll('"public".', '')) };
}

/**
 * drizzle-kit rebuilds a SQLite table (to add a constraint, say) by copying every column of
 * the *new* table out of the old one, which fails when the same change adds columns. Copy
 * only the columns the old table has; the added ones take their defaults.
 */
function copyExistingColumns(statement: string, before: unknown): string {
  const match = /^INSERT INTO `__new_(\w+)`\(([^)]*)\) SELECT [^;]* FROM `(\w+)`;$/.exec(statement.trim());
  const old = match && (before as { tables?: Record<string, { columns?: Record<string, unknown> }> }).tables?.[match[3]!]?.columns;
  if (!match || !old) return statement;
  const columns = match[2]!.split(',').map((column) => column.trim()).filter((column) => JSON.parse(column) in old);
  return `INSERT INTO \`__new_${match[1]}\`(${columns.join(', ')}) SELECT ${columns.join(', ')} FROM \`${match[3]}\`;`;
}

async function loadDrizzleKit(): Promise<typeof import('drizzle-kit/api')> {
  try {
    return await import('drizzle-kit/api');
  } catch (error) {
    throw new ModelError('STRATA_MODEL_MIGRATION', 'Generating migrations needs drizzle-kit: `pnpm add -D drizzle-kit`.', { cause: error });
  }
}

function readSnapshot(folder: string): unknown {
  const file = join(folder, 'snapshot.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

function listMigrations(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file))
    .sort();
}

/** Migration names in `dir` for the connected database's dialect that are not applied yet. */
export async function pendingMigrations(options: { dir: string }): Promise<string[]> {
  const registry = getRegistry();
  const applied = await locked(registry, () => appliedMigrations(registry));
  return listMigrations(join(options.dir, registry.dialect)).filter((file) => !applied.has(file));
}

/**
 * Applies pending migrations in order, each in its own transaction, recording each in
 * the `strata_migrations` table. Safe when several workers start at once: each migration
 * takes a lock (PostgreSQL advisory lock; SQLite's write lock) and is skipped if another
 * process applied it meanwhile. Returns the names this call applied.
 */
export async function migrate(options: { dir: string; onProgress?: (name: string) => void }): Promise<string[]> {
  const registry = getRegistry();
  const folder = join(options.dir, registry.dialect);
  const applied: string[] = [];
  for (const name of await pendingMigrations(options)) {
    const statements = readFileSync(join(folder, name), 'utf8')
      .split(BREAKPOINT.trim())
      .map((statement) => statement.trim())
      .filter(Boolean);
    try {
      if (await apply(registry, name, statements, () => options.onProgress?.(name))) applied.push(name);
    } catch (error) {
      throw new ModelError('STRATA_MODEL_MIGRATION', `Migration ${name} failed and was rolled back: ${(error as Error).message}`, { cause: error });
    }
  }
  return applied;
}

/** Runs one migration's statements and records it, in one transaction; false if already applied. */
async function apply(registry: Registry, name: string, statements: string[], starting: () => void): Promise<boolean> {
  // drizzle-kit brackets SQLite table rebuilds with PRAGMA foreign_keys=OFF/ON, which SQLite
  // ignores inside a transaction; with keys on, DROP TABLE would run the ON DELETE actions of
  // the rows pointing at the table (cascades delete them). The transaction switches keys off
  // around itself instead, and checks them before committing.
  const body = statements.filter((statement) => !FOREIGN_KEYS_PRAGMA.test(statement));
  const keysOff = registry.dialect === 'sqlite' && body.length < statements.length;
  return locked(
    registry,
    async () => {
      if ((await appliedMigrations(registry)).has(name)) return false;
      starting();
      for (const statement of body) await registry.run((db) => execute(db, registry.dialect, statement));
      await registry.run((db) =>
        execute(db, registry.dialect, sql`insert into ${sql.identifier(TABLE)} (name, applied_at) values (${name}, ${new Date().toISOString()})`),
      );
      return true;
    },
    keysOff,
  );
}

/**
 * Runs `fn` in a transaction that holds the migration lock: on PostgreSQL an advisory lock
 * (workers starting together wait for each other), on SQLite the database write lock.
 */
async function locked<T>(registry: Registry, fn: () => Promise<T>, foreignKeysOff = false): Promise<T> {
  const body = async () => {
    if (registry.dialect === 'postgres') await registry.run((db) => db.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`));
    return fn();
  };
  return foreignKeysOff ? atomicWithoutForeignKeys(body) : atomic(body);
}

/**
 * Creates every table of the registered models directly from the models, without
 * migration files: for tests and throwaway scripts. Apps use {@link migrate}.
 */
export async function createSchema(): Promise<void> {
  const registry = getRegistry();
  const { statements } = await diff([...registry.models], registry.dialect, undefined);
  await atomic(async () => {
    for (const statement of statements) await registry.run((db) => execute(db, registry.dialect, statement));
  });
}

async function appliedMigrations(registry: Registry): Promise<Set<string>> {
  await registry.run((db) =>
    execute(db, registry.dialect, sql`create table if not exists ${sql.identifier(TABLE)} (name varchar(255) primary key, applied_at varchar(40) not null)`),
  );
  const rows: { name: string }[] = await registry.run((db) =>
    registry.dialect === 'sqlite'
      ? db.all(sql`select name from ${sql.identifier(TABLE)}`)
      : db.execute(sql`select name from ${sql.identifier(TABLE)}`).then((result: { rows: { name: string }[] }) => result.rows),
  );
  return new Set(rows.map((row) => row.name));
}

function execute(db: any, dialect: Dialect, statement: string | ReturnType<typeof sql>) {
  const query = typeof statement === 'string' ? sql.raw(statement) : statement;
  return dialect === 'sqlite' ? db.run(query) : db.execute(query);
}
