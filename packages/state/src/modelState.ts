import { type AnyModel, atomic, type FieldPath, type QuerySet } from '@strata/model';
import type { ModelSerializer } from '@strata/serializer';
import * as v from 'valibot';
import { type EventContext, type Guard, guardList, runGuards } from './context.js';
import { defineState, type EventHandler, guardedInside, type HandlerContext, type RateLimit } from './defineState.js';
import { argsError, EventError, StateError } from './errors.js';
import type { JsonValue } from './patch.js';

// biome-ignore lint: a serializer of any shape; its output type is what the list holds.
type AnySerializer<M extends AnyModel, TOut> = ModelSerializer<M, TOut, any, any>;

/** The actions a ModelState knows; each may have its own guard. */
export type ModelAction = 'load' | 'startEdit' | 'save' | 'create' | 'update' | 'delete';

type AnySchema = v.GenericSchema | v.GenericSchemaAsync;
type ArgsOf<TArgs> = TArgs extends AnySchema ? v.InferOutput<TArgs> : undefined;

/** What a custom action gets besides the state: the tab's scoped rows and the page. */
export interface ModelStateTools<M extends AnyModel, TOut> {
  /** The tab's scoped queryset (`getQueryset(ctx)`): every lookup of a custom action belongs here. */
  queryset(): QuerySet<M, unknown>;
  /** One row of the scope by id (locked for update inside a transaction with `forUpdate`); outside it, `STRATA_MODEL_NOT_FOUND`. */
  get(id: string | number, options?: { forUpdate?: boolean }): Promise<unknown>;
  /** Loads the current page again (after the action changed rows). */
  reload(): Promise<void>;
  /** Rows (or one row) through the serializer, as the list holds them. */
  serialize(rows: unknown): Promise<TOut>;
}

/** A custom action of a ModelState, built with `a.action(...)`: a handler and a `dispatch` name at once. */
export interface ModelStateAction<M extends AnyModel, TOut, TArgs extends AnySchema | undefined, TResult> {
  readonly kind: 'modelAction';
  args?: TArgs;
  guard?: Guard | readonly Guard[];
  rateLimit?: RateLimit;
  public?: boolean;
  run(self: ModelStateVars<TOut>, args: ArgsOf<TArgs>, ctx: HandlerContext, rows: ModelStateTools<M, TOut>): TResult | Promise<TResult>;
}

/** The builder passed to `actions`: it types `self` and the tools for every custom action. */
export interface ModelActionBuilder<M extends AnyModel, TOut> {
  action<TArgs extends AnySchema | undefined = undefined, TResult = void>(
    spec: Omit<ModelStateAction<M, TOut, TArgs, TResult>, 'kind'>,
  ): ModelStateAction<M, TOut, TArgs, TResult>;
}

// biome-ignore lint: custom actions are heterogeneous by design.
type AnyModelAction = ModelStateAction<any, any, any, any>;

