import { asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import { alias as sqliteAlias } from 'drizzle-orm/sqlite-core';
import { alias as pgAlias } from 'drizzle-orm/pg-core';
import { ModelError } from '../errors.js';
import type { Registry } from '../registry.js';
import type { CompiledModel } from './compile.js';
import { compileNode, unknownField, type Node } from './where.js';

/** Everything a queryset has been told, before it runs. */
export interface QueryState {
  readonly nodes: readonly Node[];
  readonly order: readonly string[] | undefined;
  readonly limit: number | undefined;
  readonly offset: number | undefined;
  readonly related: readonly string[];
  readonly prefetch: readonly PrefetchSpec[];
  readonly only: readonly string[] | undefined;
  readonly distinct: boolean;
  readonly forUpdate: boolean;
  /** Internal filters added by prefetch: `key IN batch`. */
  readonly batch?: { key: string; values: readonly unknown[] };
}

export interface PrefetchSpec {
  readonly path: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly queryset?: any;
}

export const emptyState: QueryState = {
  nodes: [],
  order: undefined,
  limit: undefined,
  offset: undefined,
  related: [],
  prefetch: [],
  only: undefined,
  distinct: false,
  forUpdate: false,
};

/** A LEFT JOIN of a to-one relation, keyed by its dotted path from the queried model. */
export interface Join {
  path: string;
  name: string;
  meta: CompiledModel;
  ref: any;
  parentRef: any;
  key: string;
  parent: Join | undefined;
}

/** The planned SELECT: joins by path plus the where and order SQL. */
export interface Plan {
  meta: CompiledModel;
  joins: Map<string, Join>;
  where: SQL | undefined;
  orderBy: SQL[];
}

export function plan(registry: Registry, meta: CompiledModel, state: QueryState): Plan {
  const joins = new Map<string, Join>();
  for (const path of state.related) joinPath(registry, meta, joins, path.split('.'), path);
  const where = whereSql(registry, meta, state);
  const orderBy = (state.order ?? meta.model.ordering).map((term) => orderTerm(registry, meta, joins, term));
  return { meta, joins, where, orderBy };
}

export function whereSql(registry: Registry, meta: CompiledModel, state: QueryState): SQL | undefined {
  const parts = state.nodes.map((node) => compileNode(registry, meta, meta.table, node));
  if (state.batch) parts.push(batchSql(registry, meta.table[state.batch.key], state.batch.values));
  const defined = parts.filter((part): part is SQL => part !== undefined);
  if (defined.length === 0) return undefined;
  return defined.length === 1 ? defined[0] : sql.join(defined.map((part) => sql`(${part})`), sql` and `);
}

/**
 * `column IN batch` as one bound parameter whatever the batch size, so prefetch costs one
 * query of one SQL shape for any number of rows.
 */
export function batchSql(registry: Registry, column: any, rawValues: readonly unknown[]): SQL {
  // Values cross the column's own mapping (e.g. UUIDs are stored lower-case), as bound parameters do.
  const values = rawValues.map((value) => column.mapToDriverValue(value));
  if (registry.dialect === 'postgres') {
    const allNumbers = values.every((value) => typeof value === 'number');
    return sql`${column} = any(${sql.param([...values])}::${sql.raw(allNumbers ? 'bigint[]' : 'uuid[]')})`;
  }
  return sql`${column} in (select value from json_each(${JSON.stringify(values)}))`;
}

function joinPath(registry: Registry, meta: CompiledModel, joins: Map<string, Join>, segments: string[], full: string): Join {
  let parent: Join | undefined;
  let current = meta;
  let path = '';
  for (const segment of segments) {
    path = path ? `${path}.${segment}` : segment;
    const relation = current.toOne.get(segment);
    if (!relation) {
      if (current.reverse.has(segment) || current.manyToMany.has(segment)) {
        const kind = current.reverse.get(segment)?.unique ? 'reverse one-to-one' : 'to-many';
        throw new ModelError('STRATA_MODEL_INVALID_QUERY', `"${full}" crosses the ${kind} relation "${segment}", which is not joined; use prefetch() for it.`);
      }
      throw unknownField(current.model, segment);
    }
    let join = joins.get(path);
    if (!join) {
      const target = registry.meta(relation.target);
      const name = `r${joins.size + 1}`;
      const ref = registry.dialect === 'sqlite' ? sqliteAlias(target.table, name) : pgAlias(target.table, name);
      join = { path, name, meta: target, ref, parentRef: parent?.ref ?? meta.table, key: relation.key, parent };
      joins.set(path, join);
    }
    parent = join;
    current = join.meta;
  }
  return parent!;
}

function orderTerm(registry: Registry, meta: CompiledModel, joins: Map<string, Join>, term: string): SQL {
  if (typeof term !== 'string' || term.length === 0) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `Ordering terms are field paths such as "name" or "-createdAt".`);
  }
  const descending = term.startsWith('-');
  const { column, nullable } = columnAt(registry, meta, joins, descending ? term.slice(1) : term);
  if (nullable && registry.dialect === 'sqlite') {
    // NULL sorts as the largest value on both databases: PostgreSQL's rule, the reverse of SQLite's.
    return descending ? sql`${column} desc nulls first` : sql`${column} asc nulls last`;
  }
  return descending ? desc(column) : asc(column);
}

