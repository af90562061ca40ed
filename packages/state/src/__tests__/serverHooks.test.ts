import { randomBytes } from 'node:crypto';
import { atomic } from '@strata/model';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import * as v from 'valibot';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConnectionInfo, createRedisStateManager, defineState, type StrataStateServer } from '../server.js';
import { databases } from './modelStateDb.js';
import { Category, Product } from './modelStateFixtures.js';
import { call, connect, type RawClient, startServer, type TestServer } from './serverHelpers.js';

const url = process.env.STRATA_TEST_REDIS_URL;
if (!url) console.log('serverHooks.test: STRATA_TEST_REDIS_URL is not set; the tests across workers sharing Redis are skipped.');

type ModelChange = Parameters<Parameters<StrataStateServer['onModelChange']>[0]>[0];

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => (s.count += by) }),
    slow: h.event(async (s) => {
      await sleep(300);
      s.count += 1;
    }),
  }),
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The session id a page's cookie carries: what `bindToken` ties join tokens to. */
const sid = (request: FastifyRequest) => request.headers.cookie?.match(/sid=(\w+)/)?.[1];
/** The part of a request that `issueToken` and `bindToken` read. */
const requestWith = (cookie: string) => ({ headers: { cookie } }) as unknown as FastifyRequest;

/** A socket of a page sending `cookie` (none when omitted) that joins with `token`. */
async function joinAs(server: TestServer, token: string, cookie?: string): Promise<RawClient> {
  const client = await connect(server.wsUrl, { origin: server.origin, headers: cookie === undefined ? {} : { cookie } });
  client.send({ t: 'join', v: 1, token, states: ['counter'] });
  return client;
}

async function welcomeOf(client: RawClient): Promise<{ tab: string; token: string; ack: number }> {
  return (await client.next((f) => f.t === 'welcome')) as never;
}

/** How a join that should be refused ended: the close code and the error frame's code (or `joined`). */
async function refusal(client: RawClient): Promise<{ code: number; error: string | undefined } | 'joined'> {
  const closed = client.closed.then(({ code }) => {
    const error = client.frames.find((f) => f.t === 'error');
    return { code, error: error?.t === 'error' ? error.error.code : undefined };
  });
  const joined = client.next((f) => f.t === 'welcome', 2000).then(() => 'joined' as const, () => closed);
  return Promise.race([closed, joined]);
}

const badToken = { code: 4401, error: 'STRATA_STATE_BAD_TOKEN' };

describe('issueToken', () => {
  it('joins a token issued with { bind } only on a socket whose bindToken gives that binding', async () => {
    const server = await startServer([Counter], { bindToken: sid });
    // The response that sets the new session cookie: the request still carries the old one.
    const token = server.app.strata.issueToken(requestWith('sid=old'), { bind: 'new' });
    expect(await refusal(await joinAs(server, token, 'sid=old'))).toEqual(badToken);
    expect(await refusal(await joinAs(server, token))).toEqual(badToken);

    const client = await joinAs(server, token, 'sid=new');
    const welcome = await welcomeOf(client);
    expect(await call(client, 1, 'counter', 'increment', { by: 2 })).toMatchObject({ value: 2 });
    // The reconnect token from the welcome keeps the binding.
    client.socket.close();
    expect(await refusal(await joinAs(server, welcome.token, 'sid=old'))).toEqual(badToken);
    const again = await welcomeOf(await joinAs(server, welcome.token, 'sid=new'));
    expect(again).toMatchObject({ tab: welcome.tab, ack: 1 });
  });

  it('binds a token issued without { bind } to the request’s own binding', async () => {
    const server = await startServer([Counter], { bindToken: sid });
    const page = await server.app.inject({ method: 'GET', url: '/page', headers: { cookie: 'sid=old' } });
    const { token } = page.json() as { token: string };
    expect(await refusal(await joinAs(server, token, 'sid=new'))).toEqual(badToken);
    expect(await refusal(await joinAs(server, token))).toEqual(badToken);
    await welcomeOf(await joinAs(server, token, 'sid=old'));
  });
});

