import { and, between, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import { ModelError } from '../errors.js';
import type { Registry } from '../registry.js';
import type { AnyModel } from '../types.js';
import type { Dialect } from './columns.js';
import type { CompiledModel, ColumnInfo } from './compile.js';
import { ROW_MODEL } from './compile.js';
import { checkValue } from './validate.js';

/** A filter tree: plain where-objects combined with and/or/not; `names` marks one built from dynamic input. */
export type Node =
  | { readonly type: 'where'; readonly value: Record<string, unknown>; readonly names?: DynamicNames }
  | { readonly type: 'and' | 'or'; readonly items: readonly Node[] }
  | { readonly type: 'not'; readonly item: Node };

const LOOKUPS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'range', 'isNull', 'contains', 'icontains', 'startsWith', 'endsWith', 'iexact']);
const TEXT_ONLY = new Set(['contains', 'icontains', 'startsWith', 'endsWith', 'iexact']);

/**
 * How field paths chosen by dynamic input (`filterDynamic`, `orderByDynamic`) are checked: never
 * a sensitive field, and, when `allow` is given, only the paths it lists.
 */
export interface DynamicNames {
  readonly allow: ReadonlySet<string> | undefined;
  /** The relation paths leading to an allowed path, which a filter may cross. */
  readonly crossing: ReadonlySet<string> | undefined;
}

/** A filter of dynamic input being compiled: its checks, and the path of the model it is at. */
interface Dynamic {
  readonly names: DynamicNames;
  readonly prefix: string;
}

const anyNonSensitive: DynamicNames = { allow: undefined, crossing: undefined };

/** The checks of names from dynamic input that may use the paths `allow` lists (when none: any non-sensitive one). */
export function dynamicNames(allow: readonly string[] | undefined): DynamicNames {
  if (!allow) return anyNonSensitive;
  const crossing = new Set<string>();
  for (const path of allow) for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1)) crossing.add(path.slice(0, dot));
  return { allow: new Set(allow), crossing };
}

/**
 * Refuses `key` of `meta`, reached by dynamic input at `path`, when `allow` does not cover it (a
 * `leaf` must be listed; a relation crossed to a nested filter must lead to a listed path) or when
 * it is sensitive: comparing a password hash with client input leaks it a character at a time.
 */
export function checkDynamicName(meta: CompiledModel, key: string, path: string, names: DynamicNames, leaf: boolean): void {
  if (names.allow && !(leaf ? names.allow : names.crossing!).has(path)) {
    throw new ModelError('STRATA_MODEL_UNKNOWN_FIELD', `"${path}" is not among the fields this query lets input choose (${[...names.allow].join(', ')}).`);
  }
  if (meta.columns.get(key)?.config.sensitive) {
    throw new ModelError(
      'STRATA_MODEL_INVALID_QUERY',
      `${meta.model.name}.${key} is sensitive: sensitive fields cannot be filtered or ordered by dynamic input; use filter() or orderBy() in code.`,
    );
  }
}

/** Compiles a filter tree over `ref` (the table or an alias of `meta`) to SQL. */
export function compileNode(registry: Registry, meta: CompiledModel, ref: any, node: Node): SQL | undefined {
  switch (node.type) {
    case 'where':
      return compileWhere(registry, meta, ref, node.value, node.names && { names: node.names, prefix: '' });
    case 'and':
      return and(...node.items.map((item) => compileNode(registry, meta, ref, item)));
    case 'or': {
      if (node.items.length === 0) return sql`1 = 0`;
      const items = node.items.map((item) => compileNode(registry, meta, ref, item));
      // An empty condition matches every row, so an `or` holding one does too.
      return items.includes(undefined) ? undefined : or(...items);
    }
    case 'not': {
      const inner = compileNode(registry, meta, ref, node.item);
      // `is not true` rather than NOT: a row whose condition is NULL (a NULL column, a NULL
      // in an IN list) does not match it, so it belongs to the complement.
      return inner ? sql`(${inner}) is not true` : sql`1 = 0`;
    }
  }
}

