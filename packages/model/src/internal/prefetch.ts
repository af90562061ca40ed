import { and, eq } from 'drizzle-orm';
import { ModelError } from '../errors.js';
import type { Registry } from '../registry.js';
import type { CompiledModel } from './compile.js';
import { assemble, batchSql, emptyState, plan, selectQuery, type PrefetchSpec, type QueryState } from './select.js';
import { unknownField } from './where.js';

type RowRecord = Record<string, unknown>;

/** Resolves each prefetched relation with one batched query, then attaches the results. */
export async function runPrefetches(registry: Registry, meta: CompiledModel, rows: RowRecord[], specs: readonly PrefetchSpec[]): Promise<void> {
  for (const [name, group] of groupSpecs(specs)) await prefetchOne(registry, meta, rows, name, group.queryset, group.tails);
}

/**
 * Checks every prefetch path and queryset, nested ones included, without running a query:
 * a mistake must fail on the first run, not only once rows that would need it exist.
 */
export function checkPrefetches(registry: Registry, meta: CompiledModel, specs: readonly PrefetchSpec[]): void {
  for (const [name, group] of groupSpecs(specs)) {
    const { targetMeta, state } = resolve(registry, meta, name, group.queryset, group.tails);
    plan(registry, targetMeta, state);
    checkPrefetches(registry, targetMeta, state.prefetch);
  }
}

function groupSpecs(specs: readonly PrefetchSpec[]): Map<string, { queryset: any; tails: string[] }> {
  const groups = new Map<string, { queryset: any; tails: string[] }>();
  for (const spec of specs) {
    const [head, ...rest] = spec.path.split('.');
    if (spec.queryset && rest.length) {
      throw new ModelError(
        'STRATA_MODEL_INVALID_QUERY',
        `prefetch({ '${spec.path}': … }) names a nested path; pass the queryset for "${head}" and nest inside it: prefetch({ ${head}: qs.prefetch(…) }).`,
      );
    }
    const group = groups.get(head!) ?? { queryset: undefined, tails: [] };
    if (spec.queryset) group.queryset = spec.queryset;
    if (rest.length) group.tails.push(rest.join('.'));
    groups.set(head!, group);
  }
  return groups;
}

/** The relation `name` of `meta`, and the query state its rows are loaded with. */
function resolve(registry: Registry, meta: CompiledModel, name: string, custom: any, tails: string[]) {
  const reverse = meta.reverse.get(name);
  const m2m = meta.manyToMany.get(name);
  const toOne = meta.toOne.get(name);
  const target = reverse?.source ?? m2m?.target ?? toOne?.target;
  if (!target) throw unknownField(meta.model, name);
  if (custom && custom.model !== target) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `prefetch({ ${name} }) needs a queryset of ${target.name}, not of ${custom.model?.name ?? String(custom)}.`);
  }
  const targetMeta = registry.meta(target);
  const state = withPrefetchKeys(targetMeta, childState(registry, targetMeta, custom?.state, tails), reverse ? [`${reverse.field}Id`] : []);
  return { reverse, m2m, toOne, targetMeta, state };
}

/**
 * `state` with the keys that prefetching matches rows by added to its `only()` fields (the
 * key of each to-one relation it prefetches, plus `extra`), so that a projection never makes a
 * relation look empty.
 */
export function withPrefetchKeys(meta: CompiledModel, state: QueryState, extra: readonly string[] = []): QueryState {
  if (!state.only) return state;
  const toOneKeys = [...groupSpecs(state.prefetch).keys()].flatMap((name) => meta.toOne.get(name)?.key ?? []);
  const missing = [...new Set([...extra, ...toOneKeys])].filter((key) => !state.only!.includes(key));
  return missing.length ? { ...state, only: [...state.only, ...missing] } : state;
}

async function prefetchOne(registry: Registry, meta: CompiledModel, rows: RowRecord[], name: string, custom: any, tails: string[]): Promise<void> {
  const { reverse, m2m, toOne, targetMeta, state } = resolve(registry, meta, name, custom, tails);
  if (toOne) {
    const ids = unique(rows.map((row) => row[toOne.key]));
    const found = ids.length ? await fetchBatch(registry, targetMeta, { ...state, batch: { key: 'id', values: ids } }) : [];
    const byId = new Map(found.map((row) => [row.id, row]));
    for (const row of rows) row[name] = byId.get(row[toOne.key]) ?? null;
    return;
  }
  const ids = unique(rows.map((row) => row.id));
  if (reverse) {
    const key = `${reverse.field}Id`;
    const found = await fetchBatch(registry, targetMeta, { ...state, batch: { key, values: ids } });
    const byOwner = groupBy(found, (row) => row[key]);
    for (const row of rows) row[name] = reverse.unique ? (byOwner.get(row.id)?.[0] ?? null) : (byOwner.get(row.id) ?? []);
    return;
  }
  const through = registry.meta(m2m!.through).table;
  const owner = through[`${m2m!.sourceField}Id`];
  const p = plan(registry, targetMeta, state);
  const batch = batchSql(registry, owner, ids);
  // The custom queryset's only() and distinct() hold as in a fetch; each row comes with its owner's key.
  const link = { table: through, on: eq(through[`${m2m!.targetField}Id`], targetMeta.table.id), columns: { owner } };
  const records: Record<string, any>[] = await registry.run((db) =>
    selectQuery(db, registry, state, { ...p, where: p.where ? and(batch, p.where) : batch }, link),
  );
  const found = records.map((record) => ({ row: assemble(p, record), owner: record.owner }));
  if (state.prefetch.length && found.length) await runPrefetches(registry, targetMeta, found.map((f) => f.row), state.prefetch);
  const byOwner = groupBy(found, (item) => item.owner);
  for (const row of rows) row[name] = (byOwner.get(row.id) ?? []).map((item) => item.row);
}

/** Nested paths of a prefetch: to-one tails join in the same query, to-many tails prefetch again. */
function childState(registry: Registry, meta: CompiledModel, base: QueryState | undefined, tails: string[]): QueryState {
  const state = base ?? emptyState;
  if (state.limit !== undefined || state.offset !== undefined) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `A prefetch queryset of ${meta.model.name} cannot be sliced with limit()/offset().`);
  }
  const related = [...state.related];
  const prefetch = [...state.prefetch];
  for (const tail of tails) {
    if (isToOnePath(registry, meta, tail)) related.push(tail);
    else prefetch.push({ path: tail });
  }
  return { ...state, related, prefetch };
}

function isToOnePath(registry: Registry, meta: CompiledModel, path: string): boolean {
  let current = meta;
  for (const segment of path.split('.')) {
    const relation = current.toOne.get(segment);
    if (!relation) return false;
    current = registry.meta(relation.target);
  }
  return true;
}

async function fetchBatch(registry: Registry, meta: CompiledModel, state: QueryState): Promise<RowRecord[]> {
  const p = plan(registry, meta, state);
  const records: Record<string, any>[] = await registry.run((db) => selectQuery(db, registry, state, p));
  const rows = records.map((record) => assemble(p, record));
  if (state.prefetch.length && rows.length) await runPrefetches(registry, meta, rows, state.prefetch);
  return rows;
}

function unique(values: unknown[]): unknown[] {
  return [...new Set(values.filter((value) => value !== null && value !== undefined))];
}

function groupBy<T>(items: T[], key: (item: T) => unknown): Map<unknown, T[]> {
  const out = new Map<unknown, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
