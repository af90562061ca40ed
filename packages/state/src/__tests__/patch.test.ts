import { describe, expect, it } from 'vitest';
import { applyPatch, diff, type JsonValue, type Patch, PatchError } from '../server.js';
import { applyPatch as applyInBrowser } from '../client.js';

const clone = <T>(value: T): T => structuredClone(value);
const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `Product ${i + 1}`, stock: i % 7 }));

/** A small seeded random generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state % n;
  };
}

describe('diff and applyPatch', () => {
  it('sends one small op when one row of a 1,000-row keyed list changes', () => {
    const before = { list: rows(1000) };
    const after = clone(before);
    after.list[500]!.stock = 99;
    const patch = diff(before, after);
    expect(patch).toEqual([{ op: 'set', path: ['list', [501], 'stock'], value: 99 }]);
    expect(JSON.stringify(patch).length / JSON.stringify(after.list).length).toBeLessThan(0.01);
    expect(applyPatch(clone(before), patch)).toEqual(after);
  });

  it('inserts, removes and moves one row of a keyed list with one op each', () => {
    const before = { list: rows(1000) };
    const inserted = { list: [...before.list.slice(0, 10), { id: 5000, name: 'New', stock: 1 }, ...before.list.slice(10)] };
    expect(diff(before, inserted)).toEqual([{ op: 'ins', path: ['list'], after: 10, value: { id: 5000, name: 'New', stock: 1 } }]);
    const removed = { list: before.list.filter((row) => row.id !== 300) };
    expect(diff(before, removed)).toEqual([{ op: 'rm', path: ['list'], key: 300 }]);
    const moved = { list: [before.list[999]!, ...before.list.slice(0, 999)] };
    expect(diff(before, moved)).toEqual([{ op: 'mv', path: ['list'], key: 1000, after: null }]);
    const movedToEnd = { list: [...before.list.slice(1), before.list[0]!] };
    expect(diff(before, movedToEnd)).toEqual([{ op: 'mv', path: ['list'], key: 1, after: 1000 }]);
    for (const after of [inserted, removed, moved, movedToEnd]) expect(applyPatch(clone(before), diff(before, after))).toEqual(after);
  });

  it('sends a list whose items are all new (another page) as one set, but one new or removed item as one op', () => {
    const page1 = { list: rows(50) };
    const page2 = { list: rows(100).slice(50) };
    expect(diff(page1, page2)).toEqual([{ op: 'set', path: ['list'], value: page2.list }]);
    expect(diff({ list: [] }, page1)).toEqual([{ op: 'set', path: ['list'], value: page1.list }]);
    expect(diff({ list: [] }, { list: rows(1) })).toEqual([{ op: 'ins', path: ['list'], after: null, value: rows(1)[0] }]);
    expect(diff({ list: rows(1) }, { list: [] })).toEqual([{ op: 'rm', path: ['list'], key: 1 }]);
  });

  it('turns any document into any other (random keyed lists, nested objects, plain lists)', () => {
    const next = random(42);
    const randomList = () => {
      const ids = Array.from({ length: next(12) }, () => next(20));
      return [...new Set(ids)].map((id) => ({ id, v: next(3), tags: next(2) ? ['a', 'b'] : ['b'] }));
    };
    const randomDoc = (): JsonValue => ({ count: next(4), list: randomList(), nested: next(2) ? { a: next(3), b: [next(2), 1] } : { c: 'x' }, ...(next(2) ? { maybe: null } : {}) });
    for (let round = 0; round < 2000; round++) {
      const before = randomDoc();
      const after = randomDoc();
      const patch: Patch = JSON.parse(JSON.stringify(diff(before, after)));
      expect(applyInBrowser(clone(before), patch), `round ${round}`).toEqual(after);
    }
  });

  it('replaces lists without unique keys whole, and leaves equal values out', () => {
    expect(diff({ a: [1, 2], b: 'x' }, { a: [1, 2], b: 'x' })).toEqual([]);
    expect(diff({ a: [1, 2] }, { a: [2, 1] })).toEqual([{ op: 'set', path: ['a'], value: [2, 1] }]);
    const dupes = [{ id: 1 }, { id: 1 }];
    expect(diff({ a: dupes }, { a: [{ id: 1 }] })).toEqual([{ op: 'set', path: ['a'], value: [{ id: 1 }] }]);
    expect(diff({ a: 1 }, {})).toEqual([{ op: 'del', path: ['a'] }]);
  });

  it('tells subscribers every touched path, and refuses ops that do not fit', () => {
    const touched: unknown[] = [];
    applyPatch({ a: { b: 1 } }, [{ op: 'set', path: ['a', 'b'], value: 2 }], (path) => touched.push(path));
    expect(touched).toEqual([['a', 'b']]);
    expect(() => applyPatch({ list: [] }, [{ op: 'rm', path: ['list'], key: 1 }])).toThrow(expect.objectContaining({ code: 'STRATA_STATE_BAD_PATCH' }));
  });
});

describe('keys named like prototype members', () => {
  it('treats "__proto__", "constructor" and "prototype" as data on both sides, never as the prototype', () => {
    const before = { words: { the: 1 } as Record<string, number> };
    const after = JSON.parse('{ "words": { "the": 2, "constructor": 1, "prototype": 1, "__proto__": 1 } }') as JsonValue;
    const patch = diff(before, after);
    expect(patch).toHaveLength(4);
    const applied = applyInBrowser(clone(before), JSON.parse(JSON.stringify(patch)) as Patch) as { words: Record<string, unknown> };
    expect(applied).toEqual(after);
    expect(Object.getPrototypeOf(applied.words)).toBe(Object.prototype);
    expect(Object.keys(applied.words).sort()).toEqual(['__proto__', 'constructor', 'prototype', 'the']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    applyPatch(applied as unknown as JsonValue, [{ op: 'del', path: ['words', '__proto__'] }]);
    expect(Object.keys(applied.words)).not.toContain('__proto__');
  });
});

describe('declared list keys', () => {
  const before = { cart: { lines: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 2 }, { sku: 'C', qty: 3 }] } };
  const keyOf = (path: string) => (path === 'cart.lines' ? 'sku' : undefined);

  it('keys a list by the declared field: one op per changed, inserted, moved or removed item', () => {
    const after = { cart: { lines: [{ sku: 'C', qty: 3 }, { sku: 'A', qty: 5 }, { sku: 'D', qty: 1 }] } };
    const patch = diff(before, after, [], { keyOf });
    expect(patch).toEqual([
      { op: 'rm', path: ['cart', 'lines'], key: 'B', by: 'sku' },
      { op: 'mv', path: ['cart', 'lines'], key: 'C', after: null, by: 'sku' },
      { op: 'ins', path: ['cart', 'lines'], after: 'A', value: { sku: 'D', qty: 1 }, by: 'sku' },
      { op: 'set', path: ['cart', 'lines', ['A', 'sku'], 'qty'], value: 5 },
    ]);
    expect(applyPatch(structuredClone(before), patch)).toEqual(after);
  });

  it('replaces the list whole when the declared key is missing or repeated, and refuses a __proto__ key field', () => {
    const after = { cart: { lines: [{ sku: 'A', qty: 1 }, { sku: 'A', qty: 2 }] } };
    expect(diff(before, after, [], { keyOf })).toEqual([{ op: 'set', path: ['cart', 'lines'], value: after.cart.lines }]);
    expect(() => applyPatch(structuredClone(before), [{ op: 'rm', path: ['cart', 'lines'], key: 'A', by: '__proto__' }])).toThrow(PatchError);
  });
});