function compileWhere(registry: Registry, meta: CompiledModel, ref: any, where: Record<string, unknown>, dynamic?: Dynamic): SQL | undefined {
  // A Date, an array or a class instance has no field conditions; reading its own keys would
  // quietly match every row.
  if (!isPlainObject(where)) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A filter on ${meta.model.name} must be an object of field conditions.`);
  }
  const parts: (SQL | undefined)[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (value === undefined) continue;
    const column = meta.columns.get(key);
    let inner: Dynamic | undefined;
    if (dynamic) {
      const path = dynamic.prefix ? `${dynamic.prefix}.${key}` : key;
      // Anything but a nested filter (a value, lookups, a row) reads the field at `path` itself.
      checkDynamicName(meta, key, path, dynamic.names, column !== undefined || !isPlainObject(value));
      inner = { names: dynamic.names, prefix: path };
    }
    if (column && Object.hasOwn(where, key)) {
      parts.push(compileLookups(registry.dialect, meta.model, column, ref[key], value));
      continue;
    }
    const toOne = meta.toOne.get(key);
    if (toOne) {
      parts.push(compileToOne(registry, meta, ref, toOne.key, toOne.target, value, inner));
      continue;
    }
    const reverse = meta.reverse.get(key);
    if (reverse) {
      const source = registry.meta(reverse.source);
      const fk = `${reverse.field}Id`;
      parts.push(sql`${ref.id} in (select ${source.table[fk]} from ${source.table} where ${subWhere(registry, source, value, inner)})`);
      continue;
    }
    const m2m = meta.manyToMany.get(key);
    if (m2m) {
      const through = registry.meta(m2m.through).table;
      const target = registry.meta(m2m.target);
      parts.push(
        sql`${ref.id} in (select ${through[`${m2m.sourceField}Id`]} from ${through} where ${through[`${m2m.targetField}Id`]} in (select ${target.table.id} from ${target.table} where ${subWhere(registry, target, value, inner)}))`,
      );
      continue;
    }
    throw unknownField(meta.model, key);
  }
  return and(...parts);
}

function subWhere(registry: Registry, meta: CompiledModel, value: unknown, dynamic: Dynamic | undefined): SQL {
  if (typeof value !== 'object' || value === null) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A filter across a to-many relation to ${meta.model.name} needs an object of conditions.`);
  }
  // A row stands for itself (`{ tags: greenTag }`), not for a condition on each of its fields.
  if ((value as Record<symbol, unknown>)[ROW_MODEL]) return eq(meta.table.id, rowKey(meta, value));
  return compileWhere(registry, meta, meta.table, value as Record<string, unknown>, dynamic) ?? sql`1 = 1`;
}

