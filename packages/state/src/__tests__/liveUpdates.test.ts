import { atomic } from '@strata/model';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { defineState, type Middleware, type Patch, type ServerFrame } from '../server.js';
import { Category, Product, Products, user } from './modelStateFixtures.js';
import { databases } from './modelStateDb.js';
import { call, connect, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type PatchFrame = Extract<ServerFrame, { t: 'patch' }>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(databases)('live updates on $name', (db) => {
  let server: TestServer;
  let teaId: number;
  beforeAll(async () => {
    await db.open([Category, Product]);
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    server = await startServer([Products], { middleware: [user] });
    await Product.objects.delete();
    await Category.objects.delete();
    teaId = (await Category.objects.create({ name: 'Tea' })).id;
    await Product.objects.bulkCreate([
      { name: 'Sencha', price: '12.50', owner: 1, categoryId: teaId },
      { name: 'Hojicha', price: '9.00', owner: 2, categoryId: teaId },
    ]);
  });

  /** A tab of user `uid` showing the products page. */
  async function loadedTab(uid: number): Promise<RawClient> {
    const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: `uid=${uid}` } });
    client.send({ t: 'join', v: 1, token: await server.token(), states: ['products'] });
    await client.next((f) => f.t === 'welcome');
    await call(client, 1, 'products', 'load', { pageSize: 10 });
    return client;
  }
  const patches = (client: RawClient) => client.frames.filter((f): f is PatchFrame => f.t === 'patch');
  const text = (client: RawClient) => JSON.stringify(patches(client));

  it('sends a committed change to every tab that shows the row, through each tab’s own scope', async () => {
    const [alice, aliceAgain, bob] = [await loadedTab(1), await loadedTab(1), await loadedTab(2)];
    const sencha = (await Product.objects.get({ name: 'Sencha' })) as { id: number };
    await Product.objects.filter({ id: sencha.id }).update({ price: '13.00' });
    for (const tab of [alice, aliceAgain]) {
      const frame = (await tab.next((f) => f.t === 'patch')) as PatchFrame;
      expect(frame.patch.products).toEqual([{ op: 'set', path: ['list', [sencha.id], 'price'], value: '13.00' }] satisfies Patch);
    }
    await Product.objects.create({ name: 'Gyokuro', price: '30.00', owner: 1, categoryId: teaId });
    const inserted = (await alice.next((f) => f.t === 'patch')) as PatchFrame;
    expect(JSON.stringify(inserted.patch.products)).toContain('Gyokuro');
    await sleep(100);
    // Bob's scope holds none of Alice's rows: he hears nothing of them, not even their names.
    expect(patches(bob)).toEqual([]);
    expect(text(bob)).not.toContain('Sencha');
  });

  it('removes a row from a tab when it leaves that tab’s scope', async () => {
    const alice = await loadedTab(1);
    const sencha = (await Product.objects.get({ name: 'Sencha' })) as { id: number };
    await Product.objects.filter({ id: sencha.id }).update({ owner: 2 });
    const frame = (await alice.next((f) => f.t === 'patch')) as PatchFrame;
    expect(frame.patch.products).toEqual(expect.arrayContaining([{ op: 'rm', path: ['list'], key: sencha.id }]));
  });

  it('coalesces a burst into a bounded number of reloads per tab', async () => {
    const alice = await loadedTab(1);
    await atomic(async () => {
      for (let i = 0; i < 30; i++) await Product.objects.create({ name: `Burst ${i}`, price: '1.00', owner: 1, categoryId: teaId });
    });
    await alice.next((f) => f.t === 'patch');
    await sleep(150);
    // 30 change events, one transaction: the first reload already sees all of them.
    expect(patches(alice).length).toBeLessThanOrEqual(2);
    alice.send({ t: 'sub', states: ['products'] });
    const state = (await alice.next((f) => f.t === 'state')) as unknown as { states: { products: { total: number } } };
    expect(state.states.products.total).toBe(31);
  });

  it('updates a tab that loaded its page through dispatch as well', async () => {
    const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'uid=1' } });
    client.send({ t: 'join', v: 1, token: await server.token(), states: ['products'] });
    await client.next((f) => f.t === 'welcome');
    await call(client, 1, 'products', 'dispatch', { action: 'load', payload: { pageSize: 10 } });
    await Product.objects.create({ name: 'Dispatched', price: '1.00', owner: 1, categoryId: teaId });
    const frame = (await client.next((f) => f.t === 'patch')) as PatchFrame;
    expect(JSON.stringify(frame.patch.products)).toContain('Dispatched');
  });

  it('sends nothing to a tab that never loaded the page', async () => {
    const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: 'uid=1' } });
    client.send({ t: 'join', v: 1, token: await server.token(), states: ['products'] });
    await client.next((f) => f.t === 'welcome');
    await Product.objects.create({ name: 'Unseen', price: '1.00', owner: 1, categoryId: teaId });
    await sleep(100);
    expect(patches(client)).toEqual([]);
  });

  it('runs at most liveConcurrency reloads at once, and every tab still gets its patch', async () => {
    let running = 0;
    let most = 0;
    const slowScope: Middleware = async (ctx, next) => {
      if (ctx.handler !== '$live') return next();
      running++;
      most = Math.max(most, running);
      await sleep(10);
      try {
        await next();
      } finally {
        running--;
      }
    };
    server = await startServer([Products], { middleware: [user, slowScope], liveConcurrency: 2 });
    const tabs = await Promise.all(Array.from({ length: 6 }, () => loadedTab(1)));
    await Product.objects.filter({ name: 'Sencha' }).update({ price: '13.00' });
    await Promise.all(tabs.map((tab) => tab.next((f) => f.t === 'patch')));
    expect(most).toBe(2);
    for (const tab of tabs) expect(text(tab)).toContain('13.00');
  });

  it('queues no job for a tab whose state’s filter says the change does not concern it', async () => {
    const runs: number[] = [];
    const Watch = defineState('watch', {
      vars: () => ({ id: 0 }),
      live: {
        models: [Product],
        filter: (s, change) => change.pks.includes(s.id),
        onChange: (s) => void runs.push(s.id),
      },
      handlers: (h) => ({ watch: h.event({ args: v.object({ id: v.number() }), run: (s, { id }) => void (s.id = id) }) }),
    });
    server = await startServer([Watch], { middleware: [user] });
    const [sencha, hojicha] = [await Product.objects.get({ name: 'Sencha' }), await Product.objects.get({ name: 'Hojicha' })];
    const [a, b] = [await connect(server.wsUrl, { origin: server.origin }), await connect(server.wsUrl, { origin: server.origin })];
    for (const [client, id] of [[a, sencha.id], [b, hojicha.id]] as const) {
      client.send({ t: 'join', v: 1, token: await server.token(), states: ['watch'] });
      await client.next((f) => f.t === 'welcome');
      await call(client, 1, 'watch', 'watch', { id });
    }
    await Product.objects.filter({ id: sencha.id }).update({ price: '13.00' });
    await sleep(100);
    expect(runs).toEqual([sencha.id]);
  });
});
