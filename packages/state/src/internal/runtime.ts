import * as v from 'valibot';
import { assertClientValue } from '../clientValue.js';
import { compose, type ConnectionInfo, guardList, type Middleware, runGuards } from '../context.js';
import { type AnyHandler, type AnyServerStateDef, buildHandlers } from '../defineState.js';
import { argsError, StateError } from '../errors.js';
import type { JsonValue } from '../patch.js';
import { CLOSE_CODES, PROTOCOL_VERSION, type ServerFrame } from '../protocol.js';
import type { StateManager } from '../stateManager.js';
import { ChangeHub } from './changeHub.js';
import { EventContextImpl } from './eventContext.js';
import { LiveUpdates } from './liveUpdates.js';
import type { JoinTokens } from './joinToken.js';
import { isDatabaseUnavailable, RuntimeMetrics } from './metrics.js';
import { Tab, type TabConnection } from './tab.js';
import { startTask } from './task.js';
import type { Uploads } from './uploads.js';
import { isExpectedError, toWireError } from './wireError.js';

/** How long an ended tab's running event has to answer before its socket closes anyway. */
const END_GRACE_MS = 1000;

/** A socket as the runtime sees it. */
export interface RuntimeConnection extends TabConnection {
  readonly info: ConnectionInfo;
  /** The token binding of the upgrade request (see `bindToken`). */
  readonly bind: string | undefined;
  /** Whether the socket is still open. */
  readonly isOpen: boolean;
  /** Attached to its tab: frames are held back until {@link welcome} (their effects are in it). */
  hold(): void;
  /** Sends the welcome, then lets the tab's frames through. */
  welcome(text: string): void;
  /** Counts a refused frame; enough in a row close the socket. */
  strike(): void;
  /** Clears the strikes (a frame was good). */
  forgive(): void;
}

export interface RuntimeOptions {
  states: readonly AnyServerStateDef[];
  middleware: readonly Middleware[];
  manager: StateManager<Tab>;
  tokens: JoinTokens;
  production: boolean;
  queueLength: number;
  reconnectGraceMs: number;
  liveConcurrency: number;
  uploads: Uploads;
  logError: (error: unknown, where: Record<string, unknown>) => void;
  /**
   * Writes the one log line of an answered event (undefined: no event lines). `state` and
   * `handler` are declared names or `_unknown`; `args` is the client's, for development logs only.
   */
  logEvent: ((tab: string, state: string, handler: string, ms: number, outcome: string, args: JsonValue | undefined) => void) | undefined;
}

/** An event frame as the runtime reads it. */
export type EventFrame = { seq: number; state: string; handler: string; args?: JsonValue };
/** Background tasks one tab may run at once. */
const MAX_TASKS = 8;

type Prepared = { def: AnyServerStateDef; handler: AnyHandler; args: unknown };

/** The state runtime of one server: the declared states and the per-tab event pipeline. */
export class StateRuntime {
  private readonly defs = new Map<string, AnyServerStateDef>();
  private readonly handlers = new Map<string, Map<string, AnyHandler>>();

  /** Committed model changes of every worker. */
  readonly changes: ChangeHub;
  /** Routes committed model changes to the tabs whose states show them. */
  readonly live: LiveUpdates;
  /** Events, live-update jobs and database failures counted so far. */
  readonly metrics: RuntimeMetrics;

  constructor(private readonly options: RuntimeOptions) {
    for (const def of options.states) this.register(def);
    this.metrics = new RuntimeMetrics([...this.handlers].map(([state, handlers]) => [state, handlers.keys()]));
    this.changes = new ChangeHub(options.manager.changes);
    this.live = new LiveUpdates(this.defs.values(), options.middleware, options.logError, options.liveConcurrency, this.changes, this.metrics);
  }

  /** The declared state named `name`; throws STRATA_STATE_UNKNOWN_STATE. */
  lookup(name: string): AnyServerStateDef {
    const def = this.defs.get(name);
    if (!def) throw new StateError('STRATA_STATE_UNKNOWN_STATE', `There is no state named "${name}".`);
    return def;
  }

