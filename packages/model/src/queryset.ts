import { sql } from 'drizzle-orm';
import { ModelError, MultipleFoundError, NotFoundError } from './errors.js';
import type { Aggregate } from './expressions.js';
import { currentTx, getRegistry, type Registry } from './registry.js';
import type { BoundScopes, Model } from './model.js';
import type {
  AnyModel,
  FieldPath,
  InsertData,
  OrderTerm,
  Prefetched,
  Row,
  RowData,
  RowWith,
  ToOnePath,
  UpdateData,
  Where,
} from './types.js';
import { dynamicNames, type Node } from './internal/where.js';
import { combinators, type Combinators, type Condition } from './conditions.js';
import { assemble, emptyState, plan, selectQuery, valuesQuery, whereSql, type QueryState } from './internal/select.js';
import { checkPrefetches, runPrefetches, withPrefetchKeys } from './internal/prefetch.js';
import { aggregateRows, bulkInsert, deleteRows, updateRows, type DeleteResult, type InsertOptions } from './internal/write.js';
import { RelatedSet } from './relatedSet.js';
import { atomic } from './transaction.js';
import { iterateInChunks } from './internal/iterate.js';

type ScopesOf<M> = M extends Model<string, any, any, infer S> ? S : {};
/** A queryset of `M` yielding `R`, with the model's scopes as methods. */
export type QS<M extends AnyModel, R> = QuerySet<M, R> & BoundScopes<ScopesOf<M>, M, R>;

const scopedClasses = new WeakMap<AnyModel, typeof QuerySet>();

const AGGREGATES = new Set<string>(['count', 'sum', 'avg', 'min', 'max']);

/**
 * A lazy, immutable, chainable query over a model. Nothing runs until it is awaited,
 * iterated with `for await`, or a terminal method (`get`, `count`, …) is called.
 * Every method returns a new queryset.
 * @example const rows = await Product.objects.filter({ stock: { gt: 0 }, category: { name: 'Tea' } }).orderBy('-price').limit(10);
 */
export class QuerySet<M extends AnyModel, R = Row<M>> implements PromiseLike<R[]> {
  readonly model: M;
  /** @internal */
  readonly state: QueryState;

  /** @internal */
  constructor(model: M, state: QueryState = emptyState) {
    this.model = model;
    this.state = state;
  }

  /** @internal A queryset over every row of `model`, with its scopes as methods. */
  static forModel<M extends AnyModel>(model: M): any {
    let Scoped = scopedClasses.get(model);
    if (!Scoped) {
      Scoped = class ScopedQuerySet extends QuerySet<AnyModel> {} as typeof QuerySet;
      for (const [name, scope] of Object.entries(model.scopes as Record<string, (qs: unknown, ...args: unknown[]) => unknown>)) {
        Object.defineProperty(Scoped.prototype, name, {
          value(this: QuerySet<AnyModel>, ...args: unknown[]) {
            return scope(this, ...args);
          },
        });
      }
      scopedClasses.set(model, Scoped);
    }
    return new Scoped(model);
  }

  /** @internal */
  with<R2 = R>(changes: Partial<QueryState>): QS<M, R2> {
    const Ctor = this.constructor as new (model: M, state: QueryState) => QuerySet<M, R2>;
    return new Ctor(this.model, { ...this.state, ...changes }) as QS<M, R2>;
  }

  /** Rows matching every condition (AND); across relations with nested objects. */
  filter(where: Where<M> | ((q: Combinators<M>) => Condition)): QS<M, R> {
    return this.with({ nodes: [...this.state.nodes, this.nodeOf(where)] });
  }

  /** Rows not matching the condition. */
  exclude(where: Where<M> | ((q: Combinators<M>) => Condition)): QS<M, R> {
    return this.with({ nodes: [...this.state.nodes, { type: 'not', item: this.nodeOf(where) }] });
  }

  /**
   * Ordering by field paths (`'name'`, `'-price'`, `'category.name'`); replaces earlier ordering.
   * NULL sorts as the largest value (last ascending, first descending) on both databases.
   */
  orderBy(...terms: OrderTerm<M>[]): QS<M, R> {
    return this.with({ order: terms, orderNames: undefined });
  }

