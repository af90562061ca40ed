// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { connectStrata, startServer } from './server.js';
import * as v from 'valibot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineState } from '@strata/state/server';

const Orders = defineState('orders', {
  vars: () => ({ saved: 0 }),
  handlers: (h) => ({
    save: h.event((s, _args, ctx) => {
      s.saved++;
      ctx.toast('Saved', 'success');
    }),
    note: h.event((_s, _args, ctx) => ctx.toast('Plain')),
    go: h.event({ args: v.object({ to: v.string(), replace: v.optional(v.boolean()) }), run: (_s, { to, replace }, ctx) => ctx.redirect(to, replace === undefined ? {} : { replace }) }),
  }),
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function orders(options: Parameters<typeof connectStrata>[1] = {}) {
  const { strata } = await connectStrata<typeof Orders>(await startServer([Orders]), options);
  return { strata, orders: strata.state('orders') };
}

describe('createStrata client actions', () => {
  it('puts a toast in toasts() and dismisses it after toastMs', async () => {
    const { strata, orders: state } = await orders({ toastMs: 50 });

    await state.call.save();

    expect(strata.toasts()).toEqual([{ id: expect.any(Number), message: 'Saved', level: 'success' }]);
    await vi.waitFor(() => expect(strata.toasts()).toEqual([]), { interval: 5, timeout: 1_000 });
  });

  it('keeps toasts newest last, defaults the level to info, and dismisses one by id', async () => {
    const { strata, orders: state } = await orders({ toastMs: 0 });
    await state.call.save();
    await state.call.note();

    expect(strata.toasts().map(({ message, level }) => [message, level])).toEqual([
      ['Saved', 'success'],
      ['Plain', 'info'],
    ]);
    strata.dismissToast(strata.toasts()[0]!.id);
    expect(strata.toasts().map((toast) => toast.message)).toEqual(['Plain']);
  });

  it('sends a same-origin redirect through navigate, with replace', async () => {
    const navigate = vi.fn();
    const assign = vi.fn();
    vi.stubGlobal('location', { assign, replace: vi.fn() });
    const { orders: state } = await orders({ navigate });

    await state.call.go({ to: '/orders/7' });
    await state.call.go({ to: '/login', replace: true });

    expect(navigate.mock.calls).toEqual([
      ['/orders/7', { replace: false }],
      ['/login', { replace: true }],
    ]);
    expect(assign).not.toHaveBeenCalled();
  });

  it('sends an absolute https URL to location.assign (or replace), not to navigate', async () => {
    const navigate = vi.fn();
    const location = { assign: vi.fn(), replace: vi.fn() };
    vi.stubGlobal('location', location);
    const { orders: state } = await orders({ navigate });

    await state.call.go({ to: 'https://pay.example/checkout/7' });
    await state.call.go({ to: 'https://pay.example/done', replace: true });

    expect(navigate).not.toHaveBeenCalled();
    expect(location.assign.mock.calls).toEqual([['https://pay.example/checkout/7']]);
    expect(location.replace.mock.calls).toEqual([['https://pay.example/done']]);
  });
});
