import { applyPatch, type JsonValue, type Patch, type Path } from '../patch.js';
import type { AnyStateDef, DeepReadonly, inferArgs, inferClientState, inferHandlers, inferResult } from '../types.js';
import type { Call } from './call.js';
import { type Listener, PathListeners } from './pathListeners.js';
import type { ServerError } from './serverError.js';

/** The parameters of a call: the argument is optional when the handler accepts `undefined` (or takes none). */
export type CallArgs<TArgs> = undefined extends TArgs ? [args?: TArgs] : [args: TArgs];

/**
 * One function per declared handler of a state: sends the event and returns its {@link Call}.
 * A state without handler types (an untyped client) may call any name.
 */
export type StateCalls<TState extends AnyStateDef> = unknown extends inferHandlers<TState>
  ? { readonly [handler: string]: (args?: unknown) => Call<unknown> }
  : { readonly [H in keyof inferHandlers<TState>]: (...args: CallArgs<inferArgs<TState, H>>) => Call<inferResult<TState, H>> };

/**
 * One server state as this tab holds it: its value, kept current by the server's patches,
 * and its handlers. Get it from `client.state(name)`.
 */
export interface ClientState<TState extends AnyStateDef = AnyStateDef> {
  /** The state's name. */
  readonly name: TState['name'];
  /**
   * The client vars and computed vars; `undefined` until the first full state arrives, and
   * after {@link ClientState.release}. Patches change it in place: a subtree no operation
   * touched keeps its identity. Read-only: only the server changes it.
   */
  readonly value: DeepReadonly<inferClientState<TState>> | undefined;
  /** Resolves when the first full state has arrived; rejects when the client closes first. */
  readonly ready: Promise<void>;
  /** Calls `listener` after every frame that changed this state; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /**
   * Calls `listener` after every frame that changed this state with the paths its operations
   * touched, in order (`[]`: the whole state was replaced), and for each list keyed by a
   * declared field that field (`keys`: list path → field) — what a UI binding needs to update
   * exactly those places. Returns the unsubscribe function.
   */
  onChange(listener: (paths: readonly Path[], keys: ReadonlyMap<Path, string>) => void): () => void;
  /**
   * Calls `listener` once per applied frame in which an operation's path is `path`, an
   * ancestor of it or a descendant of it (`[key]` segments compare by key); a whole-state
   * replace touches every path. Returns the function that stops watching.
   */
  watch(path: Path, listener: () => void): () => void;
  /** The state's handlers: `state.call.increment({ by: 1 })` sends the event. */
  readonly call: StateCalls<TState>;
  /** Unsubscribes (an `unsub` frame) and forgets the value; `client.state(name)` subscribes again. */
  release(): void;
}

const NO_KEYS: ReadonlyMap<Path, string> = new Map();

/** What a state handle needs of its client. */
export interface StateHost {
  call(state: string, handler: string, args: JsonValue | undefined): Call<unknown>;
  release(state: StateHandle): void;
}

/** The client's record of one state; handed out as a {@link ClientState}. */
export class StateHandle implements ClientState {
  readonly call: StateCalls<AnyStateDef>;
  subscribed = true;
  /** A patch failed: later patches are skipped until the full state asked for arrives. */
  resyncing = false;
  #value: JsonValue | undefined;
  #ready!: Promise<void>;
  #settleReady!: { resolve(): void; reject(error: Error): void; pending: boolean };
  #failed = false;
  readonly #subscribers = new Set<{ readonly listener: Listener }>();
  readonly #pathSubscribers = new Set<{ readonly listener: (paths: readonly Path[], keys: ReadonlyMap<Path, string>) => void }>();
  readonly #watchers = new PathListeners();

  constructor(
    readonly name: string,
    private readonly host: StateHost,
  ) {
    this.#newReady();
    this.call = callProxy(name, host);
  }

  get value(): unknown {
    return this.#value;
  }

  get ready(): Promise<void> {
    return this.#ready;
  }

  subscribe(listener: () => void): () => void {
    const entry = { listener };
    this.#subscribers.add(entry);
    return () => void this.#subscribers.delete(entry);
  }

  onChange(listener: (paths: readonly Path[], keys: ReadonlyMap<Path, string>) => void): () => void {
    const entry = { listener };
    this.#pathSubscribers.add(entry);
    return () => void this.#pathSubscribers.delete(entry);
  }

  watch(path: Path, listener: () => void): () => void {
    return this.#watchers.add(path, listener);
  }

  release(): void {
    if (this.subscribed) this.host.release(this);
  }

  /** Subscribed again after a release: a new `ready` if the old one already resolved. */
  resubscribe(): void {
    this.subscribed = true;
    if (!this.#settleReady.pending) this.#newReady();
  }

  /** Takes a full state; adds the listeners to call to `marked`. */
  replace(value: JsonValue | undefined, marked: Set<Listener>): void {
    this.#value = value;
    this.resyncing = false;
    this.#changed([[]], marked);
    if (value !== undefined && this.#settleReady.pending) this.#settleReady.resolve();
  }

  /** Applies `patch` in place; false when it did not fit (what did apply is still reported). */
  patch(patch: Patch, marked: Set<Listener>): boolean {
    const touched: Path[] = [];
    const keys = new Map<Path, string>();
    try {
      this.#value = applyPatch(this.#value as JsonValue, patch, (path, by) => {
        touched.push(path);
        if (by !== undefined) keys.set(path, by);
      });
      return true;
    } catch {
      return false;
    } finally {
      this.#changed(touched, marked, keys);
    }
  }

  /** The client closed before the first full state. */
  fail(error: ServerError): void {
    this.#failed = true;
    if (this.#settleReady.pending) this.#settleReady.reject(error);
  }

  /** The client starts over as a new tab: a state that had failed gets a new `ready`. */
  restart(): void {
    this.resyncing = false;
    if (!this.#failed) return;
    this.#failed = false;
    if (!this.#settleReady.pending) this.#newReady();
  }

  #changed(paths: readonly Path[], marked: Set<Listener>, keys: ReadonlyMap<Path, string> = NO_KEYS): void {
    if (paths.length === 0) return;
    for (const path of paths) this.#watchers.touch(path);
    for (const listener of this.#watchers.drain()) marked.add(listener);
    for (const entry of this.#subscribers) marked.add(entry.listener);
    if (this.#pathSubscribers.size) {
      const touched = [...paths];
      for (const entry of this.#pathSubscribers) marked.add(() => entry.listener(touched, keys));
    }
  }

  #newReady(): void {
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = {
        pending: true,
        resolve: () => ((this.#settleReady.pending = false), resolve()),
        reject: (error) => ((this.#settleReady.pending = false), reject(error)),
      };
    });
    // Nobody has to await `ready`; a close before the first state must not be an unhandled rejection.
    this.#ready.catch(() => undefined);
  }
}

function callProxy(state: string, host: StateHost): StateCalls<AnyStateDef> {
  const functions = new Map<string, (args?: JsonValue) => Call<unknown>>();
  return new Proxy(Object.create(null) as StateCalls<AnyStateDef>, {
    get(_target, handler) {
      // `then` would make the object look like a promise to `await`; the server refuses that name anyway.
      if (typeof handler !== 'string' || handler === 'then') return undefined;
      let call = functions.get(handler);
      if (!call) functions.set(handler, (call = (args) => host.call(state, handler, args)));
      return call;
    },
  });
}
