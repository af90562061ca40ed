import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineModelState } from '../server.js';
import { Category, countQueries, Guarded, Hooked, hookLog, Product, ProductSerializer, Products, queries, user } from './modelStateFixtures.js';
import { databases } from './modelStateDb.js';
import { call, connect, type RawClient, startServer, type TestServer } from './serverHelpers.js';

describe.each(databases)('ModelState on $name', (db) => {
  let server: TestServer;
  let tea: { id: number };
  beforeAll(async () => {
    await db.open([Category, Product]);
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    server = await startServer([Products, Guarded, Hooked], { middleware: [user, countQueries] });
    await Product.objects.delete();
    await Category.objects.delete();
    tea = await Category.objects.create({ name: 'Tea' });
    const cups = await Category.objects.create({ name: 'Cups' });
    await Product.objects.bulkCreate([
      { name: 'Sencha', price: '12.50', stock: 3, owner: 1, categoryId: tea.id },
      { name: 'Matcha', price: '20.00', stock: 0, owner: 1, categoryId: tea.id },
      { name: 'Mug', price: '8.00', stock: 5, owner: 1, categoryId: cups.id },
      { name: 'Hojicha', price: '9.00', stock: 1, owner: 2, categoryId: tea.id },
    ]);
  });

  async function tab(uid: number): Promise<RawClient> {
    const client = await connect(server.wsUrl, { origin: server.origin, headers: { cookie: `uid=${uid}` } });
    client.send({ t: 'join', v: 1, token: await server.token(), states: ['products'] });
    await client.next((f) => f.t === 'welcome');
    return client;
  }
  const state = async (client: RawClient) => {
    client.send({ t: 'sub', states: ['products'] });
    const frame = (await client.next((f) => f.t === 'state')) as unknown as { states: { products: Record<string, unknown> } };
    return frame.states.products as { list: { id: number; name: string; version: number }[]; total: number; page: number; editing: unknown; fieldErrors: Record<string, string[]>; error: unknown };
  };

  it('lists a page of the tab’s own rows, ordered, searched and filtered over allow-listed fields', async () => {
    const client = await tab(1);
    expect(await call(client, 1, 'products', 'load')).toMatchObject({ seq: 1 });
    let s = await state(client);
    expect(s.total).toBe(3);
    expect(s.list.map((p) => p.name)).toEqual(['Matcha', 'Mug']);
    expect(s.list[0]).toMatchObject({ price: '20.00', category: { name: 'Tea' } });
    await call(client, 2, 'products', 'load', { ordering: ['-price'], page: 1 });
    expect((await state(client)).list.map((p) => p.name)).toEqual(['Matcha', 'Sencha']);
    await call(client, 3, 'products', 'load', { search: 'CHA', filters: { categoryId: tea.id }, ordering: ['name'] });
    s = await state(client);
    expect([s.total, s.list.map((p) => p.name)]).toEqual([2, ['Matcha', 'Sencha']]);
  });

  it('refuses ordering, filters and page sizes outside what it declares, running nothing', async () => {
    const client = await tab(1);
    for (const [seq, args] of [
      [1, { ordering: ['owner'] }],
      [2, { ordering: ['-stock'] }],
      [3, { filters: { owner: 2 } }],
      [4, { pageSize: 1e9 }],
      [5, { page: -1 }],
      [6, { page: 0 }],
      [7, { where: { owner: 2 } }],
    ] as const) {
      expect(await call(client, seq, 'products', 'load', args)).toMatchObject({ seq, error: { code: 'STRATA_STATE_BAD_ARGS' } });
    }
    expect((await state(client)).total).toBe(0);
  });

  it('costs the same number of queries for a page of 1 and of 100 rows', async () => {
    await Product.objects.bulkCreate(Array.from({ length: 120 }, (_, i) => ({ name: `P${i}`, price: '1.00', owner: 1, categoryId: tea.id })));
    const client = await tab(1);
    queries.length = 0;
    await call(client, 1, 'products', 'load', { pageSize: 1 });
    await call(client, 2, 'products', 'load', { pageSize: 100 });
    expect((await state(client)).list).toHaveLength(100);
    expect(queries[0]).toBe(queries[1]);
    expect(queries[0]).toBeLessThanOrEqual(3);
  });

  it('treats another user’s rows as not found for edit, save and delete, and writes nothing', async () => {
    const theirs = (await Product.objects.get({ name: 'Hojicha' })) as { id: number };
    const client = await tab(1);
    expect(await call(client, 1, 'products', 'startEdit', { id: theirs.id })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await call(client, 2, 'products', 'save', { id: theirs.id, data: { name: 'Mine now' }, version: 1 })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await call(client, 3, 'products', 'delete', { id: theirs.id })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await call(client, 4, 'products', 'dispatch', { action: 'delete', payload: { id: theirs.id } })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await Product.objects.get({ id: theirs.id })).toMatchObject({ name: 'Hojicha' });
  });

  it('creates and updates through the serializer; read-only fields are field errors and nothing is written', async () => {
    const client = await tab(1);
    const created = await call(client, 1, 'products', 'save', { data: { name: 'Gyokuro', price: '30.00', categoryId: tea.id } });
    expect(created).toMatchObject({ value: { ok: true, row: { name: 'Gyokuro', owner: 1, version: 1 } } });
    const row = (created.value as { row: { id: number } }).row;
    const refused = await call(client, 2, 'products', 'save', { id: row.id, data: { stock: 99, owner: 2 }, version: 1 });
    expect(refused.value).toMatchObject({ ok: false, fieldErrors: { stock: expect.any(Array), owner: expect.any(Array) } });
    expect((await state(client)).fieldErrors).toHaveProperty('stock');
    expect(await Product.objects.get({ id: row.id })).toMatchObject({ stock: 0, owner: 1, version: 1 });
    const updated = await call(client, 3, 'products', 'dispatch', { action: 'save', payload: { id: row.id, data: { price: '31.00' }, version: 1 } });
    expect(updated.value).toMatchObject({ ok: true, row: { price: '31.00', version: 2 } });
  });

  it('refuses a save from a stale edit with the current row, instead of overwriting', async () => {
    const mine = (await Product.objects.get({ name: 'Sencha' })) as { id: number };
    const [alice, alsoAlice] = [await tab(1), await tab(1)];
    await call(alice, 1, 'products', 'startEdit', { id: mine.id });
    await call(alsoAlice, 1, 'products', 'save', { id: mine.id, data: { price: '13.00' }, version: 1 });
    const stale = await call(alice, 2, 'products', 'save', { id: mine.id, data: { price: '99.00' }, version: 1 });
    expect(stale).toMatchObject({ value: { ok: false, conflict: { price: '13.00', version: 2 } } });
    const s = await state(alice);
    expect(s.editing).toMatchObject({ price: '13.00', version: 2 });
    expect(s.error).toMatchObject({ code: 'STRATA_STATE_CONFLICT' });
    expect(await Product.objects.get({ id: mine.id })).toMatchObject({ price: '13.00', version: 2 });
  });

  it('runs no action its guard denies, and tells the client why', async () => {
    const hojicha = (await Product.objects.get({ name: 'Hojicha' })) as { id: number };
    const client = await tab(2);
    expect(await call(client, 1, 'guarded', 'delete', { id: hojicha.id })).toMatchObject({ error: { code: 'TEST_STAFF_ONLY', message: 'Staff only.' } });
    expect(await call(client, 2, 'guarded', 'dispatch', { action: 'delete', payload: { id: hojicha.id } })).toMatchObject({ error: { code: 'TEST_STAFF_ONLY' } });
    expect(await call(client, 3, 'guarded', 'save', { id: hojicha.id, data: { name: 'x' }, version: 1 })).toMatchObject({ error: { code: 'TEST_STAFF_ONLY' } });
    expect(await Product.objects.get({ id: hojicha.id })).toMatchObject({ name: 'Hojicha' });
    // Creating is not guarded here, but the owner column has no value: a field error, nothing written.
    const created = await call(client, 4, 'guarded', 'save', { data: { name: 'New', price: '1.00' } });
    expect(created).toMatchObject({ value: { ok: false, fieldErrors: { owner: expect.any(Array) } } });
    expect(await Product.objects.filter({ name: 'New' }).count()).toBe(0);
  });

  it('runs custom actions as handlers and through dispatch, scoped, validated and guarded like the built-in ones', async () => {
    const sencha = (await Product.objects.get({ name: 'Sencha' })) as { id: number };
    const theirs = (await Product.objects.get({ name: 'Hojicha' })) as { id: number };
    const client = await tab(1);
    await call(client, 1, 'products', 'load', { pageSize: 3 });
    expect(await call(client, 2, 'products', 'restock', { id: sencha.id, by: 2 })).toMatchObject({ value: { stock: 5, shown: 3 } });
    expect(await call(client, 3, 'products', 'dispatch', { action: 'restock', payload: { id: sencha.id, by: 1 } })).toMatchObject({ value: { stock: 6 } });
    expect((await state(client)).list.find((p) => p.id === sencha.id)).toMatchObject({ stock: 6 });
    expect(await call(client, 4, 'products', 'restock', { id: theirs.id, by: 5 })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await call(client, 5, 'products', 'dispatch', { action: 'restock', payload: { id: theirs.id, by: 5 } })).toMatchObject({ error: { code: 'STRATA_MODEL_NOT_FOUND' } });
    expect(await call(client, 6, 'products', 'restock', { id: sencha.id, by: 1e6 })).toMatchObject({ error: { code: 'STRATA_STATE_BAD_ARGS' } });
    expect(await call(client, 7, 'products', 'dispatch', { action: 'restock', payload: { id: sencha.id } })).toMatchObject({ error: { code: 'STRATA_STATE_BAD_ARGS' } });
    expect(await call(client, 8, 'products', 'dispatch', { action: 'clearSearch', payload: { x: 1 } })).toMatchObject({ error: { code: 'STRATA_STATE_BAD_ARGS' } });
    expect(await Product.objects.get({ id: theirs.id })).toMatchObject({ stock: 1 });
    expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ stock: 6 });
    const denied = await tab(3);
    expect(await call(denied, 1, 'products', 'clearSearch')).toMatchObject({ error: { code: 'TEST_NO_CLEAR' } });
    expect(await call(denied, 2, 'products', 'dispatch', { action: 'clearSearch' })).toMatchObject({ error: { code: 'TEST_NO_CLEAR' } });
    expect(await call(client, 9, 'products', 'dispatch', { action: 'clearSearch' })).toMatchObject({ seq: 9 });
  });

  it('refuses a custom action that would shadow a built-in one, at definition', () => {
    for (const action of ['save', 'dispatch', 'cancelEdit', '__proto__']) {
      expect(() => defineModelState('clash', { model: Product, serializer: ProductSerializer, actions: (a) => ({ [action]: a.action({ run: () => undefined }) }) })).toThrow(
        expect.objectContaining({ code: 'STRATA_STATE_DEFINITION' }),
      );
    }
  });

  it('runs its hooks inside the save or delete: a hook that throws leaves nothing written', async () => {
    hookLog.length = 0;
    const client = await tab(1);
    const created = await call(client, 1, 'hooked', 'save', { data: { name: '  Kabusecha  ', price: '15.00' } });
    expect(created).toMatchObject({ value: { ok: true, row: { name: 'Kabusecha', owner: 1 } } });
    expect(await call(client, 2, 'hooked', 'save', { data: { name: 'Boom', price: '1.00' } })).toMatchObject({ error: { code: 'TEST_AFTER_SAVE' } });
    expect(await Product.objects.filter({ name: 'Boom' }).count()).toBe(0);

    const sencha = (await Product.objects.get({ name: 'Sencha' })) as { id: number };
    expect(await call(client, 3, 'hooked', 'delete', { id: sencha.id })).toMatchObject({ error: { code: 'TEST_IN_STOCK' } });
    const matcha = (await Product.objects.get({ name: 'Matcha' })) as { id: number };
    hookLog.push('fail next delete');
    expect(await call(client, 4, 'hooked', 'delete', { id: matcha.id })).toMatchObject({ error: { code: 'TEST_AFTER_DELETE' } });
    expect(await Product.objects.filter({ id: { in: [sencha.id, matcha.id] } }).count()).toBe(2);
    hookLog.length = 0;
    expect(await call(client, 5, 'hooked', 'delete', { id: matcha.id })).toMatchObject({ seq: 5 });
    expect(await Product.objects.filter({ id: matcha.id }).count()).toBe(0);
    expect(hookLog).toEqual([`afterDelete ${matcha.id}`]);
  });
});
