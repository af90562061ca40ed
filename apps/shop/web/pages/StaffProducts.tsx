import { createAction, createForm } from '@strata/solid';
import { createMemo, createSignal, For, type JSX, Show } from 'solid-js';
import { money, type ProductRow, useShop } from '../context.js';
import { ErrorAlert, Field, FieldFrame, FormError } from '../forms.js';
import { Pager } from '../Pager.js';
import { SignedIn } from '../SignedIn.js';

/** Staff product management: the list with live stock, and an editor whose stale saves are refused with the current values. */
export function StaffProducts(): JSX.Element {
  const { meta } = useShop();
  meta.title('Manage products');
  return (
    <SignedIn staff>
      <ProductManager />
    </SignedIn>
  );
}

function ProductManager(): JSX.Element {
  const { strata } = useShop();
  const products = strata.state('products');
  const startEdit = createAction(products.call.startEdit);
  const [notice, setNotice] = createSignal('');
  // Keyed by id: the editor (and what was typed) stays while the server's copy of the row changes.
  const editingId = createMemo(() => products.value?.editing?.id);
  const edit = (id: number) => {
    setNotice('');
    void startEdit({ id });
  };
  return (
    <section aria-labelledby="staff-title">
      <h1 id="staff-title">Manage products</h1>
      <Show when={notice()}>
        <p role="status">{notice()}</p>
      </Show>
      <ErrorAlert error={startEdit.error()} />
      <Show when={editingId()} keyed>
        {(_id) => <ProductEditor row={products.value!.editing!} onDone={setNotice} />}
      </Show>
      <table class="products">
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Category</th>
            <th scope="col">Price</th>
            <th scope="col">In stock</th>
            <th scope="col">
              <span class="visually-hidden">Edit</span>
            </th>
          </tr>
        </thead>
        <tbody>
          <For each={products.value?.list}>
            {(product) => (
              <tr>
                <th scope="row">{product.name}</th>
                <td>{product.category?.name}</td>
                <td>{money(product.price)}</td>
                <td>
                  <output aria-label="stock" aria-live="off">
                    {product.stock}
                  </output>
                </td>
                <td>
                  <button type="button" onClick={() => edit(product.id)}>
                    Edit <span class="visually-hidden">{product.name}</span>
                  </button>
                </td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <Pager page={products.value?.page ?? 1} total={products.value?.total ?? 0} pageSize={products.value?.pageSize ?? 1} href={(page) => `/staff/products?page=${page}`} />
    </section>
  );
}

/** A whole number typed in a form, or the text itself (the server's validation says what is wrong with it). */
const wholeNumber = (text: string): number | string => (/^\s*-?\d{1,12}\s*$/.test(text) ? Number(text) : text);

function ProductEditor(props: { row: ProductRow; onDone: (notice: string) => void }): JSX.Element {
  const { strata } = useShop();
  const products = strata.state('products');
  const categories = strata.state('categories');
  const row = props.row;
  // The version this edit started from; after a conflict, the one the staff member has now seen.
  const [version, setVersion] = createSignal(row.version);
  const [conflict, setConflict] = createSignal<ProductRow>();
  const [confirming, setConfirming] = createSignal(false);
  const remove = createAction(products.call.delete);
  const form = createForm({
    initial: { name: row.name, price: row.price, stock: String(row.stock), description: row.description, categoryId: String(row.categoryId) },
    submit: (data) =>
      products.call.save({ id: row.id, version: version(), data: { ...data, stock: wholeNumber(data.stock), categoryId: wholeNumber(data.categoryId) } }),
  });
  const save = async (event: Event) => {
    setConflict(undefined);
    if (!(await form.submit(event))) return;
    const outcome = form.result();
    if (outcome?.ok) props.onDone(`Saved ${outcome.row.name}.`);
    else if (outcome && 'conflict' in outcome) {
      setConflict(outcome.conflict as ProductRow);
      setVersion(outcome.conflict.version);
    }
  };
  const destroy = async () => {
    await remove({ id: row.id });
    if (!remove.error()) props.onDone(`Deleted ${row.name}.`);
  };
  return (
    <form class="editor" method="post" aria-labelledby="editor-title" onSubmit={(event) => void save(event)} novalidate>
      <h2 id="editor-title">Edit {row.name}</h2>
      <Show when={conflict()}>{(theirs) => <ConflictNotice theirs={theirs()} />}</Show>
      <Field form={form} name="name" label="Name" />
      <Field form={form} name="price" label="Price (€)" inputmode="decimal" />
      <Field form={form} name="stock" label="In stock" inputmode="numeric" />
      <FieldFrame form={form} name="categoryId" label="Category">
        <select {...form.field('categoryId')} onChange={(event) => form.setValue('categoryId', event.currentTarget.value)}>
          <For each={categories.value?.list}>
            {(category) => (
              <option value={category.id} selected={String(category.id) === form.values.categoryId}>
                {category.name}
              </option>
            )}
          </For>
        </select>
      </FieldFrame>
      <FieldFrame form={form} name="description" label="Description">
        <textarea {...form.field('description')} rows="3" />
      </FieldFrame>
      <FormError form={form} />
      <div class="actions">
        <button type="submit" disabled={form.pending()}>
          Save
        </button>
        <button type="button" onClick={() => void products.call.cancelEdit().catch(() => undefined)}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => setConfirming(true)} disabled={remove.pending()}>
          Delete
        </button>
      </div>
      <Show when={confirming()}>
        <p role="alert" class="alert">
          Delete {row.name} for good?{' '}
          <button type="button" class="danger" onClick={() => void destroy()} disabled={remove.pending()}>
            Yes, delete it
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </p>
      </Show>
      <ErrorAlert error={remove.error()} />
    </form>
  );
}

/** A save refused because someone else saved first: their values, and what to do. */
function ConflictNotice(props: { theirs: ProductRow }): JSX.Element {
  return (
    <div role="alert" class="alert">
      <p>Someone else changed this product while you were editing it. It is now:</p>
      <dl>
        <dt>Name</dt>
        <dd>{props.theirs.name}</dd>
        <dt>Price</dt>
        <dd>{money(props.theirs.price)}</dd>
        <dt>In stock</dt>
        <dd>{props.theirs.stock}</dd>
      </dl>
      <p>Your changes are still below: save again to replace theirs, or cancel.</p>
    </div>
  );
}
