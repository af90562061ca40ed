import { createForm } from '@strata/solid';
import { createSignal, type JSX, Show } from 'solid-js';
import { useShop } from '../context.js';
import { Field, FormError } from '../forms.js';
import { SignedIn } from '../SignedIn.js';

/** The signed-in user's account: change the password (their other sessions end), sign out everywhere. */
export function Account(): JSX.Element {
  const { meta } = useShop();
  meta.title('Your account');
  return (
    <SignedIn>
      <ChangePassword />
    </SignedIn>
  );
}

function ChangePassword(): JSX.Element {
  const { strata, auth, user, router } = useShop();
  const [changed, setChanged] = createSignal(false);
  const form = createForm({ initial: { current: '', password: '' }, submit: (data) => strata.state('auth').call.changePassword(data) });
  const submit = async (event: Event) => {
    setChanged(false);
    if (await form.submit(event)) {
      form.reset();
      setChanged(true);
    }
  };
  const logoutEverywhere = async () => {
    if (await auth.logout({ everywhere: true })) router.navigate('/');
  };
  return (
    <section aria-labelledby="account-title" class="narrow">
      <h1 id="account-title">Your account</h1>
      <p>Signed in as {user()?.email}.</p>
      <h2>Change your password</h2>
      <form method="post" onSubmit={(event) => void submit(event)} novalidate>
        <Field form={form} name="current" label="Current password" type="password" autocomplete="current-password" />
        <Field form={form} name="password" label="New password" type="password" autocomplete="new-password" />
        <FormError form={form} />
        <button type="submit" disabled={form.pending()}>
          Change password
        </button>
        <Show when={changed()}>
          <p role="status">Your password was changed; your other sessions were signed out.</p>
        </Show>
      </form>
      <h2>Devices</h2>
      <button type="button" onClick={() => void logoutEverywhere()} disabled={auth.logout.pending()}>
        Log out everywhere
      </button>
    </section>
  );
}