/**
 * The column a field path (`'price'`, `'category.name'`) names, joining to-one relations on the
 * way; `nullable` when it may read NULL (a nullable field, or any field behind a LEFT JOIN).
 */
function columnAt(registry: Registry, meta: CompiledModel, joins: Map<string, Join>, path: string): { column: any; nullable: boolean } {
  if (typeof path !== 'string' || path.length === 0) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `Field paths are names such as "name" or "category.name".`);
  }
  const segments = path.split('.');
  const last = segments.pop()!;
  const owner = segments.length ? joinPath(registry, meta, joins, segments, path) : undefined;
  const ownerMeta = owner?.meta ?? meta;
  const key = ownerMeta.columns.has(last) ? last : ownerMeta.toOne.get(last)?.key;
  if (!key) throw unknownField(ownerMeta.model, last);
  return { column: (owner?.ref ?? meta.table)[key], nullable: owner !== undefined || ownerMeta.columns.get(key)!.config.null };
}

/** The SELECT for a plan: `{ t0: base columns, r1: joined columns, … }`. */
export function selectQuery(db: any, registry: Registry, state: QueryState, p: Plan, extra: Record<string, unknown> = {}) {
  const { meta } = p;
  const base = state.only ? pickColumns(meta, state.only) : meta.table;
  const shape: Record<string, unknown> = { t0: base, ...extra };
  for (const join of p.joins.values()) shape[join.name] = join.ref;
  return joined(db, registry, state, p, shape);
}

/**
 * The SELECT of `values()`: just the named field paths, keyed by path, so that `distinct()`
 * compares those values alone.
 */
export function valuesQuery(db: any, registry: Registry, state: QueryState, p: Plan, fields: readonly string[]) {
  const shape = Object.fromEntries(fields.map((field) => [field, columnAt(registry, p.meta, p.joins, field).column]));
  return joined(db, registry, state, p, shape);
}

function joined(db: any, registry: Registry, state: QueryState, p: Plan, shape: Record<string, unknown>) {
  let query = (state.distinct ? db.selectDistinct(shape) : db.select(shape)).from(p.meta.table);
  for (const join of p.joins.values()) query = query.leftJoin(join.ref, eq(join.ref.id, join.parentRef[join.key]));
  return finish(query, registry, state, p);
}

export function finish(query: any, registry: Registry, state: QueryState, p: Plan) {
  if (p.where) query = query.where(p.where);
  if (p.orderBy.length) query = query.orderBy(...p.orderBy);
  if (state.limit !== undefined) query = query.limit(state.limit);
  // SQLite only takes OFFSET after a LIMIT, and -1 is its "no limit" (drizzle drops a negative number).
  else if (state.offset !== undefined && registry.dialect === 'sqlite') query = query.limit(sql`-1`);
  if (state.offset !== undefined) query = query.offset(state.offset);
  if (state.forUpdate && registry.dialect === 'postgres') query = query.for('update', { of: p.meta.table });
  return query;
}

function pickColumns(meta: CompiledModel, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: meta.table.id };
  for (const key of keys) {
    const column = meta.columns.has(key) ? key : meta.toOne.get(key)?.key;
    if (!column) throw unknownField(meta.model, key);
    out[column] = meta.table[column];
  }
  return out;
}

/** Wraps data as a branded row of `meta`'s model. */
export function makeRow(meta: CompiledModel, data: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(meta.rowPrototype) as Record<string, unknown>, data);
}

/** Turns one SELECT result record into a row with its joined relations attached. */
export function assemble(p: Plan, record: Record<string, any>, related: readonly string[]): Record<string, unknown> {
  const row = makeRow(p.meta, record.t0);
  for (const path of related) {
    let holder = row;
    let prefix = '';
    for (const segment of path.split('.')) {
      prefix = prefix ? `${prefix}.${segment}` : segment;
      if (holder === null) break;
      if (!(segment in holder)) {
        const join = p.joins.get(prefix)!;
        const data = record[join.name];
        holder[segment] = data && data.id !== null ? makeRow(join.meta, data) : null;
      }
      holder = holder[segment] as Record<string, unknown>;
    }
  }
  return row;
}