  /**
   * Ordering from terms chosen at run time (e.g. by a client), checked when the query runs: a
   * field the model lacks, or a path outside `allow` when given, throws `STRATA_MODEL_UNKNOWN_FIELD`;
   * a path that reads a `sensitive` field (at any depth) throws `STRATA_MODEL_INVALID_QUERY`.
   * @example Product.objects.orderByDynamic(request.sort, { allow: ['name', 'price', 'category.name'] })
   */
  orderByDynamic(terms: readonly string[], options: { allow?: readonly FieldPath<M>[] } = {}): QS<M, R> {
    if (!Array.isArray(terms)) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `orderByDynamic() takes an array of terms such as ['-price', 'name'].`);
    }
    return this.with({ order: [...terms], orderNames: dynamicNames(options.allow) });
  }

  /**
   * Filter from an object chosen at run time (e.g. built from client input), checked when the
   * query runs: a key the model lacks, or a field path outside `allow` when given, throws
   * `STRATA_MODEL_UNKNOWN_FIELD`; a key that reads a `sensitive` field (at any depth) throws
   * `STRATA_MODEL_INVALID_QUERY`. `allow` lists the paths a value may be compared with
   * (`'name'`, `'category.name'`, `'tags.label'`); crossing a relation to reach one is allowed.
   * @example Product.objects.filterDynamic(request.where, { allow: ['name', 'price', 'category.name'] })
   */
  filterDynamic(where: Record<string, unknown>, options: { allow?: readonly string[] } = {}): QS<M, R> {
    return this.with({ nodes: [...this.state.nodes, { type: 'where', value: where, names: dynamicNames(options.allow) }] });
  }

  limit(count: number): QS<M, R> {
    return this.with({ limit: nonNegative('limit', count) });
  }

  offset(count: number): QS<M, R> {
    return this.with({ offset: nonNegative('offset', count) });
  }

  /** Loads to-one relations in the same query (LEFT JOIN); nested with dots: `'order.customer'`. */
  selectRelated<P extends ToOnePath<M>>(...paths: P[]): QS<M, R & RowWith<M, P>> {
    return this.with({ related: [...new Set([...this.state.related, ...paths])] });
  }

  /**
   * Loads to-many relations (reverse foreign keys, many-to-many) with one extra query per
   * relation, whatever the number of rows. Paths nest with dots (`'items.product'`); pass
   * `{ items: OrderItem.objects.filter(...) }` to choose the queryset (and its row type).
   */
  prefetch<P extends string>(...paths: P[]): QS<M, R & Prefetched<M, P>>;
  prefetch<T extends Record<string, QuerySet<any, any>>>(querysets: T): QS<M, R & { [K in keyof T]: T[K] extends QuerySet<any, infer X> ? X[] : never }>;
  prefetch(...args: unknown[]): unknown {
    const first = args[0];
    const specs =
      typeof first === 'object' && first !== null
        ? Object.entries(first).map(([path, queryset]) => ({ path, queryset }))
        : (args as string[]).map((path) => ({ path }));
    return this.with({ prefetch: [...this.state.prefetch, ...specs] });
  }

  /** Loads only these fields (plus `id`); the rows are still branded rows of the model. */
  only<K extends keyof RowData<M> & string>(...fields: K[]): QS<M, Pick<Row<M>, K | 'id' | keyof Row<M> & symbol>> {
    return this.with({ only: fields });
  }

  distinct(): QS<M, R> {
    return this.with({ distinct: true });
  }

  /**
   * Locks the selected rows until the transaction ends (`SELECT … FOR UPDATE` on PostgreSQL).
   * On SQLite it is a no-op: writes are serialised there. Must run inside `atomic()`.
   */
  selectForUpdate(): QS<M, R> {
    return this.with({ forUpdate: true });
  }

  /** Runs the query and returns the rows. */
  async fetch(): Promise<R[]> {
    const registry = getRegistry();
    const meta = registry.meta(this.model);
    if (this.state.forUpdate && !currentTx(registry)) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', 'selectForUpdate() locks rows until the transaction ends; run it inside atomic().');
    }
    checkPrefetches(registry, meta, this.state.prefetch);
    const state = withPrefetchKeys(meta, this.state);
    const p = plan(registry, meta, state);
    // execute() rather than awaiting the builder: the query then starts (and is logged) in the
    // caller's stack, which the N+1 detector reports as the call site.
    const records: Record<string, any>[] = await registry.run((db) => selectQuery(db, registry, state, p).execute());
    const rows = records.map((record) => assemble(p, record));
    if (state.prefetch.length && rows.length) await runPrefetches(registry, meta, rows, state.prefetch);
    return rows as R[];
  }

  then<T1 = R[], T2 = never>(onfulfilled?: ((rows: R[]) => T1 | PromiseLike<T1>) | null, onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.fetch().then(onfulfilled, onrejected);
  }

  /** The single matching row; throws `NotFoundError` or `MultipleFoundError`. */
  async get(where?: Where<M>): Promise<R> {
    const qs = where ? this.filter(where) : this;
    // Two rows are enough to tell one from many; a slice narrows that further, and keeps its
    // ordering (which decides what the slice holds).
    const sliced = qs.state.limit !== undefined || qs.state.offset !== undefined;
    const rows = await qs.with({ limit: Math.min(qs.state.limit ?? 2, 2), order: sliced ? qs.state.order : (qs.state.order ?? []) }).fetch();
    if (rows.length === 0) throw new NotFoundError(this.model.name);
    if (rows.length > 1) throw new MultipleFoundError(this.model.name);
    return rows[0] as R;
  }

  /** The first row by the current ordering (by `id` when none), or null. */
  async first(): Promise<R | null> {
    const order = this.state.order ?? (this.model.ordering.length ? this.model.ordering : ['id']);
    const rows = await this.with({ order, limit: Math.min(this.state.limit ?? 1, 1) }).fetch();
    return (rows[0] as R | undefined) ?? null;
  }

  /**
   * The last row by the current ordering (by `id` when none), or null. Throws
   * `STRATA_MODEL_INVALID_QUERY` on a sliced queryset, whose last row reversing cannot find.
   */
  async last(): Promise<R | null> {
    if (this.state.limit !== undefined || this.state.offset !== undefined) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', 'last() cannot reverse a sliced queryset; take the last of its rows, or reverse the ordering and use first().');
    }
    const order = this.state.order ?? (this.model.ordering.length ? this.model.ordering : ['id']);
    const reversed = order.map((term) => (term.startsWith('-') ? term.slice(1) : `-${term}`));
    const rows = await this.with({ order: reversed, limit: 1 }).fetch();
    return (rows[0] as R | undefined) ?? null;
  }

  /** Number of matching rows (one `count(*)` query). */
  async count(): Promise<number> {
    const registry = getRegistry();
    const meta = registry.meta(this.model);
    if (this.state.limit !== undefined || this.state.offset !== undefined || this.state.distinct) {
      const inner = this.with({ prefetch: [], related: [], order: [] });
      const p = plan(registry, meta, inner.state);
      const [row] = await registry.run((db) => {
        const subquery = selectQuery(db, registry, inner.state, p).as('counted');
        return db.select({ n: sql<number>`count(*)` }).from(subquery).execute();
      });
      return Number(row.n);
    }
    const where = whereSql(registry, meta, this.state);
    const [row] = await registry.run((db) => {
      const query = db.select({ n: sql<number>`count(*)` }).from(meta.table);
      return (where ? query.where(where) : query).execute();
    });
    return Number(row.n);
  }

  /** True when at least one row matches (stops at the first); a slice such as `offset(10)` is honoured. */
  async exists(): Promise<boolean> {
    const limit = Math.min(this.state.limit ?? 1, 1);
    const probe = this.with({ only: [], related: [], prefetch: [], order: [], distinct: false, forUpdate: false, limit });
    return (await probe.fetch()).length > 0;
  }

  /**
   * Aggregates over the matching rows in one query.
   * @example const { total, n } = await Product.objects.aggregate({ total: Sum<string>('price'), n: Count() });
   */
  async aggregate<T extends Record<string, Aggregate>>(spec: T): Promise<{ [K in keyof T]: T[K] extends Aggregate<infer V> ? V : never }> {
    // The function name becomes SQL text, so it must be one of the five that Count()…Max() build.
    // The check is by shape: an object of the same shape made from input passes, which is safe
    // only because its fn is one of those five and its field is a name looked up in the model.
    for (const [name, aggregate] of Object.entries(spec as Record<string, Partial<Aggregate>>)) {
      const known = aggregate?.kind === 'aggregate' && AGGREGATES.has(aggregate.fn!) && (aggregate.field === undefined || typeof aggregate.field === 'string');
      if (!known) throw new ModelError('STRATA_MODEL_INVALID_QUERY', `aggregate({ ${name} }) takes Count(), Sum(), Avg(), Min() or Max().`);
    }
    return aggregateRows(getRegistry(), this.model, this.state, spec) as never;
  }

  /**
   * Plain objects of just these field paths (`'name'`, `'category.name'`; every column when none
   * is named), keyed by path. They are not rows (no brand); `distinct()` compares only them, and orders only by them.
   */
  async values<K extends FieldPath<M>>(...fields: K[]): Promise<Record<K, unknown>[]> {
    const registry = getRegistry();
    const meta = registry.meta(this.model);
    const names: string[] = fields.length ? fields : [...meta.columns.keys()];
    // Distinct rows can only be ordered by what they hold (PostgreSQL refuses anything else), so
    // the model's default ordering is dropped and an explicit one must be among the values.
    const order = this.state.distinct ? (this.state.order ?? []) : this.state.order;
    const stray = this.state.distinct ? order?.find((term) => !names.includes(term.replace(/^-/, ''))) : undefined;
    if (stray !== undefined) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `distinct().values() is ordered by "${stray}", which is not among the values; add it or order by a value.`);
    }
    const state: QueryState = { ...this.state, order, related: [], prefetch: [], only: undefined };
    const p = plan(registry, meta, state);
    return registry.run((db) => valuesQuery(db, registry, state, p, names).execute());
  }

  /**
   * Inserts one row (validated first; defaults applied) and returns it. An integer `id` is
   * refused unless `{ explicitId: true }` is passed (the database generates ids).
   */
  async create(data: InsertData<M>, options?: InsertOptions): Promise<Row<M>> {
    const [row] = await bulkInsert(getRegistry(), this.model, [data as Record<string, unknown>], options);
    return row as Row<M>;
  }

  /** Inserts many rows in as few statements as the driver allows; every row is validated first. Ids as in {@link create}. */
  async bulkCreate(data: readonly InsertData<M>[], options?: InsertOptions): Promise<Row<M>[]> {
    return (await bulkInsert(getRegistry(), this.model, data as unknown as Record<string, unknown>[], options)) as Row<M>[];
  }

  /** The row matching `lookup`, created from `lookup` + `defaults` when missing. Returns `[row, created]`. */
  async getOrCreate(lookup: Where<M> & Partial<InsertData<M>>, defaults: Partial<InsertData<M>> = {}): Promise<[Row<M>, boolean]> {
    const existing = await this.filter(lookup).with<Row<M>>({ prefetch: [], related: [] }).first();
    if (existing) return [existing, false];
    try {
      return [await atomic(() => this.create({ ...lookup, ...defaults } as InsertData<M>)), true];
    } catch (error) {
      // Lost a race with a concurrent creator: the unique constraint tells, the row is there now.
      const raced = await this.filter(lookup).with<Row<M>>({ prefetch: [], related: [] }).first();
      if (raced) return [raced, false];
      throw error;
    }
  }

  /** Updates the row matching `lookup` with `defaults`, or creates it. Returns `[row, created]`. */
  async updateOrCreate(lookup: Where<M> & Partial<InsertData<M>>, defaults: Partial<InsertData<M>> = {}): Promise<[Row<M>, boolean]> {
    const find = () => this.filter(lookup).with<Row<M>>({ prefetch: [], related: [] }).selectForUpdate().first();
    return atomic(async () => {
      let existing = await find();
      if (!existing) {
        try {
          // A savepoint: losing the race to a concurrent creator (no row was there to lock)
          // leaves the transaction usable, and the winner's row is then updated.
          return [await atomic(() => this.create({ ...lookup, ...defaults } as InsertData<M>)), true];
        } catch (error) {
          existing = await find();
          if (!existing) throw error;
        }
      }
      if (Object.keys(defaults).length) await this.model.objects.filter({ id: existing.id } as Where<M>).update(defaults as UpdateData<M>);
      const fresh = await this.model.objects.get({ id: existing.id } as Where<M>);
      return [fresh as Row<M>, false];
    });
  }

  /**
   * Updates every matching row in one statement; values may be column expressions
   * (`F('stock').minus(1)`). Returns the number of rows updated.
   */
  async update(data: UpdateData<M>): Promise<number> {
    return updateRows(getRegistry(), this.model, this.state, data as Record<string, unknown>);
  }

  /**
   * Deletes the matching rows, honouring each relation's onDelete (cascade, protect,
   * setNull, restrict) in one transaction. Returns the counts per model.
   */
  async delete(): Promise<DeleteResult> {
    return deleteRows(getRegistry(), this.model, this.state);
  }

  /** The many-to-many set `name` of one row: add, remove, set, clear, all. */
  related<K extends string>(owner: { id: unknown } | number | string, name: K): RelatedSet {
    return new RelatedSet(this.model, owner, name);
  }

  /**
   * Iterates in chunks (default 500 rows a query) so large tables never load at once.
   * With no ordering (none given, and no model `ordering`) it pages by primary key (`id > last`),
   * which skips nothing under concurrent inserts and deletes. With one it pages by LIMIT/OFFSET,
   * ordered by `id` after the ordering's own terms so that rows which tie keep one order across
   * pages: every row comes once, in order, as long as rows are not added or removed meanwhile.
   */
  iterate(options: { chunkSize?: number } = {}): AsyncGenerator<R> {
    return iterateInChunks(this, options.chunkSize ?? 500);
  }

  [Symbol.asyncIterator](): AsyncGenerator<R> {
    return this.iterate();
  }

  private nodeOf(where: Where<M> | ((q: Combinators<M>) => Condition)): Node {
    if (typeof where === 'function') return where(combinators).node;
    return { type: 'where', value: where as Record<string, unknown> };
  }
}

function nonNegative(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `${what}() takes a non-negative integer, got ${String(value)}.`);
  }
  return value;
}

export type { Registry, DeleteResult };
