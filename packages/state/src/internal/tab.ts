import type { ConnectionInfo } from '../context.js';
import type { AnyServerStateDef } from '../defineState.js';
import { StateError } from '../errors.js';
import type { JsonValue, Patch } from '../patch.js';
import type { ServerFrame, StatePatches } from '../protocol.js';
import { ReusableSet } from './reusableSet.js';
import { type EventScope, StateInstance } from './stateInstance.js';

/** A tab as a shared state manager stores it. */
export interface TabRecord {
  seq: number;
  subscribed: string[];
  states: Record<string, Record<string, JsonValue>>;
}

/** The socket side of a tab, as the tab sees it. */
export interface TabConnection {
  send(frame: string): void;
  close(code: number, reason: string): void;
}

type Job = () => Promise<void> | void;

/**
 * The server-held state of one browser tab: its state instances, the events waiting to run
 * (one at a time, in order), its running tasks and its connection.
 */
export class Tab implements EventScope {
  readonly subscribed = new Set<string>();
  /** The highest event sequence number processed. */
  lastSeq = 0;
  /** An event a worker that died was running (shared managers): it never runs again. */
  interrupted = 0;
  /** The stored record's version this tab was last loaded from or saved as (shared managers). */
  version = 0;
  connection: TabConnection | undefined;
  /** The facts of the socket that last joined (live updates run with them while it is away). */
  info: ConnectionInfo | undefined;
  lastSeen = Date.now();
  /** Timer that cancels the tab's tasks when its socket does not come back. */
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ended for good (its session ended): the state manager deletes it instead of saving it. */
  ended = false;
  readonly tasks = new Map<number, AbortController>();
  private readonly instances = new Map<string, StateInstance>();
  private readonly touchedNow = new ReusableSet<StateInstance>();
  private queue: { job: Job; counted: boolean; fail?: (error: unknown) => void; seq?: number | undefined }[] = [];
  /** A job is running: its frames wait until the state manager has saved its state (dropped if it could not). */
  private inJob = false;
  private held: ServerFrame[] | undefined;
  private afterJob: (() => void)[] | undefined;
  private waiting = 0;
  private running = false;
  private handlerWindows: Map<string, { start: number; count: number }> | undefined;
  /** The tab's token bucket (kept on the tab, so a reconnect does not refill it). */
  private bucket = Number.NaN;
  private bucketAt = 0;

  constructor(
    readonly id: string,
    private readonly resolveDef: (def: AnyServerStateDef) => AnyServerStateDef,
    private readonly onJobError: (error: unknown) => void,
    /** Runs each job; the state manager's `run`, so a shared manager can load and save around every one. */
    private readonly runJob: (tab: Tab, job: Job, seq: number | undefined) => void | Promise<void>,
    private readonly onInstance: (tab: Tab, def: AnyServerStateDef) => void = () => undefined,
  ) {}

  /** The tab's instance of a state, created (with the states it uses) on first need. */
  instance(def: AnyServerStateDef): StateInstance {
    let instance = this.instances.get(def.name);
    if (!instance) {
      instance = new StateInstance(this.resolveDef(def), this, (used) => this.instance(used));
      this.instances.set(def.name, instance);
      this.onInstance(this, instance.def);
    }
    return instance;
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  touch(instance: StateInstance): void {
    this.touchedNow.add(instance);
  }

  /** Number of events waiting or running. */
  get pending(): number {
    return this.waiting;
  }

  /**
   * Queues a job behind the tab's others; `counted` jobs (events) count toward the queue
   * limit; `seq` is the event's sequence number (passed to the state manager's `run`).
   */
  enqueue(job: Job, counted = false, fail?: (error: unknown) => void, seq?: number): void {
    if (counted) this.waiting++;
    this.queue.push(fail ? { job, counted, fail, seq } : { job, counted, seq });
    if (!this.running) void this.drain();
  }

  /**
   * Runs `fn` once the job running now has sent its frames (at once when none runs; returns
   * whether it waits): an ended tab still answers the event it was running.
   */
  afterCurrentJob(fn: () => void): boolean {
    if (!this.inJob) {
      fn();
      return false;
    }
    (this.afterJob ??= []).push(fn);
    return true;
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      if (this.ended) {
        // Nothing more runs for an ended tab: each waiting job is failed (their owners clean up).
        if (next.counted) this.waiting--;
        next.fail?.(new StateError('STRATA_STATE_UNAVAILABLE', 'This tab has ended.'));
        continue;
      }
      this.inJob = true;
      try {
        const pending = this.runJob(this, next.job, next.seq);
        if (pending) await pending;
        const held = this.held;
        this.inJob = false;
        this.held = undefined;
        for (const frame of held ?? []) this.send(frame);
      } catch (error) {
        this.inJob = false;
        this.held = undefined;
        if (next.fail) next.fail(error);
        else this.onJobError(error);
      } finally {
        if (next.counted) this.waiting--;
      }
      const after = this.afterJob;
      this.afterJob = undefined;
      for (const fn of after ?? []) fn();
    }
    this.running = false;
  }

