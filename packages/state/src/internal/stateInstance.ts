import { assertClientValue } from '../clientValue.js';
import type { AnyServerStateDef } from '../defineState.js';
import { StateError } from '../errors.js';
import { type DiffOptions, diff, formatPath, type JsonValue, type Patch } from '../patch.js';
import { cloneJson } from './cloneJson.js';
import { ReusableSet } from './reusableSet.js';
import { stateSelves } from './stateSelves.js';

type Computed = (self: unknown) => unknown;

interface ComputedEntry {
  readonly owner: StateInstance;
  readonly key: string;
  readonly fn: Computed;
  value: unknown;
  /** Inputs read by the last computation, as `instance → keys`. */
  deps: Map<StateInstance, Set<string>>;
  /** The inputs of the value the client holds (restored when an event is reverted). */
  committedDeps: Map<StateInstance, Set<string>>;
  dirty: boolean;
}

const NONE: Record<string, unknown> = Object.freeze({});
const NO_OPTIONS: DiffOptions = Object.freeze({});
const NO_USES: ReadonlyMap<string, unknown> = new Map();
const NO_COMPUTED: ReadonlyMap<string, unknown> = new Map();

/** The computed var being evaluated; every state read meanwhile is recorded as its input. */
let active: ComputedEntry | undefined;
/** True while a handler's read of a computed var evaluates it (and the computed vars it reads). */
let handlerRead = false;

/** What one event touched; the tab commits or reverts it as a whole. */
export interface EventScope {
  touch(instance: StateInstance): void;
}

/**
 * One state of one tab: its live vars, backend vars and computed vars, the copy of what
 * the client last received (`shadow`), and the bookkeeping to send only what changed.
 *
 * A var holds one copy between events: an untouched var *is* its shadow value (the same
 * object, deep-frozen), and a handler's first read or write of it takes a private copy
 * (`touched`). The commit keeps whichever copy is current (the new one, frozen, when it
 * changed; the older one when equal), so an idle tab holds each value once and an event
 * keeps one copy of what it changed — which matters to the collector when thousands of tabs
 * hold lists. Frozen, the shadow cannot drift from what the client holds: a computed var
 * that sorts its input in place, or a handler that kept a reference past its event, gets a
 * TypeError at the faulty line instead.
 */
export class StateInstance {
  readonly name: string;
  private readonly vars: Record<string, unknown>;
  private readonly backend: Record<string, unknown>;
  private readonly computed: Map<string, ComputedEntry>;
  private readonly uses: Map<string, StateInstance>;
  /** Exactly what the client holds: client vars and computed vars, as deep-frozen JSON. */
  private readonly shadow: Record<string, JsonValue> = {};
  /**
   * Client vars read or written by a handler since the last commit (a read may be followed by
   * a nested write): each has its own copy in `vars`; every other var is its shadow value.
   */
  private readonly touched = new ReusableSet<string>();
  /** Vars and computed vars whose diff found a change, between {@link commitVars} and {@link recordSent}. */
  private readonly changed = new ReusableSet<string>();
  /** Computed entries (of any state of the tab) that read a key of this state. */
  private dependents: Map<string, Set<ComputedEntry>> | undefined;
  private selfProxy: object | undefined;
  private readonly diffOptions: DiffOptions;

