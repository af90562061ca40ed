import { createAction } from '@strata/solid';
import { isServerError } from '@strata/state/client';
import { For, type JSX, Match, Show, Switch } from 'solid-js';
import { money, useShop } from '../context.js';
import { ErrorAlert } from '../forms.js';

/** The cart: its lines with quantities and live stock, the total, and "Checkout" (sign-in required; never oversold). */
export function Cart(): JSX.Element {
  const { strata, router, meta } = useShop();
  meta.title('Your cart');
  const cart = strata.state('cart');
  const checkout = createAction(cart.call.checkout);
  const setQuantity = createAction(cart.call.setQuantity);
  const buy = async () => {
    const placed = await checkout();
    if (placed) router.navigate('/orders');
  };
  const change = (productId: number, value: string) => {
    const quantity = Number(value);
    if (Number.isInteger(quantity) && quantity >= 0 && quantity <= 99) void setQuantity({ productId, quantity });
  };
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      <Show when={cart.value?.lines.length} fallback={<p>Your cart is empty. <router.Link href="/">Browse the catalog</router.Link></p>}>
        <table class="cart">
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Price</th>
              <th scope="col">How many</th>
              <th scope="col">In stock</th>
              <th scope="col">
                <span class="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <For each={cart.value?.lines}>
              {(line) => (
                <tr>
                  <th scope="row" id={`cart-line-${line.id}`}>
                    <router.Link href={`/products/${line.id}`}>{line.name}</router.Link>
                  </th>
                  <td>{money(line.price)}</td>
                  <td>
                    <label id={`cart-quantity-label-${line.id}`} for={`cart-quantity-${line.id}`}>
                      Quantity
                    </label>{' '}
                    {/* Named "Quantity <product>": the visible label, then the row's product. */}
                    <input
                      id={`cart-quantity-${line.id}`}
                      type="number"
                      min="0"
                      max="99"
                      value={line.quantity}
                      aria-labelledby={`cart-quantity-label-${line.id} cart-line-${line.id}`}
                      onChange={(event) => change(line.id, event.currentTarget.value)}
                    />
                  </td>
                  <td>
                    <output aria-label="stock" aria-live="off">
                      {line.stock}
                    </output>
                  </td>
                  <td>
                    <button type="button" onClick={() => change(line.id, '0')}>
                      Remove <span class="visually-hidden">{line.name}</span>
                    </button>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
        <p class="total">
          Total: <strong>{money(cart.value?.total ?? '0.00')}</strong>
        </p>
        <button type="button" onClick={() => void buy()} disabled={checkout.pending()}>
          Checkout
        </button>
        <ErrorAlert error={setQuantity.error()} />
        <Switch>
          <Match when={isServerError(checkout.error(), 'STRATA_AUTH_LOGIN_REQUIRED')}>
            <p role="alert" class="alert">
              Please log in to check out: <router.Link href="/login?next=%2Fcart">log in or register</router.Link>. Your cart stays with you.
            </p>
          </Match>
          <Match when={checkout.error()}>{(error) => <ErrorAlert error={error()} />}</Match>
        </Switch>
      </Show>
    </section>
  );
}
