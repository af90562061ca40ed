import { createRenderEffect, For, type JSX, Match, Switch } from 'solid-js';
import { money, useShop } from '../context.js';
import { positiveInt } from '../routes.js';
import { SignedIn } from '../SignedIn.js';
import { NotFound } from './NotFound.js';
import { orderTime } from './Orders.js';

/** One of the customer's orders (another customer's is "not found": the state looks through their scope). */
export function Order(props: { params: Readonly<Record<string, string>> }): JSX.Element {
  return (
    <SignedIn>
      <OrderDetails id={positiveInt(props.params.id)} />
    </SignedIn>
  );
}

function OrderDetails(props: { id: number | undefined }): JSX.Element {
  const { strata, router, meta } = useShop();
  const orders = strata.state('orders');
  const order = () => {
    const editing = orders.value?.editing;
    return editing && editing.id === props.id ? editing : undefined;
  };
  createRenderEffect(() => {
    const shown = order();
    if (shown) meta.title(`Order ${shown.id}`);
  });
  return (
    <Switch fallback={<NotFound what="Order" />}>
      <Match when={order()}>
        {(shown) => (
          <section aria-labelledby="order-title">
            <h1 id="order-title">Order {shown().id}</h1>
            <p>Placed {orderTime(String(shown().createdAt))}.</p>
            <table>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Price</th>
                  <th scope="col">Quantity</th>
                </tr>
              </thead>
              <tbody>
                <For each={shown().lines}>
                  {(line) => (
                    <tr>
                      <th scope="row">{line.name}</th>
                      <td>{money(line.price)}</td>
                      <td>{line.quantity}</td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
            <p class="total">
              Total: <strong>{money(shown().total)}</strong>
            </p>
            <router.Link href="/orders">All your orders</router.Link>
          </section>
        )}
      </Match>
      <Match when={props.id && router.loading()}>
        <p>Loading…</p>
      </Match>
    </Switch>
  );
}
