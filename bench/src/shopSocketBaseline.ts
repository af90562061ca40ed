/**
 * The same-transport checkout baseline: a plain fastify app with @fastify/websocket on a
 * loopback port in this process, whose socket handler receives `{ seq, customer }` frames
 * (`customer`: the customer's index) and runs the in-process baseline's raw-SQL transaction
 * for that customer (`rawCheckout`), answering `{ seq, ok }` (`ok`: whether it bought the unit)
 * or `{ seq, error }`. One `ws` WebSocket per customer, opened before any timing. No session,
 * no auth, no states: what the shop adds over this is its own cost, not the transport's.
 */
import websocket from '@fastify/websocket';
import fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Customer } from './shopApp.js';

/** The server's answer to one checkout frame. */
interface Answer {
  seq: number;
  ok?: boolean;
  error?: string;
}

/** The running baseline: customer `i`'s checkout over their socket, and teardown. */
export interface SocketBaseline {
  /** Resolves true when it bought the unit, false when none was left; rejects on an error answer. */
  checkout(i: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Opens one client socket to `url`; `call(customer)` sends a frame and resolves with its answer. */
async function openClient(url: string): Promise<{ call(customer: number): Promise<Answer>; close(): void }> {
  const socket = new WebSocket(url);
  const waiting = new Map<number, (answer: Answer) => void>();
  socket.on('message', (data: Buffer) => {
    const answer = JSON.parse(data.toString()) as Answer;
    const resolve = waiting.get(answer.seq);
    waiting.delete(answer.seq);
    resolve?.(answer);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let seq = 0;
  return {
    call(customer) {
      const n = ++seq;
      const answer = new Promise<Answer>((resolve) => waiting.set(n, resolve));
      socket.send(JSON.stringify({ seq: n, customer }));
      return answer;
    },
    close: () => socket.close(),
  };
}

/** Starts the server on 127.0.0.1 port 0 and opens one client per customer. */
export async function startSocketBaseline(customers: Customer[], checkout: (customer: Customer) => Promise<boolean>): Promise<SocketBaseline> {
  const app = fastify({ logger: false });
  await app.register(websocket);
  app.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { seq: number; customer: number };
      const send = (answer: Answer) => socket.send(JSON.stringify(answer));
      const customer = customers[frame.customer];
      if (!customer) return send({ seq: frame.seq, error: `no customer ${frame.customer}` });
      checkout(customer).then(
        (ok) => send({ seq: frame.seq, ok }),
        (error: unknown) => send({ seq: frame.seq, error: error instanceof Error ? error.message : String(error) }),
      );
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  try {
    const clients = await Promise.all(customers.map(() => openClient(`ws://127.0.0.1:${port}/ws`)));
    return {
      async checkout(i) {
        const answer = await clients[i]!.call(i);
        if (answer.error !== undefined) throw new Error(answer.error);
        return answer.ok === true;
      },
      async close() {
        for (const client of clients) client.close();
        await app.close();
      },
    };
  } catch (error) {
    await app.close();
    throw error;
  }
}
