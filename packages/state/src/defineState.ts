import type * as v from 'valibot';
import type { EventContext, Guard } from './context.js';
import { StateError } from './errors.js';
import type { ClientAction } from './protocol.js';
import type { UploadedFile } from './internal/uploads.js';
import type { HandlerTypes, StateTypes } from './types.js';

type AnyVars = Record<string, unknown>;
type AnySchema = v.GenericSchema | v.GenericSchemaAsync;

/** A per-tab, per-handler rate limit: at most `max` calls per `windowMs`. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

interface HandlerOptions<TArgs extends AnySchema | undefined> {
  /** The valibot schema of the argument; omit for a handler that takes none. */
  args?: TArgs;
  /** Guards run before the handler, in order; any that throws refuses the call. */
  guard?: Guard | readonly Guard[];
  /** At most `max` calls per `windowMs` per tab; beyond it `STRATA_STATE_RATE_LIMITED`. */
  rateLimit?: RateLimit;
  /** Marks a handler that mutates state without a guard as public on purpose (read by `strata check --deploy`). */
  public?: boolean;
}

type ArgsOf<TArgs> = TArgs extends AnySchema ? v.InferOutput<TArgs> : undefined;
type InputOf<TArgs> = TArgs extends AnySchema ? v.InferInput<TArgs> : undefined;

/** What a handler gets besides the state: the per-event context plus client actions. */
export interface HandlerContext extends EventContext {
  /** Sends the browser to a same-origin path (`/…`), or an absolute http(s) URL. */
  redirect(to: string, options?: { replace?: boolean }): void;
  toast(message: string, level?: Extract<ClientAction, { type: 'toast' }>['level']): void;
  download(file: { filename: string; url?: string; content?: string; contentType?: string }): void;
  /** Calls a function the page registered under `name`, with JSON arguments. */
  callClient(name: string, ...args: unknown[]): void;
  /**
   * Takes a file this tab uploaded (`client.upload(file)` answered its id): once, for this tab
   * only; otherwise STRATA_STATE_UPLOAD_NOT_FOUND. Move or read `path`; an untaken file is deleted.
   */
  upload(id: string): UploadedFile;
}

/** A background task's handle on its tab. */
export interface TaskContext<TSelf> extends HandlerContext {
  /** Aborted when the client cancels the task or its tab goes away. */
  readonly signal: AbortSignal;
  /** Runs `change` with exclusive access to the state (between the tab's events) and sends the patch. */
  update(change: (self: TSelf) => void): Promise<void>;
}

/** A declared event handler (built by `h.event`). */
export interface EventHandler<TSelf, TArgs extends AnySchema | undefined, TResult> extends HandlerOptions<TArgs> {
  readonly kind: 'event';
  run(self: TSelf, args: ArgsOf<TArgs>, ctx: HandlerContext): TResult | Promise<TResult>;
}

/** A declared background task (built by `h.task`). */
export interface TaskHandler<TSelf, TArgs extends AnySchema | undefined, TResult> extends HandlerOptions<TArgs> {
  readonly kind: 'task';
  run(task: TaskContext<TSelf>, args: ArgsOf<TArgs>, ctx: HandlerContext): Promise<TResult>;
}

// biome-ignore lint: the handler map is heterogeneous by design.
type AnyHandler = EventHandler<any, any, any> | TaskHandler<any, any, any>;

/** A committed change to rows of a model (from `@strata/model`'s change events). */
export interface ModelChange {
  type: 'created' | 'updated' | 'deleted';
  model: string;
  pks: (number | string)[];
}

/** The `live` option of a state definition. */
export interface LiveOptions<TSelf> {
  /** Models whose committed changes concern this state. */
  models: readonly { readonly name: string }[];
  /**
   * Whether a tab's state cares about `change` (synchronous, reads only `self`): when false no
   * job is queued for that tab. E.g. a cart: `(s, change) => s.lines.some((l) => change.pks.includes(l.id))`.
   * Default: every change concerns every tab holding the state.
   */
  filter?(self: TSelf, change: ModelChange): boolean;
  onChange(self: TSelf, changes: readonly ModelChange[], ctx: HandlerContext): void | Promise<void>;
}

