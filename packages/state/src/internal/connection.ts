import type { WebSocket } from 'ws';
import type { ConnectionInfo } from '../context.js';
import { StateError } from '../errors.js';
import { CLOSE_CODES, type ClientFrame, PROTOCOL_VERSION, type ServerFrame } from '../protocol.js';
import { FrameError, parseClientFrame } from './frames.js';
import type { JoinTokens, VerifiedToken } from './joinToken.js';
import type { RuntimeConnection, StateRuntime } from './runtime.js';
import type { Tab } from './tab.js';

export interface ConnectionLimits {
  maxFrameBytes: number;
  hardFrameBytes: number;
  eventsPerSecond: number;
  burst: number;
  maxStrikes: number;
  joinTimeoutMs: number;
  sendBufferBytes: number;
}

/** How long a socket closed for not reading may take to read the close frame before it is cut off. */
const UNREAD_CLOSE_GRACE_MS = 1_000;

/** What a connection knows of its upgrade request before the join. */
export interface UpgradeFacts {
  cookies: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  ip: string;
  origin: string;
  bind: string | undefined;
}

type RawData = Buffer | ArrayBuffer | Buffer[];

/** One WebSocket: size, rate and strike limits, the join, then frames routed to its tab. */
export class Connection implements RuntimeConnection {
  info!: ConnectionInfo;
  readonly bind: string | undefined;
  alive = true;
  /** When the heartbeat last pinged this socket (ms since the epoch). */
  pingedAt = 0;
  /** When the socket last got a fresh reconnect token (ms). */
  tokenAt = 0;
  private tab: Tab | undefined;
  private backlog: [RawData, boolean][] | undefined;
  private strikes = 0;
  /** Attached to a tab but not welcomed yet: the tab's frames wait (the welcome carries their effects). */
  private held = false;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly socket: WebSocket,
    private readonly facts: UpgradeFacts,
    private readonly runtime: StateRuntime,
    private readonly joinTokens: JoinTokens,
    private readonly limits: ConnectionLimits,
  ) {
    this.bind = facts.bind;
    this.joinTimer = setTimeout(() => this.close(CLOSE_CODES.policy, 'No join frame in time.'), limits.joinTimeoutMs);
    socket.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => {
      clearTimeout(this.joinTimer);
      if (this.tab) this.runtime.detach(this.tab, this);
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === 1;
  }

  send(frame: string): void {
    if (this.held || this.socket.readyState !== 1) return;
    // A client that does not read its frames is not allowed to grow the server's buffers.
    if (this.socket.bufferedAmount > this.limits.sendBufferBytes) return this.dropUnread();
    this.socket.send(frame);
  }

  /**
   * Closes a socket whose client stopped reading: its close frame waits behind the unread data,
   * so the socket (its buffers, its tab) is cut off if the close is not taken within a second.
   */
  private dropUnread(): void {
    this.close(CLOSE_CODES.policy, 'The client is not reading its frames.');
    setTimeout(() => this.socket.terminate(), UNREAD_CLOSE_GRACE_MS).unref();
  }

  hold(): void {
    this.held = true;
  }

  welcome(text: string): void {
    this.held = false;
    this.tokenAt = Date.now();
    this.send(text);
  }

  /** Sends a fresh reconnect token when the last one is half through its life. */
  refreshToken(ttlMs: number, now = Date.now()): void {
    if (!this.tab || this.held || now - this.tokenAt < ttlMs / 2) return;
    this.tokenAt = now;
    this.send(JSON.stringify({ t: 'token', token: this.joinTokens.issue({ tab: this.info.tab, bind: this.bind, rejoin: true }) } satisfies ServerFrame));
  }

  /** The upgrade facts once joined (undefined before the join). */
  get joinedInfo(): ConnectionInfo | undefined {
    return this.tab ? this.info : undefined;
  }

  /** Ends this socket's tab for good (its session ended), or just the socket before a join. */
  end(reason: string): void {
    const tab = this.tab;
    // Ended once: a second endTabs before the socket finished closing finds nothing here.
    this.tab = undefined;
    if (tab) this.runtime.end(tab, reason);
    else this.close(CLOSE_CODES.signedOut, reason);
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState <= 1) this.socket.close(code, reason);
  }

  strike(): void {
    if (++this.strikes >= this.limits.maxStrikes) this.close(CLOSE_CODES.policy, 'Too many refused frames.');
  }

  forgive(): void {
    this.strikes = 0;
  }

  private receive(data: RawData, isBinary: boolean): void {
    // ws still delivers frames that were in flight when the close began; none of them is read.
    if (this.socket.readyState !== 1) return;
    if (this.backlog) {
      if (this.backlog.length >= this.limits.burst) return this.close(CLOSE_CODES.policy, 'Too many frames before the join completed.');
      this.backlog.push([data, isBinary]);
      return;
    }
    let frame: ClientFrame;
    try {
      frame = this.parse(data, isBinary);
    } catch (error) {
      this.refuse(error, error instanceof FrameError ? error.seq : undefined);
      return;
    }
    if (!this.tab) {
      if (frame.t === 'join') void this.join(frame);
      else this.refuse(new StateError('STRATA_STATE_NOT_JOINED', 'Send a join frame first.'), frame.t === 'event' ? frame.seq : undefined);
      return;
    }
    this.route(this.tab, frame);
  }

  private parse(data: RawData, isBinary: boolean): ClientFrame {
    const size = Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
    if (size > this.limits.hardFrameBytes) {
      this.close(CLOSE_CODES.tooBig, 'Frame above the hard limit.');
      throw new StateError('STRATA_STATE_FRAME_TOO_LARGE', `A frame may hold at most ${this.limits.maxFrameBytes} bytes; this one has ${size}.`);
    }
    if (size > this.limits.maxFrameBytes) throw new StateError('STRATA_STATE_FRAME_TOO_LARGE', `A frame may hold at most ${this.limits.maxFrameBytes} bytes; this one has ${size}.`);
    if (isBinary) throw new FrameError('Frames are JSON text; binary frames are not accepted.');
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    return parseClientFrame(text);
  }

  private route(tab: Tab, frame: ClientFrame): void {
    // A socket that another one replaced is closing; nothing it still sends is read.
    if (tab.connection !== this) return;
    // Every frame costs a token, so cheap frames (sub, cancel) cannot flood the tab either.
    if (!tab.take(this.limits)) {
      this.strike();
      const error = { code: 'STRATA_STATE_RATE_LIMITED', message: 'Too many frames; slow down.' };
      this.send(JSON.stringify((frame.t === 'event' ? { t: 'result', seq: frame.seq, error } : { t: 'error', error }) satisfies ServerFrame));
      if (frame.t === 'event') this.runtime.answered(tab.id, frame, error.code, performance.now());
      return;
    }
    switch (frame.t) {
      case 'event':
        this.runtime.event(tab, this, frame);
        return;
      case 'sub':
        return this.runtime.subscribe(tab, this, frame.states);
      case 'unsub':
        return this.runtime.unsubscribe(tab, frame.states);
      case 'cancel':
        return this.runtime.cancel(tab, frame.seq);
      default:
        this.refuse(new FrameError('This socket has already joined.'));
    }
  }

  private async join(frame: Extract<ClientFrame, { t: 'join' }>): Promise<void> {
    clearTimeout(this.joinTimer);
    // A cleared timer still holds its callback and this connection's closure: let both go.
    this.joinTimer = undefined;
    if (frame.v !== PROTOCOL_VERSION) {
      this.refuse(new FrameError(`This server speaks protocol version ${PROTOCOL_VERSION}, not ${frame.v}.`));
      return this.close(CLOSE_CODES.policy, 'Unsupported protocol version.');
    }
    let token: VerifiedToken;
    try {
      token = this.joinTokens.verify(frame.token, this.bind);
    } catch (error) {
      this.refuse(error);
      return this.close(CLOSE_CODES.badToken, (error as Error).message.slice(0, 120));
    }
    const { cookies, headers, ip, origin } = this.facts;
    this.info = Object.freeze({ tab: token.tab, cookies, headers, ip, origin });
    this.backlog = [];
    try {
      this.tab = await this.runtime.join(this, frame.states, token.rejoin);
    } catch (error) {
      this.refuse(error);
      const code = error instanceof StateError ? error.code : undefined;
      this.close(code === 'STRATA_STATE_QUEUE_FULL' ? CLOSE_CODES.tryAgain : code === 'STRATA_STATE_TAB_EXPIRED' ? CLOSE_CODES.expired : CLOSE_CODES.policy, 'The join failed.');
    }
    const backlog = this.backlog;
    this.backlog = undefined;
    for (const [data, isBinary] of backlog) this.receive(data, isBinary);
  }

  private refuse(error: unknown, seq?: number): void {
    this.strike();
    this.runtime.fail(this, error, {}, seq);
  }
}