  /**
   * Attaches a socket to its tab (taking it over from an older socket) and sends the welcome.
   * A reconnect (`rejoin`) never makes a new tab: an unknown one is STRATA_STATE_TAB_EXPIRED,
   * so events the lost tab already ran are not run again on an empty one. Resolves undefined
   * when the socket closed meanwhile.
   */
  async join(conn: RuntimeConnection, names: readonly string[], rejoin: boolean): Promise<Tab | undefined> {
    for (const name of names) this.lookup(name);
    const id = conn.info.tab;
    const { manager } = this.options;
    const create = () =>
      new Tab(id, (def) => this.lookup(def.name), (error) => this.options.logError(error, { tab: id }), (tab, job, seq) => manager.run(tab, job, seq), (tab, def) => this.live.track(tab, def));
    const tab = await this.options.manager.open(id, create, rejoin);
    if (!tab) throw new StateError('STRATA_STATE_TAB_EXPIRED', 'This tab is no longer held by the server; reload the page.');
    if (!conn.isOpen) return undefined;
    const previous = tab.connection;
    if (previous && previous !== conn) previous.close(4409, 'Another connection joined as this tab.');
    tab.connection = conn;
    tab.info = conn.info;
    conn.hold();
    clearTimeout(tab.graceTimer);
    // A join the state manager could not serve (Redis down) is answered and closed, so the client retries.
    tab.enqueue(
      () => this.welcome(tab, conn, names),
      false,
      (error) => {
        conn.welcome(JSON.stringify({ t: 'error', error: toWireError(error, this.options.production) } satisfies ServerFrame));
        conn.close(1013, 'The tab could not be loaded; try again.');
      },
    );
    return tab;
  }

  private welcome(tab: Tab, conn: RuntimeConnection, names: readonly string[]): void {
    tab.subscribed.clear();
    for (const name of names) tab.subscribed.add(name);
    let text: string;
    try {
      const states = tab.snapshots(names, (name) => this.lookup(name)) as Record<string, JsonValue>;
      const token = this.options.tokens.issue({ tab: tab.id, bind: conn.bind, rejoin: true });
      text = JSON.stringify({ t: 'welcome', v: PROTOCOL_VERSION, tab: tab.id, token, ack: this.acknowledged(tab), states } satisfies ServerFrame);
    } catch (error) {
      conn.welcome(JSON.stringify({ t: 'error', error: toWireError(error, this.options.production) } satisfies ServerFrame));
      if (!isExpectedError(error)) this.options.logError(error, { tab: tab.id });
      return conn.close(1008, 'The tab could not be joined.');
    }
    conn.welcome(text);
    for (const frame of tab.undelivered ?? []) conn.send(JSON.stringify(frame));
    tab.undelivered = undefined;
  }

  /** Adds states to what the tab shows and sends their full state. */
  subscribe(tab: Tab, conn: RuntimeConnection, names: readonly string[]): void {
    if (tab.pending >= this.options.queueLength) return this.refuseQueued(tab, conn);
    tab.enqueue(() => {
      try {
        for (const name of names) this.lookup(name);
        for (const name of names) tab.subscribed.add(name);
        tab.send({ t: 'state', states: tab.snapshots(names, (name) => this.lookup(name)) as Record<string, JsonValue> });
      } catch (error) {
        this.fail(conn, error, {});
      }
    }, true, (error) => this.fail(conn, error, { tab: tab.id }));
  }

  unsubscribe(tab: Tab, names: readonly string[]): void {
    tab.enqueue(() => {
      for (const name of names) tab.subscribed.delete(name);
    });
  }

  /**
   * Queues an event behind the tab's others (refused at once when the queue is full). The
   * event is counted and logged once its answer has left, after the state manager saved the tab.
   */
  event(tab: Tab, conn: RuntimeConnection, frame: EventFrame): void {
    const received = performance.now();
    if (tab.pending >= this.options.queueLength) {
      this.refuseQueued(tab, conn, frame.seq);
      return this.answered(tab.id, frame, 'STRATA_STATE_QUEUE_FULL', received);
    }
    // Set when the job answered; cleared when the state manager then failed and answered instead.
    let outcome: string | undefined;
    tab.enqueue(
      async () => {
        outcome = await this.runEvent(tab, conn, frame);
        tab.afterCurrentJob(() => {
          if (outcome !== undefined) this.answered(tab.id, frame, outcome, received);
        });
      },
      true,
      // A job the state manager could not run or save (Redis down, lock lost) still answers its event.
      (error) => {
        const wire = toWireError(error, this.options.production);
        tab.send({ t: 'result', seq: frame.seq, error: wire });
        outcome = undefined;
        this.answered(tab.id, frame, wire.code, received);
      },
      frame.seq,
    );
  }

  /**
   * The last event a welcome acknowledges: not an interrupted one, so the client sends it again
   * and hears STRATA_STATE_INTERRUPTED instead of taking it as done.
   */
  private acknowledged(tab: Tab): number {
    return tab.interrupted !== 0 && tab.interrupted === tab.lastSeq ? tab.lastSeq - 1 : tab.lastSeq;
  }

  /**
   * Counts and logs an answered event: one histogram observation, one counter increment,
   * one log line. `received` is `performance.now()` when its frame arrived.
   */
  answered(tab: string, frame: EventFrame, outcome: string, received: number): void {
    const ms = performance.now() - received;
    const series = this.metrics.event(frame.state, frame.handler, outcome, ms / 1000);
    this.options.logEvent?.(tab, series.state, series.handler, ms, outcome, frame.args);
  }

