import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isStrataError } from '@strata/model';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  createMemoryThrottle,
  createRedisThrottle,
  throttleKey,
  ThrottleUnavailableError,
  type RedisThrottleOptions,
  type Throttle,
  type ThrottleOptions,
  type ThrottleResult,
} from '../throttle.js';

const url = process.env.STRATA_TEST_REDIS_URL;
if (!url) console.log('throttle.test: STRATA_TEST_REDIS_URL is not set; the Redis throttle tests are skipped.');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const megabyteKey = (suffix: string) => `login:account:${'x'.repeat(2 ** 20)}${suffix}`;

/** Hits `keys` `times` times in a row and returns the answers. */
async function hits(throttle: Throttle, keys: string[], times: number): Promise<ThrottleResult[]> {
  const answers: ThrottleResult[] = [];
  for (let i = 0; i < times; i++) answers.push(await throttle.hit(keys));
  return answers;
}

const refusal = (result: ThrottleResult) => (result.ok ? 0 : result.retryAfterMs);

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** The limit behaviour every throttle shares; `make` returns a fresh throttle with its own keys. */
function limitBehaviour(make: (options: ThrottleOptions) => Throttle) {
  it('allows limit attempts, then refuses the next with 0 < retryAfterMs <= windowMs', async () => {
    const throttle = make({ limit: 5, windowMs: 10_000 });
    const answers = await hits(throttle, ['login:account:alice@example.com'], 6);
    expect(answers.slice(0, 5)).toEqual(Array(5).fill({ ok: true }));
    expect(answers[5]).toMatchObject({ ok: false });
    expect(refusal(answers[5]!)).toBeGreaterThan(0);
    expect(refusal(answers[5]!)).toBeLessThanOrEqual(10_000);
  });

  it('does not let a refused key affect another key', async () => {
    const throttle = make({ limit: 2, windowMs: 10_000 });
    await hits(throttle, ['login:account:alice@example.com'], 3);
    expect(await throttle.hit(['login:account:bob@example.com'])).toEqual({ ok: true });
    expect((await throttle.hit(['login:account:alice@example.com'])).ok).toBe(false);
  });

  it('refuses hit([account, ip]) when the ip is exhausted by other accounts, or the account by other ips', async () => {
    const throttle = make({ limit: 5, windowMs: 10_000 });
    for (let i = 1; i <= 5; i++) expect(await throttle.hit([`login:account:user${i}@example.com`, 'login:ip:1.2.3.4'])).toEqual({ ok: true });
    expect((await throttle.hit(['login:account:user6@example.com', 'login:ip:1.2.3.4'])).ok).toBe(false);
    for (let i = 1; i <= 5; i++) expect((await throttle.hit(['login:account:carol@example.com', `login:ip:10.0.0.${i}`])).ok).toBe(true);
    expect((await throttle.hit(['login:account:carol@example.com', 'login:ip:10.0.0.99'])).ok).toBe(false);
  });

  it('answers the longest wait among the exhausted keys', async () => {
    const throttle = make({ limit: 1, windowMs: 5_000 });
    await throttle.hit(['early']);
    await sleep(300);
    await throttle.hit(['late']);
    const early = refusal(await throttle.hit(['early']));
    const both = refusal(await throttle.hit(['early', 'late']));
    expect(early).toBeGreaterThan(0);
    expect(both).toBeGreaterThan(early + 200);
  });

  it('does not count refused attempts: a blocked ip cannot spend another account’s attempts', async () => {
    const throttle = make({ limit: 3, windowMs: 10_000 });
    await hits(throttle, ['login:account:mallory@example.com', 'login:ip:6.6.6.6'], 3);
    const blocked = await hits(throttle, ['login:account:alice@example.com', 'login:ip:6.6.6.6'], 10);
    expect(blocked.every((answer) => !answer.ok)).toBe(true);
    const alice = await hits(throttle, ['login:account:alice@example.com', 'login:ip:1.1.1.1'], 4);
    expect(alice.map((answer) => answer.ok)).toEqual([true, true, true, false]);
  });

  it('forgets a key on reset(key)', async () => {
    const throttle = make({ limit: 2, windowMs: 10_000 });
    await hits(throttle, ['reset:account:alice@example.com'], 3);
    await throttle.reset('reset:account:alice@example.com');
    expect(await hits(throttle, ['reset:account:alice@example.com'], 3)).toEqual([{ ok: true }, { ok: true }, expect.objectContaining({ ok: false })]);
  });

  it('allows attempts again once the window has passed', async () => {
    const throttle = make({ limit: 2, windowMs: 200 });
    const refused = (await hits(throttle, ['login:ip:1.2.3.4'], 3))[2]!;
    expect(refusal(refused)).toBeLessThanOrEqual(200);
    await sleep(refusal(refused) + 50);
    expect(await hits(throttle, ['login:ip:1.2.3.4'], 3)).toEqual([{ ok: true }, { ok: true }, expect.objectContaining({ ok: false })]);
  });

  it('lets exactly limit attempts through a burst of 100 concurrent hits on one key', async () => {
    const throttle = make({ limit: 5, windowMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 100 }, () => throttle.hit(['login:account:alice@example.com'])));
    expect(answers.filter((answer) => answer.ok)).toHaveLength(5);
  });

  it('counts a 1 MB key, and tells apart 1 MB keys that differ only in their last character', async () => {
    const throttle = make({ limit: 2, windowMs: 10_000 });
    expect((await hits(throttle, [megabyteKey('a')], 3)).map((answer) => answer.ok)).toEqual([true, true, false]);
    expect(await throttle.hit([megabyteKey('b')])).toEqual({ ok: true });
  });

  it('counts a key given twice in one hit once', async () => {
    const throttle = make({ limit: 2, windowMs: 10_000 });
    expect(await throttle.hit(['k', 'k'])).toEqual({ ok: true });
    expect(await throttle.hit(['k'])).toEqual({ ok: true });
  });

  it('rejects a hit without keys or with a key that is not a string', async () => {
    const throttle = make({});
    await expect(throttle.hit([])).rejects.toThrow(/non-empty array of keys/);
    await expect(throttle.hit([undefined as unknown as string])).rejects.toThrow(/keys must be strings/);
  });
}

