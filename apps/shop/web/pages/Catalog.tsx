import { type Accessor, createEffect, createMemo, createSignal, For, type JSX, on, Show } from 'solid-js';
import { money, useShop } from '../context.js';
import { Pager } from '../Pager.js';
import { catalogQuery, catalogUrl, ORDERINGS, positiveInt } from '../routes.js';

type CatalogQuery = ReturnType<typeof catalogQuery>;

/**
 * The catalog: search, a category filter, an ordering and pages, all in the URL (a plain GET
 * form without JavaScript; the router's navigations with it), and each product's live stock.
 */
export function Catalog(): JSX.Element {
  const { strata, router, meta } = useShop();
  const products = strata.state('products');
  meta.title('Catalog');
  const query = createMemo(() => catalogQuery(new URL(router.location(), 'http://x').searchParams));
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Catalog</h1>
      <Filters query={query} />
      <Show when={products.value?.total} fallback={<p>No products match.</p>}>
        <ProductTable search={query().search} />
        <Pager page={products.value?.page ?? 1} total={products.value?.total ?? 0} pageSize={products.value?.pageSize ?? 1} href={(page) => catalogUrl('/', { ...query(), page })} />
      </Show>
    </section>
  );
}

/** Search, category and ordering: a change goes to the first page of the new list. */
function Filters(props: { query: Accessor<CatalogQuery> }): JSX.Element {
  const { strata, router } = useShop();
  const categories = strata.state('categories');
  const [search, setSearch] = createSignal(props.query().search);
  createEffect(on(() => props.query().search, setSearch, { defer: true }));
  const go = (change: Partial<CatalogQuery>) => router.navigate(catalogUrl('/', { ...props.query(), search: search(), ...change, page: 1 }));
  return (
    <form
      class="filters"
      role="search"
      method="get"
      action="/"
      onSubmit={(event) => {
        event.preventDefault();
        go({});
      }}
    >
      <p class="field">
        <label for="catalog-search">Search</label>
        <input id="catalog-search" name="search" type="search" value={search()} onInput={(event) => setSearch(event.currentTarget.value)} />
      </p>
      <p class="field">
        <label for="catalog-category">Category</label>
        <select id="catalog-category" name="categoryId" onChange={(event) => go({ categoryId: positiveInt(event.currentTarget.value) })}>
          <option value="" selected={!props.query().categoryId}>
            All categories
          </option>
          <For each={categories.value?.list}>
            {(category) => (
              <option value={category.id} selected={category.id === props.query().categoryId}>
                {category.name}
              </option>
            )}
          </For>
        </select>
      </p>
      <p class="field">
        <label for="catalog-ordering">Sort by</label>
        <select id="catalog-ordering" name="ordering" onChange={(event) => go({ ordering: event.currentTarget.value })}>
          <For each={Object.entries(ORDERINGS)}>
            {([value, label]) => (
              <option value={value} selected={value === (props.query().ordering || 'name')}>
                {label}
              </option>
            )}
          </For>
        </select>
      </p>
      <button type="submit">Search</button>
    </form>
  );
}

function ProductTable(props: { search: string }): JSX.Element {
  const { strata, router } = useShop();
  const products = strata.state('products');
  return (
    <table class="products">
      <caption>
        {products.value?.total} products{props.search ? ` matching “${props.search}”` : ''}
      </caption>
      <thead>
        <tr>
          <th scope="col">Product</th>
          <th scope="col">Category</th>
          <th scope="col">Price</th>
          <th scope="col">In stock</th>
        </tr>
      </thead>
      <tbody>
        <For each={products.value?.list}>
          {(product) => (
            <tr>
              <th scope="row">
                <router.Link href={`/products/${product.id}`}>{product.name}</router.Link>
              </th>
              <td>{product.category?.name}</td>
              <td>{money(product.price)}</td>
              <td>
                {/* Not announced: a dozen rows' stock changing would drown the page. */}
                <output aria-label="stock" aria-live="off">
                  {product.stock}
                </output>
              </td>
            </tr>
          )}
        </For>
      </tbody>
    </table>
  );
}