  private refuseQueued(tab: Tab, conn: RuntimeConnection, seq?: number): void {
    conn.strike();
    const error = { code: 'STRATA_STATE_QUEUE_FULL', message: `${this.options.queueLength} jobs of this tab are already waiting; try again shortly.` };
    tab.send(seq === undefined ? { t: 'error', error } : { t: 'result', seq, error });
  }

  cancel(tab: Tab, seq: number): void {
    tab.tasks.get(seq)?.abort(new StateError('STRATA_STATE_CANCELLED', 'The task was cancelled.'));
  }

  /**
   * Ends a tab for good (its session ended): its tasks stop, the state manager and live
   * updates forget it, and its socket closes with `signedOut`, so no later socket rejoins it.
   */
  end(tab: Tab, reason: string): void {
    tab.ended = true;
    clearTimeout(tab.graceTimer);
    tab.cancelTasks();
    this.live.forget(tab);
    this.options.manager.delete(tab.id);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      const conn = tab.connection;
      tab.connection = undefined;
      conn?.close(CLOSE_CODES.signedOut, reason);
    };
    // The event running now (a sign-out, say) still answers, if it does within END_GRACE_MS;
    // nothing queued behind it runs.
    if (tab.afterCurrentJob(close)) setTimeout(close, END_GRACE_MS).unref?.();
  }

  /** A socket went away: the tab keeps its state; its tasks stop if it does not come back in time. */
  detach(tab: Tab, conn: RuntimeConnection): void {
    if (tab.connection !== conn) return;
    tab.connection = undefined;
    tab.lastSeen = Date.now();
    tab.graceTimer = setTimeout(() => {
      if (!tab.connection) tab.cancelTasks();
    }, this.options.reconnectGraceMs);
    tab.graceTimer.unref?.();
  }

  /**
   * Makes the tab of a page before its socket exists (server-side rendering): the tab holds
   * `names`, after `calls` ran in order through the same pipeline as events (arguments
   * checked, middleware, guards, commit) with the page request as the context. Returns the
   * states' values; the socket that joins with this tab's token continues from them. A call
   * that fails throws its error (the page decides: a sign-in redirect, an error page).
   */
  async prepareTab(info: ConnectionInfo, names: readonly string[], calls: readonly { state: string; handler: string; args?: JsonValue }[]): Promise<Record<string, JsonValue>> {
    for (const name of names) this.lookup(name);
    const { manager } = this.options;
    const create = () =>
      new Tab(info.tab, (def) => this.lookup(def.name), (error) => this.options.logError(error, { tab: info.tab }), (tab, job, seq) => manager.run(tab, job, seq), (tab, def) => this.live.track(tab, def));
    const tab = (await manager.open(info.tab, create))!;
    tab.info = info;
    return new Promise((resolve, reject) => {
      tab.enqueue(
        async () => {
          try {
            for (const name of names) tab.subscribed.add(name);
            for (const call of calls) await this.runServerCall(tab, info, call);
            resolve(tab.snapshots(names, (name) => this.lookup(name)) as Record<string, JsonValue>);
          } catch (error) {
            tab.revert();
            reject(error);
          }
        },
        false,
        reject,
      );
    });
  }

  private async runServerCall(tab: Tab, info: ConnectionInfo, call: { state: string; handler: string; args?: JsonValue }): Promise<void> {
    const pending = this.prepare(tab, { seq: 0, ...call });
    const { def, handler, args } = pending instanceof Promise ? await pending : pending;
    if (handler.kind === 'task') throw new StateError('STRATA_STATE_BAD_ARGS', `${def.name}.${call.handler} is a background task; a page can only prepare with events.`);
    const ctx = new EventContextImpl(info, def.name, call.handler, this.options.uploads);
    const instance = tab.instance(def);
    const guards = guardList(handler.guard);
    const inner = async () => {
      if (guards.length) await runGuards(guards, ctx);
      await handler.run(instance.self, args, ctx);
    };
    const { middleware } = this.options;
    await (middleware.length ? compose(middleware, ctx, inner) : inner());
    // The socket's welcome carries the full state: these changes count as sent.
    tab.commit();
  }

  /** Sends an error frame for a failure outside any event. */
  fail(conn: RuntimeConnection, error: unknown, where: Record<string, unknown>, seq?: number): void {
    if (!isExpectedError(error)) this.options.logError(error, where);
    const frame: ServerFrame = { t: 'error', error: toWireError(error, this.options.production) };
    if (seq !== undefined) frame.seq = seq;
    conn.send(JSON.stringify(frame));
  }

  /** Runs one event and sends its result; returns the outcome (`ok` or the error code sent). */
  private async runEvent(tab: Tab, conn: RuntimeConnection, frame: EventFrame): Promise<string> {
    const { seq } = frame;
    let prepared: Prepared;
    try {
      if (seq === tab.interrupted) throw new StateError('STRATA_STATE_INTERRUPTED', 'The server running this event stopped before answering; it may have taken effect. Reload to see the current state.');
      if (seq <= tab.lastSeq) throw new StateError('STRATA_STATE_REPLAYED', `Event ${seq} was already processed (last: ${tab.lastSeq}).`);
      tab.lastSeq = seq;
      tab.lastSeen = Date.now();
      this.options.manager.touch(tab);
      const pending = this.prepare(tab, frame);
      prepared = pending instanceof Promise ? await pending : pending;
    } catch (error) {
      conn.strike();
      const wire = toWireError(error, this.options.production);
      tab.send({ t: 'result', seq, error: wire });
      return wire.code;
    }
    conn.forgive();
    const { def, handler, args } = prepared;
    const ctx = new EventContextImpl(conn.info, def.name, frame.handler, this.options.uploads);
    let value: unknown;
    let start: (() => void) | undefined;
    try {
      const instance = tab.instance(def);
      const guards = guardList(handler.guard);
      const inner = async () => {
        if (guards.length) await runGuards(guards, ctx);
        if (handler.kind === 'task') {
          if (tab.tasks.size >= MAX_TASKS) throw new StateError('STRATA_STATE_QUEUE_FULL', `This tab already runs ${MAX_TASKS} tasks; wait for one to end.`);
          // Started only once the event has succeeded as a whole (middleware after next(), the commit).
          start = () => startTask({ tab, instance, handler, args, seq, parent: ctx, production: this.options.production, logError: this.options.logError });
        }
        else value = await handler.run(instance.self, args, ctx);
      };
      const { middleware } = this.options;
      await (middleware.length ? compose(middleware, ctx, inner) : inner());
      if (value !== undefined) assertClientValue(def.name, `${frame.handler}() result`, value);
      const result: ServerFrame = { t: 'result', seq };
      if (value !== undefined) result.value = value as JsonValue;
      if (handler.kind === 'task') result.task = true;
      const patch = tab.commit();
      if (patch) result.patch = patch;
      const actions = ctx.takeActions();
      if (actions) result.actions = actions;
      tab.send(result);
      start?.();
      return 'ok';
    } catch (error) {
      tab.revert();
      if (!isExpectedError(error)) this.options.logError(error, { tab: tab.id, state: def.name, handler: frame.handler, seq });
      if (isDatabaseUnavailable(error)) this.metrics.databaseErrors++;
      const wire = toWireError(error, this.options.production);
      tab.send({ t: 'result', seq, error: wire });
      return wire.code;
    }
  }

  /** Looks up the handler and validates the arguments (synchronously when the schema is sync). */
  private prepare(tab: Tab, frame: EventFrame): Prepared | Promise<Prepared> {
    const def = this.lookup(frame.state);
    const handler = this.handlers.get(def.name)!.get(frame.handler);
    if (!handler) throw new StateError('STRATA_STATE_UNKNOWN_HANDLER', `${def.name} has no handler named "${frame.handler}".`);
    const where = `${def.name}.${frame.handler}`;
    const finish = (args: unknown): Prepared => {
      if (handler.rateLimit && !tab.allowCall(where, handler.rateLimit)) {
        throw new StateError('STRATA_STATE_RATE_LIMITED', `${where} allows ${handler.rateLimit.max} calls per ${handler.rateLimit.windowMs} ms; wait a moment.`);
      }
      return { def, handler, args };
    };
    if (!handler.args) {
      if (frame.args !== undefined) throw new StateError('STRATA_STATE_BAD_ARGS', `${where} takes no arguments.`);
      return finish(undefined);
    }
    const checked = (parsed: v.SafeParseResult<v.GenericSchema>) => {
      if (!parsed.success) throw argsError(where, parsed.issues);
      return finish(parsed.output);
    };
    if (handler.args.async) return v.safeParseAsync(handler.args, frame.args).then(checked);
    return checked(v.safeParse(handler.args as v.GenericSchema, frame.args));
  }

  private register(def: AnyServerStateDef): void {
    const existing = this.defs.get(def.name);
    if (existing === def) return;
    if (existing) throw new StateError('STRATA_STATE_DEFINITION', `Two different states are named "${def.name}".`);
    this.defs.set(def.name, def);
    this.handlers.set(def.name, buildHandlers(def));
    for (const used of Object.values((def.definition.uses ?? {}) as Record<string, AnyServerStateDef>)) this.register(used);
  }
}
