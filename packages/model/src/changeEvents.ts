/** A committed change to rows of one model. */
export interface ChangeEvent {
  type: 'created' | 'updated' | 'deleted';
  /** The model name, e.g. `shop.Product`. */
  model: string;
  /** Primary keys of the changed rows. */
  pks: (number | string)[];
}

export type ChangeListener = (event: ChangeEvent) => void;

const listeners = new Set<ChangeListener>();

/**
 * Subscribes to changes, delivered after the transaction that made them commits
 * (never for a rollback). Returns the unsubscribe function.
 * @example const stop = onChange((e) => console.log(e.type, e.model, e.pks));
 */
export function onChange(listener: ChangeListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** @internal Delivers committed events; a throwing listener does not stop the others. */
export function emitChanges(events: readonly ChangeEvent[]): void {
  for (const event of events) {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(`A model change listener threw: ${String(error)}`, 'StrataWarning');
      }
    }
  }
}
