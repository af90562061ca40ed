import { For, type JSX, Show } from 'solid-js';
import { money, useShop } from '../context.js';
import { Pager } from '../Pager.js';
import { SignedIn } from '../SignedIn.js';

/** An order's time, the same on the server and in the browser (no time zone of either). */
export function orderTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** The signed-in customer's orders, newest first. */
export function Orders(): JSX.Element {
  const { meta } = useShop();
  meta.title('Your orders');
  return (
    <SignedIn>
      <OrderList />
    </SignedIn>
  );
}

function OrderList(): JSX.Element {
  const { strata, router } = useShop();
  const orders = strata.state('orders');
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Your orders</h1>
      <Show when={orders.value?.total} fallback={<p>No orders yet.</p>}>
        <ul class="orders">
          <For each={orders.value?.list}>
            {(order) => (
              <li>
                <router.Link href={`/orders/${order.id}`}>Order {order.id}</router.Link> — {orderTime(String(order.createdAt))} — {money(order.total)}:{' '}
                {order.lines.map((line) => `${line.quantity} × ${line.name}`).join(', ')}
              </li>
            )}
          </For>
        </ul>
        <Pager page={orders.value?.page ?? 1} total={orders.value?.total ?? 0} pageSize={orders.value?.pageSize ?? 1} href={(page) => `/orders?page=${page}`} />
      </Show>
    </section>
  );
}
