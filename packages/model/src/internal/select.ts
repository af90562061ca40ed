import { asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import { alias as sqliteAlias } from 'drizzle-orm/sqlite-core';
import { alias as pgAlias } from 'drizzle-orm/pg-core';
import { ModelError } from '../errors.js';
import type { Registry } from '../registry.js';
import type { CompiledModel } from './compile.js';
import { checkDynamicName, compileNode, unknownField, type DynamicNames, type Node } from './where.js';

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
  /** Set when `order` was chosen by dynamic input (`orderByDynamic`): how its terms are checked. */
  readonly orderNames: DynamicNames | undefined;
  /** Order by `id` last (unless the ordering names it), so that the order is total and pages never overlap. */
  readonly totalOrder: boolean;
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
  orderNames: undefined,
  totalOrder: false,
};

/** A LEFT JOIN of a to-one relation, keyed by its dotted path from the queried model. */
export interface Join {
  path: string;
  /** The relation's name on the parent row, where a loaded row is attached. */
  field: string;
  /** The alias (`r1`, `r2`, …), also the key of its columns in a SELECT result. */
  name: string;
  /** Position in the plan's joins (the alias is `r${index + 1}`). */
  index: number;
  meta: CompiledModel;
  ref: any;
  parentRef: any;
  key: string;
  parent: Join | undefined;
}

/** The planned SELECT: joins by path plus the where and order SQL. */
export interface Plan {
  meta: CompiledModel;
  /** Every join: the relations selectRelated loads, then those only an ordering reads. */
  joins: Map<string, Join>;
  /** The joins whose rows are loaded (selectRelated), parents before children. */
  loaded: Join[];
  where: SQL | undefined;
  orderBy: SQL[];
  /** The column of each ordering term, which SELECT DISTINCT must also select on PostgreSQL. */
  sortColumns: unknown[];
}

export function plan(registry: Registry, meta: CompiledModel, state: QueryState): Plan {
  const joins = new Map<string, Join>();
  for (const path of state.related) joinPath(registry, meta, joins, path.split('.'), path);
  const loaded = [...joins.values()];
  const where = whereSql(registry, meta, state);
  const terms = state.order ?? meta.model.ordering;
  let sorts = state.order ? terms.map((term) => sortBy(registry, meta, joins, term, state.orderNames)) : defaultSorts(registry, meta, joins);
  if (state.totalOrder && !terms.some((term) => term === 'id' || term === '-id')) sorts = [...sorts, sortBy(registry, meta, joins, 'id', undefined)];
  return { meta, joins, loaded, where, orderBy: sorts.map((sort) => sort.sql), sortColumns: sorts.map((sort) => sort.column) };
}

type Sort = { sql: SQL; column: unknown };
const compiledDefaults = new WeakMap<CompiledModel, readonly Sort[]>();

/**
 * The model's default ordering, compiled once per registry (a CompiledModel belongs to one). One
 * across a relation is compiled per query: it joins under an alias that depends on the other joins.
 */
function defaultSorts(registry: Registry, meta: CompiledModel, joins: Map<string, Join>): readonly Sort[] {
  const cached = compiledDefaults.get(meta);
  if (cached) return cached;
  const sorts = meta.model.ordering.map((term) => sortBy(registry, meta, joins, term, undefined));
  if (!meta.model.ordering.some((term) => term.includes('.'))) compiledDefaults.set(meta, sorts);
  return sorts;
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
      const index = joins.size;
      const name = `r${index + 1}`;
      const ref = registry.dialect === 'sqlite' ? sqliteAlias(target.table, name) : pgAlias(target.table, name);
      join = { path, field: segment, name, index, meta: target, ref, parentRef: parent?.ref ?? meta.table, key: relation.key, parent };
      joins.set(path, join);
    }
    parent = join;
    current = join.meta;
  }
  return parent!;
}

