import { and, between, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, not, or, sql, type SQL } from 'drizzle-orm';
import { ModelError } from '../errors.js';
import type { Registry } from '../registry.js';
import type { AnyModel } from '../types.js';
import type { CompiledModel, ColumnInfo } from './compile.js';
import { ROW_MODEL } from './compile.js';
import { checkValue } from './validate.js';

/** A filter tree: plain where-objects combined with and/or/not. */
export type Node =
  | { readonly type: 'where'; readonly value: Record<string, unknown> }
  | { readonly type: 'and' | 'or'; readonly items: readonly Node[] }
  | { readonly type: 'not'; readonly item: Node };

const LOOKUPS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'range', 'isNull', 'contains', 'icontains', 'startsWith', 'endsWith', 'iexact']);
const TEXT_ONLY = new Set(['contains', 'icontains', 'startsWith', 'endsWith', 'iexact']);

/** Compiles a filter tree over `ref` (the table or an alias of `meta`) to SQL. */
export function compileNode(registry: Registry, meta: CompiledModel, ref: any, node: Node): SQL | undefined {
  switch (node.type) {
    case 'where':
      return compileWhere(registry, meta, ref, node.value);
    case 'and':
      return and(...node.items.map((item) => compileNode(registry, meta, ref, item)));
    case 'or':
      return node.items.length === 0 ? sql`1 = 0` : or(...node.items.map((item) => compileNode(registry, meta, ref, item)));
    case 'not': {
      const inner = compileNode(registry, meta, ref, node.item);
      return inner ? not(inner) : sql`1 = 0`;
    }
  }
}

function compileWhere(registry: Registry, meta: CompiledModel, ref: any, where: Record<string, unknown>): SQL | undefined {
  if (typeof where !== 'object' || where === null || Array.isArray(where)) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A filter on ${meta.model.name} must be an object of field conditions.`);
  }
  const parts: (SQL | undefined)[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (value === undefined) continue;
    const column = meta.columns.get(key);
    if (column && Object.hasOwn(where, key)) {
      parts.push(compileLookups(meta.model, column, ref[key], value));
      continue;
    }
    const toOne = meta.toOne.get(key);
    if (toOne) {
      parts.push(compileToOne(registry, meta, ref, toOne.key, toOne.target, value));
      continue;
    }
    const reverse = meta.reverse.get(key);
    if (reverse) {
      const source = registry.meta(reverse.source);
      const fk = `${reverse.field}Id`;
      parts.push(sql`${ref.id} in (select ${source.table[fk]} from ${source.table} where ${subWhere(registry, source, value)})`);
      continue;
    }
    const m2m = meta.manyToMany.get(key);
    if (m2m) {
      const through = registry.meta(m2m.through).table;
      const target = registry.meta(m2m.target);
      parts.push(
        sql`${ref.id} in (select ${through[`${m2m.sourceField}Id`]} from ${through} where ${through[`${m2m.targetField}Id`]} in (select ${target.table.id} from ${target.table} where ${subWhere(registry, target, value)}))`,
      );
      continue;
    }
    throw unknownField(meta.model, key);
  }
  return and(...parts);
}

function subWhere(registry: Registry, meta: CompiledModel, value: unknown): SQL {
  if (typeof value !== 'object' || value === null) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A filter across a to-many relation to ${meta.model.name} needs an object of conditions.`);
  }
  return compileWhere(registry, meta, meta.table, value as Record<string, unknown>) ?? sql`1 = 1`;
}

function compileToOne(registry: Registry, meta: CompiledModel, ref: any, key: string, target: AnyModel, value: unknown): SQL | undefined {
  const column = meta.columns.get(key)!;
  if (value === null) return isNull(ref[key]);
  if (typeof value !== 'object') return compileLookups(meta.model, column, ref[key], value);
  if ((value as Record<symbol, unknown>)[ROW_MODEL]) return eq(ref[key], (value as { id: unknown }).id);
  const targetMeta = registry.meta(target);
  const inner = compileWhere(registry, targetMeta, targetMeta.table, value as Record<string, unknown>) ?? sql`1 = 1`;
  return sql`${ref[key]} in (select ${targetMeta.table.id} from ${targetMeta.table} where ${inner})`;
}

