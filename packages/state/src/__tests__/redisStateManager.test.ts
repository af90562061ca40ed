import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as v from 'valibot';
import { getRegistry } from '@strata/model';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisStateManager, defineState } from '../server.js';
import { databases } from './modelStateDb.js';
import { Category, Product, Products, user } from './modelStateFixtures.js';
import { call, connect, join, startServer, type TestServer } from './serverHelpers.js';

const url = process.env.STRATA_TEST_REDIS_URL;
if (!url) console.log('redisStateManager.test: STRATA_TEST_REDIS_URL is not set; the Redis state manager tests are skipped.');

const Counter = defineState('counter', {
  vars: () => ({ count: 0, log: [] as string[] }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    add: h.event({ args: v.object({ by: v.number(), note: v.string() }), run: (s, { by, note }) => { s.count += by; s.log.push(note); } }),
  }),
});

/** Two workers (fastify instances on their own ports) sharing one Redis, as behind a load balancer. */
async function workers(redisUrl: string, prefix: string): Promise<{ a: TestServer; b: TestServer; managers: ReturnType<typeof createRedisStateManager>[] }> {
  const managers = [createRedisStateManager({ redis: redisUrl, prefix }), createRedisStateManager({ redis: redisUrl, prefix })];
  const [a, b] = [await startServer([Counter], { manager: managers[0] as never }), await startServer([Counter], { manager: managers[1] as never })];
  return { a: a!, b: b!, managers };
}

describe.skipIf(!url)('Redis state manager', () => {
  const prefix = `strata-test:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const redis = new Redis(url!);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps a tab’s state and event sequence when it reconnects to another worker, at ≤ 2 round trips per event', async () => {
    const { a, b, managers } = await workers(url!, prefix);
    const first = await join(a, ['counter']);
    await call(first.client, 1, 'counter', 'add', { by: 2, note: 'on a' });
    const before = managers[0]!.roundTrips;
    await call(first.client, 2, 'counter', 'add', { by: 1, note: 'on a again' });
    expect(managers[0]!.roundTrips - before).toBeLessThanOrEqual(2);
    first.client.socket.close();

    // The token from a's welcome joins b: the same tab, its state and its sequence.
    const second = await join(b, ['counter'], first.welcome.token);
    expect(second.welcome).toMatchObject({ tab: first.welcome.tab, ack: 2, states: { counter: { count: 3, double: 6, log: ['on a', 'on a again'] } } });
    expect(await call(second.client, 2, 'counter', 'add', { by: 100, note: 'replayed' })).toMatchObject({ error: { code: 'STRATA_STATE_REPLAYED' } });
    expect(await call(second.client, 3, 'counter', 'add', { by: 10, note: 'on b' })).toMatchObject({ patch: { counter: expect.arrayContaining([{ op: 'set', path: ['count'], value: 13 }]) } });

    // Back on a, whose local copy is stale: the lock loads b's version first.
    second.client.socket.close();
    const third = await join(a, ['counter'], second.welcome.token);
    expect(third.welcome).toMatchObject({ ack: 3, states: { counter: { count: 13, log: ['on a', 'on a again', 'on b'] } } });
  });

  it('runs the events of one tab one at a time across workers', async () => {
    const { a, b } = await workers(url!, prefix);
    const one = await join(a, ['counter']);
    const two = await join(b, ['counter'], one.welcome.token);
    // The older socket was not told (another process took over); both still send: the lock orders them.
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => call(one.client, 1 + i * 2, 'counter', 'add', { by: 1, note: `a${i}` })),
      ...Array.from({ length: 10 }, (_, i) => call(two.client, 2 + i * 2, 'counter', 'add', { by: 1, note: `b${i}` })),
    ]);
    const ran = results.filter((r) => !r.error).length;
    const fresh = await join(a, ['counter'], two.welcome.token);
    const state = fresh.welcome.states.counter as { count: number; log: string[] };
    expect(state.count).toBe(ran);
    expect(state.log).toHaveLength(ran);
  });

  it('refuses to start with a clear error when Redis is down at start-up', async () => {
    const manager = createRedisStateManager({ redis: 'redis://127.0.0.1:1' });
    await expect(startServer([Counter], { manager: manager as never })).rejects.toMatchObject({ code: 'STRATA_STATE_UNAVAILABLE', message: expect.stringContaining('cannot reach Redis') });
    await manager.close();
  });

  it('starts a tab from its defaults after a deploy changed the states, keeping its event sequence', async () => {
    const managers = [createRedisStateManager({ redis: url!, prefix, schemaVersion: 'v1' }), createRedisStateManager({ redis: url!, prefix, schemaVersion: 'v2' })];
    const [a, b] = [await startServer([Counter], { manager: managers[0] as never }), await startServer([Counter], { manager: managers[1] as never })];
    const first = await join(a!, ['counter']);
    await call(first.client, 1, 'counter', 'add', { by: 5, note: 'old shape' });
    first.client.socket.close();
    const second = await join(b!, ['counter'], first.welcome.token);
    expect(second.welcome).toMatchObject({ ack: 1, states: { counter: { count: 0, log: [] } } });
    expect(await call(second.client, 1, 'counter', 'add', { by: 5, note: 'replay' })).toMatchObject({ error: { code: 'STRATA_STATE_REPLAYED' } });
  });

  it('refuses a reconnect to a tab Redis no longer holds', async () => {
    const { a, b } = await workers(url!, `${prefix}gone:`);
    const first = await join(a, ['counter']);
    const redis = new Redis(url!);
    await redis.del(`${prefix}gone:${first.welcome.tab}`);
    redis.disconnect();
    const client = await connect(b.wsUrl, { origin: b.origin });
    client.send({ t: 'join', v: 1, token: first.welcome.token, states: ['counter'] });
    expect((await client.closed).code).toBe(4410);
  });

  it('refuses the save of an event that outlived its lock, instead of writing over the worker that took the tab', async () => {
    const Slow = defineState('slow', {
      vars: () => ({ by: [] as string[] }),
      handlers: (h) => ({
        slow: h.event(async (s) => {
          await new Promise((resolve) => setTimeout(resolve, 700));
          s.by.push('slow');
        }),
        fast: h.event((s) => {
          s.by.push('fast');
        }),
      }),
    });
    const managers = [createRedisStateManager({ redis: url!, prefix, lockMs: 250 }), createRedisStateManager({ redis: url!, prefix, lockMs: 250 })];
    const a = await startServer([Slow], { manager: managers[0] as never });
    const b = await startServer([Slow], { manager: managers[1] as never });
    const one = await join(a, ['slow']);
    const slow = call(one.client, 1, 'slow', 'slow');
    await new Promise((resolve) => setTimeout(resolve, 350));
    // a's lock has expired while its handler still runs: b takes the tab and saves.
    const two = await join(b, ['slow'], one.welcome.token);
    expect(await call(two.client, 2, 'slow', 'fast')).toMatchObject({ seq: 2, patch: { slow: [{ op: 'set', path: ['by'], value: ['fast'] }] } });
    expect(await slow).toMatchObject({ seq: 1, error: { code: 'STRATA_STATE_UNAVAILABLE' } });
    const fresh = await join(b, ['slow'], two.welcome.token);
    expect(fresh.welcome).toMatchObject({ ack: 2, states: { slow: { by: ['fast'] } } });
  });

  it('fails events with STRATA_STATE_UNAVAILABLE while Redis is down, and recovers without a restart', async () => {
    const port = 6390 + Math.floor(Math.random() * 500);
    const start = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    let server: ChildProcess = start();
    try {
      await waitForRedis(port);
      const manager = createRedisStateManager({ redis: `redis://127.0.0.1:${port}` });
      const worker = await startServer([Counter], { manager: manager as never });
      const { client } = await join(worker, ['counter']);
      await call(client, 1, 'counter', 'add', { by: 1, note: 'up' });
      server.kill('SIGKILL');
      await new Promise((resolve) => server.once('exit', resolve));
      const started = Date.now();
      expect(await call(client, 2, 'counter', 'add', { by: 1, note: 'down' })).toMatchObject({ error: { code: 'STRATA_STATE_UNAVAILABLE' } });
      // Fail fast (ioredis would otherwise wait ~73 s); the bound leaves room for a loaded CI machine.
      expect(Date.now() - started).toBeLessThan(2000);
      server = start();
      await waitForRedis(port);
      let answer = await call(client, 3, 'counter', 'add', { by: 1, note: 'back' });
      for (let seq = 4; answer.error && seq < 100; seq++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await call(client, seq, 'counter', 'add', { by: 1, note: 'back' });
      }
      expect(answer.error).toBeUndefined();
    } finally {
      server.kill('SIGKILL');
    }
  }, 20_000);
});

