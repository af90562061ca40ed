import { sql, type SQL } from 'drizzle-orm';
import { ModelError, ProtectedError, ValidationError, type FieldErrors } from '../errors.js';
import { isExpression, type Aggregate, type Expression } from '../expressions.js';
import type { Registry } from '../registry.js';
import { atomic } from '../transaction.js';
import type { AnyModel } from '../types.js';
import type { CompiledModel, ColumnInfo } from './compile.js';
import { batchSql, makeRow, plan, selectQuery, whereSql, type QueryState } from './select.js';
import { checkRelation, scaleDecimal, unscaleDecimal, validateData } from './validate.js';
import { unknownField } from './where.js';

type Data = Record<string, unknown>;

/** Rows deleted, in all and per model (cascades included). */
export interface DeleteResult {
  count: number;
  byModel: Record<string, number>;
}

/** Options of `create()` and `bulkCreate()`. */
export interface InsertOptions {
  /**
   * Accept explicit integer primary keys (fixtures, data migrations); default false. On
   * PostgreSQL the id sequence then moves past the largest id given, so a huge id exhausts it.
   */
  explicitId?: boolean;
}

/** Validates, fills defaults and inserts rows; one statement per chunk, all in one transaction. */
export async function bulkInsert(registry: Registry, model: AnyModel, list: readonly Data[], options: InsertOptions = {}): Promise<Data[]> {
  const meta = registry.meta(model);
  if (list.length === 0) return [];
  if (model.primaryKey === 'integer' && !options.explicitId && list.some((data) => data?.id !== undefined)) {
    throw new ModelError(
      'STRATA_MODEL_INVALID_QUERY',
      `create() on ${model.name} was given an id, which the database generates; pass { explicitId: true } as the second argument to set ids on purpose.`,
    );
  }
  const prepared = list.map((data) => prepare(meta, data));
  const errors: [string, string[]][] = [];
  prepared.forEach((data, index) => {
    const result = validateData(model, data, false);
    if (!result.ok) {
      for (const [field, messages] of Object.entries(result.errors)) errors.push([list.length === 1 ? field : `${index}.${field}`, messages]);
    }
  });
  if (errors.length) throw new ValidationError(model.name, Object.fromEntries(errors) as FieldErrors);
  const columnsPerRow = meta.columns.size;
  const chunkSize = Math.max(1, Math.floor((registry.dialect === 'sqlite' ? 30_000 : 60_000) / columnsPerRow));
  const insertAll = async () => {
    const rows: Data[] = [];
    for (let i = 0; i < prepared.length; i += chunkSize) {
      const chunk = prepared.slice(i, i + chunkSize);
      const records: Data[] = await registry.run((db) => db.insert(meta.table).values(chunk).returning());
      for (const record of records) rows.push(makeRow(meta, record));
    }
    if (registry.dialect === 'postgres' && model.primaryKey === 'integer' && prepared.some((data) => data.id !== undefined)) {
      await advanceIdentity(registry, meta);
    }
    registry.changed({ type: 'created', model: model.name, pks: rows.map((row) => row.id as number | string) });
    return rows;
  };
  return prepared.length > chunkSize ? atomic(insertAll) : insertAll();
}

/**
 * PostgreSQL's identity sequence does not see ids given explicitly (SQLite's AUTOINCREMENT
 * does), so the next generated id would collide: move the sequence past the largest id,
 * never backwards.
 */
async function advanceIdentity(registry: Registry, meta: CompiledModel): Promise<void> {
  const table = `"${meta.model.tableName.replace(/"/g, '""')}"`;
  const sequence = sql`pg_get_serial_sequence(${table}, 'id')::regclass`;
  await registry.run((db) =>
    db.execute(
      sql`select setval(${sequence}, top) from (select max(id) as top from ${meta.table}) as t where top > coalesce(pg_sequence_last_value(${sequence}), 0)`,
    ),
  );
}

