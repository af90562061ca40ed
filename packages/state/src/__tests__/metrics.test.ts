import { Writable } from 'node:stream';
import { getRegistry } from '@strata/model';
import fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createRedisStateManager, defineState, EventError, redisFailFastOptions, type StrataMetrics, strataState } from '../server.js';
import { Category, Product, Products, user } from './modelStateFixtures.js';
import { databases } from './modelStateDb.js';
import { call, connect, join, SECRET, startServer, type TestServer } from './serverHelpers.js';

const TOKEN = 'metrics-token-that-is-at-least-32-chars!';
const REDIS_URL = process.env.STRATA_TEST_REDIS_URL;
if (!REDIS_URL) console.info('[strata] STRATA_TEST_REDIS_URL is not set: the Redis error metrics test is skipped.');

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => void (s.count += by) }),
    // An app error code with the three characters label values must escape.
    refuse: h.event({ run: () => { throw new EventError('APP_"ODD"\\CODE\n', 'Refused.'); } }),
    crash: h.event({ run: () => { throw new Error('not a database problem'); } }),
  }),
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** A strict reader of the Prometheus text format: throws on any line it does not understand. */
function parsePrometheus(text: string): { help: Map<string, string>; types: Map<string, string>; samples: Sample[] } {
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const map = meta[1] === 'HELP' ? help : types;
      if (map.has(meta[2]!)) throw new Error(`second # ${meta[1]} for ${meta[2]}`);
      map.set(meta[2]!, meta[3]!);
      if (meta[1] === 'TYPE' && !['counter', 'gauge', 'histogram'].includes(meta[3]!)) throw new Error(`bad type: ${line}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = sample[3] === '+Inf' ? Infinity : Number(sample[3]);
    if (Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    samples.push({ name: sample[1]!, labels, value });
  }
  for (const { name } of samples) {
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family) || !help.has(family)) throw new Error(`${name} has no # TYPE or # HELP`);
  }
  return { help, types, samples };
}

/** Checks every histogram series: cumulative buckets in order, ending in +Inf equal to _count. */
function checkHistograms(parsed: ReturnType<typeof parsePrometheus>): void {
  for (const [family, type] of parsed.types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of parsed.samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const bounds = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
      expect(bounds.at(-1)).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      const count = parsed.samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key);
      expect(count?.value).toBe(buckets.at(-1)!.value);
      expect(parsed.samples.some((s) => s.name === `${family}_sum` && JSON.stringify(s.labels) === key)).toBe(true);
    }
  }
}

const eventCount = (m: StrataMetrics, state: string, handler: string, outcome: string) =>
  m.events.find((e) => e.state === state && e.handler === handler && e.outcome === outcome)?.count ?? 0;
