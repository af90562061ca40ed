import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyServerStateDef, applyPatch, defineState, type JsonValue, type ServerFrame } from '../server.js';
import { call, connect, join, joinRaw, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type Result = Extract<ServerFrame, { t: 'result' }>;

let server: TestServer | undefined;

async function serve(states: readonly AnyServerStateDef[]): Promise<TestServer> {
  server = await startServer(states);
  return server;
}

describe('backend-only vars', () => {
  const Vault = defineState('vault', {
    vars: () => ({ shown: 0 }),
    backend: () => ({ apiKey: 'BACKEND-SECRET-initial', cache: new Map<string, string>([['k', 'BACKEND-SECRET-in-map']]) }),
    handlers: (h) => ({
      rotate: h.event((s) => {
        s.apiKey = 'BACKEND-SECRET-rotated';
        s.cache.set('k2', 'BACKEND-SECRET-second');
        s.shown += 1;
      }),
      rotateOnly: h.event((s) => {
        s.apiKey = 'BACKEND-SECRET-rotated-again';
      }),
    }),
  });

  it('never appear in welcome, state or patch frames, even after a handler changes them', async () => {
    const s = await serve([Vault]);
    const { client, raw } = await joinRaw(s, ['vault']);
    expect(raw).toHaveLength(1);
    expect(JSON.parse(raw[0]!).states).toEqual({ vault: { shown: 0 } });

    const rotated = await call(client, 1, 'vault', 'rotate');
    expect(rotated).toEqual({ t: 'result', seq: 1, patch: { vault: [{ op: 'set', path: ['shown'], value: 1 }] } });
    // A change to backend vars only is not a change the client sees: no patch at all.
    expect(await call(client, 2, 'vault', 'rotateOnly')).toEqual({ t: 'result', seq: 2 });

    client.send({ t: 'sub', states: ['vault'] });
    expect(await client.next((f) => f.t === 'state')).toEqual({ t: 'state', states: { vault: { shown: 1 } } });

    expect(raw.length).toBe(4); // welcome, two results, state
    for (const text of raw) {
      expect(text).not.toContain('BACKEND-SECRET');
      expect(text).not.toContain('apiKey');
      expect(text).not.toContain('cache');
    }
    client.socket.close();
  });
});

describe('backend-only vars and the state object itself', () => {
  const Inner = defineState('inner', { vars: () => ({ x: 1 }), backend: () => ({ innerKey: 'BACKEND-SECRET-inner' }) });
  const Outer = defineState('outer', {
    vars: () => ({ holder: null as unknown }),
    backend: () => ({ apiKey: 'BACKEND-SECRET-outer' }),
    uses: { inner: Inner },
    handlers: (h) => ({
      returnSelf: h.event((s) => s as unknown as JsonValue),
      passSelf: h.event((s, _args, ctx) => {
        ctx.callClient('show', s);
      }),
      storeUsed: h.event((s) => {
        s.holder = s.inner;
      }),
    }),
  });

  it('never leak when a handler returns, passes or stores the state object (s) itself', async () => {
    const s = await serve([Outer]);
    const { client, raw } = await joinRaw(s, ['outer', 'inner']);
    let seq = 0;
    for (const handler of ['returnSelf', 'passSelf', 'storeUsed']) {
      const result = await call(client, ++seq, 'outer', handler);
      expect(raw.at(-1), handler).not.toContain('BACKEND-SECRET');
      // Refusing it like any other non-JSON value is the expected way out.
      expect(result.error?.code, handler).toBe('STRATA_STATE_NOT_JSON');
    }
    for (const text of raw) expect(text).not.toContain('BACKEND-SECRET');
    client.socket.close();
  });
});

describe('composition (uses)', () => {
  const Cart = defineState('cart', {
    vars: () => ({ items: [] as { id: number; name: string }[], note: '' }),
    handlers: (h) => ({
      add: h.event({ args: v.object({ id: v.number(), name: v.string() }), run: (s, item) => { s.items.push(item); } }),
    }),
  });
  const Page = defineState('page', {
    vars: () => ({ title: 'Shop' }),
    uses: { cart: Cart },
    computed: { cartCount: (s) => s.cart.items.length },
    handlers: (h) => ({
      setNote: h.event({ args: v.string(), run: (s, note) => { s.cart.note = note; } }),
      addViaPage: h.event({ args: v.number(), run: (s, id) => { s.cart.items.push({ id, name: `via page ${id}` }); } }),
    }),
  });

  it('updates a computed var of a page state when the cart it uses changes, with patches for both', async () => {
    // Only Page is registered: the state it uses is added by the plugin.
    const s = await serve([Page]);
    const { client, welcome } = await join(s, ['page', 'cart']);
    expect(welcome.states).toEqual({ page: { title: 'Shop', cartCount: 0 }, cart: { items: [], note: '' } });

    expect(await call(client, 1, 'cart', 'add', { id: 1, name: 'pen' })).toEqual({
      t: 'result', seq: 1,
      patch: {
        cart: [{ op: 'ins', path: ['items'], after: null, value: { id: 1, name: 'pen' } }],
        page: [{ op: 'set', path: ['cartCount'], value: 1 }],
      },
    });

    // A page handler that changes a var of the used state sends a patch of that state only.
    expect(await call(client, 2, 'page', 'setNote', 'gift')).toEqual({
      t: 'result', seq: 2, patch: { cart: [{ op: 'set', path: ['note'], value: 'gift' }] },
    });

    expect(await call(client, 3, 'page', 'addViaPage', 2)).toEqual({
      t: 'result', seq: 3,
      patch: {
        cart: [{ op: 'ins', path: ['items'], after: 1, value: { id: 2, name: 'via page 2' } }],
        page: [{ op: 'set', path: ['cartCount'], value: 2 }],
      },
    });
    client.socket.close();
  });

  it('sends patches only for subscribed states, and a later sub gets the current state', async () => {
    const s = await serve([Page]);
    const { client } = await join(s, ['page']);
    expect(await call(client, 1, 'cart', 'add', { id: 5, name: 'ink' })).toEqual({
      t: 'result', seq: 1, patch: { page: [{ op: 'set', path: ['cartCount'], value: 1 }] },
    });
    client.send({ t: 'sub', states: ['cart'] });
    expect(await client.next((f) => f.t === 'state')).toEqual({ t: 'state', states: { cart: { items: [{ id: 5, name: 'ink' }], note: '' } } });
    client.socket.close();
  });
});

describe('client vars are JSON only', () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const modelProto = Object.defineProperty({}, Symbol.for('strata.model.row'), { value: { name: 'shop.Product' } });
  const makers: Record<string, () => unknown> = {
    date: () => new Date(0),
    map: () => new Map([['a', 1]]),
    instance: () => new Money(100),
    function: () => () => 1,
    row: () => Object.assign(Object.create(modelProto), { id: 1, name: 'pen' }),
    cycle: () => {
      const node: Record<string, unknown> = { name: 'loop' };
      node.self = node;
      return node;
    },
  };
  const Store = defineState('store', {
    vars: () => ({ value: 'kept' as unknown, items: ['a'] as unknown[], obj: { a: 1 } as Record<string, unknown>, edits: 0 }),
    backend: () => ({ cache: new Map<string, number>() }),
    handlers: (h) => ({
      assign: h.event({
        args: v.picklist(Object.keys(makers)),
        run: (s, kind) => {
          s.edits += 1;
          s.value = makers[kind]!();
        },
      }),
      pushDate: h.event((s) => {
        s.edits += 1;
        s.items.push(new Date(0));
      }),
      nestedMap: h.event((s) => {
        s.obj.m = new Map();
      }),
      read: h.event((s) => ({ value: s.value as JsonValue, items: s.items as JsonValue, obj: s.obj as JsonValue, edits: s.edits })),
      useCache: h.event((s) => {
        s.cache = new Map([['a', 1]]);
        s.cache.set('b', 2);
        return s.cache.size;
      }),
    }),
  });

  const expected: Record<string, RegExp> = {
    date: /^store\.value holds a Date, which cannot be sent to the browser: serialize it first/,
    map: /^store\.value holds a Map\b.*serialize it first/,
    instance: /^store\.value holds a Money\b.*serialize it first/,
    function: /^store\.value holds a function\b.*serialize it first/,
    row: /^store\.value holds a shop\.Product row\b.*serialize it first/,
    cycle: /^store\.value\.self holds a cycle\b.*serialize it first/,
  };

  it('refuses a Date, a Map, a class instance, a function, a model row and a cycle, and keeps the old value', async () => {
    const s = await serve([Store]);
    const { client } = await join(s, ['store']);
    let seq = 0;
    for (const kind of Object.keys(makers)) {
      const result = await call(client, ++seq, 'store', 'assign', kind);
      expect(result.error?.code, kind).toBe('STRATA_STATE_NOT_JSON');
      expect(result.error?.message, kind).toMatch(expected[kind]!);
      expect(result.patch, kind).toBeUndefined();
    }
    const after = await call(client, ++seq, 'store', 'read');
    // The refused value never landed, and the other var the failed events changed is restored too.
    expect(after.value).toEqual({ value: 'kept', items: ['a'], obj: { a: 1 }, edits: 0 });
    client.socket.close();
  });

  it('refuses a nested mutation that puts a Date or a Map inside a var, and reverts it', async () => {
    const s = await serve([Store]);
    const { client } = await join(s, ['store']);
    const pushed = await call(client, 1, 'store', 'pushDate');
    expect(pushed.error).toMatchObject({ code: 'STRATA_STATE_NOT_JSON', message: expect.stringMatching(/^store\.items\[1\] holds a Date.*serialize it first/) });
    const nested = await call(client, 2, 'store', 'nestedMap');
    expect(nested.error).toMatchObject({ code: 'STRATA_STATE_NOT_JSON', message: expect.stringMatching(/^store\.obj\.m holds a Map.*serialize it first/) });
    expect((await call(client, 3, 'store', 'read')).value).toEqual({ value: 'kept', items: ['a'], obj: { a: 1 }, edits: 0 });
    client.socket.close();
  });

  it('lets backend vars hold a Map', async () => {
    const s = await serve([Store]);
    const { client } = await join(s, ['store']);
    expect(await call(client, 1, 'store', 'useCache')).toEqual({ t: 'result', seq: 1, value: 2 });
    client.socket.close();
  });
});

