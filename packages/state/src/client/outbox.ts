import type { JsonValue } from '../patch.js';
import { type Call, createCall, type Settle } from './call.js';
import { ServerError } from './serverError.js';

interface PendingEvent {
  readonly seq: number;
  /** The frame as sent: serialized once, so later changes to the caller's args do not leak in. */
  readonly text: string;
  readonly settle: Settle;
  everSent: boolean;
  /** The server acknowledged it as a task: only `done` settles it now. */
  task: boolean;
  /** Cancel asked before the server said whether this is a task. */
  cancelAsked: boolean;
}

/** What the outbox needs of the connection. */
export interface OutboxLink {
  /** True while a joined socket can take frames. */
  live(): boolean;
  send(text: string): void;
}

/**
 * The client's events from call to settlement: sequence numbers, the local queue, the
 * in-flight window, and what a reconnect's `ack` means for each (docs/protocol.md, "Sequence
 * numbers, acknowledgement and deduplication").
 */
export class Outbox {
  #nextSeq = 1;
  /** Every unsettled call, running tasks included. */
  readonly #pending = new Map<number, PendingEvent>();
  /** Unanswered events not sent on the current socket, in seq order. */
  #unsent: PendingEvent[] = [];
  /** Events sent on the current socket without a result yet, in seq order. */
  readonly #inFlight = new Map<number, PendingEvent>();
  /** Tasks to cancel once a socket is joined again. */
  readonly #cancels = new Set<number>();
  #failure: ServerError | undefined;

  constructor(
    private readonly link: OutboxLink,
    private readonly maxInFlight: number,
  ) {}

  /** Queues an event for `state.handler` and sends it when a slot is free. */
  add(state: string, handler: string, args: JsonValue | undefined): Call<unknown> {
    const seq = this.#nextSeq;
    const text = JSON.stringify({ t: 'event', seq, state, handler, args });
    this.#nextSeq++;
    const { call, settle } = createCall<unknown>(seq, () => this.cancel(seq));
    if (this.#failure) {
      settle.reject(this.#failure);
      return call;
    }
    const event = { seq, text, settle, everSent: false, task: false, cancelAsked: false };
    this.#pending.set(seq, event);
    this.#unsent.push(event);
    this.pump();
    return call;
  }

  /** Sends queued events in order while fewer than `maxInFlight` are unanswered. */
  pump(): void {
    if (!this.link.live()) return;
    while (this.#inFlight.size < this.maxInFlight) {
      const event = this.#unsent.shift();
      if (!event) return;
      this.#inFlight.set(event.seq, event);
      event.everSent = true;
      this.link.send(event.text);
    }
  }

  /**
   * The `result` for `seq` arrived: its slot is free. A task stays pending until `done`;
   * anything else is settled by the caller through the returned functions.
   */
  answer(seq: number, task: boolean): Settle | undefined {
    const event = this.#pending.get(seq);
    if (!event || !this.#unqueue(event)) return undefined;
    if (task) {
      event.task = true;
      if (event.cancelAsked) this.#sendCancel(seq);
    } else this.#pending.delete(seq);
    this.pump();
    return task ? undefined : event.settle;
  }

  /** A `done`, or an `error` frame naming `seq`: the call ends wherever it was. */
  finish(seq: number): Settle | undefined {
    const event = this.#pending.get(seq);
    if (!event) return undefined;
    this.#pending.delete(seq);
    if (this.#unqueue(event)) this.pump();
    return event.settle;
  }

  /** The socket is gone: every unanswered event waits to be sent again, in order. */
  disconnected(): void {
    this.#unsent = [...this.#inFlight.values(), ...this.#unsent];
    this.#inFlight.clear();
  }

  /**
   * A new socket joined and the server has processed every event up to `ack`: those calls
   * resolve with `undefined` (their results were lost with the old socket), the rest are
   * sent again in order, then the cancels asked for while offline.
   */
  joined(ack: number): void {
    for (let event = this.#unsent[0]; event && event.seq <= ack; event = this.#unsent[0]) {
      this.#unsent.shift();
      this.#pending.delete(event.seq);
      event.settle.resolve(undefined);
    }
    this.pump();
    const cancels = [...this.#cancels];
    this.#cancels.clear();
    for (const seq of cancels) if (this.#pending.has(seq)) this.#sendCancel(seq);
  }

  /**
   * Cancels call `seq` (see {@link Call.cancel}). The cancel frame waits for the server to
   * acknowledge the event as a task: a task not started yet has nothing to abort, and an
   * ordinary event cannot be cancelled at all.
   */
  cancel(seq: number): void {
    const event = this.#pending.get(seq);
    if (!event) return;
    if (!event.everSent) {
      this.finish(seq);
      event.settle.reject(new ServerError('STRATA_STATE_CANCELLED', 'The call was cancelled before it was sent.'));
    } else if (event.task) this.#sendCancel(seq);
    else event.cancelAsked = true;
  }

  /** Rejects every pending call with `error` and starts a new tab's sequence at 1 (later calls go ahead). */
  restart(error: ServerError): void {
    this.failAll(error);
    this.#failure = undefined;
    this.#nextSeq = 1;
  }

  /** Rejects every pending call, and every later one, with `error`. */
  failAll(error: ServerError): void {
    this.#failure = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#inFlight.clear();
    this.#unsent = [];
    this.#cancels.clear();
    for (const event of pending) event.settle.reject(error);
  }

  #sendCancel(seq: number): void {
    if (this.link.live()) this.link.send(JSON.stringify({ t: 'cancel', seq }));
    else this.#cancels.add(seq);
  }

  /** Takes `event` out of the queue or the in-flight window; false when it was in neither (a running task). */
  #unqueue(event: PendingEvent): boolean {
    if (this.#inFlight.delete(event.seq)) return true;
    const index = this.#unsent.indexOf(event);
    if (index === -1) return false;
    this.#unsent.splice(index, 1);
    return true;
  }
}
