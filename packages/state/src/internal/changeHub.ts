import { onChange } from '@strata/model';
import type { ModelChange } from '../defineState.js';
import type { ChangeBus } from '../stateManager.js';

/**
 * Committed model changes of this worker and, with a shared state manager, of every worker,
 * for whoever listens (live updates, the auth layer's caches). Connects to the model layer
 * and the bus only while someone listens.
 */
export class ChangeHub {
  private readonly listeners = new Set<(change: ModelChange) => void>();
  private stop: (() => void) | undefined;

  constructor(private readonly bus: ChangeBus | undefined) {}

  /** Calls `listener` with every committed change from now on; returns the unsubscribe function. */
  listen(listener: (change: ModelChange) => void): () => void {
    this.listeners.add(listener);
    this.stop ??= this.connect();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    this.stop?.();
    this.stop = undefined;
  }

  private connect(): () => void {
    const deliver = (change: ModelChange) => {
      for (const listener of this.listeners) listener(change);
    };
    const { bus } = this;
    if (!bus) return onChange(deliver);
    // Every worker publishes its own commits and hears everyone's, its own included.
    const local = onChange((change) => bus.publish(change));
    const remote = bus.subscribe(deliver);
    return () => {
      local();
      remote();
    };
  }
}