/** The options of {@link defineModelState}. */
export interface ModelStateOptions<M extends AnyModel, TOut, TActions extends Record<string, AnyModelAction> = Record<never, never>> {
  model: M;
  /** Rows go out through it; saves go in through its validation. */
  serializer: AnySerializer<M, TOut>;
  /** The rows this tab may see and touch; every lookup, update and delete goes through it. */
  getQueryset?: (ctx: EventContext) => QuerySet<M, unknown>;
  /** Page size to start with (default 20) and the most a client may ask for (default 100). */
  pageSize?: number;
  maxPageSize?: number;
  /** Field paths the client may order by (each also descending, `-name`); the first is the default. */
  ordering?: readonly FieldPath<M>[];
  /** Text fields `search` looks in (case-insensitive contains). */
  search?: readonly FieldPath<M>[];
  /** Filters the client may set: field path → valibot schema of the value (an exact match). */
  filters?: Record<string, v.GenericSchema>;
  /** To-one relations joined and to-many relations prefetched for the list (constant queries per page). */
  selectRelated?: readonly string[];
  prefetch?: readonly string[];
  /** An integer column bumped on every save: a save from a stale edit is refused with the current row. */
  versionField?: string;
  /** Live updates (default on): a committed change to the model reloads the page of every tab showing it. */
  live?: boolean;
  /** Guards per action (the auth layer supplies them); `save` covers both `create` and `update`. */
  guards?: Partial<Record<ModelAction, Guard | readonly Guard[]>>;
  /** Actions anyone may call on purpose (e.g. `['load', 'startEdit']` of a public catalog): `strata check --deploy` accepts them unguarded. */
  public?: readonly ModelAction[];
  /** Values the server decides on a save (e.g. `{ owner: ctx.user.id }` on create), never read from input. */
  assign?: (ctx: HandlerContext, instance: unknown) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Hooks: change the data before a save, act after one (both in the save's transaction). */
  beforeSave?: (data: Record<string, unknown>, ctx: HandlerContext, instance: unknown) => Record<string, unknown> | Promise<Record<string, unknown>>;
  afterSave?: (row: unknown, ctx: HandlerContext, created: boolean) => void | Promise<void>;
  /** Before a delete (throw an `EventError` to refuse it) and after one, in its transaction. */
  beforeDelete?: (row: unknown, ctx: HandlerContext) => void | Promise<void>;
  afterDelete?: (id: string | number, ctx: HandlerContext) => void | Promise<void>;
  /**
   * Custom actions, each callable as its own handler and through `dispatch`, validated and
   * guarded like the built-in ones; `rows` reaches only the tab's scoped queryset.
   *
   * @example
   * actions: (a) => ({
   *   restock: a.action({ args: v.object({ id: v.number(), by: v.number() }), guard: staffRequired,
   *     run: async (s, { id, by }, ctx, rows) => { await rows.get(id); await Product.objects.filter({ id }).update({ stock: F('stock').add(by) }); await rows.reload(); } }),
   * }),
   */
  actions?: (a: ModelActionBuilder<M, TOut>) => TActions;
}

/** What any custom action may answer (for `dispatch`'s result type). */
type ActionResult<TActions> = { [K in keyof TActions]: TActions[K] extends ModelStateAction<AnyModel, unknown, infer _A, infer R> ? Awaited<R> : never }[keyof TActions];

/** The handlers a custom action map becomes. */
type ActionHandlers<TOut, TActions> = {
  [K in keyof TActions]: TActions[K] extends ModelStateAction<AnyModel, unknown, infer A, infer R> ? EventHandler<ModelStateVars<TOut>, A, R> : never;
};

/** The client-visible vars of a ModelState. */
export type ModelStateVars<TOut> = {
  list: TOut[];
  total: number;
  page: number;
  pageSize: number;
  ordering: string[];
  search: string;
  filters: Record<string, JsonValue>;
  editing: TOut | null;
  fieldErrors: Record<string, string[]>;
  error: { code: string; message: string } | null;
};

/** What `save` answers: the saved row, or why nothing was written. */
export type SaveOutcome<TOut> = { ok: true; row: TOut } | { ok: false; fieldErrors: Record<string, string[]> } | { ok: false; conflict: TOut };

/** A primary key as a client may send it: checked against the model's key type before any query. */
const idOf = (model: AnyModel) => (model.primaryKey === 'uuid' ? v.pipe(v.string(), v.uuid()) : v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)));

/**
 * A declarative CRUD state over a model and its serializer: a paginated `list`, ordering,
 * search and filters over allow-listed fields only, `editing` with `fieldErrors`, and
 * `load` / `startEdit` / `cancelEdit` / `save` / `delete` handlers. Every lookup goes
 * through `getQueryset(ctx)`, so a row outside it is "not found", never written.
 *
 * @example
 * export const Products = defineModelState('products', {
 *   model: Product, serializer: ProductSerializer, ordering: ['name', 'price'], search: ['name'],
 *   filters: { categoryId: v.number() }, selectRelated: ['category'], versionField: 'version',
 *   getQueryset: (ctx) => Product.objects.filter({ ownerId: ctx.user!.id }),
 * });
 */
