// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { startServer, connectStrata } from './server.js';
import * as v from 'valibot';
import { cleanup, render } from '@solidjs/testing-library';
import { createEffect, For } from 'solid-js';
import { afterEach, describe, expect, it } from 'vitest';
import { defineState } from '@strata/state/server';
import type { Strata } from '..';

const ROWS = 1000;
const indexOf = (list: { id: number }[], id: number) => list.findIndex((row) => row.id === id);

const Products = defineState('products', {
  vars: () => ({ list: Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, name: `P${i + 1}`, stock: 0 })) }),
  handlers: (h) => ({
    setStock: h.event({
      args: v.object({ id: v.number(), stock: v.number() }),
      run: (s, { id, stock }) => {
        s.list[indexOf(s.list, id)]!.stock = stock;
      },
    }),
    insert: h.event({
      args: v.object({ at: v.number(), id: v.number() }),
      run: (s, { at, id }) => {
        s.list.splice(at, 0, { id, name: `P${id}`, stock: 0 });
      },
    }),
    remove: h.event({
      args: v.object({ id: v.number() }),
      run: (s, { id }) => {
        s.list.splice(indexOf(s.list, id), 1);
      },
    }),
    move: h.event({
      args: v.object({ id: v.number(), to: v.number() }),
      run: (s, { id, to }) => {
        const [row] = s.list.splice(indexOf(s.list, id), 1);
        s.list.splice(to, 0, row!);
      },
    }),
    order: h.event((s) => s.list.map((row) => row.id)),
  }),
});

const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    increment: h.event((s) => {
      s.count += 1;
    }),
  }),
});

const Cart = defineState('cart', {
  vars: () => ({ lines: ['A', 'B', 'C'].map((sku) => ({ sku, qty: 1 })) }),
  keys: { lines: 'sku' },
  handlers: (h) => ({
    addFirst: h.event({
      args: v.object({ sku: v.string() }),
      run: (s, { sku }) => {
        s.lines.unshift({ sku, qty: 1 });
      },
    }),
  }),
});

type States = typeof Products;

afterEach(() => cleanup());

