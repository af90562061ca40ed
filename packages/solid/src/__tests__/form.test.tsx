// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { connectStrata, gate, startServer } from './server.js';
import * as v from 'valibot';
import { defineModel, f } from './model.js';
import { cleanup, fireEvent, render, screen } from '@solidjs/testing-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createModelSerializer } from '@strata/serializer';
import { createInputValidator } from '@strata/serializer/client';
import { defineState, EventError } from '@strata/state/server';
import { createForm, type Strata } from '..';

const Item = defineModel('shop.Item', { fields: { name: f.text({ minLength: 2, maxLength: 20 }) } });
const ItemSerializer = createModelSerializer(Item, { fields: ['name'] });
// What the server sends the page: the serializer's input description, rebuilt into a validator in the browser.
const description = JSON.parse(JSON.stringify(ItemSerializer.describe())) as ReturnType<typeof ItemSerializer.describe>;
const validator = createInputValidator<typeof ItemSerializer>(description);

let submits = 0;
let held = Promise.resolve();
const Items = defineState('items', {
  vars: () => ({ names: [] as string[] }),
  handlers: (h) => ({
    add: h.event({
      args: v.object({ name: v.string() }),
      run: async (s, { name }) => {
        submits++;
        await held;
        if (name === 'Closed') throw new EventError('SHOP_CLOSED', 'The shop is closed.');
        if (name === 'Taken') throw new EventError('SHOP_TAKEN', 'That name is taken.', { fields: { name: ['That name is taken.'] } });
        s.names.push(name);
        return { saved: name };
      },
    }),
  }),
});

beforeEach(() => {
  submits = 0;
  held = Promise.resolve();
});
afterEach(() => cleanup());

function ItemForm(props: { strata: Strata<typeof Items>; answers: Promise<boolean>[] }) {
  const items = props.strata.state('items');
  const form = createForm({ initial: { name: '' }, validator, submit: (data) => items.call.add(data) });
  return (
    <form onSubmit={(event) => props.answers.push(form.submit(event))}>
      <label {...form.label('name')}>Name</label>
      <input {...form.field('name')} />
      <p id={form.errorId('name')}>{form.errors('name').join(' ')}</p>
      <p role="alert">{form.formError()}</p>
      <button type="submit" disabled={form.pending()}>
        Save
      </button>
    </form>
  );
}

async function renderForm() {
  const { strata, log } = await connectStrata<typeof Items>(await startServer([Items]));
  await strata.state('items').ready;
  const answers: Promise<boolean>[] = [];
  render(() => <ItemForm strata={strata} answers={answers} />);
  const input = screen.getByLabelText('Name') as HTMLInputElement;
  const button = screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement;
  const type = (value: string) => {
    input.value = value;
    fireEvent.input(input);
  };
  const submit = () => {
    fireEvent.click(button);
    return answers.at(-1)!;
  };
  const errorsShown = () => document.getElementById(input.getAttribute('aria-describedby') ?? '')?.textContent;
  return { strata, log, input, button, type, submit, errorsShown };
}

describe('createForm', () => {
  it('ties the label to its input and the error element to the field', async () => {
    const { input } = await renderForm();
    const label = screen.getByText('Name');
    expect(label.getAttribute('for')).toBe(input.id);
    expect(input.name).toBe('name');
    expect(input.getAttribute('aria-invalid')).not.toBe('true');
    expect(input.getAttribute('aria-describedby')).toBeNull();
  });

  it('shows the browser check’s errors next to the field and sends nothing', async () => {
    const { input, type, submit, errorsShown, log } = await renderForm();
    const expected = validator.parse({ name: 'x' });
    expect(expected.ok).toBe(false);
    const messages = expected.ok ? [] : expected.errors.name!;
    expect(messages.length).toBeGreaterThan(0);

    type('x');
    expect(await submit()).toBe(false);

    expect(input.getAttribute('aria-invalid')).toBe('true');
    const describedBy = input.getAttribute('aria-describedby');
    expect(describedBy).toBeTruthy();
    expect(errorsShown()).toBe(messages.join(' '));
    expect(submits).toBe(0);
    expect(log.sent.filter((frame) => frame.t === 'event')).toEqual([]);
  });

  it('shows the server’s field errors next to the field', async () => {
    const { input, type, submit, errorsShown } = await renderForm();

    type('Taken');
    expect(await submit()).toBe(false);

    expect(submits).toBe(1);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(errorsShown()).toBe('That name is taken.');
  });

  it('shows a refusal that names no field as the form’s error', async () => {
    const { input, type, submit } = await renderForm();

    type('Closed');
    expect(await submit()).toBe(false);

    expect(screen.getByRole('alert').textContent).toBe('The shop is closed.');
    expect(input.getAttribute('aria-invalid')).not.toBe('true');
  });

  it('disables the inputs while the call is in flight, then clears the errors and answers true', async () => {
    const { strata, input, button, type, submit, errorsShown } = await renderForm();
    type('x');
    await submit();
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const server = gate();
    held = server.wait;

    type('Sencha');
    const answer = submit();
    expect([input.disabled, button.disabled]).toEqual([true, true]);
    server.open();

    expect(await answer).toBe(true);
    expect([input.disabled, button.disabled]).toEqual([false, false]);
    expect(input.getAttribute('aria-invalid')).not.toBe('true');
    expect(errorsShown()).toBeUndefined();
    expect(strata.state('items').value?.names).toEqual(['Sencha']);
  });
});
