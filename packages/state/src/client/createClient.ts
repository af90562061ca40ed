import type { JsonValue } from '../patch.js';
import { CLOSE_CODES, type ClientFrame, PROTOCOL_VERSION, type ServerFrame, type StatePatches } from '../protocol.js';
import type { AnyStateDef, StateNamed } from '../types.js';
import { type ClientActionHandlers, type ClientFunction, createActionRunner } from './actions.js';
import type { BackoffOptions } from './backoff.js';
import type { Call } from './call.js';
import { type ClientState, StateHandle, type StateHost } from './clientState.js';
import { Connection, type WebSocketConstructorLike } from './connection.js';
import { parseServerFrame } from './frames.js';
import { Outbox } from './outbox.js';
import type { Listener } from './pathListeners.js';
import { closedError, fromWire, ServerError } from './serverError.js';
import { sendUpload, type UploadOptions, uploadUrl } from './upload.js';

/**
 * Where the client's connection stands: `connecting` until the first welcome, `live` while
 * joined, `reconnecting` (or `offline` when the browser says so) between sockets, and for
 * good `expired` (token or tab expired: reload the page) or `closed` (`close()`, or another
 * socket took this tab over).
 */
export type ClientStatus = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'expired' | 'closed';

/** The options of {@link createClient}. */
export interface ClientOptions {
  /** The server's WebSocket endpoint, e.g. `wss://example.com/strata/ws`. */
  url: string;
  /** The join token the page was served with (`app.strata.issueToken(request)`). */
  token: string;
  /** The WebSocket class; default `globalThis.WebSocket` (in Node, pass `WebSocket` from `ws`). */
  WebSocket?: WebSocketConstructorLike;
  /** Events sent and not yet answered, at most (default 32); later ones wait locally, in order. */
  maxInFlight?: number;
  /** Reconnect delays (default 250 ms doubling up to 30 s, with jitter). */
  backoff?: BackoffOptions;
  /** How to perform `redirect`, `toast` and `download` actions (see {@link ClientActionHandlers}). */
  actions?: ClientActionHandlers;
  /** Functions `call` actions may run, by name (more with `registerFunction`). */
  functions?: Record<string, ClientFunction>;
  /** Receives `error` frames not tied to a pending call, and protocol failures; default `console.error`. */
  onError?(error: ServerError): void;
}

/** The definition of state `TName`; an untyped client (names of type `string`) knows only `AnyStateDef`. */
type StateFor<TStates extends AnyStateDef, TName extends TStates['name']> = string extends TStates['name'] ? TStates : StateNamed<TStates, TName>;

/** A connection to a Strata server for one tab: its states, their handlers, and its status. */
export interface StrataClient<TStates extends AnyStateDef = AnyStateDef> {
  /**
   * The state named `name`: the same object for the same name. The first time (or after a
   * release) it subscribes: listed in the next `join`, or with a `sub` frame when live.
   */
  state<TName extends TStates['name']>(name: TName): ClientState<StateFor<TStates, TName>>;
  /** Where the connection stands (see {@link ClientStatus}). */
  readonly status: ClientStatus;
  /** Calls `listener` with every new status; returns the unsubscribe function. */
  onStatus(listener: (status: ClientStatus) => void): () => void;
  /** Lets `call` actions run `fn` under `name`; returns the function that unregisters it. */
  registerFunction(name: string, fn: ClientFunction): () => void;
  /** Closes the socket and stops reconnecting; pending calls reject with `STRATA_STATE_CLOSED`. */
  close(): void;
  /**
   * Starts over as a new tab joined with `token` — after signing in or out, with a token of the
   * new session — even after the client stopped. Pending calls reject with `STRATA_STATE_CLOSED`;
   * every state keeps its subscription and gets the new tab's full state in its welcome.
   */
  restart(token: string): void;
  /**
   * Uploads a file for this tab (authorised by its current token); resolves with the id a
   * handler takes with `ctx.upload(id)`. `onProgress` reports bytes sent.
   */
  upload(file: Blob, options?: UploadOptions): Promise<{ id: string; size: number }>;
}

/**
 * Connects to a Strata server and joins as this tab; the connection comes back by itself
 * after drops, without losing or repeating an event. Types come from the server's state
 * definitions, through `import type` only.
 *
 * @example
 * import type { Counter } from '../server/states';
 * const client = createClient<typeof Counter>({ url: 'wss://example.com/strata/ws', token: window.STRATA_TOKEN });
 * const counter = client.state('counter');
 * counter.subscribe(() => render(counter.value?.count));
 * await counter.call.increment({ by: 1 });
 */
export function createClient<TStates extends AnyStateDef = AnyStateDef>(options: ClientOptions): StrataClient<TStates> {
  return new Client(options) as unknown as StrataClient<TStates>;
}

type FrameOf<T extends ServerFrame['t']> = Extract<ServerFrame, { t: T }>;
type Browser = { navigator?: { onLine?: boolean }; addEventListener?(type: 'online', listener: () => void): void; removeEventListener?(type: 'online', listener: () => void): void };
const browser = globalThis as unknown as Browser;

