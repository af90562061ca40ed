import { compose, type Middleware } from '../context.js';
import type { AnyServerStateDef, ModelChange } from '../defineState.js';
import type { ServerFrame } from '../protocol.js';
import type { ChangeHub } from './changeHub.js';
import { EventContextImpl } from './eventContext.js';
import type { RuntimeMetrics } from './metrics.js';
import type { Tab } from './tab.js';

/** Changes kept per tab and state between two runs; beyond it they collapse into one "everything changed". */
const MAX_PENDING = 1000;

/**
 * Routes committed model changes to the tabs whose states asked for them: one coalesced job
 * per tab and state per burst, run through the event middleware (so the tab's own user and
 * scope decide what it gets).
 */
export class LiveUpdates {
  /** State name → tabs holding an instance of it. */
  private readonly holders = new Map<string, Set<Tab>>();
  /** Model name → live states interested in it. */
  private readonly interested = new Map<string, AnyServerStateDef[]>();
  private readonly pending = new WeakMap<Tab, Map<string, ModelChange[]>>();
  /** Jobs waiting for one of `concurrency` slots, first come first served (a queue with a moving head). */
  private ready: [Tab, AnyServerStateDef][] = [];
  private head = 0;
  private running = 0;
  private readonly stop: () => void;

  constructor(
    states: Iterable<AnyServerStateDef>,
    private readonly middleware: readonly Middleware[],
    private readonly logError: (error: unknown, where: Record<string, unknown>) => void,
    private readonly concurrency: number,
    changes: ChangeHub,
    private readonly metrics?: Pick<RuntimeMetrics, 'liveJobsOk' | 'liveJobsFailed'>,
  ) {
    for (const def of states) {
      for (const model of def.definition.live?.models ?? []) {
        const list = this.interested.get(model.name) ?? [];
        list.push(def);
        this.interested.set(model.name, list);
      }
    }
    this.stop = this.interested.size ? changes.listen((change) => this.deliver(change)) : () => undefined;
  }

  /** A tab made an instance of `def`: it hears that state's changes from now on. */
  track(tab: Tab, def: AnyServerStateDef): void {
    if (!def.definition.live) return;
    let tabs = this.holders.get(def.name);
    if (!tabs) this.holders.set(def.name, (tabs = new Set()));
    tabs.add(tab);
  }

  /** A tab was dropped. */
  forget(tab: Tab): void {
    for (const tabs of this.holders.values()) tabs.delete(tab);
  }

  close(): void {
    this.stop();
    this.holders.clear();
    this.ready = [];
    this.head = 0;
  }

  private deliver(change: ModelChange): void {
    for (const def of this.interested.get(change.model) ?? []) {
      const filter = def.definition.live?.filter;
      for (const tab of this.holders.get(def.name) ?? []) {
        if (filter && !this.concerns(tab, def, filter, change)) continue;
        this.queue(tab, def, change);
      }
    }
  }

  /** The state's own filter on its current values; one that throws counts as "concerned" (the job decides). */
  private concerns(tab: Tab, def: AnyServerStateDef, filter: (self: never, change: ModelChange) => boolean, change: ModelChange): boolean {
    try {
      return filter(tab.instance(def).self as never, change);
    } catch (error) {
      this.logError(error, { tab: tab.id, state: def.name, handler: '$live.filter' });
      return true;
    }
  }

  private queue(tab: Tab, def: AnyServerStateDef, change: ModelChange): void {
    let byState = this.pending.get(tab);
    if (!byState) this.pending.set(tab, (byState = new Map()));
    const waiting = byState.get(def.name);
    if (waiting) {
      // A job is already queued for this burst: it will see this change too.
      if (waiting.length < MAX_PENDING) waiting.push(change);
      return;
    }
    byState.set(def.name, [change]);
    this.ready.push([tab, def]);
    this.pump();
  }

  /** Starts waiting jobs while slots are free; each frees its slot when done, however it ends. */
  private pump(): void {
    while (this.running < this.concurrency && this.head < this.ready.length) {
      const [tab, def] = this.ready[this.head++]!;
      if (this.head === this.ready.length) {
        this.ready = [];
        this.head = 0;
      }
      const byState = this.pending.get(tab);
      if (!byState?.has(def.name)) continue;
      if (!this.holders.get(def.name)?.has(tab)) {
        byState.delete(def.name);
        continue;
      }
      this.running++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.running--;
        // The next job starts after pending I/O: with a synchronous driver (SQLite) a burst would
        // otherwise run to its end in microtasks, holding every socket's events and writes.
        setImmediate(() => this.pump());
      };
      // Counted once the job's frames have left (after a shared manager saved the tab); a job
      // the manager failed counts as failed instead.
      let lost = false;
      tab.enqueue(
        async () => {
          try {
            const changes = byState.get(def.name) ?? [];
            byState.delete(def.name);
            const ok = await this.run(tab, def, changes);
            tab.afterCurrentJob(() => {
              if (!lost && this.metrics) this.metrics[ok ? 'liveJobsOk' : 'liveJobsFailed']++;
            });
          } finally {
            release();
          }
        },
        false,
        (error) => {
          lost = true;
          if (this.metrics) this.metrics.liveJobsFailed++;
          byState.delete(def.name);
          release();
          if (!tab.ended) this.logError(error, { tab: tab.id, state: def.name, handler: '$live' });
        },
      );
    }
  }

  /** Runs one job; false when it failed (logged). */
  private async run(tab: Tab, def: AnyServerStateDef, changes: ModelChange[]): Promise<boolean> {
    const info = tab.info;
    const live = def.definition.live;
    if (!info || !live) return true;
    const ctx = new EventContextImpl(info, def.name, '$live');
    const instance = tab.instance(def);
    try {
      const inner = async () => {
        await live.onChange(instance.self as never, changes, ctx);
      };
      await (this.middleware.length ? compose(this.middleware, ctx, inner) : inner());
      const patch = tab.commit();
      const actions = ctx.takeActions();
      if (!patch && !actions) return true;
      const frame: ServerFrame = { t: 'patch', patch: patch ?? {} };
      if (actions) frame.actions = actions;
      tab.send(frame);
      return true;
    } catch (error) {
      tab.revert();
      this.logError(error, { tab: tab.id, state: def.name, handler: '$live' });
      return false;
    }
  }
}
