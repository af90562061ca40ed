/**
 * A call of a server handler in progress: a promise of the handler's result (a task's:
 * the value of its `done` frame), with the event's sequence number.
 */
export interface Call<T> extends Promise<T> {
  /** The event's sequence number (1, 2, 3… for the client's whole life). */
  readonly seq: number;
  /**
   * Asks the server to cancel the task this call started (it then rejects with
   * `STRATA_STATE_CANCELLED`); the cancel frame goes out once the server has acknowledged the
   * task. An event not yet sent is dropped at once and rejects the same way; an ordinary
   * event already sent, and a finished call, are left alone.
   */
  cancel(): void;
}

/** Settles a {@link Call}. */
export interface Settle {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A new {@link Call} and the functions that settle it. */
export function createCall<T>(seq: number, cancel: () => void): { call: Call<T>; settle: Settle } {
  let settle!: Settle;
  const promise = new Promise<T>((resolve, reject) => {
    settle = { resolve: resolve as (value: unknown) => void, reject };
  });
  const call = Object.defineProperties(promise, {
    seq: { value: seq, enumerable: true },
    cancel: { value: cancel },
  }) as Call<T>;
  return { call, settle };
}
