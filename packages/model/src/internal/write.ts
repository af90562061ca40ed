import { sql, type SQL } from 'drizzle-orm';
import { ModelError, ProtectedError, ValidationError, type FieldErrors } from '../errors.js';
import { isExpression, type Aggregate, type Expression } from '../expressions.js';
import type { Registry } from '../registry.js';
import { atomic } from '../transaction.js';
import type { AnyModel } from '../types.js';
import type { CompiledModel, ColumnInfo } from './compile.js';
import { batchSql, makeRow, plan, selectQuery, whereSql, type QueryState } from './select.js';
import { scaleDecimal, unscaleDecimal, validateData } from './validate.js';
import { unknownField } from './where.js';

type Data = Record<string, unknown>;

/** Rows deleted, in all and per model (cascades included). */
export interface DeleteResult {
  count: number;
  byModel: Record<string, number>;
}

/** Validates, fills defaults and inserts rows; one statement per chunk, all in one transaction. */
export async function bulkInsert(registry: Registry, model: AnyModel, list: readonly Data[]): Promise<Data[]> {
  const meta = registry.meta(model);
  if (list.length === 0) return [];
  const prepared = list.map((data) => prepare(meta, data));
  const errors: FieldErrors = {};
  prepared.forEach((data, index) => {
    const result = validateData(model, data, false);
    if (!result.ok) {
      for (const [field, messages] of Object.entries(result.errors)) errors[list.length === 1 ? field : `${index}.${field}`] = messages;
    }
  });
  if (Object.keys(errors).length) throw new ValidationError(model.name, errors);
  const columnsPerRow = meta.columns.size;
  const chunkSize = Math.max(1, Math.floor((registry.dialect === 'sqlite' ? 30_000 : 60_000) / columnsPerRow));
  const insertAll = async () => {
    const rows: Data[] = [];
    for (let i = 0; i < prepared.length; i += chunkSize) {
      const chunk = prepared.slice(i, i + chunkSize);
      const records: Data[] = await registry.run((db) => db.insert(meta.table).values(chunk).returning());
      for (const record of records) rows.push(makeRow(meta, record));
    }
    registry.changed({ type: 'created', model: model.name, pks: rows.map((row) => row.id as number | string) });
    return rows;
  };
  return prepared.length > chunkSize ? atomic(insertAll) : insertAll();
}

/** Relation objects become `<name>Id` keys; missing fields get their defaults. */
function prepare(meta: CompiledModel, data: Data): Data {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `create() on ${meta.model.name} takes an object of field values.`);
  }
  const out: Data = {};
  for (const key of Object.keys(data)) {
    const relation = meta.toOne.get(key);
    const value = data[key];
    if (relation) out[relation.key] = value !== null && typeof value === 'object' ? (value as { id: unknown }).id : value;
    else out[key] = value;
  }
  for (const [key, fallback] of meta.defaults) {
    if (out[key] === undefined) out[key] = typeof fallback === 'function' ? (fallback as () => unknown)() : structuredClone(fallback);
  }
  return out;
}

/** Updates matching rows in one statement; returns how many changed. */
export async function updateRows(registry: Registry, model: AnyModel, state: QueryState, data: Data): Promise<number> {
  const meta = registry.meta(model);
  const values = prepare({ ...meta, defaults: [] }, data);
  if ('id' in values) throw new ModelError('STRATA_MODEL_INVALID_QUERY', `update() cannot change the primary key of ${model.name}.`);
  const result = validateData(model, values, true);
  if (!result.ok) throw new ValidationError(model.name, result.errors);
  const set: Data = {};
  for (const [key, value] of Object.entries(values)) {
    const info = meta.columns.get(key)!;
    set[key] = isExpression(value) ? expressionSql(registry, meta, info, value) : value;
  }
  if (Object.keys(set).length === 0) return 0;
  const where = targetWhere(registry, meta, state);
  const rows: { id: number | string }[] = await registry.run((db) => {
    const query = db.update(meta.table).set(set);
    return (where ? query.where(where) : query).returning({ id: meta.table.id });
  });
  registry.changed({ type: 'updated', model: model.name, pks: rows.map((row) => row.id) });
  return rows.length;
}

function expressionSql(registry: Registry, meta: CompiledModel, info: ColumnInfo, expression: Expression): SQL {
  const source = meta.columns.get(expression.field);
  if (!source) throw unknownField(meta.model, expression.field);
  const numeric = ['integer', 'bigint', 'decimal', 'float'];
  if (!numeric.includes(source.config.kind) || !numeric.includes(info.config.kind)) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `F('${expression.field}') arithmetic needs numeric fields on ${meta.model.name}.`);
  }
  let out: SQL = sql`${meta.table[source.key]}`;
  for (const { op, operand } of expression.ops) {
    if (!['number', 'bigint', 'string'].includes(typeof operand) || (typeof operand === 'string' && !/^-?\d+(\.\d+)?$/.test(operand))) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `F() operands are numbers (or decimal strings), got ${String(operand)}.`);
    }
    const scaled = registry.dialect === 'sqlite' && source.config.kind === 'decimal' && (op === '+' || op === '-')
      ? scaleDecimal(String(operand), source.config.scale ?? 2)
      : operand;
    out = sql`(${out} ${sql.raw(op)} ${scaled})`;
  }
  return out;
}

