// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { connectStrata, gate, startServer } from './server.js';
import * as v from 'valibot';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { defineState, EventError } from '@strata/state/server';
import { createAction } from '..';

let orders = 0;
let held = Promise.resolve();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Shop = defineState('shop', {
  vars: () => ({ ordered: 0, progress: 0 }),
  handlers: (h) => ({
    order: h.event({
      args: v.object({ qty: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
      run: async (s, { qty }) => {
        orders++;
        await held;
        if (s.ordered + qty > 2) throw new EventError('SHOP_OUT', 'Only 2 left.', { fields: { qty: ['Only 2 left.'] } });
        s.ordered += qty;
        return { ordered: s.ordered };
      },
    }),
    // A ModelState save answers refused fields as a value, not as an error.
    save: h.event({ args: v.object({ name: v.string() }), run: (_s, { name }) => (name ? { ok: true as const } : { ok: false as const, fieldErrors: { name: ['Required.'] } }) }),
    crunch: h.task({
      run: async (task) => {
        for (let i = 1; i <= 400; i++) {
          task.signal.throwIfAborted();
          await task.update((s) => {
            s.progress = i;
          });
          await sleep(5);
        }
        return 'finished';
      },
    }),
  }),
});

beforeEach(() => {
  orders = 0;
  held = Promise.resolve();
});

async function shop() {
  const { strata } = await connectStrata<typeof Shop>(await startServer([Shop]));
  const state = strata.state('shop');
  await state.ready;
  return state;
}

describe('createAction', () => {
  it('is pending while the call is in flight and holds its result after', async () => {
    const { call } = await shop();
    const order = createAction(call.order);
    const server = gate();
    held = server.wait;
    expect([order.pending(), order.result()]).toEqual([false, undefined]);

    const answer = order({ qty: 1 });
    expect(order.pending()).toBe(true);
    await vi.waitFor(() => expect(orders).toBe(1));
    expect(order.pending()).toBe(true);
    server.open();

    expect(await answer).toEqual({ ordered: 1 });
    expect([order.pending(), order.result(), order.error()]).toEqual([false, { ordered: 1 }, undefined]);
    expect(order.fieldErrors()).toEqual({});
  });

  it('keeps a refusal’s code, message and field errors; the next call clears them', async () => {
    const { call } = await shop();
    const order = createAction(call.order);
    await order({ qty: 1 });

    expect(await order({ qty: 5 })).toBeUndefined();
    expect(order.error()).toMatchObject({ code: 'SHOP_OUT', message: 'Only 2 left.' });
    expect(order.fieldErrors()).toEqual({ qty: ['Only 2 left.'] });
    expect([order.pending(), order.result()]).toEqual([false, { ordered: 1 }]);

    const next = order({ qty: 1 });
    expect([order.error(), order.fieldErrors(), order.pending()]).toEqual([undefined, {}, true]);
    expect(await next).toEqual({ ordered: 2 });
    expect([order.error(), order.fieldErrors(), order.result()]).toEqual([undefined, {}, { ordered: 2 }]);
  });

  it('reports bad arguments as STRATA_STATE_BAD_ARGS with per-field messages, and the handler does not run', async () => {
    const { call } = await shop();
    const order = createAction(call.order);

    expect(await order({ qty: 'two' as unknown as number })).toBeUndefined();

    expect(order.error()?.code).toBe('STRATA_STATE_BAD_ARGS');
    expect(order.fieldErrors()).toEqual({ qty: [expect.any(String)] });
    expect(orders).toBe(0);
  });

  it('takes the field errors of a save answered { ok: false, fieldErrors }', async () => {
    const { call } = await shop();
    const save = createAction(call.save);

    expect(await save({ name: '' })).toEqual({ ok: false, fieldErrors: { name: ['Required.'] } });
    expect([save.error(), save.fieldErrors()]).toEqual([undefined, { name: ['Required.'] }]);
    await save({ name: 'Tea' });
    expect(save.fieldErrors()).toEqual({});
  });

  it('cancels a running task: it rejects with STRATA_STATE_CANCELLED and the task stops', async () => {
    const shopState = await shop();
    const crunch = createAction(shopState.call.crunch);

    const running = crunch();
    await vi.waitFor(() => expect(shopState.value?.progress).toBeGreaterThan(1));
    crunch.cancel();

    expect(await running).toBeUndefined();
    expect([crunch.pending(), crunch.error()?.code, crunch.result()]).toEqual([false, 'STRATA_STATE_CANCELLED', undefined]);
    const stoppedAt = shopState.value?.progress;
    await sleep(50);
    expect(shopState.value?.progress).toBe(stoppedAt);
  });
});