describe('keyed list patches', () => {
  const rows = () => Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, stock: 10 }));
  const Inventory = defineState('inventory', {
    vars: () => ({ list: rows() }),
    handlers: (h) => ({
      setStock: h.event({
        args: v.object({ id: v.number(), stock: v.number() }),
        run: (s, { id, stock }) => {
          s.list.find((row) => row.id === id)!.stock = stock;
        },
      }),
      insertAfter: h.event({
        args: v.object({ after: v.number(), id: v.number() }),
        run: (s, { after, id }) => {
          s.list.splice(s.list.findIndex((row) => row.id === after) + 1, 0, { id, stock: 0 });
        },
      }),
      moveToFront: h.event({
        args: v.number(),
        run: (s, id) => {
          const [row] = s.list.splice(s.list.findIndex((r) => r.id === id), 1);
          s.list.unshift(row!);
        },
      }),
      moveAfter: h.event({
        args: v.object({ id: v.number(), after: v.number() }),
        run: (s, { id, after }) => {
          const [row] = s.list.splice(s.list.findIndex((r) => r.id === id), 1);
          s.list.splice(s.list.findIndex((r) => r.id === after) + 1, 0, row!);
        },
      }),
      remove: h.event({
        args: v.number(),
        run: (s, id) => {
          s.list.splice(s.list.findIndex((r) => r.id === id), 1);
        },
      }),
      read: h.event((s) => s.list),
    }),
  });

  it('sends one small op per changed, inserted, moved or removed row of a 1,000-row list', async () => {
    const s = await serve([Inventory]);
    const { client, raw } = await joinRaw(s, ['inventory']);
    const mirror = structuredClone((JSON.parse(raw[0]!) as { states: { inventory: JsonValue } }).states.inventory);
    expect((mirror as { list: unknown[] }).list).toHaveLength(1000);

    const steps: [string, unknown, unknown[]][] = [
      ['setStock', { id: 501, stock: 99 }, [{ op: 'set', path: ['list', [501], 'stock'], value: 99 }]],
      ['insertAfter', { after: 10, id: 2000 }, [{ op: 'ins', path: ['list'], after: 10, value: { id: 2000, stock: 0 } }]],
      ['moveToFront', 1000, [{ op: 'mv', path: ['list'], key: 1000, after: null }]],
      ['moveAfter', { id: 3, after: 800 }, [{ op: 'mv', path: ['list'], key: 3, after: 800 }]],
      ['remove', 42, [{ op: 'rm', path: ['list'], key: 42 }]],
    ];
    let seq = 0;
    for (const [handler, args, ops] of steps) {
      const result = await call(client, ++seq, 'inventory', handler, args);
      expect(result, handler).toEqual({ t: 'result', seq, patch: { inventory: ops } });
      // One small frame, not the list (the full list is ~20 KB).
      expect(raw.at(-1)!.length, handler).toBeLessThan(200);
      applyPatch(mirror, result.patch!.inventory!);
    }
    // The client's copy, patched op by op, is the server's list.
    const fromServer = await call(client, ++seq, 'inventory', 'read');
    expect((mirror as { list: unknown[] }).list).toEqual(fromServer.value);
    expect((fromServer.value as { id: number }[]).slice(0, 3).map((row) => row.id)).toEqual([1000, 1, 2]);
    client.socket.close();
  });
});