/** The key of a row standing for itself in a filter; a row of another model is a mistake, not a match by id. */
function rowKey(meta: CompiledModel, row: unknown): unknown {
  const model = (row as Record<symbol, unknown>)[ROW_MODEL];
  if (model !== meta.model) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A ${(model as AnyModel).name} row was given where a ${meta.model.name} row or key was expected.`);
  }
  return checked(meta.model, meta.columns.get('id')!, (row as { id: unknown }).id);
}

function compileToOne(registry: Registry, meta: CompiledModel, ref: any, key: string, target: AnyModel, value: unknown, dynamic: Dynamic | undefined): SQL | undefined {
  const column = meta.columns.get(key)!;
  if (value === null) return isNull(ref[key]);
  if (typeof value !== 'object') return compileLookups(registry.dialect, meta.model, column, ref[key], value);
  const targetMeta = registry.meta(target);
  if ((value as Record<symbol, unknown>)[ROW_MODEL]) return eq(ref[key], rowKey(targetMeta, value));
  const inner = compileWhere(registry, targetMeta, targetMeta.table, value as Record<string, unknown>, dynamic) ?? sql`1 = 1`;
  return sql`${ref[key]} in (select ${targetMeta.table.id} from ${targetMeta.table} where ${inner})`;
}

function compileLookups(dialect: Dialect, model: AnyModel, info: ColumnInfo, column: any, value: unknown): SQL | undefined {
  if (value === null) return isNull(column);
  if (!isPlainObject(value)) return eq(column, checked(model, info, value));
  const parts: (SQL | undefined)[] = [];
  for (const [lookup, operand] of Object.entries(value)) {
    if (!LOOKUPS.has(lookup) || !Object.hasOwn(value, lookup)) {
      throw new ModelError('STRATA_MODEL_UNKNOWN_FIELD', `Unknown lookup "${lookup}" on ${model.name}.${info.key}; use one of ${[...LOOKUPS].join(', ')}.`);
    }
    if (operand === undefined) continue;
    if (TEXT_ONLY.has(lookup) && !isTextual(info)) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `The "${lookup}" lookup needs a text field; ${model.name}.${info.key} is ${info.config.kind}.`);
    }
    parts.push(lookupSql(dialect, model, info, column, lookup, operand));
  }
  return and(...parts);
}

function lookupSql(dialect: Dialect, model: AnyModel, info: ColumnInfo, column: any, lookup: string, operand: unknown): SQL {
  const value = () => checked(model, info, operand);
  switch (lookup) {
    case 'eq':
      return operand === null ? isNull(column) : eq(column, value());
    case 'ne':
      if (operand === null) return isNotNull(column);
      // The complement of eq, as exclude() is: NULL is not equal to the operand.
      return info.config.null ? or(ne(column, value()), isNull(column))! : ne(column, value());
    case 'gt':
      return gt(column, value());
    case 'gte':
      return gte(column, value());
    case 'lt':
      return lt(column, value());
    case 'lte':
      return lte(column, value());
    case 'in': {
      const list = arrayOperand(model, info, lookup, operand);
      return list.length === 0 ? sql`1 = 0` : inArray(column, list.map((item) => checked(model, info, item)));
    }
    case 'range': {
      const bounds = arrayOperand(model, info, lookup, operand);
      if (bounds.length !== 2) throw invalid(model, info, 'range needs [low, high]');
      return between(column, checked(model, info, bounds[0]), checked(model, info, bounds[1]));
    }
    case 'isNull':
      if (typeof operand !== 'boolean') throw invalid(model, info, 'isNull needs true or false');
      return operand ? isNull(column) : isNotNull(column);
    case 'iexact':
      return sql`${lower(dialect, textOf(dialect, info, column))} = ${lower(dialect, text(model, info, operand))}`;
    default:
      return likeSql(dialect, textOf(dialect, info, column), lookup, text(model, info, operand));
  }
}

/** Unicode lower-casing: SQLite's own lower() folds only ASCII, so the connection registers strata_lower. */
function lower(dialect: Dialect, value: unknown): SQL {
  return dialect === 'postgres' ? sql`lower(${value})` : sql`strata_lower(${value})`;
}

/** PostgreSQL has no text functions (lower, LIKE, strpos) on uuid and date columns. */
function textOf(dialect: Dialect, info: ColumnInfo, column: any): any {
  return dialect === 'postgres' && (info.config.kind === 'uuid' || info.config.kind === 'date') ? sql`${column}::text` : column;
}

/** Pattern lookups: special characters in the operand are escaped, never interpreted. */
function likeSql(dialect: Dialect, column: any, lookup: string, operand: string): SQL {
  const escaped = operand.replace(/[\\%_]/g, (c) => `\\${c}`);
  const pattern = lookup === 'startsWith' ? `${escaped}%` : lookup === 'endsWith' ? `%${escaped}` : `%${escaped}%`;
  if (lookup === 'icontains') return sql`${lower(dialect, column)} like ${lower(dialect, pattern)} escape '\\'`;
  // Case-sensitive on both dialects (SQLite's LIKE ignores ASCII case, so compare by position there).
  if (lookup === 'contains') return dialect === 'postgres' ? sql`strpos(${column}, ${operand}) > 0` : sql`instr(${column}, ${operand}) > 0`;
  if (dialect === 'postgres') return sql`${column} like ${pattern} escape '\\'`;
  // SQLite's GLOB is case-sensitive (and can use an index for a prefix); its metacharacters are bracketed.
  const glob = operand.replace(/[[*?]/g, (c) => `[${c}]`);
  return sql`${column} glob ${lookup === 'startsWith' ? `${glob}*` : `*${glob}`}`;
}

function isTextual(info: ColumnInfo): boolean {
  return info.config.kind === 'text' || info.config.kind === 'choice' || info.config.kind === 'uuid' || info.config.kind === 'date';
}

function text(model: AnyModel, info: ColumnInfo, operand: unknown): string {
  if (typeof operand !== 'string') throw invalid(model, info, 'expected a string');
  if (operand.includes('\u0000')) throw invalid(model, info, 'null characters are not allowed');
  return operand;
}

function arrayOperand(model: AnyModel, info: ColumnInfo, lookup: string, operand: unknown): unknown[] {
  if (!Array.isArray(operand)) throw invalid(model, info, `${lookup} needs an array`);
  return operand;
}

/** Filter values are checked like writes: a wrong type is an error, never coerced. */
function checked(model: AnyModel, info: ColumnInfo, value: unknown): unknown {
  const isRelation = info.config.kind === 'foreignKey' || info.config.kind === 'oneToOne';
  // A key is checked as the primary key it refers to, so `'abc'` for an integer key is refused
  // here rather than failing (PostgreSQL) or matching nothing (SQLite) in the database.
  const config = isRelation ? { ...info.config, kind: info.config.target!().primaryKey } : info.config;
  const message = checkValue(config, value);
  // Range and length rules bound what is stored, not what may be compared with it; extra
  // decimal places are refused, as SQLite (scaled integers) would silently truncate them.
  if (message && (!message.startsWith('Ensure') || message.includes('decimal places'))) throw invalid(model, info, message);
  return value;
}

function invalid(model: AnyModel, info: ColumnInfo, message: string): ModelError {
  return new ModelError('STRATA_MODEL_INVALID_QUERY', `Invalid filter value for ${model.name}.${info.key}: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
}

export function unknownField(model: AnyModel, key: string): ModelError {
  return new ModelError('STRATA_MODEL_UNKNOWN_FIELD', `${model.name} has no field or relation "${key}".`);
}