/** WHERE for writes; sliced or ordered querysets select their ids in a subquery. */
function targetWhere(registry: Registry, meta: CompiledModel, state: QueryState): SQL | undefined {
  const needsSubquery = state.limit !== undefined || state.offset !== undefined || state.distinct || state.related.length > 0;
  if (!needsSubquery) return whereSql(registry, meta, state);
  const inner = { ...state, related: [], prefetch: [], only: ['id'] };
  const p = plan(registry, meta, inner);
  return sql`${meta.table.id} in (${selectQuery(registry.db, registry, inner, p)})`;
}

/** Deletes with Django's onDelete semantics, collecting cascades first; one transaction. */
export async function deleteRows(registry: Registry, model: AnyModel, state: QueryState): Promise<DeleteResult> {
  return atomic(async () => {
    const meta = registry.meta(model);
    const where = targetWhere(registry, meta, state);
    const roots: { id: unknown }[] = await registry.run((db) => {
      const query = db.select({ id: meta.table.id }).from(meta.table);
      return where ? query.where(where) : query;
    });
    const plan = new Map<CompiledModel, Set<unknown>>();
    const nulls: { meta: CompiledModel; key: string; ids: unknown[] }[] = [];
    await collect(registry, meta, roots.map((row) => row.id), plan, nulls);
    for (const item of nulls) {
      const ids: { id: number | string }[] = await registry.run((db) =>
        db.update(item.meta.table).set({ [item.key]: null }).where(batchSql(registry, item.meta.table.id, item.ids)).returning({ id: item.meta.table.id }),
      );
      registry.changed({ type: 'updated', model: item.meta.model.name, pks: ids.map((row) => row.id) });
    }
    const byModel: Record<string, number> = {};
    let count = 0;
    for (const [target, ids] of [...plan.entries()].reverse()) {
      const deleted: { id: number | string }[] = await registry.run((db) =>
        db.delete(target.table).where(batchSql(registry, target.table.id, [...ids])).returning({ id: target.table.id }),
      );
      if (deleted.length === 0) continue;
      byModel[target.model.name] = (byModel[target.model.name] ?? 0) + deleted.length;
      count += deleted.length;
      registry.changed({ type: 'deleted', model: target.model.name, pks: deleted.map((row) => row.id) });
    }
    return { count, byModel };
  });
}

async function collect(
  registry: Registry,
  meta: CompiledModel,
  ids: unknown[],
  plan: Map<CompiledModel, Set<unknown>>,
  nulls: { meta: CompiledModel; key: string; ids: unknown[] }[],
): Promise<void> {
  const seen = plan.get(meta) ?? new Set();
  const fresh = ids.filter((id) => !seen.has(id));
  if (fresh.length === 0) return;
  // Re-inserting moves the model after its referrers, so dependants are deleted first.
  plan.delete(meta);
  plan.set(meta, new Set([...seen, ...fresh]));
  for (const referrer of meta.referrers) {
    const source = registry.meta(referrer.source);
    const key = `${referrer.field}Id`;
    if (referrer.onDelete === 'restrict') continue;
    const rows: { id: unknown }[] = await registry.run((db) =>
      db.select({ id: source.table.id }).from(source.table).where(batchSql(registry, source.table[key], fresh)),
    );
    if (rows.length === 0) continue;
    if (referrer.onDelete === 'protect') throw new ProtectedError(meta.model.name, source.model.name, referrer.field);
    if (referrer.onDelete === 'setNull') nulls.push({ meta: source, key, ids: rows.map((row) => row.id) });
    else await collect(registry, source, rows.map((row) => row.id), plan, nulls);
  }
}

/** One SELECT of aggregates; values decoded like the field (decimals stay exact strings). */
export async function aggregateRows(registry: Registry, model: AnyModel, state: QueryState, spec: Record<string, Aggregate>): Promise<Data> {
  const meta = registry.meta(model);
  const shape: Record<string, SQL> = {};
  const decoders: Record<string, (value: unknown) => unknown> = {};
  for (const [name, aggregate] of Object.entries(spec)) {
    const info = aggregate.field === undefined ? undefined : meta.columns.get(aggregate.field) ?? meta.columns.get(`${aggregate.field}Id`);
    if (aggregate.field !== undefined && !info) throw unknownField(model, aggregate.field);
    const column = info ? meta.table[info.key] : undefined;
    [shape[name], decoders[name]] = aggregateSql(registry, aggregate, column, info);
  }
  const where = whereSql(registry, meta, state);
  const [row] = await registry.run((db) => {
    const query = db.select(shape).from(meta.table);
    return where ? query.where(where) : query;
  });
  return Object.fromEntries(Object.entries(row as Data).map(([name, value]) => [name, value === null ? null : decoders[name]!(value)]));
}

function aggregateSql(registry: Registry, aggregate: Aggregate, column: any, info: ColumnInfo | undefined): [SQL, (value: unknown) => unknown] {
  const fromField = (value: unknown) => column.mapFromDriverValue(value);
  switch (aggregate.fn) {
    case 'count':
      return [column ? (aggregate.distinct ? sql`count(distinct ${column})` : sql`count(${column})`) : sql`count(*)`, Number];
    case 'avg': {
      const divisor = registry.dialect === 'sqlite' && info?.config.kind === 'decimal' ? 10 ** (info.config.scale ?? 2) : 1;
      return [sql`avg(${column})`, (value) => Number(value) / divisor];
    }
    case 'sum':
      if (info?.config.kind === 'decimal' && registry.dialect === 'postgres') {
        return [sql`sum(${column})`, (value) => unscaleDecimal(scaleDecimal(String(value), info.config.scale ?? 2), info.config.scale ?? 2)];
      }
      return [sql`sum(${column})`, fromField];
    default:
      return [sql`${sql.raw(aggregate.fn)}(${column})`, fromField];
  }
}

