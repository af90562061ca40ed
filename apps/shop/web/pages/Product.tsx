import { createAction } from '@strata/solid';
import { createRenderEffect, createSignal, type JSX, Match, Show, Switch } from 'solid-js';
import { money, type ProductRow, useShop } from '../context.js';
import { ErrorAlert } from '../forms.js';
import { positiveInt } from '../routes.js';
import { NotFound } from './NotFound.js';

/** One product: its details, its live stock, and "Add to cart". */
export function Product(props: { params: Readonly<Record<string, string>> }): JSX.Element {
  const { strata, router, meta } = useShop();
  const product = strata.state('product');
  const id = () => positiveInt(props.params.id);
  // The state holds the last product this tab loaded: show it only once it is this one.
  const shown = () => {
    const row = product.value?.product as ProductRow | null | undefined;
    return row && row.id === id() ? row : undefined;
  };
  const missing = () => !id() || (product.value?.missing === true && !router.loading());
  createRenderEffect(() => {
    const row = shown();
    if (row) meta.title(row.name);
  });
  return (
    <Switch fallback={<p>Loading…</p>}>
      <Match when={shown()}>{(row) => <ProductDetails product={row()} />}</Match>
      <Match when={missing()}>
        <NotFound what="Product" />
      </Match>
    </Switch>
  );
}

function ProductDetails(props: { product: ProductRow }): JSX.Element {
  const { strata, router } = useShop();
  const add = createAction(strata.state('cart').call.add);
  const [quantity, setQuantity] = createSignal('1');
  const [added, setAdded] = createSignal(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setAdded(false);
    await add({ productId: props.product.id, quantity: Number(quantity()) });
    if (!add.error()) setAdded(true);
  };
  return (
    <article aria-labelledby="product-title">
      <h1 id="product-title">{props.product.name}</h1>
      <p class="category">{props.product.category?.name}</p>
      <p>{props.product.description}</p>
      <p class="price">{money(props.product.price)}</p>
      <p>
        In stock: <output aria-label="stock">{props.product.stock}</output>
      </p>
      <form class="add" onSubmit={(event) => void submit(event)}>
        <p class="field">
          <label for="product-quantity">Quantity</label>
          <input
            id="product-quantity"
            name="quantity"
            type="number"
            min="1"
            max="99"
            value={quantity()}
            onInput={(event) => setQuantity(event.currentTarget.value)}
            aria-invalid={add.fieldErrors().quantity ? true : undefined}
            aria-describedby={add.error() ? 'product-add-error' : undefined}
          />
        </p>
        <button type="submit" disabled={add.pending() || props.product.stock === 0}>
          Add to cart
        </button>
        <div id="product-add-error">
          <ErrorAlert error={add.error()} />
        </div>
        <Show when={added()}>
          <p role="status">
            Added to your cart. <router.Link href="/cart">Go to your cart</router.Link>
          </p>
        </Show>
      </form>
    </article>
  );
}