/** One ordering term (`'name'`, `'-category.name'`): its ORDER BY SQL and the column it reads. */
function sortBy(registry: Registry, meta: CompiledModel, joins: Map<string, Join>, term: string, names: DynamicNames | undefined): Sort {
  if (typeof term !== 'string' || term.length === 0) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `Ordering terms are field paths such as "name" or "-createdAt".`);
  }
  const descending = term.startsWith('-');
  const path = descending ? term.slice(1) : term;
  if (names) checkDynamicPath(registry, meta, path, names);
  const { column, nullable } = columnAt(registry, meta, joins, path);
  if (nullable && registry.dialect === 'sqlite') {
    // NULL sorts as the largest value on both databases: PostgreSQL's rule, the reverse of SQLite's.
    return { sql: descending ? sql`${column} desc nulls first` : sql`${column} asc nulls last`, column };
  }
  return { sql: descending ? desc(column) : asc(column), column };
}

/** Checks each segment of a dynamic ordering path as a filter checks its keys; an unknown one is left to columnAt. */
function checkDynamicPath(registry: Registry, meta: CompiledModel, path: string, names: DynamicNames): void {
  const segments = path.split('.');
  let current: CompiledModel | undefined = meta;
  for (let i = 0; i < segments.length && current; i++) {
    checkDynamicName(current, segments[i]!, segments.slice(0, i + 1).join('.'), names, i === segments.length - 1);
    const relation = current.toOne.get(segments[i]!);
    current = relation && registry.meta(relation.target);
  }
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

/** A many-to-many link table joined into a SELECT (prefetch), with the columns it adds. */
export interface Link {
  table: any;
  on: SQL;
  columns: Record<string, unknown>;
}

/**
 * The SELECT for a plan: `{ t0: base columns, r1: a loaded relation, … }`; a join that only an
 * ordering reads adds no columns. `link` joins a many-to-many table in (prefetch).
 */
export function selectQuery(db: any, registry: Registry, state: QueryState, p: Plan, link?: Link) {
  const base = state.only ? pickColumns(p.meta, state.only) : p.meta.table;
  const shape: Record<string, unknown> = { t0: base, ...link?.columns };
  for (const join of p.loaded) shape[join.name] = join.ref;
  if (state.distinct && registry.dialect === 'postgres') {
    // PostgreSQL orders SELECT DISTINCT only by selected expressions (SQLite has no such rule).
    // Selecting them leaves the same rows distinct: each holds its primary key, and joins are to-one.
    p.sortColumns.forEach((column, i) => (shape[`o${i + 1}`] = column));
  }
  return joined(db, registry, state, p, shape, link);
}

/**
 * The SELECT of `values()`: just the named field paths, keyed by path, so that `distinct()`
 * compares those values alone.
 */
export function valuesQuery(db: any, registry: Registry, state: QueryState, p: Plan, fields: readonly string[]) {
  const shape = Object.fromEntries(fields.map((field) => [field, columnAt(registry, p.meta, p.joins, field).column]));
  return joined(db, registry, state, p, shape);
}

function joined(db: any, registry: Registry, state: QueryState, p: Plan, shape: Record<string, unknown>, link?: Link) {
  let query = (state.distinct ? db.selectDistinct(shape) : db.select(shape)).from(p.meta.table);
  if (link) query = query.innerJoin(link.table, link.on);
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

/** Turns one SELECT result record into a row with its loaded relations attached. */
export function assemble(p: Plan, record: Record<string, any>): Record<string, unknown> {
  const row = makeRow(p.meta, record.t0);
  // Indexed by join: loaded joins come first in a plan, and a parent before its children, so a
  // join's holder is attached (or null, and then so is everything below it) before it is reached.
  const attached: (Record<string, unknown> | null)[] = [];
  for (const join of p.loaded) {
    const holder = join.parent ? (attached[join.parent.index] ?? null) : row;
    const data = record[join.name];
    const value = holder && data && data.id !== null ? makeRow(join.meta, data) : null;
    if (holder) holder[join.field] = value;
    attached[join.index] = value;
  }
  return row;
}
