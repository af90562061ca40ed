import { createForm } from '@strata/solid';
import { createMemo, type JSX } from 'solid-js';
import { safeNext, useShop } from '../context.js';
import { Field, FormError, flowCall } from '../forms.js';

/** A new customer account; signed in at once (an anonymous cart carries over). */
export function Register(): JSX.Element {
  const { auth, router, meta } = useShop();
  meta.title('Register');
  const next = createMemo(() => safeNext(new URL(router.location(), 'http://x').searchParams.get('next')));
  const form = createForm({ initial: { email: '', password: '' }, submit: (data) => flowCall(auth.register, data) });
  const submit = async (event: Event) => {
    if (await form.submit(event)) router.navigate(next(), { replace: true });
  };
  return (
    <section aria-labelledby="register-title" class="narrow">
      <h1 id="register-title">Create an account</h1>
      <form method="post" onSubmit={(event) => void submit(event)} novalidate>
        <Field form={form} name="email" label="Email" type="email" autocomplete="email" />
        <Field form={form} name="password" label="Password (at least 8 characters, not a common one)" type="password" autocomplete="new-password" />
        <FormError form={form} />
        <button type="submit" disabled={form.pending()}>
          Register
        </button>
      </form>
      <p>
        Already have an account? <router.Link href="/login">Log in instead</router.Link>.
      </p>
    </section>
  );
}