/** Relation objects become `<name>Id` keys; missing fields get their defaults. */
function prepare(meta: CompiledModel, data: Data): Data {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `create() on ${meta.model.name} takes an object of field values.`);
  }
  // fromEntries keeps a "__proto__" key of parsed JSON as data, for validation to refuse,
  // where assigning it would set the prototype and smuggle fields past validation.
  const out: Data = Object.fromEntries(
    Object.keys(data).map((key) => {
      const relation = meta.toOne.get(key);
      const value = data[key];
      // Both spellings at once, or a bad row or key (of another model, wrong-typed), stay as
      // given, for validation to name: only a good one becomes the `<name>Id` column value.
      if (!relation || data[relation.key] !== undefined) return [key, value];
      if (value === null || value === undefined) return [relation.key, value];
      if (checkRelation(relation.target, value)) return [key, value];
      return [relation.key, typeof value === 'object' ? (value as { id: unknown }).id : value];
    }),
  );
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
    // As in create(), an undefined value means "not given", not NULL.
    if (value === undefined) continue;
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

/** The operators spliced into SQL as text (`sql.raw`): never trust an expression to hold only these. */
const OPERATORS: readonly string[] = ['+', '-', '*', '/'];
const NUMERIC = ['integer', 'bigint', 'decimal', 'float'];
const INTEGRAL = ['integer', 'bigint'];
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

function expressionSql(registry: Registry, meta: CompiledModel, info: ColumnInfo, expression: Expression): SQL {
  const source = meta.columns.get(expression.field);
  if (!source) throw unknownField(meta.model, expression.field);
  const invalid = (message: string) => new ModelError('STRATA_MODEL_INVALID_QUERY', `F('${expression.field}') on ${meta.model.name}: ${message}`);
  const [from, to] = [source.config, info.config];
  if (!NUMERIC.includes(from.kind) || !NUMERIC.includes(to.kind)) throw invalid('arithmetic needs numeric fields.');
  // Both dialects must store the same value: SQLite keeps decimals as scaled integers and
  // integer columns accept fractions silently, so only kinds that map exactly are combined.
  const compatible =
    from.kind === 'decimal' || to.kind === 'decimal'
      ? from.kind === to.kind && (from.scale ?? 2) === (to.scale ?? 2)
      : !INTEGRAL.includes(to.kind) || INTEGRAL.includes(from.kind);
  if (!compatible) throw invalid(`a ${from.kind} value cannot be stored in the ${to.kind} field ${info.key}.`);
  const ops = expression.ops.map(({ op, operand }) => {
    if (!OPERATORS.includes(op)) throw invalid(`operators are + - * /, got ${String(op)}.`);
    const text = typeof operand === 'bigint' ? operand.toString() : typeof operand === 'number' || typeof operand === 'string' ? String(operand) : '';
    if (!DECIMAL_TEXT.test(text)) throw invalid(`operands are numbers, bigints or decimal strings, got ${String(operand)}.`);
    if (INTEGRAL.includes(to.kind) && text.includes('.')) throw invalid(`the integer field ${info.key} takes integer operands, got ${text}.`);
    if (op === '/' && /^-?[0.]+$/.test(text)) throw invalid('division by zero.');
    return { op, operand, text };
  });
  const column = sql`${meta.table[source.key]}`;
  if (registry.dialect === 'sqlite' && to.kind === 'decimal') return scaledDecimalSql(column, ops, to.scale ?? 2);
  return ops.reduce((out, { op, operand }) => sql`(${out} ${sql.raw(op)} ${operand})`, column);
}

/**
 * Decimal arithmetic on SQLite, where a decimal is an integer scaled by 10^scale: the result
 * is tracked as an exact fraction `numerator / denominator` of integers and rounded once at
 * the end, half away from zero, as PostgreSQL rounds a numeric into numeric(p, s).
 */