/** The builder passed to `handlers`: it types `self` for every handler. */
export interface HandlerBuilder<TSelf> {
  event<TResult = void>(run: (self: TSelf, args: undefined, ctx: HandlerContext) => TResult | Promise<TResult>): EventHandler<TSelf, undefined, TResult>;
  event<TArgs extends AnySchema | undefined = undefined, TResult = void>(
    options: HandlerOptions<TArgs> & { run(self: TSelf, args: ArgsOf<TArgs>, ctx: HandlerContext): TResult | Promise<TResult> },
  ): EventHandler<TSelf, TArgs, TResult>;
  task<TArgs extends AnySchema | undefined = undefined, TResult = void>(
    options: HandlerOptions<TArgs> & { run(task: TaskContext<TSelf>, args: ArgsOf<TArgs>, ctx: HandlerContext): Promise<TResult> },
  ): TaskHandler<TSelf, TArgs, TResult>;
}

/** What a state's handlers and computed vars see: vars, backend vars, computed vars (read-only), used states. */
export type StateSelf<TVars, TBackend, TComputed, TUses> = TVars &
  TBackend & { readonly [K in keyof TComputed]: TComputed[K] extends (...args: never[]) => infer R ? R : never } & {
    readonly [K in keyof TUses]: TUses[K] extends StateDef<string, infer V, infer B, infer C, infer U, infer _H> ? StateSelf<V, B, C, U> : never;
  };

type ComputedValues<TComputed> = { [K in keyof TComputed]: TComputed[K] extends (...args: never[]) => infer R ? R : never };

type HandlerTypesOf<THandlers> = {
  [K in keyof THandlers]: THandlers[K] extends EventHandler<unknown, infer A, infer R>
    ? HandlerTypes<InputOf<A>, Awaited<R>, false>
    : THandlers[K] extends TaskHandler<unknown, infer A, infer R>
      ? HandlerTypes<InputOf<A>, Awaited<R>, true>
      : never;
};

/** A state definition: what `defineState` returns and what the client infers types from. */
export interface StateDef<
  TName extends string = string,
  TVars extends AnyVars = AnyVars,
  TBackend extends AnyVars = AnyVars,
  TComputed = unknown,
  TUses = unknown,
  THandlers = unknown,
> {
  readonly name: TName;
  /** @internal */
  readonly definition: StateDefinition<TVars, TBackend, TComputed, TUses, THandlers>;
  readonly '~types'?: StateTypes<TVars & ComputedValues<TComputed>, HandlerTypesOf<THandlers>>;
}

/** A state definition of any shape. */
// biome-ignore lint: any keeps the variance open for registries.
export type AnyServerStateDef = StateDef<string, any, any, any, any, any>;

/** The options of {@link defineState}. */
export interface StateDefinition<TVars extends AnyVars, TBackend extends AnyVars, TComputed, TUses, THandlers> {
  /** A fresh set of client vars for a new tab (JSON data only). */
  vars: () => TVars;
  /** A fresh set of backend-only vars: never sent, may hold anything. */
  backend?: () => TBackend;
  /** Other states of the same tab this one reads (and may change), by local name. */
  uses?: TUses;
  /** Derived client-visible values; each recomputes only when a var it read changed. */
  computed?: TComputed & Record<string, (self: StateSelf<TVars, TBackend, unknown, TUses>) => unknown>;
  /**
   * Key fields of keyed lists other than `id`, by path (property names joined by dots):
   * `{ items: 'sku', 'order.lines': 'lineNo' }`. Lists of objects with a unique `id` need nothing.
   */
  keys?: Record<string, string>;
  /**
   * Live updates: after a transaction that changed rows of one of `models` commits, every tab
   * holding this state runs `onChange` (coalesced: one run per tab per burst, with all the
   * events since its last run), through the event middleware, and gets the patch.
   */
  live?: LiveOptions<StateSelf<TVars, TBackend, TComputed, TUses>> | undefined;
  /** The only functions the client may call. */
  handlers?: (h: HandlerBuilder<StateSelf<TVars, TBackend, TComputed, TUses>>) => THandlers;
}

const NAME = /^[a-zA-Z][\w.-]{0,63}$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype', 'toJSON', 'then']);