describe.skipIf(!url)('live updates across workers (Redis pub/sub)', () => {
  const db = databases[0]!;
  const prefix = `strata-test:${randomBytes(4).toString('hex')}:`;

  it('publishes this worker’s commits and delivers other workers’ to its tabs', async () => {
    await db.open([Category, Product]);
    const listener = new Redis(url!);
    const heard: string[] = [];
    try {
      await listener.subscribe(`${prefix}changes`);
      listener.on('message', (_channel, message) => heard.push(message));
      const worker = await startServer([Products], { manager: createRedisStateManager({ redis: url!, prefix }) as never, middleware: [user] });
      const client = await connect(worker.wsUrl, { origin: worker.origin, headers: { cookie: 'uid=1' } });
      client.send({ t: 'join', v: 1, token: await worker.token(), states: ['products'] });
      await client.next((f) => f.t === 'welcome');
      await call(client, 1, 'products', 'load');
      await new Promise((resolve) => setTimeout(resolve, 100));

      // A commit here is published for the other workers.
      const mine = await Product.objects.create({ name: 'Local', price: '1.00', owner: 1 });
      await client.next((f) => f.t === 'patch');
      await expect.poll(() => heard.map((m) => JSON.parse(m) as { model: string; pks: number[] })).toContainEqual({ type: 'created', model: 'ms.Product', pks: [mine.id] });

      // Another worker's commit: written without this process's change events, announced only on Redis.
      const registry = getRegistry();
      await registry.db.insert(registry.table(Product)).values({ name: 'Remote', price: 100, stock: 0, owner: 1, version: 1 });
      const remote = (await Product.objects.get({ name: 'Remote' })) as { id: number };
      const publisher = new Redis(url!);
      await publisher.publish(`${prefix}changes`, JSON.stringify({ type: 'created', model: 'ms.Product', pks: [remote.id] }));
      publisher.disconnect();
      const frame = await client.next((f) => f.t === 'patch' && JSON.stringify(f).includes('Remote'));
      expect(JSON.stringify(frame)).toContain('Remote');
    } finally {
      listener.disconnect();
      await db.close();
      const redis = new Redis(url!);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});

async function waitForRedis(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      redis.disconnect();
      return;
    } catch {
      redis.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`redis-server on port ${port} did not start`);
}
