/** Form pieces: a labelled field with its errors next to it, and sign-in flows as form submissions. */
import { type Call, isServerError, ServerError } from '@strata/state/client';
import type { Action, Form } from '@strata/solid';
import { type JSX, Show } from 'solid-js';

/**
 * A flow of several steps (a socket call, then the cookie exchange) as the call `createForm`
 * submits: its refusal, with its fields, shows in the form; any other failure as a message.
 */
export function flowCall<TArgs>(action: Action<[TArgs], unknown>, args: TArgs): Call<true> {
  const run = async (): Promise<true> => {
    try {
      if ((await action(args)) !== undefined) return true;
    } catch (error) {
      throw isServerError(error) ? error : new ServerError('SHOP_SIGN_IN_FAILED', error instanceof Error ? error.message : 'Signing in failed; try again.');
    }
    throw action.error() ?? new ServerError('SHOP_SIGN_IN_FAILED', 'Signing in failed; try again.');
  };
  return Object.assign(run(), { cancel: () => undefined, seq: 0 });
}

// biome-ignore lint: a field of any form.
type AnyForm = Form<any, any>;

/** A control of `form`'s field `name` with its visible label and its errors next to it (tied by `aria-describedby`). */
export function FieldFrame(props: { form: AnyForm; name: string; label: string; children: JSX.Element }): JSX.Element {
  return (
    <p class="field">
      <label {...props.form.label(props.name)}>{props.label}</label>
      {props.children}
      <span id={props.form.errorId(props.name)} class="field-error">
        {props.form.errors(props.name).join(' ')}
      </span>
    </p>
  );
}

/** A labelled input bound to `form`'s field `name`. */
export function Field(props: { form: AnyForm; name: string; label: string; type?: string; autocomplete?: string; inputmode?: 'decimal' | 'numeric' }): JSX.Element {
  return (
    <FieldFrame form={props.form} name={props.name} label={props.label}>
      <input {...props.form.field(props.name)} type={props.type ?? 'text'} autocomplete={props.autocomplete} inputmode={props.inputmode} />
    </FieldFrame>
  );
}

/** The form's message for a refusal that names no field. */
export function FormError(props: { form: AnyForm }): JSX.Element {
  return (
    <Show when={props.form.formError()}>
      {(message) => (
        <p role="alert" class="alert">
          {message()}
        </p>
      )}
    </Show>
  );
}

/** A call's refusal, as an alert. */
export function ErrorAlert(props: { error: { message: string } | undefined }): JSX.Element {
  return (
    <Show when={props.error}>
      {(error) => (
        <p role="alert" class="alert">
          {error().message}
        </p>
      )}
    </Show>
  );
}