  constructor(
    readonly def: AnyServerStateDef,
    private readonly scope: EventScope,
    resolveUse: (def: AnyServerStateDef) => StateInstance,
  ) {
    this.name = def.name;
    const { definition } = def;
    const keys = definition.keys;
    this.diffOptions = keys ? { keyOf: (path) => (Object.hasOwn(keys, path) ? keys[path] : undefined) } : NO_OPTIONS;
    this.vars = definition.vars();
    for (const [key, value] of Object.entries(this.vars)) {
      assertClientValue(this.name, key, value);
      // A copy (the factory may hand out shared objects), held once: by the var and its shadow.
      this.vars[key] = this.shadow[key] = deepFreeze(cloneJson(value as JsonValue));
    }
    // States without backend vars, uses or computed vars share empty containers: an idle tab stays small.
    this.backend = definition.backend?.() ?? NONE;
    this.uses = definition.uses ? new Map() : (NO_USES as Map<string, StateInstance>);
    for (const [key, used] of Object.entries((definition.uses ?? {}) as Record<string, AnyServerStateDef>)) this.uses.set(key, resolveUse(used));
    this.checkNames();
    this.computed = definition.computed ? new Map() : (NO_COMPUTED as Map<string, ComputedEntry>);
    for (const [key, fn] of Object.entries((definition.computed ?? {}) as Record<string, Computed>)) {
      this.computed.set(key, { owner: this, key, fn, value: undefined, deps: new Map(), committedDeps: new Map(), dirty: true });
    }
    // A computed value is a frozen copy, never changed in place: the shadow holds that very value.
    for (const entry of this.computed.values()) this.shadow[entry.key] = this.evaluate(entry) as JsonValue;
    for (const entry of this.computed.values()) entry.committedDeps = entry.deps;
  }

  /** The object handlers and computed vars see: vars, backend vars, computed (read-only), used states. */
  get self(): object {
    if (!this.selfProxy) {
      this.selfProxy = new Proxy(Object.create(null) as object, this.proxyHandler());
      stateSelves.add(this.selfProxy);
    }
    return this.selfProxy;
  }

  /** The client vars as last committed, as JSON (what a shared state manager stores). */
  storedVars(): Record<string, JsonValue> {
    const out: Record<string, JsonValue> = {};
    for (const key of Object.keys(this.vars)) out[key] = this.shadow[key]!;
    return out;
  }

  /** Takes client vars from a stored record (keys the definition no longer has are ignored), then recomputes. */
  loadVars(stored: Record<string, JsonValue>): void {
    for (const key of Object.keys(this.vars)) {
      if (!Object.hasOwn(stored, key)) continue;
      this.vars[key] = cloneJson(stored[key]!);
      // The shadow stays what this worker's socket last got: the next commit sends the difference.
      this.touched.add(key);
    }
    this.scope.touch(this);
  }

  /** The client's view of the state (client vars then computed vars), as last sent. */
  snapshot(): JsonValue {
    return this.shadow;
  }

  /**
   * Diffs every touched var against what the client holds and marks the computed vars that
   * read a changed one (`dirtied` collects their states). Returns the ops; their values are
   * live, so serialize them before the state changes again. Changes nothing until
   * {@link recordSent}, so a failure can still {@link revert}.
   */
  commitVars(dirtied: Set<StateInstance>): Patch {
    const ops: Patch = [];
    for (let i = 0; i < this.touched.size; i++) {
      const key = this.touched.at(i);
      const changed = diff(this.shadow[key]!, this.vars[key] as JsonValue, [key], this.diffOptions);
      if (changed.length === 0) continue;
      for (const op of changed) if ('value' in op) assertClientValue(this.name, formatPath(op.path).slice(1), op.value);
      ops.push(...changed);
      this.changed.add(key);
      this.markDependents(key, dirtied);
    }
    return ops;
  }

  /** Recomputes the dirty computed vars; returns the ops of those whose value changed. */
  commitComputed(dirtied: Set<StateInstance>): Patch {
    const ops: Patch = [];
    for (const entry of this.computed.values()) {
      if (!entry.dirty) continue;
      const changed = diff(this.shadow[entry.key]!, this.evaluate(entry) as JsonValue, [entry.key], this.diffOptions);
      if (changed.length === 0) continue;
      ops.push(...changed);
      this.changed.add(entry.key);
      this.markDependents(entry.key, dirtied);
    }
    return ops;
  }