class Client implements StateHost {
  #status: ClientStatus = 'connecting';
  #token: string;
  readonly #url: string;
  /** The current socket has had its welcome. */
  #joined = false;
  /** The states the current socket's join listed. */
  #joinedStates = new Set<string>();
  #failure: ServerError | undefined;
  readonly #states = new Map<string, StateHandle>();
  readonly #statusListeners = new Set<{ readonly listener: (status: ClientStatus) => void }>();
  readonly #functions: Map<string, ClientFunction>;
  readonly #outbox: Outbox;
  readonly #connection: Connection;
  readonly #runActions: (actions: readonly unknown[]) => void;
  readonly #onError: (error: ServerError) => void;
  readonly #online = () => this.#retryNow();

  constructor(options: ClientOptions) {
    const { maxInFlight = 32 } = options;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new TypeError(`maxInFlight must be a positive integer, not ${maxInFlight}.`);
    const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (!WebSocket) throw new TypeError('createClient needs a WebSocket class: this runtime has no globalThis.WebSocket, so pass one (in Node: `WebSocket` from "ws").');
    this.#token = options.token;
    this.#url = options.url;
    this.#onError = options.onError ?? ((error) => console.error('[strata]', error));
    this.#functions = new Map(Object.entries(options.functions ?? {}));
    this.#runActions = createActionRunner(options.actions ?? {}, this.#functions, (problem) => this.#report('STRATA_STATE_BAD_FRAME', problem));
    this.#outbox = new Outbox({ live: () => this.#joined && this.#connection.isOpen, send: (text) => this.#connection.send(text) }, maxInFlight);
    this.#connection = new Connection(options.url, WebSocket, options.backoff ?? {}, {
      open: () => this.#opened(),
      message: (data) => this.#message(data),
      close: (code) => this.#closed(code),
    });
    this.#connection.open();
    browser.addEventListener?.('online', this.#online);
  }

  get status(): ClientStatus {
    return this.#status;
  }

  onStatus(listener: (status: ClientStatus) => void): () => void {
    const entry = { listener };
    this.#statusListeners.add(entry);
    return () => void this.#statusListeners.delete(entry);
  }

  registerFunction(name: string, fn: ClientFunction): () => void {
    this.#functions.set(name, fn);
    return () => {
      if (this.#functions.get(name) === fn) this.#functions.delete(name);
    };
  }

  state(name: string): StateHandle {
    let handle = this.#states.get(name);
    if (handle?.subscribed) return handle;
    if (handle) handle.resubscribe();
    else this.#states.set(name, (handle = new StateHandle(name, this)));
    if (this.#failure) handle.fail(this.#failure);
    else if (this.#joined) this.#send({ t: 'sub', states: [name] });
    return handle;
  }

  close(): void {
    this.#stop('closed', closedError('closed'));
  }

  upload(file: Blob, options?: UploadOptions): Promise<{ id: string; size: number }> {
    if (this.#failure) return Promise.reject(this.#failure);
    return sendUpload(uploadUrl(this.#url), this.#token, file, options);
  }

  restart(token: string): void {
    if (typeof token !== 'string' || token === '') throw new TypeError('restart needs the join token of the new tab.');
    if (this.#failure) browser.addEventListener?.('online', this.#online);
    this.#failure = undefined;
    this.#token = token;
    this.#joined = false;
    this.#connection.stop();
    this.#outbox.restart(closedError('restarted'));
    for (const handle of this.#states.values()) handle.restart();
    this.#setStatus('connecting');
    this.#connection.open();
  }

  call(state: string, handler: string, args: JsonValue | undefined): Call<unknown> {
    return this.#outbox.add(state, handler, args);
  }

  release(handle: StateHandle): void {
    handle.subscribed = false;
    const marked = new Set<Listener>();
    handle.replace(undefined, marked);
    if (this.#joined) this.#send({ t: 'unsub', states: [handle.name] });
    this.#notify(marked);
  }

  #opened(): void {
    this.#joinedStates = new Set(this.#subscribedNames());
    this.#send({ t: 'join', v: PROTOCOL_VERSION, token: this.#token, states: [...this.#joinedStates] });
  }

  #message(data: unknown): void {
    const frame = parseServerFrame(data);
    if (typeof frame === 'string') return this.#report('STRATA_STATE_BAD_FRAME', frame);
    try {
      this.#dispatch(frame);
    } catch (error) {
      this.#report('STRATA_STATE_BAD_FRAME', `The client could not handle a "${frame.t}" frame.`, error);
    }
  }

  #dispatch(frame: ServerFrame): void {
    if (frame.t === 'welcome') return this.#welcome(frame);
    if (frame.t === 'state') return this.#replace(frame.states);
    if (frame.t === 'result') return this.#result(frame);
    if (frame.t === 'patch') return this.#patch(frame);
    if (frame.t === 'done') return this.#done(frame);
    if (frame.t === 'token') {
      this.#token = frame.token;
      return;
    }
    return this.#error(frame);
  }

  #welcome(frame: FrameOf<'welcome'>): void {
    this.#token = frame.token;
    this.#joined = true;
    this.#connection.joined();
    this.#replace(frame.states);
    this.#syncSubscriptions();
    this.#outbox.joined(frame.ack);
    this.#setStatus('live');
  }

  #replace(states: Record<string, JsonValue>): void {
    const marked = new Set<Listener>();
    for (const name of Object.keys(states)) {
      const handle = this.#states.get(name);
      if (handle?.subscribed) handle.replace(states[name], marked);
    }
    this.#notify(marked);
  }

  /** States subscribed or released after the join was sent are told now. */
  #syncSubscriptions(): void {
    const subscribed = new Set(this.#subscribedNames());
    const added = [...subscribed].filter((name) => !this.#joinedStates.has(name));
    const dropped = [...this.#joinedStates].filter((name) => !subscribed.has(name));
    if (added.length) this.#send({ t: 'sub', states: added });
    if (dropped.length) this.#send({ t: 'unsub', states: dropped });
  }

  #result(frame: FrameOf<'result'>): void {
    this.#applyPatches(frame.patch);
    if (frame.actions) this.#runActions(frame.actions);
    const settle = this.#outbox.answer(frame.seq, frame.task === true && !frame.error);
    // A replay of an event we sent means it already ran (e.g. on the worker of a socket we
    // left before its answer came): done, its result lost — never an error, never run twice.
    if (frame.error?.code === 'STRATA_STATE_REPLAYED') settle?.resolve(undefined);
    else if (frame.error) settle?.reject(fromWire(frame.error));
    else settle?.resolve(frame.value);
  }

  #patch(frame: FrameOf<'patch'>): void {
    this.#applyPatches(frame.patch);
    if (frame.actions) this.#runActions(frame.actions);
  }

  #done(frame: FrameOf<'done'>): void {
    const settle = this.#outbox.finish(frame.seq);
    if (frame.error) settle?.reject(fromWire(frame.error));
    else settle?.resolve(frame.value);
  }

  #error(frame: FrameOf<'error'>): void {
    const error = fromWire(frame.error);
    const settle = frame.seq === undefined ? undefined : this.#outbox.finish(frame.seq);
    if (settle) settle.reject(error);
    else this.#callOnError(error);
  }

  #applyPatches(patches: StatePatches | undefined): void {
    if (!patches) return;
    const marked = new Set<Listener>();
    for (const name of Object.keys(patches)) {
      const handle = this.#states.get(name);
      // Until its full state arrives, a state has nothing to patch; that state will include these changes.
      if (!handle?.subscribed || handle.resyncing || handle.value === undefined) continue;
      if (!handle.patch(patches[name]!, marked)) this.#resync(handle);
    }
    this.#notify(marked);
  }

  /** A patch did not fit: ask for the full state instead of guessing (docs/protocol.md, "Patches"). */
  #resync(handle: StateHandle): void {
    handle.resyncing = true;
    this.#send({ t: 'sub', states: [handle.name] });
    this.#report('STRATA_STATE_BAD_PATCH', `A patch of "${handle.name}" did not fit the client's copy; the full state was requested again.`);
  }

  #closed(code: number): void {
    this.#joined = false;
    this.#outbox.disconnected();
    if (code === CLOSE_CODES.badToken || code === CLOSE_CODES.expired) return this.#stop('expired', closedError('expired'));
    if (code === CLOSE_CODES.signedOut) return this.#stop('expired', closedError('signedOut'));
    if (code === CLOSE_CODES.replaced) return this.#stop('closed', closedError('replaced'));
    this.#setStatus(browser.navigator?.onLine === false ? 'offline' : 'reconnecting');
    this.#connection.retryLater();
  }

  #retryNow(): void {
    if (this.#status !== 'offline' && this.#status !== 'reconnecting') return;
    this.#setStatus('reconnecting');
    this.#connection.retryNow();
  }

  #stop(status: 'expired' | 'closed', error: ServerError): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#joined = false;
    browser.removeEventListener?.('online', this.#online);
    this.#connection.stop();
    this.#outbox.failAll(error);
    for (const handle of this.#states.values()) handle.fail(error);
    this.#setStatus(status);
  }

  #setStatus(status: ClientStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const { listener } of [...this.#statusListeners]) guard(() => listener(status), 'A status listener');
  }

  #notify(marked: ReadonlySet<Listener>): void {
    for (const listener of marked) guard(listener, 'A state listener');
  }

  #report(code: string, message: string, cause?: unknown): void {
    this.#callOnError(new ServerError(code, message, { cause }));
  }

  #callOnError(error: ServerError): void {
    guard(() => this.#onError(error), 'onError');
  }

  #send(frame: ClientFrame): void {
    this.#connection.send(JSON.stringify(frame));
  }

  #subscribedNames(): string[] {
    return [...this.#states.values()].filter((handle) => handle.subscribed).map((handle) => handle.name);
  }
}

/** Runs app code so that its failure is logged and never breaks the frame being handled. */
function guard(run: () => void, what: string): void {
  try {
    run();
  } catch (error) {
    console.error(`[strata] ${what} threw.`, error);
  }
}