describe('handler results', () => {
  const Echo = defineState('echo', {
    vars: () => ({ n: 0 }),
    handlers: (h) => ({
      give: h.event((s) => ({ ok: true, list: [1, 'two', null], n: s.n })),
      giveNull: h.event(() => null),
      giveNothing: h.event((s) => {
        s.n += 1;
      }),
      giveAsync: h.event(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return 'later';
      }),
      giveDate: h.event((s) => {
        s.n += 100;
        return new Date(0);
      }),
      read: h.event((s) => s.n),
    }),
  });

  it('reach the result value; a Date result is refused with STRATA_STATE_NOT_JSON and the event reverted', async () => {
    const s = await serve([Echo]);
    const { client } = await join(s, ['echo']);
    expect(await call(client, 1, 'echo', 'give')).toEqual({ t: 'result', seq: 1, value: { ok: true, list: [1, 'two', null], n: 0 } });
    const nullResult = await call(client, 2, 'echo', 'giveNull');
    expect(nullResult).toHaveProperty('value', null);
    const nothing = await call(client, 3, 'echo', 'giveNothing');
    expect(nothing).not.toHaveProperty('value');
    expect(nothing.patch).toEqual({ echo: [{ op: 'set', path: ['n'], value: 1 }] });
    expect(await call(client, 4, 'echo', 'giveAsync')).toEqual({ t: 'result', seq: 4, value: 'later' });

    const date = await call(client, 5, 'echo', 'giveDate');
    expect(date).not.toHaveProperty('value');
    expect(date.patch).toBeUndefined();
    expect(date.error).toMatchObject({ code: 'STRATA_STATE_NOT_JSON', message: expect.stringMatching(/^echo\.giveDate\(\) result holds a Date.*serialize it first/) });
    expect((await call(client, 6, 'echo', 'read')).value).toBe(1);
    client.socket.close();
  });
});

