/**
 * The server side of the ModelState benchmark, in its own process: `strata` serves the orders
 * ModelState; `raw-page` and `raw-row` are plain fastify + @fastify/websocket handlers serving
 * the hand-written page, which on a committed change re-fetch the page per socket or send the
 * one changed row to every socket. On the SQLite file the driver seeded. Talks over IPC.
 */
import websocket from '@fastify/websocket';
import fastify from 'fastify';
import { onChange, runInQueryScope, setup } from '@strata/model';
import { strataState } from '@strata/state/server';
import { handPage, Orders } from './ordersState.js';
import { models, Order } from './shopModels.js';

const [mode, databaseUrl] = process.argv.slice(2) as ['strata' | 'raw-page' | 'raw-row', string];
await setup({ databaseUrl, models, debug: false });
// The commit time on the monotonic clock the driver shares (same machine), taken by the first
// listener — before any server reacts to the change.
let committedAt = 0n;
onChange(() => {
  committedAt = process.hrtime.bigint();
});
const app = fastify({ logger: false });
let queries = 0;

if (mode === 'strata') {
  await app.register(strataState, {
    states: [Orders],
    secret: 'bench-secret-bench-secret-bench-secret!!',
    limits: { eventsPerSecond: 1e9, burst: 1e9, queueLength: 1e6 },
    middleware: [
      async (_ctx, next) => {
        queries = (await runInQueryScope(next)).count;
      },
    ],
  });
  app.get('/token', async (request) => ({ token: app.strata.issueToken(request) }));
} else {
  await app.register(websocket);
  const sockets = new Set<{ send(data: string): void }>();
  app.get('/ws', { websocket: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', async (data: Buffer) => {
      const { seq, page } = JSON.parse(data.toString()) as { seq: number; page: number };
      const { result, count } = await runInQueryScope(() => handPage(page));
      queries = count;
      socket.send(JSON.stringify({ t: 'result', seq, value: result }));
    });
  });
  onChange(async (change) => {
    if (change.model !== Order.name) return;
    if (mode === 'raw-page') {
      // What a hand-written server does to respect each recipient's scope: a page per socket.
      for (const socket of sockets) {
        const { result, count } = await runInQueryScope(() => handPage(1));
        queries = count;
        socket.send(JSON.stringify({ t: 'patch', value: result }));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } else {
      const row = (await handPage(1)).list.find((order: { id: number }) => order.id === change.pks[0]);
      const text = JSON.stringify({ t: 'patch', value: row });
      for (const socket of sockets) socket.send(text);
    }
  });
}

const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.on('message', async (message: { type: string; note?: string; id?: number }) => {
  if (message.type === 'queries') process.send!({ queries });
  if (message.type === 'commit') {
    await Order.objects.filter({ id: message.id! }).update({ note: message.note! });
    process.send!({ at: String(committedAt) });
  }
  if (message.type === 'stop') void app.close().then(() => process.exit(0));
});
process.send!({ address });
