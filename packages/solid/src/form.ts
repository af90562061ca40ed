import { type Accessor, batch, createSignal, createUniqueId } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import type { Call, ServerError } from '@strata/state/client';
import { createAction } from './action.js';

/** What `createForm` needs of a validator: `createInputValidator(description)` from `@strata/serializer/client` fits. */
export interface FormValidator<TData> {
  parse(input: unknown, options?: { partial?: boolean }): { ok: true; data: TData } | { ok: false; errors: Record<string, string[]> };
}

/** Options of {@link createForm}. */
export interface FormOptions<TValues extends Record<string, unknown>, TData, TResult> {
  /** The fields and their starting values. */
  initial: TValues;
  /** Checks the values in the browser before sending (the server checks again). */
  validator?: FormValidator<TData>;
  /** Validate as an update: only the fields present must be valid. */
  partial?: boolean;
  /** Sends the (validated) data: usually a handler call, `(data) => products.call.save({ data })`. */
  submit: (data: TData) => Call<TResult>;
}

/** The attributes of an input bound to a field: spread them onto `<input>`, `<select>` or `<textarea>`. */
export interface FieldProps {
  id: string;
  name: string;
  value: string;
  'aria-invalid': boolean;
  'aria-describedby': string | undefined;
  disabled: boolean;
  onInput: (event: { currentTarget: { value: string } }) => void;
}

/** A form bound to a serializer's input schema and a handler. */
export interface Form<TValues extends Record<string, unknown>, TResult> {
  /** The current values (a store: reading a field tracks that field). */
  readonly values: TValues;
  setValue<K extends keyof TValues & string>(name: K, value: TValues[K]): void;
  /** Attributes for the field's input: id, name, value, `aria-invalid`, `aria-describedby` (its errors' id), disabled while pending. */
  field(name: keyof TValues & string): FieldProps;
  /** Attributes for the field's `<label>`: `for` its input. */
  label(name: keyof TValues & string): { for: string };
  /** The field's messages, from the browser's check or the server's answer. */
  errors(name: keyof TValues & string): readonly string[];
  /** The id of the element showing the field's errors (what `aria-describedby` points at). */
  errorId(name: keyof TValues & string): string;
  /** A message for the whole form (a refusal that names no field). */
  readonly formError: Accessor<string | undefined>;
  readonly pending: Accessor<boolean>;
  /** The last successful answer. */
  readonly result: Accessor<TResult | undefined>;
  /** Validates, then sends; for `onSubmit` (it prevents the page load). Resolves true when the server accepted. */
  submit(event?: { preventDefault(): void }): Promise<boolean>;
  /** Back to the initial values, no errors. */
  reset(): void;
}

/**
 * A form over a serializer's input: checked in the browser before sending, the server's field
 * errors shown next to their fields, disabled while the call is in flight, and accessible
 * (labels tied to inputs, `aria-invalid`, errors tied by `aria-describedby`).
 *
 * @example
 * const form = createForm({ initial: { name: '', price: '' }, validator, submit: (data) => products.call.save({ data }) });
 * <form onSubmit={form.submit}>
 *   <label {...form.label('name')}>Name</label><input {...form.field('name')} />
 *   <p id={form.errorId('name')}>{form.errors('name').join(' ')}</p>
 *   <button type="submit" disabled={form.pending()}>Save</button>
 * </form>
 */
export function createForm<TValues extends Record<string, unknown>, TData = TValues, TResult = unknown>(
  options: FormOptions<TValues, TData, TResult>,
): Form<TValues, TResult> {
  const prefix = `strata-form-${createUniqueId()}`;
  const [values, setValues] = createStore<TValues>(structuredClone(options.initial));
  const [errors, setErrors] = createStore<Record<string, readonly string[]>>({});
  const [formError, setFormError] = createSignal<string | undefined>();
  const action = createAction(options.submit);
  const none: readonly string[] = [];
  const errorsOf = (name: string) => errors[name] ?? none;

  const showErrors = (fields: Readonly<Record<string, readonly string[]>>, failure?: ServerError) => {
    batch(() => {
      setErrors(reconcile({ ...fields }));
      const general = fields.__all__?.join(' ') ?? (failure && Object.keys(fields).length === 0 ? failure.message : undefined);
      setFormError(general);
    });
  };

  return {
    values,
    setValue: (name, value) => setValues(name as never, value as never),
    field: (name) => ({
      id: `${prefix}-${name}`,
      name,
      get value() {
        const value = values[name];
        return value === undefined || value === null ? '' : String(value);
      },
      get 'aria-invalid'() {
        return errorsOf(name).length > 0;
      },
      get 'aria-describedby'() {
        return errorsOf(name).length > 0 ? `${prefix}-${name}-errors` : undefined;
      },
      get disabled() {
        return action.pending();
      },
      onInput: (event) => setValues(name as never, event.currentTarget.value as never),
    }),
    label: (name) => ({ for: `${prefix}-${name}` }),
    errors: errorsOf,
    errorId: (name) => `${prefix}-${name}-errors`,
    formError,
    pending: action.pending,
    result: action.result,
    async submit(event) {
      event?.preventDefault();
      if (action.pending()) return false;
      let data = { ...values } as unknown as TData;
      if (options.validator) {
        const parsed = options.validator.parse({ ...values }, options.partial ? { partial: true } : {});
        if (!parsed.ok) {
          showErrors(parsed.errors);
          return false;
        }
        data = parsed.data;
      }
      showErrors({});
      const answer = await action(data);
      const failure = action.error();
      const fields = action.fieldErrors();
      if (failure || Object.keys(fields).length) {
        showErrors(fields, failure);
        return false;
      }
      return answer !== undefined || !failure;
    },
    reset() {
      batch(() => {
        setValues(reconcile(structuredClone(options.initial)));
        showErrors({});
      });
    },
  };
}
