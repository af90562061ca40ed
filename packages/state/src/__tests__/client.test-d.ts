import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { type Call, type ClientState, createClient, type StrataClient } from '../client.js';
import { defineState } from '../defineState.js';
import { defineModelState } from '../modelState.js';
import { Product, ProductSerializer } from './modelStateFixtures.js';

const Counter = defineState('counter', {
  vars: () => ({ count: 0, rows: [{ id: 1, label: 'a' }] }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => {
        s.count += by;
      } }),
    reset: h.event((s) => {
      s.count = 0;
    }),
    total: h.event({ args: v.optional(v.object({ tax: v.number() })), run: (s) => s.count }),
    importRows: h.task({ args: v.object({ url: v.string() }), run: async () => ({ imported: 1 }) }),
  }),
});
const Cart = defineState('cart', { vars: () => ({ items: [] as string[] }) });
const Things = defineModelState('things', { model: Product, serializer: ProductSerializer, actions: (a) => ({
  restock: a.action({ args: v.object({ id: v.number(), by: v.number() }), run: async (s, { by }) => ({ stock: by + s.total }) }),
  clear: a.action({ run: () => undefined }),
}) });

declare const client: StrataClient<typeof Counter | typeof Cart | typeof Things>;

describe('createClient types', () => {
  it('types a client by the server’s state definitions', () => {
    expectTypeOf(createClient<typeof Counter>({ url: 'ws://x', token: 't' })).toEqualTypeOf<StrataClient<typeof Counter>>();
    expectTypeOf(client.state('counter')).toEqualTypeOf<ClientState<typeof Counter>>();
    expectTypeOf(client.state('cart').name).toEqualTypeOf<'cart'>();
    // @ts-expect-error: no state of that name is declared
    client.state('nope');
  });

  it('types the value as the read-only client vars and computed vars', () => {
    const counter = client.state('counter');
    expectTypeOf(counter.value?.count).toEqualTypeOf<number | undefined>();
    expectTypeOf(counter.value?.double).toEqualTypeOf<number | undefined>();
    expectTypeOf(counter.value?.rows[0]?.label).toEqualTypeOf<string | undefined>();
    expectTypeOf(client.state('cart').value?.items).toEqualTypeOf<readonly string[] | undefined>();
    // @ts-expect-error: only the server changes the value
    if (counter.value) counter.value.count = 1;
  });

  it('types each handler’s argument and result', () => {
    const { call } = client.state('counter');
    expectTypeOf(call.increment({ by: 1 })).toEqualTypeOf<Call<void>>();
    expectTypeOf(call.reset()).toEqualTypeOf<Call<void>>();
    expectTypeOf(call.total()).toEqualTypeOf<Call<number>>();
    expectTypeOf(call.total({ tax: 1 })).toEqualTypeOf<Call<number>>();
    expectTypeOf(call.importRows({ url: '/x.csv' })).toEqualTypeOf<Call<{ imported: number }>>();
    expectTypeOf(call.importRows({ url: '/x.csv' }).seq).toEqualTypeOf<number>();
    // @ts-expect-error: `by` is a number
    call.increment({ by: 'x' });
    // @ts-expect-error: the argument is required
    call.increment();
    // @ts-expect-error: no handler of that name
    call.decrement();
  });

  it('types a ModelState’s built-in and custom actions', () => {
    const { call, value } = client.state('things');
    expectTypeOf(value?.list[0]?.name).toEqualTypeOf<string | undefined>();
    expectTypeOf(call.restock({ id: 1, by: 2 })).toEqualTypeOf<Call<{ stock: number }>>();
    expectTypeOf(call.clear()).toEqualTypeOf<Call<undefined>>();
    expectTypeOf(call.load({ page: 2 })).toEqualTypeOf<Call<void>>();
    // @ts-expect-error: `by` is required
    call.restock({ id: 1 });
    // @ts-expect-error: no custom action of that name
    call.archive({ id: 1 });
  });

  it('falls back to untyped states without definitions', () => {
    const untyped = createClient({ url: 'ws://x', token: 't' });
    expectTypeOf(untyped.state('anything').value).toEqualTypeOf<unknown>();
    expectTypeOf(untyped.state('anything').call.whatever).parameters.toEqualTypeOf<[args?: unknown]>();
  });
});