describe('createMemoryThrottle', () => {
  const throttles: Throttle[] = [];
  afterEach(async () => {
    await Promise.all(throttles.splice(0).map((throttle) => throttle.close()));
  });

  limitBehaviour((options) => {
    const throttle = createMemoryThrottle(options);
    throttles.push(throttle);
    return throttle;
  });

  it('holds at most maxKeys keys', async () => {
    const throttle = createMemoryThrottle({ maxKeys: 1_000 });
    throttles.push(throttle);
    let largest = 0;
    for (let i = 0; i < 5_000; i++) {
      await throttle.hit([`login:ip:10.0.${i >> 8}.${i & 255}`]);
      largest = Math.max(largest, throttle.size);
    }
    expect(largest).toBe(1_000);
  });

  it('forgets the oldest keys when full, and only those', async () => {
    const throttle = createMemoryThrottle({ limit: 1, maxKeys: 3 });
    throttles.push(throttle);
    await hits(throttle, ['oldest'], 2);
    for (const key of ['b', 'c', 'd']) await throttle.hit([key]);
    expect(throttle.size).toBe(3);
    expect(await throttle.hit(['oldest'])).toEqual({ ok: true });
    expect((await throttle.hit(['d'])).ok).toBe(false);
  });

  it('sweeps expired keys on access and by its timer', async () => {
    const throttle = createMemoryThrottle({ windowMs: 200 });
    throttles.push(throttle);
    for (let i = 0; i < 10; i++) await throttle.hit([`k${i}`]);
    await sleep(250);
    await throttle.hit(['fresh']);
    expect(throttle.size).toBe(1);
    await sleep(1_100);
    expect(throttle.size).toBe(0);
  });

  it('does not keep a 1 MB key verbatim', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const throttle = createMemoryThrottle();
    throttles.push(throttle);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 32; i++) await throttle.hit([megabyteKey(String(i))]);
    gc();
    expect(throttle.size).toBe(32);
    // Verbatim, 32 keys of 1 MB would stay on the heap; hashed, they take 32 × 71 bytes.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8 * 2 ** 20);
    expect(throttleKey(megabyteKey('0'))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(throttleKey('login:ip:1.2.3.4')).toBe('login:ip:1.2.3.4');
  });

  it('throws on options that are not positive integers', () => {
    for (const options of [{ limit: 0 }, { limit: -1 }, { limit: 1.5 }, { windowMs: 0 }, { windowMs: Number.NaN }, { maxKeys: 0 }, { limit: '5' as unknown as number }]) {
      expect(() => createMemoryThrottle(options)).toThrow(/must be a positive integer/);
    }
    expect(() => createRedisThrottle({ redis: 'redis://127.0.0.1:1', windowMs: -5 })).toThrow(/createRedisThrottle: windowMs must be a positive integer \(got -5\)/);
  });

  it('rejects with STRATA_AUTH_UNAVAILABLE once closed', async () => {
    const throttle = createMemoryThrottle();
    await throttle.close();
    const error: unknown = await throttle.hit(['k']).catch((caught: unknown) => caught);
    expect(isStrataError(error, 'STRATA_AUTH_UNAVAILABLE')).toBe(true);
  });

  it('has the documented types', () => {
    expectTypeOf(createMemoryThrottle().hit).returns.toEqualTypeOf<Promise<ThrottleResult>>();
    expectTypeOf(createMemoryThrottle().size).toEqualTypeOf<number>();
    expectTypeOf<ThrottleUnavailableError['code']>().toEqualTypeOf<'STRATA_AUTH_UNAVAILABLE'>();
    expectTypeOf<Extract<ThrottleResult, { ok: false }>>().toEqualTypeOf<{ ok: false; retryAfterMs: number }>();
  });
});