  /**
   * Records the committed ops as received by the client. The shadow takes the current values
   * themselves (what applying the ops to it would give): a changed var's copy is frozen and
   * becomes its shadow, an unchanged one's copy is dropped. The ops' values are parts of
   * those frozen values, so they stay safe to serialize.
   */
  recordSent(): void {
    for (let i = 0; i < this.touched.size; i++) {
      const key = this.touched.at(i);
      if (this.changed.has(key)) this.shadow[key] = deepFreeze(this.vars[key] as JsonValue);
      else this.vars[key] = this.shadow[key];
    }
    this.touched.clear();
    for (const entry of this.computed.values()) {
      // Computed values are frozen copies, never changed in place.
      if (this.changed.has(entry.key)) this.shadow[entry.key] = entry.value as JsonValue;
      entry.committedDeps = entry.deps;
    }
    this.changed.clear();
  }

  /** Puts every touched var and every computed var back to what the client holds, after a failure. */
  revert(): void {
    for (let i = 0; i < this.touched.size; i++) this.vars[this.touched.at(i)] = this.shadow[this.touched.at(i)];
    this.touched.clear();
    this.changed.clear();
    for (const entry of this.computed.values()) {
      // The shadow's value of a computed var is always a frozen copy (see evaluate).
      entry.value = this.shadow[entry.key];
      entry.dirty = false;
      // The failed job may have re-tracked the inputs against values that are now reverted.
      if (entry.deps !== entry.committedDeps) {
        untrack(entry);
        entry.deps = entry.committedDeps;
        track(entry);
      }
    }
  }

  private evaluate(entry: ComputedEntry): unknown {
    untrack(entry);
    const previous = entry.deps;
    entry.deps = new Map();
    const outer = active;
    active = entry;
    try {
      entry.value = entry.fn(this.self);
    } catch (error) {
      // Still watch the old inputs, so a later change recomputes it.
      entry.deps = previous;
      track(entry);
      throw error;
    } finally {
      active = outer;
    }
    entry.dirty = false;
    if (entry.value instanceof Promise) throw new StateError('STRATA_STATE_DEFINITION', `${this.name}.${entry.key} returned a Promise: computed vars are synchronous; load data in a handler into a var.`);
    assertClientValue(this.name, entry.key, entry.value);
    // Computed vars are read-only, and their value may be a var's own object: hand out a frozen copy.
    entry.value = deepFreeze(cloneJson(entry.value as JsonValue));
    track(entry);
    return entry.value;
  }

  private markDependents(key: string, dirtied: Set<StateInstance>): void {
    for (const entry of this.dependents?.get(key) ?? []) {
      // Even when already dirty: a failed commit can leave an entry of an uninvolved state dirty.
      entry.dirty = true;
      dirtied.add(entry.owner);
    }
  }

  private readVar(key: string): unknown {
    if (active) {
      let keys = active.deps.get(this);
      if (!keys) active.deps.set(this, (keys = new Set()));
      keys.add(key);
    } else if (!this.touched.has(key)) {
      // A handler that reads a var may change something inside it: it gets its own copy
      // (the shadow is frozen), and the commit diffs it.
      this.vars[key] = cloneJson(this.shadow[key]!);
      this.touched.add(key);
      this.scope.touch(this);
    }
    return this.vars[key];
  }

  private readComputed(entry: ComputedEntry): unknown {
    if (active) {
      let keys = active.deps.get(this);
      if (!keys) active.deps.set(this, (keys = new Set()));
      keys.add(entry.key);
      // In a commit the dirty flags are exact; in a handler's read, touched inputs count too.
      if (entry.dirty || (handlerRead && this.inputsTouched(entry))) this.refresh(entry);
      return entry.value;
    }
    // Inside a handler, inputs it touched may have changed in place: compute afresh, and
    // leave the entry dirty so the commit compares it with what the client has.
    if (entry.dirty || this.inputsTouched(entry)) {
      const outer = handlerRead;
      handlerRead = true;
      try {
        this.refresh(entry);
      } finally {
        handlerRead = outer;
      }
    }
    return entry.value;
  }

  private refresh(entry: ComputedEntry): void {
    this.evaluate(entry);
    if (handlerRead) {
      entry.dirty = true;
      this.scope.touch(this);
    }
  }


