import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import type { Call } from '@strata/state/client';
import { defineState } from '@strata/state/server';
import { type Action, createAction, createForm, createStrata, type ServerState, type Strata } from '..';

const Products = defineState('products', {
  vars: () => ({ list: [{ id: 1, name: 'Tea', stock: 0 }] }),
  computed: { count: (s) => s.list.length },
  handlers: (h) => ({
    save: h.event({
      args: v.object({ id: v.number(), name: v.string() }),
      run: (s, { id, name }) => {
        s.list.push({ id, name, stock: 0 });
        return { saved: id };
      },
    }),
    clear: h.event((s) => {
      s.list = [];
    }),
    restock: h.task({ args: v.object({ by: v.number() }), run: async () => 'done' }),
  }),
});
const Cart = defineState('cart', { vars: () => ({ lines: [] as { sku: string; qty: number }[] }) });

const strata = createStrata<typeof Products>({ url: 'ws://127.0.0.1/strata/ws', token: 't' });
declare const shop: Strata<typeof Products | typeof Cart>;

describe('@strata/solid types', () => {
  it('types a state’s value from its definition, read-only', () => {
    const products = strata.state('products');
    expectTypeOf(products).toEqualTypeOf<ServerState<typeof Products>>();
    expectTypeOf(products.name).toEqualTypeOf<'products'>();
    expectTypeOf(products.value?.list[0]?.name).toEqualTypeOf<string | undefined>();
    expectTypeOf(products.value?.count).toEqualTypeOf<number | undefined>();
    expectTypeOf(shop.state('cart').value?.lines).toEqualTypeOf<readonly { readonly sku: string; readonly qty: number }[] | undefined>();
    // @ts-expect-error: only the server changes the value
    if (products.value) products.value.list[0]!.name = 'Coffee';
  });

  it('refuses a misspelt state name and a misspelt handler', () => {
    // @ts-expect-error: no state "prodcts" is declared
    strata.state('prodcts');
    // @ts-expect-error: "cart" is not among createStrata<typeof Products>'s states
    strata.state('cart');
    const { call } = strata.state('products');
    // @ts-expect-error: no handler "sav"
    void call.sav;
    expectTypeOf(call.save).toEqualTypeOf<(args: { id: number; name: string }) => Call<{ saved: number }>>();
  });

  it('types createAction from the handler: parameters, result and status', () => {
    const { call } = strata.state('products');
    const save = createAction(call.save);
    expectTypeOf(save).toEqualTypeOf<Action<[args: { id: number; name: string }], { saved: number }>>();
    expectTypeOf(save).parameters.toEqualTypeOf<Parameters<typeof call.save>>();
    expectTypeOf(save).returns.toEqualTypeOf<Promise<{ saved: number } | undefined>>();
    expectTypeOf(save.result()).toEqualTypeOf<{ saved: number } | undefined>();
    expectTypeOf(save.pending()).toEqualTypeOf<boolean>();
    expectTypeOf(save.error()?.code).toEqualTypeOf<string | undefined>();
    // @ts-expect-error: `id` is a number
    void save({ id: '1', name: 'Tea' });
    // @ts-expect-error: the argument is required
    void save();

    const clear = createAction(call.clear);
    expectTypeOf(clear).parameters.toEqualTypeOf<[args?: undefined]>();
    expectTypeOf(createAction(call.restock).result()).toEqualTypeOf<string | undefined>();
  });

  it('types a form’s fields by its initial values and its submit by the validator’s data', () => {
    const { call } = strata.state('products');
    const form = createForm({ initial: { id: '', name: '' }, submit: (data) => call.save({ id: Number(data.id), name: data.name }) });
    expectTypeOf(form.values.name).toEqualTypeOf<string>();
    expectTypeOf(form.result()).toEqualTypeOf<{ saved: number } | undefined>();
    // @ts-expect-error: no field "nme"
    form.field('nme');
  });
});