const latency = (m: StrataMetrics, state: string, handler: string) => m.eventSeconds.find((e) => e.state === state && e.handler === handler);

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('strataState metrics', () => {
  it('counts each event once by outcome, collapsing undeclared names into _unknown, and times it', async () => {
    const server = await startServer([Counter], { metrics: {} });
    const { client } = await join(server, ['counter']);
    for (let seq = 1; seq <= 3; seq++) expect((await call(client, seq, 'counter', 'increment', { by: 1 })).error).toBeUndefined();
    expect((await call(client, 4, 'counter', 'increment', { by: 'x' })).error?.code).toBe('STRATA_STATE_BAD_ARGS');
    expect((await call(client, 5, 'counter', 'refuse')).error?.code).toBe('APP_"ODD"\\CODE\n');
    expect((await call(client, 6, 'counter', 'no-such-handler')).error?.code).toBe('STRATA_STATE_UNKNOWN_HANDLER');
    expect((await call(client, 7, 'nope', 'whatever')).error?.code).toBe('STRATA_STATE_UNKNOWN_STATE');

    const m = server.app.strata.metrics();
    expectTypeOf(m).toEqualTypeOf<StrataMetrics>();
    expect(m.events).toHaveLength(5);
    expect(eventCount(m, 'counter', 'increment', 'ok')).toBe(3);
    expect(eventCount(m, 'counter', 'increment', 'STRATA_STATE_BAD_ARGS')).toBe(1);
    expect(eventCount(m, 'counter', 'refuse', 'APP_"ODD"\\CODE\n')).toBe(1);
    expect(eventCount(m, 'counter', '_unknown', 'STRATA_STATE_UNKNOWN_HANDLER')).toBe(1);
    expect(eventCount(m, '_unknown', '_unknown', 'STRATA_STATE_UNKNOWN_STATE')).toBe(1);
    expect(JSON.stringify(m)).not.toContain('no-such-handler');
    const increments = latency(m, 'counter', 'increment')!;
    expect(increments.count).toBe(4);
    expect(increments.buckets.at(-1)).toEqual({ le: Infinity, count: 4 });
    expect(increments.buckets[0]!.le).toBe(0.0001);
    expect(increments.sum).toBeGreaterThan(0);
    expect(increments.sum).toBeLessThan(4 * 5);
    expect(m.eventSeconds.map((s) => s.count).reduce((a, b) => a + b)).toBe(7);
    expect(m.databaseErrors).toBe(0);

    const response = await server.app.inject({ method: 'GET', url: '/strata/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const parsed = parsePrometheus(response.body);
    checkHistograms(parsed);
    const sample = (name: string, labels: Record<string, string>) => parsed.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(sample('strata_events_total', { state: 'counter', handler: 'increment', outcome: 'ok' })).toBe(3);
    expect(sample('strata_events_total', { state: 'counter', handler: 'refuse', outcome: 'APP_"ODD"\\CODE\n' })).toBe(1);
    expect(response.body).toContain('outcome="APP_\\"ODD\\"\\\\CODE\\n"');
    expect(sample('strata_event_duration_seconds_count', { state: 'counter', handler: 'increment' })).toBe(4);
    expect(sample('strata_event_duration_seconds_bucket', { state: 'counter', handler: 'increment', le: '+Inf' })).toBe(4);
    expect(sample('strata_events_total', { state: '_unknown', handler: '_unknown', outcome: 'STRATA_STATE_UNKNOWN_STATE' })).toBe(1);
    expect(parsed.types.get('strata_event_duration_seconds')).toBe('histogram');
    expect(parsed.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(sample('process_cpu_seconds_total', {})).toBeGreaterThan(0);
    expect(sample('nodejs_heap_used_bytes', {})).toBeGreaterThan(1_000_000);
    expect(sample('strata_redis_errors_total', { kind: 'command' })).toBe(0);

    // One more event moves the numbers by exactly one.
    await call(client, 8, 'counter', 'increment', { by: 1 });
    const after = server.app.strata.metrics();
    expect(eventCount(after, 'counter', 'increment', 'ok')).toBe(4);
    expect(latency(after, 'counter', 'increment')!.count).toBe(5);
  });

  it('counts events refused by the rate limit', async () => {
    const server = await startServer([Counter], { limits: { burst: 1, eventsPerSecond: 0.001, maxStrikes: 100 } });
    const { client } = await join(server, ['counter']);
    await call(client, 1, 'counter', 'increment', { by: 1 });
    expect((await call(client, 2, 'counter', 'increment', { by: 1 })).error?.code).toBe('STRATA_STATE_RATE_LIMITED');
    expect((await call(client, 3, 'nope', 'x')).error?.code).toBe('STRATA_STATE_RATE_LIMITED');
    const m = server.app.strata.metrics();
    expect(eventCount(m, 'counter', 'increment', 'ok')).toBe(1);
    expect(eventCount(m, 'counter', 'increment', 'STRATA_STATE_RATE_LIMITED')).toBe(1);
    expect(eventCount(m, '_unknown', '_unknown', 'STRATA_STATE_RATE_LIMITED')).toBe(1);
  });

  it('follows sockets and tabs as they connect, join and leave', async () => {
    const server = await startServer([Counter]);
    const gauges = () => {
      const { tabs, connectedTabs, openSockets } = server.app.strata.metrics();
      return { tabs, connectedTabs, openSockets };
    };
    expect(gauges()).toEqual({ tabs: 0, connectedTabs: 0, openSockets: 0 });
    const a = await join(server, ['counter']);
    const b = await join(server, ['counter']);
    const lurker = await connect(server.wsUrl, { origin: server.origin });
    await until(() => gauges().openSockets === 3, '3 sockets');
    expect(gauges()).toEqual({ tabs: 2, connectedTabs: 2, openSockets: 3 });
    a.client.socket.close();
    await until(() => gauges().openSockets === 2, 'a socket to close');
    // The tab stays held for its reconnect; it is no longer connected.
    expect(gauges()).toEqual({ tabs: 2, connectedTabs: 1, openSockets: 2 });
    lurker.socket.close();
    b.client.socket.close();
    await until(() => gauges().openSockets === 0, 'every socket to close');
    expect(gauges()).toEqual({ tabs: 2, connectedTabs: 0, openSockets: 0 });
  });

  it('serves the route only with the bearer token, and none without the option', async () => {
    const server = await startServer([Counter], { metrics: { token: TOKEN } });
    const get = (authorization?: string) => server.app.inject({ method: 'GET', url: '/strata/metrics', headers: authorization ? { authorization } : {} });
    expect((await get()).statusCode).toBe(401);
    expect((await get()).headers['www-authenticate']).toBe('Bearer');
    expect((await get(`Bearer ${TOKEN}x`)).statusCode).toBe(401);
    expect((await get(`Bearer ${TOKEN.slice(0, -1)}`)).statusCode).toBe(401);
    expect((await get(`Basic ${TOKEN}`)).statusCode).toBe(401);
    expect((await get(TOKEN)).statusCode).toBe(401);
    const ok = await get(`Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE strata_open_sockets gauge');
    // Over a real socket too.
    expect((await fetch(`${server.origin}/strata/metrics`)).status).toBe(401);
    expect((await fetch(`${server.origin}/strata/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const without = await startServer([Counter]);
    expect((await without.app.inject({ method: 'GET', url: '/strata/metrics' })).statusCode).toBe(404);
    expect(without.app.strata.metrics().openSockets).toBe(0);
    expect(without.app.strata.metricsAddress()).toBeUndefined();
  });

  it('refuses an open route in production and a short token', async () => {
    const refused = async (metrics: object, production: boolean) => {
      const app = fastify({ logger: false });
      try {
        await app.register(strataState, { states: [Counter], secret: SECRET, production, metrics });
        await app.ready();
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code;
      } finally {
        await app.close();
      }
    };
    expect(await refused({}, true)).toBe('STRATA_STATE_DEFINITION');
    expect(await refused({ token: 'short' }, false)).toBe('STRATA_STATE_DEFINITION');
    expect(await refused({ port: 70_000 }, false)).toBe('STRATA_STATE_DEFINITION');
    expect(await refused({ token: TOKEN }, true)).toBeUndefined();
  });

  it('serves /metrics on a separate loopback port without auth, closed with the app', async () => {
    const server = await startServer([Counter], { metrics: { port: 0 } });
    const address = server.app.strata.metricsAddress()!;
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(address).not.toBe(server.origin);
    const { client } = await join(server, ['counter']);
    await call(client, 1, 'counter', 'increment', { by: 1 });
    const response = await fetch(`${address}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const parsed = parsePrometheus(await response.text());
    checkHistograms(parsed);
    expect(parsed.samples.find((s) => s.name === 'strata_events_total')?.value).toBe(1);
    expect((await fetch(`${address}/other`)).status).toBe(404);
    // Only the separate port serves it: the app has no route.
    expect((await server.app.inject({ method: 'GET', url: '/strata/metrics' })).statusCode).toBe(404);
    await server.close();
    await expect(fetch(`${address}/metrics`)).rejects.toThrow();
  });
});

describe('strataState event log', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  /** A real server logging to memory; resolves with its log lines (parsed) and a joined client. */
  async function logged(options: { production: boolean; level: string; log?: false }) {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const app = fastify({ logger: { level: options.level, stream } });
    apps.push(app);
    await app.register(strataState, { states: [Counter], secret: SECRET, production: options.production, ...(options.log === false ? { log: false as const } : {}) });
    app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    const server = { app, origin, wsUrl: `${origin.replace('http', 'ws')}/strata/ws`, token: async () => ((await app.inject({ method: 'GET', url: '/page' })).json() as { token: string }).token, close: async () => undefined } satisfies TestServer;
    const { client, welcome } = await join(server, ['counter']);
    const events = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'event');
    return { client, tab: welcome.tab, lines, events };
  }

  it('writes one info line per event in production, with no argument values', async () => {
    const { client, tab, lines, events } = await logged({ production: true, level: 'debug' });
    await call(client, 1, 'counter', 'increment', { by: 987654321 });
    await call(client, 2, 'counter', 'increment', { by: 'secret-argument-value' });
    await call(client, 3, 'counter', 'no-such-handler', { password: 'hunter2' });
    const logged3 = events();
    expect(logged3).toHaveLength(3);
    expect(logged3[0]).toMatchObject({ level: 30, msg: 'event', tab, state: 'counter', handler: 'increment', outcome: 'ok' });
    expect(Object.keys(logged3[0]!).filter((key) => !['level', 'time', 'pid', 'hostname'].includes(key)).sort()).toEqual(['handler', 'ms', 'msg', 'outcome', 'state', 'tab']);
    expect(typeof logged3[0]!.ms).toBe('number');
    expect(logged3[0]!.ms as number).toBeGreaterThanOrEqual(0);
    expect(logged3[1]).toMatchObject({ outcome: 'STRATA_STATE_BAD_ARGS', handler: 'increment' });
    expect(logged3[2]).toMatchObject({ outcome: 'STRATA_STATE_UNKNOWN_HANDLER', state: 'counter', handler: '_unknown' });
    const all = lines.join('\n');
    for (const secret of ['987654321', 'secret-argument-value', 'hunter2', 'no-such-handler']) expect(all).not.toContain(secret);
  });

  it('adds the arguments in development at debug level only, and writes nothing with log: false', async () => {
    const debug = await logged({ production: false, level: 'debug' });
    await call(debug.client, 1, 'counter', 'increment', { by: 5 });
    expect(debug.events()).toEqual([expect.objectContaining({ level: 20, state: 'counter', handler: 'increment', outcome: 'ok', args: { by: 5 } })]);

    const info = await logged({ production: false, level: 'info' });
    await call(info.client, 1, 'counter', 'increment', { by: 5 });
    expect(info.events()).toEqual([expect.objectContaining({ level: 30, outcome: 'ok' })]);
    expect(info.events()[0]).not.toHaveProperty('args');

    const silent = await logged({ production: false, level: 'debug', log: false });
    await call(silent.client, 1, 'counter', 'increment', { by: 5 });
    expect(silent.events()).toEqual([]);
    expect(silent.lines.length).toBeGreaterThan(0);
  });
});

describe('strataState live-update metrics (sqlite)', () => {
  const sqlite = databases.find((db) => db.name === 'sqlite')!;
  beforeAll(() => sqlite.open([Category, Product]));
  afterAll(() => sqlite.close());

  it('counts one live-update job per tab and change burst', async () => {
    const server = await startServer([Products], { middleware: [user] });
    const teaId = (await Category.objects.create({ name: 'Tea' })).id;
    const sencha = await Product.objects.create({ name: 'Sencha', price: '12.50', owner: 1, categoryId: teaId });
    const tabs = [];
    for (let i = 0; i < 2; i++) {
      const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'uid=1' } });
      client.send({ t: 'join', v: 1, token: await server.token(), states: ['products'] });
      await client.next((f) => f.t === 'welcome');
      await call(client, 1, 'products', 'load', { pageSize: 10 });
      tabs.push(client);
    }
    expect(server.app.strata.metrics().liveUpdateJobs).toEqual({ ok: 0, failed: 0 });
    await Product.objects.filter({ id: (sencha as { id: number }).id }).update({ price: '13.00' });
    for (const client of tabs) await client.next((f) => f.t === 'patch');
    await until(() => server.app.strata.metrics().liveUpdateJobs.ok === 2, 'two live jobs');
    expect(server.app.strata.metrics().liveUpdateJobs).toEqual({ ok: 2, failed: 0 });
  });
});

describe.skipIf(!process.env.STRATA_TEST_PG_URL)('strataState database error metrics (postgres)', () => {
  const postgres = databases.find((db) => db.name === 'postgres')!;
  beforeAll(() => postgres.open([Category, Product]));
  afterAll(() => postgres.close());

  it('counts an event whose database connection was lost, and not an ordinary failure', async () => {
    const Db = defineState('db', {
      vars: () => ({}),
      handlers: (h) => ({
        // The query ends its own connection: the driver's real "terminating connection" error.
        dropConnection: h.event({ run: async () => void (await getRegistry().run((db) => db.execute('select pg_terminate_backend(pg_backend_pid())'))) }),
        count: h.event({ run: async () => Product.objects.count() }),
      }),
    });
    const server = await startServer([Db, Counter], { metrics: {} });
    const { client } = await join(server, ['db', 'counter']);
    expect((await call(client, 1, 'db', 'count')).error).toBeUndefined();
    expect((await call(client, 2, 'counter', 'crash')).error?.code).toBe('STRATA_STATE_HANDLER_FAILED');
    expect(server.app.strata.metrics().databaseErrors).toBe(0);
    expect((await call(client, 3, 'db', 'dropConnection')).error?.code).toBe('STRATA_MODEL_UNAVAILABLE');
    const m = server.app.strata.metrics();
    expect(m.databaseErrors).toBe(1);
    expect(eventCount(m, 'db', 'dropConnection', 'STRATA_MODEL_UNAVAILABLE')).toBe(1);
    expect((await server.app.inject({ method: 'GET', url: '/strata/metrics' })).body).toContain('\nstrata_database_errors_total 1\n');
    // The pool replaces the lost connection.
    expect((await call(client, 4, 'db', 'count')).error).toBeUndefined();
  });
});

describe.skipIf(!REDIS_URL)('strataState Redis error metrics', () => {
  it('counts failed Redis commands and publishes, and the events they failed', async () => {
    const redis = new Redis(REDIS_URL!, redisFailFastOptions);
    redis.on('error', () => undefined);
    const manager = createRedisStateManager({ redis, prefix: `strata-test-metrics:${process.pid}:` });
    let server: TestServer | undefined;
    try {
      server = await startServer([Counter], { manager: manager as never, metrics: {} });
      const { client } = await join(server, ['counter']);
      expect((await call(client, 1, 'counter', 'increment', { by: 1 })).error).toBeUndefined();
      expect(server.app.strata.metrics().redisErrors).toEqual({ command: 0, connection: 0 });
      redis.disconnect();
      expect((await call(client, 2, 'counter', 'increment', { by: 1 })).error?.code).toBe('STRATA_STATE_UNAVAILABLE');
      server.app.strata.broadcast('topic', { x: 1 });
      await until(() => server!.app.strata.metrics().redisErrors.command >= 2, 'the failed publish');
      const m = server.app.strata.metrics();
      expect(m.redisErrors.command).toBe(2);
      expect(eventCount(m, 'counter', 'increment', 'STRATA_STATE_UNAVAILABLE')).toBe(1);
      expect(eventCount(m, 'counter', 'increment', 'ok')).toBe(1);
      const text = (await server.app.inject({ method: 'GET', url: '/strata/metrics' })).body;
      expect(text).toContain('\nstrata_redis_errors_total{kind="command"} 2\n');
    } finally {
      await server?.close();
      redis.disconnect();
    }
  });
});