describe('endTabs', () => {
  it('closes the matching joined sockets with 4403, forgets their tabs and returns how many', async () => {
    const server = await startServer([Counter]);
    const alice = await joinAs(server, await server.token(), 'sid=alice');
    const aliceWelcome = await welcomeOf(alice);
    const aliceAgain = await joinAs(server, await server.token(), 'sid=alice');
    await welcomeOf(aliceAgain);
    const bob = await joinAs(server, await server.token(), 'sid=bob');
    await welcomeOf(bob);
    // Upgraded with alice's cookie, but not joined: no tab to end.
    const unjoined = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'sid=alice' } });
    expect(await call(alice, 1, 'counter', 'increment', { by: 1 })).toMatchObject({ value: 1 });
    expect(server.app.strata.stats()).toEqual({ tabs: 3, connections: 4 });

    expect(server.app.strata.endTabs((info) => info.cookies.sid === 'alice', 'Signed out elsewhere.')).toBe(2);
    expect(await alice.closed).toEqual({ code: 4403, reason: 'Signed out elsewhere.' });
    expect(await aliceAgain.closed).toEqual({ code: 4403, reason: 'Signed out elsewhere.' });
    expect(server.app.strata.stats().tabs).toBe(1);
    expect(await call(bob, 1, 'counter', 'increment', { by: 5 })).toMatchObject({ value: 5 });
    expect(unjoined.socket.readyState).toBe(unjoined.socket.OPEN);

    // The tab is gone: its reconnect token finds nothing to rejoin.
    expect(await refusal(await joinAs(server, aliceWelcome.token, 'sid=alice'))).toEqual({ code: 4410, error: 'STRATA_STATE_TAB_EXPIRED' });
  });

  it('gives match the upgrade facts of each joined socket and closes with "The session ended." by default', async () => {
    const server = await startServer([Counter]);
    const client = await joinAs(server, await server.token(), 'sid=alice');
    const welcome = await welcomeOf(client);
    const seen: ConnectionInfo[] = [];
    expect(server.app.strata.endTabs((info) => (seen.push(info), true))).toBe(1);
    expect(seen).toEqual([expect.objectContaining({ tab: welcome.tab, cookies: { sid: 'alice' }, origin: server.origin })]);
    expect(await client.closed).toEqual({ code: 4403, reason: 'The session ended.' });
  });

  it('answers the event a tab was running when it ended, runs none queued behind it, and forgets the tab', async () => {
    const server = await startServer([Counter]);
    const client = await joinAs(server, await server.token(), 'sid=alice');
    const welcome = await welcomeOf(client);
    client.send({ t: 'event', seq: 1, state: 'counter', handler: 'slow' });
    client.send({ t: 'event', seq: 2, state: 'counter', handler: 'increment', args: { by: 10 } });
    await sleep(100);
    expect(server.app.strata.endTabs(() => true)).toBe(1);
    expect((await client.closed).code).toBe(4403);
    const results = client.frames.filter((f) => f.t === 'result');
    expect(results).toEqual([expect.objectContaining({ seq: 1, patch: { counter: [expect.objectContaining({ path: ['count'], value: 1 })] } })]);
    await sleep(400);
    expect(server.app.strata.stats().tabs).toBe(0);
    expect(await refusal(await joinAs(server, welcome.token, 'sid=alice'))).toEqual({ code: 4410, error: 'STRATA_STATE_TAB_EXPIRED' });
  });

  it('does not count a tab again when called twice before its socket has closed', async () => {
    const server = await startServer([Counter]);
    await welcomeOf(await joinAs(server, await server.token(), 'sid=alice'));
    expect(server.app.strata.endTabs(() => true)).toBe(1);
    expect(server.app.strata.endTabs(() => true)).toBe(0);
  });
});

describe('broadcast', () => {
  it('delivers to this worker’s listeners of the topic once, at once, until they unsubscribe', async () => {
    const server = await startServer([Counter]);
    const heard: unknown[] = [];
    const stop = server.app.strata.onBroadcast('session.ended', (payload) => heard.push(payload));
    const otherTopic = vi.fn();
    server.app.strata.onBroadcast('other', otherTopic);

    server.app.strata.broadcast('session.ended', { sid: 'alice' });
    expect(heard).toEqual([{ sid: 'alice' }]);
    expect(otherTopic).not.toHaveBeenCalled();
    stop();
    server.app.strata.broadcast('session.ended', { sid: 'bob' });
    await sleep(20);
    expect(heard).toEqual([{ sid: 'alice' }]);
  });

  it('still delivers to the other listeners when one throws', async () => {
    const server = await startServer([Counter]);
    const heard = vi.fn();
    server.app.strata.onBroadcast('topic', () => {
      throw new Error('listener failed');
    });
    server.app.strata.onBroadcast('topic', heard);
    expect(() => server.app.strata.broadcast('topic', 1)).not.toThrow();
    expect(heard.mock.calls).toEqual([[1]]);
  });
});

