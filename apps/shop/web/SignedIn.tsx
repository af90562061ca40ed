import { createEffect, type JSX, Show } from 'solid-js';
import { useShop } from './context.js';

/**
 * Shows its children to a signed-in visitor (with `staff`, to staff only). A visitor the
 * socket says is anonymous is sent to the login page, which brings them back (the server
 * redirects before rendering; this covers navigations in the page and signing out elsewhere).
 */
export function SignedIn(props: { staff?: boolean; children: JSX.Element }): JSX.Element {
  const { auth, user, router } = useShop();
  // `auth.user()` is undefined until the tab knows (e.g. just after signing in): only a known "nobody" redirects.
  createEffect(() => {
    if (auth.user() === null) router.navigate(`/login?next=${encodeURIComponent(router.location())}`, { replace: true });
  });
  return (
    <Show when={user()} fallback={<p>{auth.user() === undefined ? 'Checking who you are…' : 'Please log in to see this page.'}</p>}>
      {(signedIn) => (
        <Show when={!props.staff || signedIn().isStaff} fallback={<p role="alert">This page is for staff only.</p>}>
          {props.children}
        </Show>
      )}
    </Show>
  );
}
