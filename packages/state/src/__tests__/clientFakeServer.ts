import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type ClientFrame, type ClientOptions, createClient, type JsonValue, type ServerFrame, type StrataClient } from '../client.js';

export type Handler<TArgs = undefined> = { args: TArgs; result: unknown; task: boolean };
export type Counter = { count: number; double: number; user: { name: string; prefs: { theme: string } }; list: { id: number; n: number }[] };
/** The states these tests talk about, declared the way `defineState` types them. */
export type TestState<TName extends string> = {
  readonly name: TName;
  readonly '~types'?: {
    client: Counter;
    handlers: { increment: Handler<{ by: JsonValue }>; importRows: Handler; save: Handler; a: Handler; b: Handler; c: Handler };
  };
};
export type Client = StrataClient<TestState<'counter'> | TestState<'cart'> | TestState<'orders'>>;

export type FrameOf<T extends ClientFrame['t']> = Extract<ClientFrame, { t: T }>;

/** A scripted server: a real WebSocket endpoint on a loopback port; each test decides what it answers. */
export class FakeServer {
  readonly sockets: WebSocket[] = [];
  /** Every frame received, with the index of the socket it came on. */
  readonly log: { socket: number; frame: ClientFrame }[] = [];
  readonly #unread: ClientFrame[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    wss.on('connection', (socket) => {
      const index = this.sockets.push(socket) - 1;
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ClientFrame;
        this.log.push({ socket: index, frame });
        this.#unread.push(frame);
      });
    });
  }

  static async start(): Promise<FakeServer> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    return new FakeServer(wss, `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/strata/ws`);
  }

  /** The first unread frame of type `t`, waiting for it if needed. */
  take<T extends ClientFrame['t']>(t: T): Promise<FrameOf<T>> {
    return vi.waitFor(
      () => {
        const index = this.#unread.findIndex((frame) => frame.t === t);
        if (index === -1) throw new Error(`No "${t}" frame arrived.`);
        return this.#unread.splice(index, 1)[0] as FrameOf<T>;
      },
      { timeout: 2000, interval: 5 },
    );
  }

  /** Frames not taken yet (after a short wait, so that a frame that should not come has had its chance). */
  async unread(waitMs = 50): Promise<ClientFrame[]> {
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return [...this.#unread];
  }

  /** The seqs of every event received, per socket. */
  eventSeqs(): number[][] {
    return this.sockets.map((_, i) => this.log.filter((entry) => entry.socket === i && entry.frame.t === 'event').map((entry) => (entry.frame as FrameOf<'event'>).seq));
  }

  send(frame: ServerFrame | Record<string, unknown> | string, socket = this.sockets.at(-1)): void {
    socket!.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Answers the next join with a welcome; returns the join. */
  async welcome(states: Record<string, unknown>, { ack = 0, token = 'tok-1' } = {}): Promise<FrameOf<'join'>> {
    const join = await this.take('join');
    this.send({ t: 'welcome', v: 1, tab: 'tab-1', token, ack, states });
    return join;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

/** Registers a fresh fake server per test; `connect` makes a client of it (closed after the test). */
export function useFakeServer(): { readonly server: FakeServer; connect(options?: Partial<ClientOptions>): Client } {
  let server: FakeServer | undefined;
  const clients: Client[] = [];
  beforeEach(async () => {
    server = await FakeServer.start();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });
  return {
    get server() {
      return server!;
    },
    connect(options = {}) {
      const client: Client = createClient({ url: server!.url, token: 'tok-0', WebSocket, backoff: { initialMs: 5, maxMs: 20 }, ...options });
      clients.push(client);
      return client;
    },
  };
}

export const live = (client: Client) => vi.waitFor(() => expect(client.status).toBe('live'), { timeout: 2000, interval: 5 });
export const counter = (): Counter => ({ count: 0, double: 0, user: { name: 'Ada', prefs: { theme: 'dark' } }, list: [{ id: 1, n: 1 }, { id: 2, n: 2 }] });
