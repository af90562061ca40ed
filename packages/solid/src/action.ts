import { type Accessor, batch, createSignal } from 'solid-js';
import { type Call, isServerError, type ServerError } from '@strata/state/client';

/** A handler call with its status as signals. */
export interface Action<TArgs extends unknown[], TResult> {
  /** Sends the event; resolves with the result, or `undefined` when it failed (see `error()`). */
  (...args: TArgs): Promise<TResult | undefined>;
  /** True while a call is in flight. */
  readonly pending: Accessor<boolean>;
  /** The last call's error (a server refusal keeps its code and message), cleared by the next call. */
  readonly error: Accessor<ServerError | undefined>;
  /** The last call's field errors (`{ price: ['…'] }`), from a refusal or a ModelState save answer. */
  readonly fieldErrors: Accessor<Readonly<Record<string, readonly string[]>>>;
  /** The last successful result. */
  readonly result: Accessor<TResult | undefined>;
  /** Cancels the call in flight (a background task stops; an event not yet sent is dropped). */
  cancel(): void;
}

const NO_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({});

/**
 * Wraps a handler (`state.call.save`) with pending, error, field-error and result signals.
 *
 * @example
 * const save = createAction(products.call.save);
 * <button disabled={save.pending()} onClick={() => save({ data })}>Save</button>
 * <Show when={save.error()}>{(e) => <p role="alert">{e().message}</p>}</Show>
 */
export function createAction<TArgs extends unknown[], TResult>(handler: (...args: TArgs) => Call<TResult>): Action<TArgs, TResult> {
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<ServerError | undefined>();
  const [fieldErrors, setFieldErrors] = createSignal<Readonly<Record<string, readonly string[]>>>(NO_FIELDS);
  const [result, setResult] = createSignal<TResult | undefined>();
  let current: Call<TResult> | undefined;
  const run = async (...args: TArgs): Promise<TResult | undefined> => {
    const call = handler(...args);
    current = call;
    batch(() => {
      setPending(true);
      setError(undefined);
      setFieldErrors(NO_FIELDS);
    });
    try {
      const value = await call;
      if (current === call) {
        batch(() => {
          setResult(() => value);
          // A ModelState save answers its field errors as a value, not a refusal.
          const fields = (value as { ok?: unknown; fieldErrors?: unknown } | undefined)?.fieldErrors;
          if ((value as { ok?: unknown } | undefined)?.ok === false && typeof fields === 'object' && fields !== null) setFieldErrors(fields as Record<string, string[]>);
        });
      }
      return value;
    } catch (caught) {
      if (current === call) {
        const failure = isServerError(caught) ? caught : undefined;
        batch(() => {
          setError(() => failure);
          setFieldErrors(failure?.fields ?? NO_FIELDS);
        });
        if (!failure) throw caught;
      }
      return undefined;
    } finally {
      if (current === call) setPending(false);
    }
  };
  return Object.assign(run, { pending, error, fieldErrors, result, cancel: () => current?.cancel() });
}