function scaledDecimalSql(column: SQL, ops: { op: string; text: string }[], scale: number): SQL {
  let numerator = column;
  let denominator = 1n;
  for (const { op, text } of ops) {
    const places = text.split('.')[1]?.length ?? 0;
    const digits = BigInt(text.replace('.', ''));
    const unit = 10n ** BigInt(places);
    if (op === '*') [numerator, denominator] = [sql`(${numerator} * ${digits})`, denominator * unit];
    else if (op === '/') {
      const sign = digits < 0n ? -1n : 1n;
      [numerator, denominator] = [sql`(${numerator} * ${sign * unit})`, denominator * sign * digits];
    } else if (places <= scale) {
      numerator = sql`(${numerator} ${sql.raw(op)} ${digits * 10n ** BigInt(scale - places) * denominator})`;
    } else {
      // More places than the field keeps: widen the denominator so the sum stays exact.
      const term = digits * 10n ** BigInt(scale) * denominator;
      [numerator, denominator] = [sql`(${numerator} * ${unit} ${sql.raw(op)} ${term})`, denominator * unit];
    }
  }
  if (denominator === 1n) return numerator;
  return sql`(case when ${numerator} >= 0 then (2 * ${numerator} + ${denominator}) / ${2n * denominator} else -((-2 * ${numerator} + ${denominator}) / ${2n * denominator}) end)`;
}

/** WHERE for writes; sliced or ordered querysets select their ids in a subquery. */
function targetWhere(registry: Registry, meta: CompiledModel, state: QueryState): SQL | undefined {
  const needsSubquery = state.limit !== undefined || state.offset !== undefined;
  if (!needsSubquery) return whereSql(registry, meta, state);
  // Rows are selected by id, so distinct() changes nothing here (and PostgreSQL would make the
  // subquery select its ordering columns too); joins are only for ordering.
  const inner = { ...state, related: [], prefetch: [], only: ['id'], distinct: false };
  const p = plan(registry, meta, inner);
  return sql`${meta.table.id} in (${selectQuery(registry.db, registry, inner, p)})`;
}

/** Deletes with Django's onDelete semantics, collecting cascades first; one transaction. */
export async function deleteRows(registry: Registry, model: AnyModel, state: QueryState): Promise<DeleteResult> {
  const meta = registry.meta(model);
  // Nothing to cascade to or set null: one statement, atomic by itself (no savepoint, no collecting SELECT).
  if (meta.referrers.every((referrer) => referrer.onDelete === 'restrict')) {
    const where = targetWhere(registry, meta, state);
    const deleted: { id: number | string }[] = await registry.run((db) => {
      const query = db.delete(meta.table);
      return (where ? query.where(where) : query).returning({ id: meta.table.id });
    });
    registry.changed({ type: 'deleted', model: model.name, pks: deleted.map((row) => row.id) });
    return { count: deleted.length, byModel: deleted.length > 0 ? { [model.name]: deleted.length } : {} };
  }
  return atomic(async () => {
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
    for (const target of deletionOrder(plan)) {
      const ids = plan.get(target)!;
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

/**
 * The collected models, every one after the models whose rows point at it (depth-first,
 * referrers first). Deleting a model before one of its referrers would let the database's own
 * ON DELETE CASCADE remove those rows unseen: missing from the counts and the change events.
 */
function deletionOrder(plan: Map<CompiledModel, Set<unknown>>): CompiledModel[] {
  const byModel = new Map([...plan.keys()].map((meta) => [meta.model, meta]));
  const order: CompiledModel[] = [];
  const visited = new Set<CompiledModel>();
  const visit = (meta: CompiledModel) => {
    if (visited.has(meta)) return;
    visited.add(meta);
    for (const referrer of meta.referrers) {
      const source = byModel.get(referrer.source);
      if (source) visit(source);
    }
    order.push(meta);
  };
  for (const meta of plan.keys()) visit(meta);
  return order;
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
  // Like update and delete, a sliced queryset aggregates only its slice.
  const where = targetWhere(registry, meta, state);
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