export function defineModelState<const TName extends string, M extends AnyModel, TOut, TActions extends Record<string, AnyModelAction> = Record<never, never>>(
  name: TName,
  options: ModelStateOptions<M, TOut, TActions>,
) {
  const pageSize = options.pageSize ?? 20;
  const maxPageSize = options.maxPageSize ?? 100;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > maxPageSize) {
    throw new StateError('STRATA_STATE_DEFINITION', `${name}: pageSize must be an integer from 1 to maxPageSize (${maxPageSize}).`);
  }
  const orderTerms = (options.ordering ?? []).flatMap((field) => [field as string, `-${field as string}`]);
  const listArgs = v.strictObject({
    page: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
    pageSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(maxPageSize))),
    ordering: v.optional(v.pipe(v.array(v.picklist(orderTerms.length ? orderTerms : ['\u0000'])), v.maxLength(4))),
    search: v.optional(v.pipe(v.string(), v.maxLength(200))),
    filters: v.optional(v.strictObject(Object.fromEntries(Object.entries(options.filters ?? {}).map(([key, schema]) => [key, v.optional(schema)])))),
  });
  const guardsOf = (action: ModelAction): readonly Guard[] => guardList(options.guards?.[action]);
  /** Actions the app marks public on purpose (read by `strata check --deploy`). */
  const audit = (action: ModelAction) => (options.public?.includes(action) ? { public: true } : {});
  const queryset = (ctx: EventContext) => (options.getQueryset ? options.getQueryset(ctx) : (options.model.objects as QuerySet<M, unknown>));
  /** The row through the tab's scope, with its relations loaded — or, to lock it for a save, bare (PostgreSQL cannot lock the nullable side of a join). */
  const lookup = async (ctx: EventContext, key: string | number, forUpdate = false) => {
    const qs = forUpdate ? queryset(ctx).selectForUpdate() : loaded(queryset(ctx));
    const row = await qs.filter({ id: key } as never).first();
    if (!row) throw new EventError('STRATA_MODEL_NOT_FOUND', `No ${options.model.name} with id ${JSON.stringify(key)} here.`);
    return row;
  };
  const loaded = (qs: QuerySet<M, unknown>) => {
    let out = qs as QuerySet<M, unknown>;
    if (options.selectRelated?.length) out = out.selectRelated(...(options.selectRelated as never[])) as never;
    if (options.prefetch?.length) out = out.prefetch(...(options.prefetch as string[])) as never;
    return out;
  };
  const toJSON = async (rows: unknown, ctx: EventContext) => (await options.serializer.toJSON(rows as never, { ctx } as never)) as never;

  type Self = ModelStateVars<TOut>;
  async function reload(self: Self, ctx: EventContext): Promise<void> {
    let qs = queryset(ctx);
    const filters = Object.entries(self.filters);
    if (filters.length) qs = qs.filterDynamic(Object.fromEntries(filters), { allow: Object.keys(options.filters ?? {}) });
    const term = self.search.trim();
    if (term && options.search?.length) {
      const fields = options.search as readonly string[];
      qs = qs.filter(((q: { or(...c: unknown[]): unknown }) => q.or(...fields.map((field) => ({ [field]: { icontains: term } })))) as never);
    }
    const ordering = self.ordering.length ? self.ordering : options.ordering?.length ? [options.ordering[0] as string] : [];
    // The key last: a total order, so pages never repeat or skip a row.
    const ordered = qs.orderByDynamic([...ordering, 'id'], { allow: [...(options.ordering ?? []), 'id'] as never });
    const total = await ordered.count();
    const pages = Math.max(1, Math.ceil(total / self.pageSize));
    const page = Math.min(self.page, pages);
    const rows = await loaded(ordered.offset((page - 1) * self.pageSize).limit(self.pageSize) as never);
    self.list = await toJSON(rows, ctx);
    self.total = total;
    self.page = page;
  }

  async function save(self: Self, args: { id?: string | number | undefined; data: Record<string, unknown>; version?: number | undefined }, ctx: HandlerContext): Promise<SaveOutcome<TOut>> {
    // The `save` guards ran before the handler (the runtime runs them); create or update is known only now.
    await runGuards(guardsOf(args.id === undefined ? 'create' : 'update'), ctx);
    const outcome = await saveRow(args, ctx);
    if (outcome.ok) {
      self.editing = null;
      self.fieldErrors = {};
      self.error = null;
      await reload(self, ctx);
    } else if ('fieldErrors' in outcome) {
      self.fieldErrors = outcome.fieldErrors;
    } else {
      self.editing = outcome.conflict;
      self.error = { code: 'STRATA_STATE_CONFLICT', message: 'Someone else changed this row meanwhile; review their version and save again.' };
    }
    return outcome;
  }

  async function saveRow(args: { id?: string | number | undefined; data: Record<string, unknown>; version?: number | undefined }, ctx: HandlerContext): Promise<SaveOutcome<TOut>> {
    const rollback = Symbol('rollback');
    let outcome: SaveOutcome<TOut> | undefined;
    try {
      await atomic(async () => {
        const instance = args.id === undefined ? undefined : await lookup(ctx, args.id, true);
        if (instance && options.versionField) {
          const current = (instance as Record<string, unknown>)[options.versionField];
          if (args.version !== current) {
            outcome = { ok: false, conflict: await toJSON(await lookup(ctx, args.id!), ctx) };
            throw rollback;
          }
        }
        const parsed = await options.serializer.parse(args.data, instance ? { partial: true, instance: instance as Record<string, unknown>, context: { ctx } as never } : { context: { ctx } as never });
        if (!parsed.ok) {
          outcome = { ok: false, fieldErrors: parsed.errors };
          throw rollback;
        }
        const data = options.beforeSave ? await options.beforeSave(parsed.data as Record<string, unknown>, ctx, instance) : (parsed.data as Record<string, unknown>);
        const set = { ...(options.assign ? await options.assign(ctx, instance) : {}) };
        if (instance && options.versionField) set[options.versionField] = ((instance as Record<string, unknown>)[options.versionField] as number) + 1;
        const saved = instance ? await options.serializer.save(data as never, { instance: instance as { id: unknown }, set }) : await options.serializer.save(data as never, { set });
        if (!saved.ok) {
          outcome = { ok: false, fieldErrors: saved.errors };
          throw rollback;
        }
        if (options.afterSave) await options.afterSave(saved.row, ctx, !instance);
        outcome = { ok: true, row: await toJSON(await loaded(queryset(ctx)).filter({ id: (saved.row as { id: unknown }).id } as never).first(), ctx) };
      });
    } catch (error) {
      if (error !== rollback) throw error;
    }
    return outcome!;
  }

  const id = idOf(options.model);
  const idArgs = v.strictObject({ id });
  const saveArgs = v.strictObject({ id: v.optional(id), data: v.record(v.string(), v.unknown()), version: v.optional(v.pipe(v.number(), v.integer())) });
  type Spec = { args?: v.GenericSchema | v.GenericSchemaAsync; guard: readonly Guard[]; run(self: Self, args: never, ctx: HandlerContext): unknown };
  const actions: Record<string, Spec> = {
    load: {
      args: v.optional(listArgs),
      guard: guardsOf('load'),
      run: async (s: Self, args: v.InferOutput<typeof listArgs> | undefined, ctx: HandlerContext) => {
        // Live updates reload only pages a tab has asked for (through load or dispatch).
        (s as Self & { hasLoaded: boolean }).hasLoaded = true;
        if (args?.page !== undefined) s.page = args.page;
        if (args?.pageSize !== undefined) s.pageSize = args.pageSize;
        if (args?.ordering !== undefined) s.ordering = args.ordering;
        if (args?.search !== undefined) s.search = args.search;
        if (args?.filters !== undefined) s.filters = JSON.parse(JSON.stringify(args.filters)) as Record<string, JsonValue>;
        await reload(s, ctx);
      },
    },
    startEdit: {
      args: idArgs,
      guard: guardsOf('startEdit'),
      run: async (s: Self, args: { id: string | number }, ctx: HandlerContext) => {
        s.editing = await toJSON(await lookup(ctx, args.id), ctx);
        s.fieldErrors = {};
        s.error = null;
      },
    },
    cancelEdit: {
      guard: [],
      run: (s: Self) => {
        s.editing = null;
        s.fieldErrors = {};
        s.error = null;
      },
    },
    save: {
      args: saveArgs,
      // The create/update guards run inside, once the kind of save is known.
      guard: guardsOf('save'),
      run: (s: Self, args: { id?: string | number; data: Record<string, unknown>; version?: number }, ctx: HandlerContext) => save(s, args, ctx),
    },
    delete: {
      args: idArgs,
      guard: guardsOf('delete'),
      run: async (s: Self, args: { id: string | number }, ctx: HandlerContext) => {
        // One transaction: a hook that throws leaves the row where it was.
        const row = await atomic(async () => {
          const found = (await lookup(ctx, args.id, true)) as { id: string | number };
          if (options.beforeDelete) await options.beforeDelete(found, ctx);
          await (options.model.objects as QuerySet<M, unknown>).filter({ id: found.id } as never).delete();
          if (options.afterDelete) await options.afterDelete(found.id, ctx);
          return found;
        });
        if ((s.editing as { id?: unknown } | null)?.id === row.id) s.editing = null;
        await reload(s, ctx);
      },
    },
  };
  const custom = options.actions?.({ action: (spec) => ({ ...spec, kind: 'modelAction' }) }) ?? ({} as TActions);
  const tools = (self: Self, ctx: HandlerContext): ModelStateTools<M, TOut> => ({
    queryset: () => queryset(ctx),
    get: (key, opts) => lookup(ctx, key, opts?.forUpdate),
    reload: () => reload(self, ctx),
    serialize: (rows) => toJSON(rows, ctx),
  });
  for (const [action, spec] of Object.entries(custom) as [string, AnyModelAction][]) {
    if (action in actions || action === 'cancelEdit' || action === 'dispatch' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(action)) {
      throw new StateError('STRATA_STATE_DEFINITION', `${name}: a custom action cannot be named ${JSON.stringify(action)} (built-in or not an identifier).`);
    }
    actions[action] = { args: spec.args, guard: guardList(spec.guard), run: (s: Self, args: never, ctx: HandlerContext) => spec.run(s, args, ctx, tools(s, ctx)) };
  }
  const customHandlers = (h: { event: (options: object) => unknown }) =>
    Object.fromEntries(
      Object.entries(custom).map(([action, spec]) => [
        action,
        h.event({ args: spec.args, guard: spec.guard, rateLimit: spec.rateLimit, public: spec.public, run: (s: Self, args: never, ctx: HandlerContext) => spec.run(s, args, ctx, tools(s, ctx)) }),
      ]),
    ) as ActionHandlers<TOut, TActions>;
  const names = Object.keys(actions) as [string, ...string[]];

  return defineState(name, {
    vars: (): ModelStateVars<TOut> => ({ list: [], total: 0, page: 1, pageSize, ordering: [], search: '', filters: {}, editing: null, fieldErrors: {}, error: null }),
    // Any committed change may move rows into, out of or within the page (ordering, filters,
    // scope), so the page is loaded again — through this tab's own queryset and serializer, so
    // a tab never gets a row or field it may not see; the keyed diff sends only what changed.
    backend: () => ({ hasLoaded: false }),
    live:
      options.live === false
        ? undefined
        : { models: [options.model], filter: (s) => s.hasLoaded, onChange: async (s, _changes, ctx) => (s.hasLoaded ? reload(s, ctx) : undefined) },
    handlers: (h) => ({
      load: h.event({ ...actions.load!, ...audit('load'), args: v.optional(listArgs), run: (s, args, ctx) => actions.load!.run(s, args as never, ctx) as Promise<void> }),
      startEdit: h.event({ ...actions.startEdit!, ...audit('startEdit'), args: idArgs, run: (s, args, ctx) => actions.startEdit!.run(s, args as never, ctx) as Promise<void> }),
      // Only clears the edit form of this tab.
      cancelEdit: h.event({ public: true, run: (s, _args, ctx) => actions.cancelEdit!.run(s, undefined as never, ctx) as void }),
      // With both create and update guarded, every save is (they run inside, once the kind is known).
      save: ((handler) => (guardsOf('create').length && guardsOf('update').length ? guardedInside(handler) : handler))(
        h.event({ args: saveArgs, guard: guardsOf('save'), ...audit('save'), run: (s, args, ctx) => save(s, args, ctx) }),
      ),
      delete: h.event({ ...actions.delete!, ...audit('delete'), args: idArgs, run: (s, args, ctx) => actions.delete!.run(s, args as never, ctx) as Promise<void> }),
      ...customHandlers(h as never),
      /** One entry for every action: `{ action: 'save', payload: { … } }`, validated and guarded like the action itself. */
      dispatch: h.event({
        // Adds no power beyond the handlers it routes to, each guarded (and audited) on its own.
        public: true,
        args: v.strictObject({ action: v.picklist(names), payload: v.optional(v.unknown()) }),
        run: async (s, { action, payload }, ctx) => {
          const spec = actions[action]!;
          let args: unknown = payload;
          if (spec.args) {
            const parsed = await v.safeParseAsync(spec.args, payload);
            if (!parsed.success) throw argsError(`${name}.${action}`, parsed.issues);
            args = parsed.output;
          } else if (payload !== undefined) {
            throw new StateError('STRATA_STATE_BAD_ARGS', `${name}.${action} takes no payload.`);
          }
          await runGuards(spec.guard, ctx);
          return (await spec.run(s, args as never, ctx)) as SaveOutcome<TOut> | ActionResult<TActions> | undefined;
        },
      }),
    }),
  });
}