describe.skipIf(!url)('createRedisThrottle', () => {
  const prefix = `strata-test:throttle:${randomBytes(4).toString('hex')}:`;
  const throttles: Throttle[] = [];
  let made = 0;
  const make = (options: Partial<RedisThrottleOptions> = {}) => {
    const throttle = createRedisThrottle({ redis: url!, prefix: `${prefix}${made++}:`, ...options });
    throttles.push(throttle);
    return throttle;
  };
  afterEach(async () => {
    await Promise.all(throttles.splice(0).map((throttle) => throttle.close()));
  });
  afterAll(async () => {
    const redis = new Redis(url!);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  limitBehaviour(make);

  it('shares counters between two workers', async () => {
    const shared = `${prefix}shared:`;
    const [a, b] = [make({ prefix: shared, limit: 5 }), make({ prefix: shared, limit: 5 })];
    await hits(a, ['login:ip:1.2.3.4'], 3);
    expect((await hits(b, ['login:ip:1.2.3.4'], 3)).map((answer) => answer.ok)).toEqual([true, true, false]);
    expect((await a.hit(['login:ip:1.2.3.4'])).ok).toBe(false);
    const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).hit(['login:ip:5.6.7.8'])));
    expect(burst.filter((answer) => answer.ok)).toHaveLength(5);
  });

  it('costs one round trip per hit, and leaves a client it was given open', async () => {
    const client = new Redis(url!, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await once(client, 'ready');
    const sent: string[] = [];
    const send = client.sendCommand.bind(client);
    client.sendCommand = (command, stream) => {
      sent.push(command.name);
      return send(command, stream);
    };
    const throttle = createRedisThrottle({ redis: client, prefix: `${prefix}trips:`, limit: 2 });
    await hits(throttle, ['login:account:alice@example.com', 'login:ip:1.2.3.4'], 3);
    expect(sent).toEqual(['eval', 'eval', 'eval']);
    await throttle.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('stores long keys hashed, under its prefix, with an expiry', async () => {
    const throttle = make({ prefix: `${prefix}stored:`, windowMs: 10_000 });
    await throttle.hit([megabyteKey('a'), 'login:ip:1.2.3.4']);
    const redis = new Redis(url!);
    const keys = await redis.keys(`${prefix}stored:*`);
    expect(keys).toHaveLength(2);
    expect(keys).toContain(`${prefix}stored:login:ip:1.2.3.4`);
    expect(keys.find((key) => !key.endsWith('1.2.3.4'))).toMatch(/:sha256:[0-9a-f]{64}$/);
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(9_000);
    redis.disconnect();
  });

  it('fails closed within 2 s when Redis is down', async () => {
    const throttle = make({ redis: `redis://127.0.0.1:${await freePort()}` });
    for (const attempt of [() => throttle.hit(['k']), () => throttle.hit(['k']), () => throttle.reset('k')]) {
      const started = Date.now();
      const error: unknown = await attempt().then(() => 'answered', (caught: unknown) => caught);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error).toBeInstanceOf(ThrottleUnavailableError);
      expect(isStrataError(error, 'STRATA_AUTH_UNAVAILABLE')).toBe(true);
      await sleep(300);
    }
  });

  const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
  it.skipIf(!hasRedisServer)('fails closed when Redis dies mid-life, and recovers when it is back', async () => {
    const port = await freePort();
    const start = () => spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    let server: ChildProcess = start();
    try {
      const throttle = make({ redis: `redis://127.0.0.1:${port}` });
      const untilOk = async () => {
        for (let tries = 0; tries < 50; tries++) {
          const answer = await throttle.hit(['k']).catch(() => undefined);
          if (answer) return answer;
          await sleep(100);
        }
        return undefined;
      };
      expect(await untilOk()).toEqual({ ok: true });
      server.kill('SIGKILL');
      await once(server, 'exit');
      const started = Date.now();
      await expect(throttle.hit(['k'])).rejects.toMatchObject({ code: 'STRATA_AUTH_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(2_000);
      server = start();
      expect(await untilOk()).toEqual({ ok: true });
    } finally {
      server.kill('SIGKILL');
    }
  });
});