describe('onModelChange', () => {
  const db = databases[0]!;
  beforeEach(() => db.open([Category, Product]));
  afterEach(() => db.close());

  async function listening(): Promise<{ heard: ModelChange[]; stop: () => void }> {
    const server = await startServer([Counter]);
    const heard: ModelChange[] = [];
    return { heard, stop: server.app.strata.onModelChange((change) => heard.push(change)) };
  }

  it('hears a committed create with its model and primary key', async () => {
    const { heard } = await listening();
    const row = (await Product.objects.create({ name: 'Tea', price: '1.00', owner: 1 })) as { id: number };
    await vi.waitFor(() => expect(heard).toEqual([{ type: 'created', model: 'ms.Product', pks: [row.id] }]));
  });

  it('does not hear a rolled-back transaction', async () => {
    const { heard } = await listening();
    await expect(atomic(async () => {
      await Product.objects.create({ name: 'Rolled back', price: '1.00', owner: 1 });
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    const row = (await Product.objects.create({ name: 'Kept', price: '1.00', owner: 1 })) as { id: number };
    await vi.waitFor(() => expect(heard.length).toBeGreaterThan(0));
    await sleep(50);
    expect(heard).toEqual([{ type: 'created', model: 'ms.Product', pks: [row.id] }]);
  });

  it('hears nothing after unsubscribing', async () => {
    const { heard, stop } = await listening();
    stop();
    await Product.objects.create({ name: 'Unheard', price: '1.00', owner: 1 });
    await sleep(50);
    expect(heard).toEqual([]);
  });
});

describe.skipIf(!url)('across workers sharing Redis', () => {
  const prefix = `strata-test:${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  beforeEach(() => {
    redis = new Redis(url!);
  });
  afterEach(() => redis.disconnect());
  afterAll(async () => {
    const cleanup = new Redis(url!);
    const keys = await cleanup.keys(`${prefix}*`);
    if (keys.length) await cleanup.del(...keys);
    cleanup.disconnect();
  });

  const worker = () => startServer([Counter], { manager: createRedisStateManager({ redis: url!, prefix }) as never });

  /** Waits until `count` connections are subscribed to `channel`: a message published earlier is lost. */
  async function subscribers(channel: string, count: number): Promise<void> {
    await vi.waitFor(async () => {
      const [, subscribed] = (await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      expect(subscribed).toBeGreaterThanOrEqual(count);
    });
  }

  it('delivers a broadcast to the other worker once, and to its own worker once (not again through Redis)', async () => {
    const [a, b] = [await worker(), await worker()];
    const heardA: unknown[] = [];
    const heardB: unknown[] = [];
    a.app.strata.onBroadcast('session.ended', (payload) => heardA.push(payload));
    b.app.strata.onBroadcast('session.ended', (payload) => heardB.push(payload));
    await subscribers(`${prefix}signals`, 2);

    a.app.strata.broadcast('session.ended', { sid: 'alice' });
    expect(heardA).toEqual([{ sid: 'alice' }]);
    await vi.waitFor(() => expect(heardB).toHaveLength(1));
    b.app.strata.broadcast('session.ended', { sid: 'bob' });
    await vi.waitFor(() => expect(heardA).toHaveLength(2));
    await sleep(100);
    expect(heardA).toEqual([{ sid: 'alice' }, { sid: 'bob' }]);
    expect(heardB).toEqual([{ sid: 'alice' }, { sid: 'bob' }]);
  });

  it('hears a model change another worker published', async () => {
    const server = await worker();
    const heard: ModelChange[] = [];
    server.app.strata.onModelChange((change) => heard.push(change));
    await subscribers(`${prefix}changes`, 1);
    await redis.publish(`${prefix}changes`, JSON.stringify({ type: 'updated', model: 'ms.Product', pks: [1] }));
    await vi.waitFor(() => expect(heard).toHaveLength(1));
    await sleep(100);
    expect(heard).toEqual([{ type: 'updated', model: 'ms.Product', pks: [1] }]);
  });

  it('hears its own worker’s commit once', async () => {
    const db = databases[0]!;
    await db.open([Category, Product]);
    try {
      const server = await worker();
      const heard: ModelChange[] = [];
      server.app.strata.onModelChange((change) => heard.push(change));
      await subscribers(`${prefix}changes`, 1);
      const row = (await Product.objects.create({ name: 'Local', price: '1.00', owner: 1 })) as { id: number };
      await vi.waitFor(() => expect(heard).toHaveLength(1));
      await sleep(100);
      expect(heard).toEqual([{ type: 'created', model: 'ms.Product', pks: [row.id] }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a rejoin on another worker to a tab ended there', async () => {
    const [a, b] = [await worker(), await worker()];
    const client = await joinAs(a, await a.token(), 'sid=alice');
    const welcome = await welcomeOf(client);
    expect(await call(client, 1, 'counter', 'increment', { by: 1 })).toMatchObject({ value: 1 });
    expect(a.app.strata.endTabs(() => true)).toBe(1);
    expect((await client.closed).code).toBe(4403);
    expect(await refusal(await joinAs(b, welcome.token, 'sid=alice'))).toEqual({ code: 4410, error: 'STRATA_STATE_TAB_EXPIRED' });
  });

  it('forgets a tab ended while one of its events runs (its save does not bring the tab back)', async () => {
    const [a, b] = [await worker(), await worker()];
    const client = await joinAs(a, await a.token(), 'sid=alice');
    const welcome = await welcomeOf(client);
    client.send({ t: 'event', seq: 1, state: 'counter', handler: 'slow' });
    await sleep(100);
    expect(a.app.strata.endTabs(() => true)).toBe(1);
    expect((await client.closed).code).toBe(4403);
    // The event's save has come and gone.
    await sleep(400);
    expect(await refusal(await joinAs(b, welcome.token, 'sid=alice'))).toEqual({ code: 4410, error: 'STRATA_STATE_TAB_EXPIRED' });
  });
});
