import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { defineState, type inferArgs, type inferClientState, type inferHandlers, type inferResult } from '../server.js';

const Cart = defineState('cart', {
  vars: () => ({ items: [] as { id: number; qty: number }[] }),
  handlers: (h) => ({
    clear: h.event((s) => {
      s.items = [];
    }),
  }),
});

const Page = defineState('page', {
  vars: () => ({ count: 0, label: 'x' }),
  backend: () => ({ cache: new Map<string, number>() }),
  uses: { cart: Cart },
  computed: {
    double: (s) => s.count * 2,
    cartSize: (s) => s.cart.items.length,
  },
  handlers: (h) => ({
    increment: h.event({
      args: v.object({ by: v.number() }),
      run: (s, args) => {
        expectTypeOf(args.by).toEqualTypeOf<number>();
        expectTypeOf(s.cache).toEqualTypeOf<Map<string, number>>();
        expectTypeOf(s.double).toEqualTypeOf<number>();
        expectTypeOf(s.cart.items).toEqualTypeOf<{ id: number; qty: number }[]>();
        s.count += args.by;
        return s.count;
      },
    }),
    reset: h.event((s) => {
      s.count = 0;
    }),
    importFile: h.task({
      args: v.object({ url: v.pipe(v.string(), v.url()) }),
      run: async (task, args) => {
        await task.update((s) => {
          s.label = args.url;
        });
        return { rows: 3 };
      },
    }),
  }),
});

describe('defineState types', () => {
  it('exposes client vars and computed vars, never backend vars, to the client', () => {
    expectTypeOf<inferClientState<typeof Page>>().toEqualTypeOf<{ count: number; label: string } & { double: number; cartSize: number }>();
    expectTypeOf<inferClientState<typeof Page>>().not.toHaveProperty('cache');
  });

  it('infers every handler signature', () => {
    expectTypeOf<keyof inferHandlers<typeof Page>>().toEqualTypeOf<'increment' | 'reset' | 'importFile'>();
    expectTypeOf<inferArgs<typeof Page, 'increment'>>().toEqualTypeOf<{ by: number }>();
    expectTypeOf<inferResult<typeof Page, 'increment'>>().toEqualTypeOf<number>();
    expectTypeOf<inferArgs<typeof Page, 'reset'>>().toEqualTypeOf<undefined>();
    expectTypeOf<inferResult<typeof Page, 'importFile'>>().toEqualTypeOf<{ rows: number }>();
    expectTypeOf<inferHandlers<typeof Page>['importFile']['task']>().toEqualTypeOf<true>();
    expectTypeOf<inferHandlers<typeof Page>['increment']['task']>().toEqualTypeOf<false>();
  });

  it('rejects mistakes at compile time', () => {
    defineState('bad', {
      vars: () => ({ n: 0 }),
      computed: { twice: (s) => s.n * 2 },
      handlers: (h) => ({
        a: h.event((s) => {
          // @ts-expect-error computed vars are read-only
          s.twice = 3;
          // @ts-expect-error not a var
          s.missing = 1;
          // @ts-expect-error wrong type
          s.n = 'x';
        }),
        b: h.event({
          args: v.object({ id: v.number() }),
          run: (_s, args) => {
            // @ts-expect-error args are typed by the schema
            args.name;
          },
        }),
      }),
    });
  });
});