function compileLookups(model: AnyModel, info: ColumnInfo, column: any, value: unknown): SQL | undefined {
  if (value === null) return isNull(column);
  if (!isLookupObject(value)) return eq(column, checked(model, info, value));
  const parts: (SQL | undefined)[] = [];
  for (const [lookup, operand] of Object.entries(value)) {
    if (!LOOKUPS.has(lookup) || !Object.hasOwn(value, lookup)) {
      throw new ModelError('STRATA_MODEL_UNKNOWN_FIELD', `Unknown lookup "${lookup}" on ${model.name}.${info.key}; use one of ${[...LOOKUPS].join(', ')}.`);
    }
    if (operand === undefined) continue;
    if (TEXT_ONLY.has(lookup) && !isTextual(info)) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `The "${lookup}" lookup needs a text field; ${model.name}.${info.key} is ${info.config.kind}.`);
    }
    parts.push(lookupSql(model, info, column, lookup, operand));
  }
  return and(...parts);
}

function lookupSql(model: AnyModel, info: ColumnInfo, column: any, lookup: string, operand: unknown): SQL {
  const value = () => checked(model, info, operand);
  switch (lookup) {
    case 'eq':
      return operand === null ? isNull(column) : eq(column, value());
    case 'ne':
      return operand === null ? isNotNull(column) : ne(column, value());
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
      const [low, high] = arrayOperand(model, info, lookup, operand);
      if (arrayOperand(model, info, lookup, operand).length !== 2) throw invalid(model, info, 'range needs [low, high]');
      return between(column, checked(model, info, low), checked(model, info, high));
    }
    case 'isNull':
      if (typeof operand !== 'boolean') throw invalid(model, info, 'isNull needs true or false');
      return operand ? isNull(column) : isNotNull(column);
    case 'iexact':
      return sql`lower(${column}) = lower(${text(model, info, operand)})`;
    default:
      return likeSql(column, lookup, text(model, info, operand));
  }
}

/** Pattern lookups: special characters in the operand are escaped, never interpreted. */
function likeSql(column: any, lookup: string, operand: string): SQL {
  const escaped = operand.replace(/[\\%_]/g, (c) => `\\${c}`);
  const pattern = lookup === 'startsWith' ? `${escaped}%` : lookup === 'endsWith' ? `%${escaped}` : `%${escaped}%`;
  if (lookup === 'icontains') return sql`lower(${column}) like lower(${pattern}) escape '\\'`;
  // Case-sensitive on both dialects (SQLite's LIKE ignores ASCII case, so compare by position there).
  if (lookup === 'contains') return sql`instr(${column}, ${operand}) > 0`;
  if (lookup === 'startsWith') return sql`substr(${column}, 1, length(${operand})) = ${operand}`;
  return sql`substr(${column}, length(${column}) - length(${operand}) + 1) = ${operand}`;
}

function isTextual(info: ColumnInfo): boolean {
  return info.config.kind === 'text' || info.config.kind === 'choice' || info.config.kind === 'uuid' || info.config.kind === 'date';
}

function text(model: AnyModel, info: ColumnInfo, operand: unknown): string {
  if (typeof operand !== 'string') throw invalid(model, info, 'expected a string');
  return operand;
}

function arrayOperand(model: AnyModel, info: ColumnInfo, lookup: string, operand: unknown): unknown[] {
  if (!Array.isArray(operand)) throw invalid(model, info, `${lookup} needs an array`);
  return operand;
}

/** Filter values are checked like writes: a wrong type is an error, never coerced. */
function checked(model: AnyModel, info: ColumnInfo, value: unknown): unknown {
  const isRelation = info.config.kind === 'foreignKey' || info.config.kind === 'oneToOne';
  if (isRelation || info.key === 'id') {
    const ok = (typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'string';
    if (!ok) throw invalid(model, info, 'expected a primary key (an integer or a string)');
    return value;
  }
  const message = checkValue(info.config, value);
  if (message && !message.startsWith('Ensure')) throw invalid(model, info, message);
  return value;
}

function invalid(model: AnyModel, info: ColumnInfo, message: string): ModelError {
  return new ModelError('STRATA_MODEL_INVALID_QUERY', `Invalid filter value for ${model.name}.${info.key}: ${message}`);
}

function isLookupObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || value instanceof Date || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
}

export function unknownField(model: AnyModel, key: string): ModelError {
  return new ModelError('STRATA_MODEL_UNKNOWN_FIELD', `${model.name} has no field or relation "${key}".`);
}
