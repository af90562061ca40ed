import { IntegrityError, isStrataError, ModelError, type ConstraintKind } from '../errors.js';
import type { AnyModel } from '../types.js';
import type { ColumnInfo } from './compile.js';

/** What the translator reads of the registry: the model of a table, and its compiled columns. */
interface TableLookup {
  modelByTable(table: string): AnyModel | undefined;
  meta(model: AnyModel): { columns: ReadonlyMap<string, ColumnInfo> };
}

interface DriverError {
  code?: string;
  message?: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
  cause?: unknown;
}

const PG_CODES: Record<string, ConstraintKind> = { '23505': 'unique', '23502': 'notNull', '23503': 'foreignKey', '23514': 'check' };

/** Node socket errors and PostgreSQL SQLSTATEs that mean "the server cannot be reached now" (class 08: connection exceptions). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN']);
const UNREACHABLE_MESSAGE = /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|Connection ended unexpectedly|Cannot use a pool after calling end|The database connection is not open)/;

/** True when `error` (or one of its causes) says the database cannot be reached right now. */
function isUnreachable(error: unknown): boolean {
  for (let e = error as DriverError | undefined, i = 0; e && typeof e === 'object' && i < 5; e = e.cause as DriverError | undefined, i++) {
    if (typeof e.code === 'string' && (UNREACHABLE.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
    if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  }
  return false;
}

/**
 * Turns a driver's constraint violation into an {@link IntegrityError} and a lost or refused
 * connection into `STRATA_MODEL_UNAVAILABLE`; other errors pass through.
 */
export function translateError(error: unknown, registry: TableLookup): unknown {
  if (isStrataError(error)) return error;
  const driver = findDriverError(error);
  if (!driver) {
    if (!isUnreachable(error)) return error;
    return new ModelError('STRATA_MODEL_UNAVAILABLE', 'The database cannot be reached right now; try again shortly.', { cause: error });
  }
  if (driver.code && PG_CODES[driver.code]) return fromPostgres(driver, PG_CODES[driver.code]!, registry, error);
  if (driver.code?.startsWith('SQLITE_CONSTRAINT')) return fromSqlite(driver, registry, error);
  return error;
}

function findDriverError(error: unknown): DriverError | undefined {
  for (let e = error as DriverError | undefined, i = 0; e && i < 5; e = e.cause as DriverError | undefined, i++) {
    if (typeof e.code === 'string' && (PG_CODES[e.code] || e.code.startsWith('SQLITE_CONSTRAINT'))) return e;
  }
  return undefined;
}

function fromPostgres(e: DriverError, kind: ConstraintKind, registry: TableLookup, cause: unknown): IntegrityError {
  const model = e.table ? registry.modelByTable(e.table) : undefined;
  const column = e.column ?? /Key \(([^)]+)\)/.exec(e.detail ?? '')?.[1]?.split(', ')[0] ?? columnFromConstraint(e.constraint, e.table);
  return new IntegrityError(
    { ...named(registry, model, column), ...(e.constraint ? { constraint: e.constraint } : {}), kind },
    cause,
  );
}

function fromSqlite(e: DriverError, registry: TableLookup, cause: unknown): IntegrityError {
  const message = e.message ?? '';
  const kind = sqliteKind(e.code, message);
  const columnMatch = /failed: (\w+)\.(\w+)/.exec(message);
  if (columnMatch) {
    const model = registry.modelByTable(columnMatch[1]!);
    return new IntegrityError({ ...named(registry, model, columnMatch[2]), kind }, cause);
  }
  const checkMatch = /CHECK constraint failed: (\w+)/.exec(message);
  if (checkMatch) {
    const constraint = checkMatch[1]!;
    const table = [...constraint.matchAll(/_/g)].map((m) => constraint.slice(0, m.index)).reverse().find((t) => registry.modelByTable(t));
    const model = table ? registry.modelByTable(table) : undefined;
    return new IntegrityError({ ...named(registry, model, columnFromConstraint(constraint, table)), constraint, kind }, cause);
  }
  return new IntegrityError({ kind }, cause);
}

function sqliteKind(code: string | undefined, message: string): ConstraintKind {
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') return 'notNull';
  // An ON DELETE RESTRICT violation comes as SQLITE_CONSTRAINT_TRIGGER; only the message tells.
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || message.startsWith('FOREIGN KEY constraint failed')) return 'foreignKey';
  return 'check';
}

function columnFromConstraint(constraint: string | undefined, table: string | undefined): string | undefined {
  if (!constraint || !table || !constraint.startsWith(`${table}_`)) return undefined;
  return constraint.slice(table.length + 1).replace(/_(unique|idx|choices|fkey|key|not_null)$/, '');
}

/** Model name plus the field name for a column (`category_id` → `category`). */
function named(registry: TableLookup, model: AnyModel | undefined, column: string | undefined): { model?: string; field?: string } {
  if (!model) return {};
  const field = column ? fieldForColumn(registry, model, column) : undefined;
  return field ? { model: model.name, field } : { model: model.name };
}

/** Read from the compiled model, so it names columns exactly as they were created. */
function fieldForColumn(registry: TableLookup, model: AnyModel, column: string): string | undefined {
  for (const info of registry.meta(model).columns.values()) {
    if (info.name !== column) continue;
    const isRelation = info.config.kind === 'foreignKey' || info.config.kind === 'oneToOne';
    return isRelation ? info.key.slice(0, -'Id'.length) : info.key;
  }
  // A named check over several columns (`stock_nonnegative`) is no field: say so, rather than invent one.
  return undefined;
}
