import { createForm } from '@strata/solid';
import { createMemo, type JSX, Show } from 'solid-js';
import { safeNext, useShop } from '../context.js';
import { Field, FormError, flowCall } from '../forms.js';

/** Signing in over the socket (the cookie is set by the HTTP exchange, never by script); then back to `?next=`. */
export function Login(): JSX.Element {
  const { auth, router, user, meta } = useShop();
  meta.title('Log in');
  const next = createMemo(() => safeNext(new URL(router.location(), 'http://x').searchParams.get('next')));
  const form = createForm({ initial: { login: '', password: '' }, submit: (data) => flowCall(auth.login, data) });
  const submit = async (event: Event) => {
    if (await form.submit(event)) router.navigate(next(), { replace: true });
  };
  return (
    <section aria-labelledby="login-title" class="narrow">
      <h1 id="login-title">Log in</h1>
      <Show when={user()}>{(signedIn) => <p>You are signed in as {signedIn().email}.</p>}</Show>
      {/* POST: before the script runs, a submission must never put a password in the URL. */}
      <form method="post" onSubmit={(event) => void submit(event)} novalidate>
        <Field form={form} name="login" label="Email" type="email" autocomplete="username" />
        <Field form={form} name="password" label="Password" type="password" autocomplete="current-password" />
        <FormError form={form} />
        <button type="submit" disabled={form.pending()}>
          Log in
        </button>
      </form>
      <p>
        New here? <router.Link href={`/register${next() === '/' ? '' : `?next=${encodeURIComponent(next())}`}`}>Create an account</router.Link>.{' '}
        <router.Link href="/reset-password">Forgot your password?</router.Link>
      </p>
    </section>
  );
}
