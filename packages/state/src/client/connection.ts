import { type BackoffOptions, backoffDelay } from './backoff.js';

// Method syntax makes the parameter bivariant, so both the DOM's and `ws`'s sockets fit.
type Handler<TEvent> = { bivarianceHack(event: TEvent): void }['bivarianceHack'];

/** The part of the WebSocket API the client uses: the browser's, or `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** What the connection reports about its current socket. */
export interface ConnectionEvents {
  open(): void;
  message(data: unknown): void;
  /** The socket closed (or could not open); the listener decides whether to {@link Connection.retryLater}. */
  close(code: number): void;
}

const OPEN = 1;
const ignore = (): void => undefined;
/** How long a joined socket must stay up before a drop restarts the backoff from the shortest delay (ms). */
const STABLE_MS = 5_000;

/** One socket at a time to one URL, reopened on request after a jittered, growing delay. */
export class Connection {
  #socket: WebSocketLike | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  /** When the current socket joined (0: it has not). */
  #joinedAt = 0;

  constructor(
    private readonly url: string,
    private readonly WebSocket: WebSocketConstructorLike,
    private readonly backoff: BackoffOptions,
    private readonly events: ConnectionEvents,
  ) {}

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  /** Opens a socket now; throws what the WebSocket constructor throws (a malformed URL). */
  open(): void {
    const socket = new this.WebSocket(this.url);
    this.#socket = socket;
    socket.onopen = () => socket === this.#socket && this.events.open();
    socket.onmessage = (event) => socket === this.#socket && this.events.message(event.data);
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      this.#socket = undefined;
      this.events.close(event.code);
    };
    // A failed socket also closes; the close is what counts.
    socket.onerror = ignore;
  }

  /** Sends a text frame if the socket is open (frames for a closing socket are dropped). */
  send(text: string): void {
    if (this.isOpen) this.#socket?.send(text);
  }

  /** Opens again after `min(maxMs, initialMs × 2^attempt)` × a random factor in [0.5, 1). */
  retryLater(): void {
    // Only a socket that stayed up resets the backoff: a server that takes the join and then
    // drops the socket at once must not be hammered at the shortest delay.
    if (this.#joinedAt && Date.now() - this.#joinedAt >= STABLE_MS) this.#attempt = 0;
    this.#joinedAt = 0;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#reopen(), backoffDelay(this.#attempt++, this.backoff));
  }

  /** Skips the wait of a scheduled retry (the browser came back online). */
  retryNow(): void {
    if (this.#timer === undefined) return;
    this.#reopen();
  }

  /** A socket joined: if it stays up a while, the next retry starts from the shortest delay again. */
  joined(): void {
    this.#joinedAt = Date.now();
  }

  /** Closes the socket and cancels any retry, for good. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = ignore;
    socket.close(1000);
  }

  #reopen(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.open();
    } catch (error) {
      console.error('[strata] Could not open the WebSocket; retrying.', error);
      this.retryLater();
    }
  }
}
