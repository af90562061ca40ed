import { StateError } from './errors.js';

/** Carries committed model changes between workers. */
export interface ChangeBus {
  publish(change: { type: string; model: string; pks: (string | number)[] }): void;
  subscribe(listener: (change: { type: 'created' | 'updated' | 'deleted'; model: string; pks: (string | number)[] }) => void): () => void;
}

/** A message for every worker: `topic` names what it is about, `payload` is JSON. */
export interface Signal {
  topic: string;
  payload: unknown;
  /** The worker that sent it (it delivered it to itself already). */
  origin: string;
}

/** Carries signals (e.g. "this session ended") between workers. */
export interface SignalBus {
  publish(signal: Signal): void;
  subscribe(listener: (signal: Signal) => void): () => void;
}

/** What a state manager needs to know about a tab. */
export interface ManagedTab {
  readonly id: string;
  /** Last activity (ms since the epoch). */
  readonly lastSeen: number;
  /** Whether a socket is attached (connected tabs are never evicted). */
  readonly connected: boolean;
}

/**
 * Holds the per-tab states of a server. The in-memory manager keeps them in this process;
 * a shared manager (Redis, a later release) keeps them across workers. The runtime calls
 * `run` around every job of a tab (an event, a join, a subscription, a task's update), one
 * at a time per tab, so a shared manager can lock and load before and save and unlock
 * after: at most 2 round trips per event.
 */
export interface StateManager<TTab extends ManagedTab = ManagedTab> {
  /**
   * The tab with this id, made by `create` when the manager holds none — except for a
   * `rejoin`, which only finds a tab that exists (else undefined). Throws
   * `STRATA_STATE_QUEUE_FULL` when full of connected tabs.
   */
  open(id: string, create: () => TTab, rejoin?: boolean): Promise<TTab | undefined>;
  /**
   * Runs one job of the tab with exclusive access to its stored state. `seq` is the event's
   * sequence number when the job runs an event: a shared manager records it while the job
   * runs, so an event whose worker died mid-way is never run again elsewhere (at most once).
   */
  run<T>(tab: TTab, job: () => T | Promise<T>, seq?: number): T | Promise<T>;
  /** Records activity of a tab (LRU order, idle clock). */
  touch(tab: TTab): void;
  /** Forgets a tab. */
  delete(id: string): void;
  /** Number of tabs held. */
  readonly size: number;
  /**
   * Shared managers spread committed model changes to every worker (live updates); without
   * it, changes reach the tabs of this process only.
   */
  readonly changes?: ChangeBus;
  /** Shared managers carry `app.strata.broadcast` signals to every worker; without it, to this one. */
  readonly signals?: SignalBus;
  /** Resolves once the manager can serve (a shared store is reachable); the plugin awaits it at start-up. */
  ready?(): Promise<void>;
  /** Registers the runtime's listener for dropped tabs (it cancels their tasks and closes their socket). */
  onDrop(listener: (tab: TTab, reason: 'evicted' | 'expired' | 'closed') => void): void;
  /** Stops timers and drops every tab. */
  close(): Promise<void>;
}

/** Options of {@link createMemoryStateManager}. */
export interface MemoryStateManagerOptions {
  /** Most tabs held; beyond it the least recently used disconnected tab is dropped. Default 50,000. */
  maxTabs?: number;
  /** A disconnected tab idle this long is dropped (ms). Default 30 minutes. */
  idleMs?: number;
}

/**
 * The in-memory state manager: tabs live in this process, in least-recently-used order,
 * bounded in number, and dropped after an idle time once their socket is gone.
 *
 * @example
 * app.register(strataState, { states, secret, manager: createMemoryStateManager({ maxTabs: 20_000 }) });
 */
export function createMemoryStateManager<TTab extends ManagedTab>(options: MemoryStateManagerOptions = {}): StateManager<TTab> {
  const maxTabs = options.maxTabs ?? 50_000;
  const idleMs = options.idleMs ?? 30 * 60_000;
  // A Map iterates in insertion order; re-inserting on touch keeps it in LRU order.
  const tabs = new Map<string, TTab>();
  let onDrop: ((tab: TTab, reason: 'evicted' | 'expired' | 'closed') => void) | undefined;
  const drop = (tab: TTab, reason: 'evicted' | 'expired' | 'closed') => {
    tabs.delete(tab.id);
    onDrop?.(tab, reason);
  };
  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const tab of tabs.values()) if (!tab.connected && tab.lastSeen < cutoff) drop(tab, 'expired');
  }, Math.min(idleMs, 60_000));
  sweep.unref?.();

  return {
    async open(id, create, rejoin) {
      const found = tabs.get(id);
      if (found) {
        tabs.delete(id);
        tabs.set(id, found);
        return found;
      }
      if (rejoin) return undefined;
      if (tabs.size >= maxTabs) {
        let victim: TTab | undefined;
        for (const tab of tabs.values()) {
          if (tab.connected) continue;
          victim = tab;
          break;
        }
        if (!victim) throw new StateError('STRATA_STATE_QUEUE_FULL', `This server holds its maximum of ${maxTabs} connected tabs; try again later.`);
        drop(victim, 'evicted');
      }
      const tab = create();
      tabs.set(id, tab);
      return tab;
    },
    run: (_tab, job) => job(),
    touch(tab) {
      if (tabs.get(tab.id) !== tab) return;
      tabs.delete(tab.id);
      tabs.set(tab.id, tab);
    },
    delete(id) {
      tabs.delete(id);
    },
    onDrop(listener) {
      onDrop = listener;
    },
    get size() {
      return tabs.size;
    },
    async close() {
      clearInterval(sweep);
      for (const tab of [...tabs.values()]) drop(tab, 'closed');
    },
  };
}
