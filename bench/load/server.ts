/**
 * One worker of the load benchmark, in its own process (started with --expose-gc): `raw` is a
 * plain fastify + @fastify/websocket handler doing the counter work; `counter` and `products`
 * are Strata states on the memory manager; `counter-redis` keeps tabs in Redis under the
 * prefix in STRATA_LOAD_REDIS_PREFIX (several workers share it). Answers the runner over IPC.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import fastify from 'fastify';
import { setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { createModelSerializer } from '@strata/serializer';
import { createRedisStateManager, defineModelState, strataState } from '@strata/state/server';
import { Counter, registerRawCounter } from '../src/counter.js';
import { models, Product } from '../src/shopModels.js';

export type ServerMode = 'raw' | 'counter' | 'products' | 'counter-redis';
export const PRODUCTS = 200;
export const PRODUCT_PAGE = 12;

const SECRET = 'load-bench-secret-load-bench-secret!!';
const mode = process.argv[2] as ServerMode;
if (!['raw', 'counter', 'products', 'counter-redis'].includes(mode)) throw new Error(`Unknown load server mode '${mode}'.`);

const Products = defineModelState('products', {
  model: Product,
  serializer: createModelSerializer(Product, { fields: ['id', 'name', 'price', 'stock', 'category'] }),
  pageSize: PRODUCT_PAGE,
  ordering: ['name', 'price'],
});

/** A SQLite file with PRODUCTS products, private to this process. */
async function seedProducts(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-load-'));
  await setup({ databaseUrl: `sqlite:${join(dir, 'load.sqlite')}`, models, debug: false });
  await createSchema();
  await Product.objects.bulkCreate(
    Array.from({ length: PRODUCTS }, (_, i) => ({ name: `Product ${String(i).padStart(3, '0')}`, price: `${(i % 90) + 1}.50`, stock: i % 40, category: i % 10 })),
  );
  return dir;
}

const app = fastify({ logger: false });
let redisRoundTrips = () => 0;
let databaseDir: string | undefined;
if (mode === 'raw') await registerRawCounter(app);
else {
  if (mode === 'products') databaseDir = await seedProducts();
  const manager = mode === 'counter-redis' ? createRedisStateManager({ redis: process.env.STRATA_LOAD_REDIS_URL!, prefix: process.env.STRATA_LOAD_REDIS_PREFIX! }) : undefined;
  if (manager) await manager.ready();
  redisRoundTrips = () => manager?.roundTrips ?? 0;
  await app.register(strataState, {
    states: mode === 'products' ? [Products] : [Counter],
    secret: SECRET,
    // LOAD_HEARTBEAT_MS: a diagnostic knob (the default pings every socket in one tick every 30 s).
    ...(process.env.LOAD_HEARTBEAT_MS ? { heartbeatMs: Number(process.env.LOAD_HEARTBEAT_MS) } : {}),
    ...(manager ? { manager: manager as never } : {}),
  });
  app.get('/token', async (request) => ({ token: app.strata.issueToken(request) }));
}
const address = await app.listen({ port: 0, host: '127.0.0.1' });

/** Event-loop stalls and GC pauses since the last `stats` request: what an event waits behind before its handler runs. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const gc = { count: 0, totalMs: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

function stalls() {
  const figures = { loopP99Ms: loopDelay.percentile(99) / 1e6, loopMaxMs: loopDelay.max / 1e6, gc: { ...gc } };
  loopDelay.reset();
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
  return figures;
}

/** Heap and RSS after a full collection (run several times: weak maps and finalizers free in rounds). */
function memory() {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

/** The figures @strata/state exposes itself, when this build has `app.strata.metrics()`. */
async function strataMetrics(): Promise<unknown> {
  const metrics = (app as unknown as { strata?: { metrics?: () => unknown } }).strata?.metrics;
  return typeof metrics === 'function' ? await metrics() : undefined;
}

let sampling: Session | undefined;
/**
 * Diagnostic (LOAD_HEAP_SAMPLE=dir): samples, over the measuring window, the allocations that
 * outlived the young generation — what fills the old one and brings on full collections —
 * and writes them to dir/promoted.heapprofile (open it in Chrome DevTools' Memory tab).
 */
async function promotedSample(dir: string): Promise<void> {
  const post = (method: string, params?: object) =>
    new Promise<{ profile?: unknown }>((resolve, reject) => sampling!.post(method, params, (error, result) => (error ? reject(error) : resolve(result as { profile?: unknown }))));
  if (!sampling) {
    sampling = new Session();
    sampling.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
    return;
  }
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(join(dir, 'promoted.heapprofile'), JSON.stringify(profile));
}

async function stop(): Promise<never> {
  await app.close().catch(() => undefined);
  if (databaseDir) rmSync(databaseDir, { recursive: true, force: true });
  process.exit(0);
}

process.on('message', async (message: { type: string }) => {
  const reply = (payload: Record<string, unknown>) => process.send!({ type: message.type, ...payload });
  if (message.type === 'memory') reply(memory());
  if (message.type === 'cpu') reply({ ...process.cpuUsage(), at: Date.now() });
  if (message.type === 'stats' && process.env.LOAD_HEAP_SAMPLE) await promotedSample(process.env.LOAD_HEAP_SAMPLE);
  if (message.type === 'stats') reply({ redisRoundTrips: redisRoundTrips(), metrics: await strataMetrics(), stalls: stalls() });
  if (message.type === 'stop') await stop();
});
// The runner gone (crash, watchdog) means nobody will ever stop this worker.
process.on('disconnect', () => void stop());
process.send!({ type: 'ready', address });