  /**
   * Commits what the current job changed and records it as sent: returns the patches of
   * subscribed states (undefined when nothing the client sees changed). Their values are
   * the state's own (shared with what the client holds), so they must not be changed.
   */
  commit(): StatePatches | undefined {
    if (this.touchedNow.size === 0) return undefined;
    const involved = new Set<StateInstance>();
    for (let i = 0; i < this.touchedNow.size; i++) involved.add(this.touchedNow.at(i));
    const dirtied = new Set<StateInstance>(involved);
    const changes = new Map<StateInstance, Patch>();
    let patches: StatePatches | undefined;
    const add = (instance: StateInstance, ops: Patch) => {
      if (ops.length === 0) return;
      const list = changes.get(instance);
      if (list) list.push(...ops);
      else changes.set(instance, ops);
    };
    try {
      for (const instance of involved) add(instance, instance.commitVars(dirtied));
      while (dirtied.size) {
        const round = [...dirtied];
        dirtied.clear();
        for (const instance of round) {
          involved.add(instance);
          add(instance, instance.commitComputed(dirtied));
        }
      }
      for (const instance of involved) {
        const ops = changes.get(instance);
        // The ops' values become the shadow, which nothing changes in place: safe to serialize later.
        instance.recordSent();
        if (ops && this.subscribed.has(instance.name)) (patches ??= {})[instance.name] = ops;
      }
    } catch (error) {
      for (const instance of involved) instance.revert();
      this.touchedNow.clear();
      throw error;
    }
    this.touchedNow.clear();
    return patches;
  }

  /** Undoes the current job's changes to client vars (after a failure). */
  revert(): void {
    for (let i = 0; i < this.touchedNow.size; i++) this.touchedNow.at(i).revert();
    this.touchedNow.clear();
  }

  /**
   * Sends a frame on the tab's current socket. Without one it is dropped (the next welcome
   * carries the state), except a task's `done`, kept for the next welcome. A socket that is
   * dead but not yet known to be (until the heartbeat notices) loses what is sent to it.
   */
  send(frame: ServerFrame): void {
    if (this.inJob) (this.held ??= []).push(frame);
    else if (this.connection) this.connection.send(JSON.stringify(frame));
    // A task's end is not in the state the next welcome carries: keep it for the rejoin.
    else if (frame.t === 'done' && (this.undelivered ??= []).length < 100) this.undelivered.push(frame);
  }

  /** `done` frames of tasks that ended while no socket was attached (sent after the next welcome). */
  undelivered: ServerFrame[] | undefined;

  /** Full client states of the named states. */
  snapshots(names: Iterable<string>, lookup: (name: string) => AnyServerStateDef): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of names) out[name] = this.instance(lookup(name)).snapshot();
    return out;
  }

  /** What a shared state manager stores of the tab: JSON only (backend vars stay per worker). */
  toRecord(): TabRecord {
    const states: Record<string, Record<string, JsonValue>> = {};
    for (const [name, instance] of this.instances) states[name] = instance.storedVars();
    return { seq: this.lastSeq, subscribed: [...this.subscribed], states };
  }

  /** Replaces the tab's states with a stored record's (unknown states are skipped). */
  loadRecord(record: TabRecord): void {
    const lookup = (name: string): AnyServerStateDef | undefined => {
      try {
        return this.resolveDef({ name } as AnyServerStateDef);
      } catch {
        return undefined;
      }
    };
    this.lastSeq = record.seq;
    this.subscribed.clear();
    for (const name of record.subscribed) if (lookup(name)) this.subscribed.add(name);
    for (const [name, vars] of Object.entries(record.states)) {
      const def = lookup(name);
      if (def) this.instance(def).loadVars(vars);
    }
    // What another worker saved went to its socket, not to this one: send the difference now
    // (already saved, so not held behind the job). A socket waiting for its welcome drops it.
    const patch = this.commit();
    if (patch) this.connection?.send(JSON.stringify({ t: 'patch', patch } satisfies ServerFrame));
  }

  /** Takes a token from the tab's bucket: `burst` at once, refilled at `eventsPerSecond`. */
  take(limits: { burst: number; eventsPerSecond: number }, now = Date.now()): boolean {
    const refilled = Number.isNaN(this.bucket) ? limits.burst : this.bucket + ((now - this.bucketAt) / 1000) * limits.eventsPerSecond;
    this.bucket = Math.min(limits.burst, refilled);
    this.bucketAt = now;
    if (this.bucket < 1) return false;
    this.bucket -= 1;
    return true;
  }

  /** Counts a call of a rate-limited handler; false when over `max` in the window. */
  allowCall(key: string, limit: { max: number; windowMs: number }, now = Date.now()): boolean {
    this.handlerWindows ??= new Map();
    const window = this.handlerWindows.get(key);
    if (!window || now - window.start >= limit.windowMs) {
      this.handlerWindows.set(key, { start: now, count: 1 });
      return true;
    }
    window.count++;
    return window.count <= limit.max;
  }

  /** Cancels every running task (the tab went away). */
  cancelTasks(): void {
    for (const controller of this.tasks.values()) controller.abort(new StateError('STRATA_STATE_CANCELLED', 'The tab went away.'));
    this.tasks.clear();
  }
}
