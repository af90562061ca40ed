import { describe, expect, it } from 'vitest';
import { auditHandlers, defineModelState, defineState, type Guard } from '../server.js';
import { Product, ProductSerializer } from './modelStateFixtures.js';

const staff: Guard = () => undefined;

describe('auditHandlers (what strata check --deploy fails on)', () => {
  it('lists every handler without a guard that is not marked public, in used states too', () => {
    const Cart = defineState('cart', {
      vars: () => ({ n: 0 }),
      handlers: (h) => ({
        add: h.event((s) => void s.n++),
        peek: h.event({ public: true, run: () => undefined }),
        clear: h.event({ guard: staff, run: (s) => void (s.n = 0) }),
        empty: h.event({ guard: [], run: (s) => void (s.n = 0) }),
        export: h.task({ run: async () => undefined }),
      }),
    });
    const Page = defineState('page', { vars: () => ({}), uses: { cart: Cart }, handlers: (h) => ({ go: h.event({ guard: [staff], run: () => undefined }) }) });
    expect(auditHandlers([Page])).toEqual([
      { state: 'cart', handler: 'add' },
      { state: 'cart', handler: 'empty' },
      { state: 'cart', handler: 'export' },
    ]);
  });

  it('reads a ModelState’s guards and public actions: save counts as guarded by save, or by create and update together', () => {
    const open = (options: Parameters<typeof defineModelState>[1]) => auditHandlers([defineModelState('m', options)]).map((entry) => entry.handler);
    const base = { model: Product, serializer: ProductSerializer };
    expect(open(base)).toEqual(['load', 'startEdit', 'save', 'delete']);
    expect(open({ ...base, guards: { save: staff, delete: staff }, public: ['load', 'startEdit'] })).toEqual([]);
    expect(open({ ...base, guards: { create: staff, update: staff, delete: staff }, public: ['load', 'startEdit'] })).toEqual([]);
    // Only creating is guarded: an update is open, so save is listed.
    expect(open({ ...base, guards: { create: staff, delete: staff }, public: ['load', 'startEdit'] })).toEqual(['save']);
    const withAction = defineModelState('withAction', { ...base, guards: { save: staff, delete: staff }, public: ['load', 'startEdit'], actions: (a) => ({ archive: a.action({ run: () => undefined }), pin: a.action({ guard: staff, run: () => undefined }) }) });
    expect(auditHandlers([withAction])).toEqual([{ state: 'withAction', handler: 'archive' }]);
  });
});