/** Renders the catalog, counting row renders and per-row effect runs. */
async function renderCatalog() {
  const server = await startServer([Products]);
  const { strata, log } = await connectStrata<States>(server);
  const renders = new Map<number, number>();
  const effects = new Map<number, number>();
  const bump = (counts: Map<number, number>, id: number) => counts.set(id, (counts.get(id) ?? 0) + 1);
  function Catalog(props: { strata: Strata<States> }) {
    const products = props.strata.state('products');
    return (
      <ul data-testid="list">
        <For each={products.value?.list}>
          {(row) => {
            bump(renders, row.id);
            createEffect(() => {
              void row.stock;
              bump(effects, row.id);
            });
            return (
              <li data-id={row.id}>
                {row.name}: <span>{row.stock}</span>
              </li>
            );
          }}
        </For>
      </ul>
    );
  }
  const view = render(() => <Catalog strata={strata} />);
  const list = view.getByTestId('list');
  const products = strata.state('products');
  await products.ready;
  expect(list.children).toHaveLength(ROWS);
  const total = (counts: Map<number, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
  const row = (id: number) => list.querySelector(`li[data-id="${id}"]`)!;
  const shownIds = () => [...list.children].map((li) => Number((li as HTMLElement).dataset.id));
  const lastPatch = () => log.received.filter((frame) => frame.t === 'result').at(-1)?.patch;
  return { strata, products, list, renders, effects, total, row, shownIds, lastPatch };
}

describe('mirrorState through strata.state (fine-grained)', () => {
  it('updates only the changed row of a 1,000-row list: one effect run, no row re-created, one DOM text change', async () => {
    const { products, list, renders, effects, total, row, lastPatch } = await renderCatalog();
    expect([total(renders), total(effects)]).toEqual([ROWS, ROWS]);
    const row42 = row(42);
    const records: MutationRecord[] = [];
    const observer = new MutationObserver((batch) => records.push(...batch));
    observer.observe(list, { childList: true, subtree: true, characterData: true, attributes: true });

    await products.call.setStock({ id: 42, stock: 7 });

    records.push(...observer.takeRecords());
    observer.disconnect();
    expect(lastPatch()).toEqual({ products: [{ op: 'set', path: ['list', [42], 'stock'], value: 7 }] });
    expect(total(renders)).toBe(ROWS);
    expect(effects.get(42)).toBe(2);
    expect(total(effects)).toBe(ROWS + 1);
    expect(row(42)).toBe(row42);
    expect(row42.textContent).toBe('P42: 7');
    expect(products.value?.list[41]).toEqual({ id: 42, name: 'P42', stock: 7 });
    // Solid rewrites the row's text node in place: one characterData record, on row 42's node.
    expect(records.map((record) => [record.type, record.target.parentElement?.closest('li')?.dataset.id])).toEqual([['characterData', '42']]);
  });

  it('keeps the DOM nodes of untouched rows through insert, remove and move, in the server’s order', async () => {
    const { products, renders, total, row, shownIds, effects, lastPatch } = await renderCatalog();
    const kept = [1, 2, 500, 999, 1000].map((id) => [id, row(id)] as const);
    const serverOrder = () => products.call.order();

    await products.call.insert({ at: 1, id: 1001 });
    expect(lastPatch()).toEqual({ products: [{ op: 'ins', path: ['list'], after: 1, value: { id: 1001, name: 'P1001', stock: 0 } }] });
    expect(shownIds()).toEqual(await serverOrder());
    expect(shownIds().slice(0, 3)).toEqual([1, 1001, 2]);
    expect(total(renders)).toBe(ROWS + 1);

    const gone = row(500);
    await products.call.remove({ id: 500 });
    expect(lastPatch()).toEqual({ products: [{ op: 'rm', path: ['list'], key: 500 }] });
    expect(shownIds()).toEqual(await serverOrder());
    expect(gone.isConnected).toBe(false);

    const moved = row(999);
    await products.call.move({ id: 999, to: 0 });
    expect(lastPatch()).toEqual({ products: [{ op: 'mv', path: ['list'], key: 999, after: null }] });
    expect(shownIds()).toEqual(await serverOrder());
    expect(shownIds().slice(0, 3)).toEqual([999, 1, 1001]);
    expect(row(999)).toBe(moved);

    for (const [id, node] of kept) if (id !== 500) expect(row(id), `row ${id}`).toBe(node);
    // Only the inserted row rendered; no kept row's effect re-ran.
    expect(total(renders)).toBe(ROWS + 1);
    expect(total(effects)).toBe(ROWS + 1);
  });

  it('applies one frame’s operations in one batch: an effect never sees a var updated and its computed stale', async () => {
    const server = await startServer([Counter]);
    const { strata, log } = await connectStrata<typeof Counter>(server);
    const seen: [number | undefined, number | undefined][] = [];
    function Count() {
      const counter = strata.state('counter');
      createEffect(() => seen.push([counter.value?.count, counter.value?.double]));
      return <p>{counter.value?.count}</p>;
    }
    render(() => <Count />);
    const counter = strata.state('counter');
    await counter.ready;
    seen.length = 0;

    await counter.call.increment();

    expect(log.received.find((frame) => frame.t === 'result')?.patch).toEqual({
      counter: [
        { op: 'set', path: ['count'], value: 1 },
        { op: 'set', path: ['double'], value: 2 },
      ],
    });
    expect(seen).toEqual([[1, 2]]);
  });

  it('keeps the rows of a list keyed by a declared field (keys: { lines: "sku" }) through an insert', async () => {
    const server = await startServer([Cart]);
    const { strata, log } = await connectStrata<typeof Cart>(server);
    const effects = new Map<string, number>();
    function Lines() {
      const cart = strata.state('cart');
      return (
        <ul data-testid="lines">
          <For each={cart.value?.lines}>
            {(line) => {
              createEffect(() => effects.set(line.sku, (effects.get(line.sku) ?? 0) + 1));
              return <li>{line.sku}</li>;
            }}
          </For>
        </ul>
      );
    }
    const view = render(() => <Lines />);
    const cart = strata.state('cart');
    await cart.ready;
    const [a, b, c] = [...view.getByTestId('lines').children];

    await cart.call.addFirst({ sku: 'Z' });

    expect(log.received.find((frame) => frame.t === 'result')?.patch).toEqual({ cart: [{ op: 'ins', path: ['lines'], after: null, value: { sku: 'Z', qty: 1 }, by: 'sku' }] });
    const shown = [...view.getByTestId('lines').children];
    expect(shown.map((li) => li.textContent)).toEqual(['Z', 'A', 'B', 'C']);
    // Rows A, B and C are the same rows: their nodes keep their text, and their effects do not re-run.
    expect({ a: a!.textContent, b: b!.textContent, c: c!.textContent, effects: Object.fromEntries(effects) }).toEqual({ a: 'A', b: 'B', c: 'C', effects: { A: 1, B: 1, C: 1, Z: 1 } });
    expect(shown.indexOf(a!)).toBe(1);
  });
});
