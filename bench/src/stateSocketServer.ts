/**
 * The server side of the socket benchmark, run in its own process so its heap is measured
 * alone: `raw` is a plain fastify + @fastify/websocket handler doing the counter work,
 * `strata` the same counter as a Strata state. Talks to the driver over IPC.
 */
import fastify from 'fastify';
import { createRedisStateManager, strataState } from '@strata/state/server';
import { Counter, registerRawCounter } from './counter.js';

const mode = process.argv[2];
let roundTrips = () => 0;
const app = fastify({ logger: false });

if (mode === 'raw') {
  await registerRawCounter(app);
} else {
  // `strata-redis`: the same, with tabs in Redis (a private key prefix per run).
  const manager = mode === 'strata-redis' ? createRedisStateManager({ redis: process.env.STRATA_BENCH_REDIS_URL!, prefix: `strata-bench:${process.pid}:` }) : undefined;
  roundTrips = () => manager?.roundTrips ?? 0;
  // Rate limits are lifted for the throughput run: the benchmark measures the pipeline, not the limiter.
  await app.register(strataState, {
    states: [Counter],
    secret: 'bench-secret-bench-secret-bench-secret!!',
    limits: { eventsPerSecond: 1e9, burst: 1e9, queueLength: 1e6 },
    ...(manager ? { manager: manager as never } : {}),
  });
  app.get('/token', async (request) => ({ token: app.strata.issueToken(request) }));
}

const address = await app.listen({ port: 0, host: '127.0.0.1' });

function memory() {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'memory') process.send!({ type: 'memory', ...memory() });
  if (message.type === 'cpu') process.send!({ type: 'cpu', ...process.cpuUsage() });
  if (message.type === 'roundTrips') process.send!({ type: 'roundTrips', count: roundTrips() });
  if (message.type === 'stop') void app.close().then(() => process.exit(0));
});
process.send!({ type: 'ready', address });