/**
 * Defines a server-held state: client vars, backend-only vars, computed vars and handlers.
 * The browser infers every var and handler through `import type` of the result.
 *
 * @example
 * export const Counter = defineState('counter', {
 *   vars: () => ({ count: 0 }),
 *   computed: { double: (s) => s.count * 2 },
 *   handlers: (h) => ({
 *     increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => { s.count += by; } }),
 *   }),
 * });
 */
export function defineState<
  const TName extends string,
  TVars extends AnyVars,
  TBackend extends AnyVars = Record<never, never>,
  TComputed = Record<never, never>,
  TUses extends Record<string, AnyServerStateDef> = Record<never, never>,
  THandlers extends Record<string, AnyHandler> = Record<never, never>,
>(name: TName, definition: StateDefinition<TVars, TBackend, TComputed, TUses, THandlers>): StateDef<TName, TVars, TBackend, TComputed, TUses, THandlers> {
  if (!NAME.test(name)) throw new StateError('STRATA_STATE_DEFINITION', `State name "${name}" must start with a letter and hold only letters, digits, "_", "." or "-" (at most 64).`);
  if (typeof definition?.vars !== 'function') throw new StateError('STRATA_STATE_DEFINITION', `State "${name}" needs vars: () => ({ … }), a factory of fresh vars per tab.`);
  for (const [path, field] of Object.entries(definition.keys ?? {})) {
    if (typeof field !== 'string' || field === '' || field === '__proto__') throw new StateError('STRATA_STATE_DEFINITION', `State "${name}": keys.${path} must name the key field of that list.`);
  }
  return Object.freeze({ name, definition });
}

/** Handlers whose guards run inside them (a ModelState save guarded per create and update). */
const guardedInsideHandlers = new WeakSet<object>();

/** @internal Marks a handler whose guards run inside it, for {@link auditHandlers}. */
export function guardedInside<T extends object>(handler: T): T {
  guardedInsideHandlers.add(handler);
  return handler;
}

/**
 * Every handler of `states` that anyone connected may call: no guard and not marked `public`.
 * `strata check --deploy` fails on each one (a handler that changes data needs a guard, or
 * `public: true` when anyone may call it on purpose).
 */
export function auditHandlers(states: Iterable<AnyServerStateDef>): { state: string; handler: string }[] {
  const open: { state: string; handler: string }[] = [];
  const seen = new Set<string>();
  const visit = (def: AnyServerStateDef) => {
    if (seen.has(def.name)) return;
    seen.add(def.name);
    for (const used of Object.values((def.definition.uses ?? {}) as Record<string, AnyServerStateDef>)) visit(used);
    for (const [name, handler] of buildHandlers(def)) {
      const guarded = (Array.isArray(handler.guard) ? handler.guard.length > 0 : handler.guard !== undefined) || guardedInsideHandlers.has(handler);
      if (!guarded && handler.public !== true) open.push({ state: def.name, handler: name });
    }
  };
  for (const def of states) visit(def);
  return open;
}

/** Builds the handler map of a definition, once, checking names. */
export function buildHandlers(state: AnyServerStateDef): Map<string, AnyHandler> {
  const build = state.definition.handlers;
  const handlers = new Map<string, AnyHandler>();
  if (!build) return handlers;
  const map = build(builder) as Record<string, AnyHandler>;
  for (const name of Object.keys(map)) {
    if (RESERVED.has(name) || name.startsWith('$')) throw new StateError('STRATA_STATE_DEFINITION', `${state.name}: "${name}" cannot be a handler name.`);
    const handler = map[name];
    if (!handler || (handler.kind !== 'event' && handler.kind !== 'task')) {
      throw new StateError('STRATA_STATE_DEFINITION', `${state.name}.${name} must be built with h.event(…) or h.task(…).`);
    }
    handlers.set(name, handler);
  }
  return handlers;
}

const builder: HandlerBuilder<never> = {
  event(options: unknown) {
    const spec = typeof options === 'function' ? { run: options } : (options as object);
    return Object.freeze({ ...spec, kind: 'event' }) as never;
  },
  task(options: unknown) {
    return Object.freeze({ ...(options as object), kind: 'task' }) as never;
  },
};

export type { AnyHandler };