describe('state definitions', () => {
  const noop = () => ({});

  it('refuses bad state names at defineState', () => {
    for (const name of ['1x', '', 'a b', '_x', 'x'.repeat(65), '__proto__']) {
      expect(() => defineState(name, { vars: noop }), name).toThrow(expect.objectContaining({ code: 'STRATA_STATE_DEFINITION' }));
    }
    expect(() => defineState('ok.name-1_x', { vars: noop })).not.toThrow();
  });

  it('refuses names clashing between vars, backend and computed at the first join', async () => {
    const clashes = [
      defineState('clashVB', { vars: () => ({ x: 1 }), backend: () => ({ x: 2 }) }),
      defineState('clashVC', { vars: () => ({ x: 1 }), computed: { x: () => 2 } }),
      defineState('clashBC', { vars: () => ({}), backend: () => ({ x: 1 }), computed: { x: () => 2 } }),
    ];
    const s = await serve(clashes);
    for (const def of clashes) {
      const client = await connect(s.wsUrl, { origin: s.origin });
      client.send({ t: 'join', v: 1, token: await s.token(), states: [def.name] });
      const frame = await client.next((f) => f.t === 'error' || f.t === 'welcome');
      expect(frame, def.name).toMatchObject({ t: 'error', error: { code: 'STRATA_STATE_DEFINITION', message: expect.stringMatching(/"x" is declared in both/) } });
      client.socket.close();
    }
  });

  it('refuses a handler named constructor (or $-prefixed) when the plugin is registered', async () => {
    const Ctor = defineState('ctor', { vars: () => ({}), handlers: (h) => ({ constructor: h.event(() => {}) }) });
    await expect(startServer([Ctor])).rejects.toMatchObject({ code: 'STRATA_STATE_DEFINITION', message: expect.stringContaining('"constructor" cannot be a handler name') });
    const Dollar = defineState('dollar', { vars: () => ({}), handlers: (h) => ({ $run: h.event(() => {}) }) });
    await expect(startServer([Dollar])).rejects.toMatchObject({ code: 'STRATA_STATE_DEFINITION' });
  });

  it('refuses two different states with the same name when the plugin is registered', async () => {
    const A = defineState('twin', { vars: () => ({ a: 1 }) });
    const B = defineState('twin', { vars: () => ({ b: 1 }) });
    await expect(startServer([A, B])).rejects.toMatchObject({ code: 'STRATA_STATE_DEFINITION', message: expect.stringContaining('"twin"') });
    // Also when the second one arrives through `uses`.
    const UsesB = defineState('usesTwin', { vars: () => ({}), uses: { twin: B } });
    await expect(startServer([A, UsesB])).rejects.toMatchObject({ code: 'STRATA_STATE_DEFINITION' });
    // The same definition listed twice (and used) is fine.
    const UsesA = defineState('usesA', { vars: () => ({}), uses: { twin: A } });
    server = await startServer([A, UsesA, A]);
    const { welcome } = await join(server, ['twin', 'usesA']);
    expect(welcome.states).toEqual({ twin: { a: 1 }, usesA: {} });
    // The client sockets close with the server (afterEach).
  });
});
