import { createForm } from '@strata/solid';
import { createMemo, createSignal, type JSX, Show } from 'solid-js';
import { useShop } from '../context.js';
import { Field, FormError } from '../forms.js';

/** A forgotten password: ask for a link by e-mail, or (with the link's `?token=`) set a new one. */
export function ResetPassword(): JSX.Element {
  const { router, meta } = useShop();
  meta.title('Reset your password');
  const token = createMemo(() => new URL(router.location(), 'http://x').searchParams.get('token'));
  return (
    <section aria-labelledby="reset-title" class="narrow">
      <h1 id="reset-title">Reset your password</h1>
      <Show when={token()} fallback={<RequestLink />}>
        {(value) => <NewPassword token={value()} />}
      </Show>
    </section>
  );
}

function RequestLink(): JSX.Element {
  const { strata } = useShop();
  const [sent, setSent] = createSignal(false);
  const form = createForm({ initial: { email: '' }, submit: (data) => strata.state('auth').call.requestPasswordReset(data) });
  const submit = async (event: Event) => {
    setSent(false);
    setSent(await form.submit(event));
  };
  return (
    <form method="post" onSubmit={(event) => void submit(event)} novalidate>
      <Field form={form} name="email" label="Email" type="email" autocomplete="email" />
      <FormError form={form} />
      <button type="submit" disabled={form.pending()}>
        Send me a link
      </button>
      <Show when={sent()}>
        <p role="status">If an account has this address, a link to reset its password is on its way.</p>
      </Show>
    </form>
  );
}

function NewPassword(props: { token: string }): JSX.Element {
  const { strata, router } = useShop();
  const [changed, setChanged] = createSignal(false);
  const form = createForm({ initial: { password: '' }, submit: (data) => strata.state('auth').call.resetPassword({ token: props.token, password: data.password }) });
  const submit = async (event: Event) => {
    setChanged(await form.submit(event));
  };
  return (
    <form method="post" onSubmit={(event) => void submit(event)} novalidate>
      <Field form={form} name="password" label="New password" type="password" autocomplete="new-password" />
      <FormError form={form} />
      <button type="submit" disabled={form.pending()}>
        Set my new password
      </button>
      <Show when={changed()}>
        <p role="status">
          Your password was changed. <router.Link href="/login">Log in</router.Link> with it.
        </p>
      </Show>
    </form>
  );
}