  private inputsTouched(entry: ComputedEntry, seen = new Set<ComputedEntry>()): boolean {
    seen.add(entry);
    for (const [instance, keys] of entry.deps) {
      for (const key of keys) {
        if (instance.touched.has(key)) return true;
        // An input that is itself a computed var is stale when its own inputs were touched.
        const inner = instance.computed.get(key);
        if (inner && !seen.has(inner) && (inner.dirty || instance.inputsTouched(inner, seen))) return true;
      }
    }
    return false;
  }

  private proxyHandler(): ProxyHandler<object> {
    const refuse = (key: string | symbol, why: string): never => {
      throw new StateError('STRATA_STATE_DEFINITION', `${this.name}.${String(key)} ${why}.`);
    };
    return {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        if (Object.hasOwn(this.vars, key)) return this.readVar(key);
        if (Object.hasOwn(this.backend, key)) return this.backend[key];
        const entry = this.computed.get(key);
        if (entry) return this.readComputed(entry);
        return this.uses.get(key)?.self;
      },
      set: (_target, key, value) => {
        if (typeof key === 'string' && Object.hasOwn(this.vars, key)) {
          if (active) refuse(key, 'cannot be assigned inside a computed var');
          assertClientValue(this.name, key, value);
          // A copy: a var never shares objects with another var, a computed value or the caller.
          this.vars[key] = cloneJson(value as JsonValue);
          this.touched.add(key);
          this.scope.touch(this);
        } else if (typeof key === 'string' && Object.hasOwn(this.backend, key)) {
          this.backend[key] = value;
        } else {
          refuse(key, `cannot be assigned: ${this.computed.has(key as string) ? 'it is a computed var' : this.uses.has(key as string) ? 'it is a used state' : 'declare it in vars or backend first'}`);
        }
        return true;
      },
      deleteProperty: (_target, key) => refuse(key, 'cannot be deleted; assign null instead'),
      defineProperty: (_target, key) => refuse(key, 'cannot be defined; declare it in vars or backend'),
      has: (_target, key) => typeof key === 'string' && (this.keys().includes(key) || Object.hasOwn(this.backend, key)),
      // Backend vars are readable by name but never listed: spreading or serialising the state cannot leak them.
      ownKeys: () => this.keys(),
      getOwnPropertyDescriptor: (_target, key) => {
        if (typeof key !== 'string' || !this.keys().includes(key)) return undefined;
        return { configurable: true, enumerable: true, writable: !this.computed.has(key), value: this.self[key as never] };
      },
    };
  }

  private keys(): string[] {
    return [...Object.keys(this.vars), ...this.computed.keys(), ...this.uses.keys()];
  }

  private checkNames(): void {
    const seen = new Map<string, string>();
    const groups: [string, Iterable<string>][] = [
      ['vars', Object.keys(this.vars)],
      ['backend', Object.keys(this.backend)],
      ['computed', Object.keys(this.def.definition.computed ?? {})],
      ['uses', this.uses.keys()],
    ];
    for (const [group, keys] of groups) {
      for (const key of keys) {
        if (key === '__proto__' || key === 'constructor' || key === 'then' || key.startsWith('$')) {
          throw new StateError('STRATA_STATE_DEFINITION', `${this.name}: "${key}" cannot be a ${group} name.`);
        }
        const other = seen.get(key);
        if (other) throw new StateError('STRATA_STATE_DEFINITION', `${this.name}: "${key}" is declared in both ${other} and ${group}; they share one namespace.`);
        seen.set(key, group);
      }
    }
  }
}

type Tracked = { dependents: Map<string, Set<ComputedEntry>> | undefined };

function untrack(entry: ComputedEntry): void {
  for (const [instance, keys] of entry.deps) for (const key of keys) (instance as unknown as Tracked).dependents?.get(key)?.delete(entry);
}

function track(entry: ComputedEntry): void {
  for (const [instance, keys] of entry.deps) {
    const owner = instance as unknown as Tracked;
    for (const key of keys) {
      owner.dependents ??= new Map();
      let set = owner.dependents.get(key);
      if (!set) owner.dependents.set(key, (set = new Set()));
      set.add(entry);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
