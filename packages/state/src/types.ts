/**
 * The type surface both sides share. The browser reaches a server state's vars and handler
 * signatures through `import type` of its definition; these utilities read them.
 * Types only: nothing here exists at run time.
 */
import type { JsonValue } from './patch.js';

/** What the client needs to know about one handler. */
export interface HandlerTypes<TArgs = unknown, TResult = unknown, TTask extends boolean = boolean> {
  args: TArgs;
  result: TResult;
  task: TTask;
}

/** The phantom type record every state definition carries under `~types`. */
export interface StateTypes<TClient = unknown, THandlers = Record<string, HandlerTypes>> {
  /** Client-visible vars and computed vars, as the browser holds them. */
  client: TClient;
  handlers: THandlers;
}

/** Any state definition, as far as the client is concerned. */
export interface AnyStateDef<TName extends string = string> {
  readonly name: TName;
  /** Type-level only (absent at run time). */
  readonly '~types'?: StateTypes<unknown, unknown>;
}

type TypesOf<TState extends AnyStateDef> = NonNullable<TState['~types']>;

/** The client-visible value of a state: its client vars and computed vars. */
export type inferClientState<TState extends AnyStateDef> = TypesOf<TState>['client'];

/** The handlers of a state, name → {@link HandlerTypes}. */
export type inferHandlers<TState extends AnyStateDef> = TypesOf<TState>['handlers'];

/** The argument type of a handler (`undefined` when it declares no schema). */
export type inferArgs<TState extends AnyStateDef, THandler extends keyof inferHandlers<TState>> = HandlerOf<TState, THandler>['args'];

type HandlerOf<TState extends AnyStateDef, THandler extends keyof inferHandlers<TState>> = inferHandlers<TState>[THandler] extends HandlerTypes ? inferHandlers<TState>[THandler] : HandlerTypes<never, never, never>;

/** The result type of a handler (what its call resolves to). */
export type inferResult<TState extends AnyStateDef, THandler extends keyof inferHandlers<TState>> = HandlerOf<TState, THandler>['result'];

/** The state definition named `TName` among a union of definitions. */
export type StateNamed<TStates extends AnyStateDef, TName extends TStates['name']> = Extract<TStates, { readonly name: TName }>;

/** Deeply read-only view of JSON data (what the client exposes; patches are the only writer). */
export type DeepReadonly<T> = T extends (infer TItem)[]
  ? readonly DeepReadonly<TItem>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A JSON-safe return value; `void` handlers resolve to `undefined`. */
export type WireResult<T> = T extends void | undefined ? undefined : T extends JsonValue ? T : never;
