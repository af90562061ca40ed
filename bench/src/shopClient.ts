/** A shop customer's tab for the benchmark: a real WebSocket carrying the session cookie, as a browser's would. */
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';

type Frame = Record<string, unknown>;

/** What an event answered: its value or its error. */
export interface CallResult {
  value?: unknown;
  error?: { code: string; message: string };
}

/** A joined tab: `call` sends an event and resolves with its result frame. */
export interface ShopTab {
  call(state: string, handler: string, args?: unknown): Promise<CallResult>;
  close(): void;
}

/** The join token of the session `cookie` (what a page's HTML or `/auth/csrf` hands the browser). */
async function joinToken(app: FastifyInstance, cookie: string): Promise<string> {
  const answer = await app.inject({ method: 'GET', url: '/auth/csrf', headers: { cookie } });
  const { token } = answer.json<{ token?: string }>();
  if (!token) throw new Error(`/auth/csrf answered ${answer.statusCode} without a join token`);
  return token;
}

/** Opens a socket to the shop at `origin` with the session `cookie` and joins `states`. */
export async function openTab(app: FastifyInstance, origin: string, cookie: string, states: readonly string[]): Promise<ShopTab> {
  const token = await joinToken(app, cookie);
  const socket = new WebSocket(`${origin.replace('http', 'ws')}/strata/ws`, { headers: { origin, cookie } });
  const waiting = new Map<number, (frame: Frame) => void>();
  let welcomed: (() => void) | undefined;
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.t === 'welcome') welcomed?.();
    else if (frame.t === 'result') waiting.get(frame.seq as number)?.(frame);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  await new Promise<void>((resolve) => {
    welcomed = resolve;
    socket.send(JSON.stringify({ t: 'join', v: 1, token, states }));
  });
  let seq = 0;
  return {
    call(state, handler, args) {
      const n = ++seq;
      const answer = new Promise<CallResult>((resolve) =>
        waiting.set(n, (frame) => {
          waiting.delete(n);
          resolve(frame as CallResult);
        }),
      );
      socket.send(JSON.stringify({ t: 'event', seq: n, state, handler, ...(args === undefined ? {} : { args }) }));
      return answer;
    },
    close: () => socket.close(),
  };
}
