/** The shop's layout: the header (navigation, cart, who is signed in, connection), toasts, and the page. */
import { fetchSession } from '@strata/auth/client';
import { type AuthSession, ConnectionIndicator, createAuthSession, type CurrentUser, type LoadCall, loadCalls, type Route, type Router, type Strata } from '@strata/solid';
import { createEffect, createSignal, For, type JSX, on, runWithOwner, Show } from 'solid-js';
import { type PageMeta, type Shop, ShopContext, type ShopStates } from './context.js';
import { Account } from './pages/Account.js';
import { Cart } from './pages/Cart.js';
import { Catalog } from './pages/Catalog.js';
import { Login } from './pages/Login.js';
import { NotFound } from './pages/NotFound.js';
import { Order } from './pages/Order.js';
import { Orders } from './pages/Orders.js';
import { Product } from './pages/Product.js';
import { Register } from './pages/Register.js';
import { ResetPassword } from './pages/ResetPassword.js';
import { StaffProducts } from './pages/StaffProducts.js';
import { LAYOUT_CALLS, type PageName, routes } from './routes.js';
import './shop.css';

const PAGES: Record<PageName, Route['component']> = {
  catalog: Catalog,
  product: Product,
  cart: Cart,
  orders: Orders,
  order: Order,
  login: Login,
  register: Register,
  account: Account,
  resetPassword: ResetPassword,
  staffProducts: StaffProducts,
};

/** The route table with its components, for `createRouter`. */
export const appRoutes: readonly Route[] = routes.map(({ page, signedIn: _signedIn, staff: _staff, ...route }) => ({ ...route, component: PAGES[page] }));

/** The page: the same tree on the server (`renderToString`) and in the browser (`hydrate`). */
export function App(props: { strata: Strata<ShopStates>; router: Router; meta: PageMeta }): JSX.Element {
  const { strata, router } = props;
  const auth = createAuthSession(strata);
  const cart = strata.state('cart');
  const user = currentUser(strata, auth);
  keepTabCurrent(strata, router, auth);
  const shop: Shop = { strata, router, auth, user, meta: props.meta };

  const logout = async () => {
    // Off a page for signed-in visitors first: it would send the signed-out visitor to the login page.
    if (/^\/(orders|account|staff)(\/|\?|$)/.test(router.location())) router.navigate('/');
    await auth.logout();
  };

  return (
    <ShopContext.Provider value={shop}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <router.Link href="/" class="brand">
          Strata tea shop
        </router.Link>
        <nav aria-label="Main">
          <router.Link href="/">Catalog</router.Link>
          <router.Link href="/cart">
            Cart (<span class="count">{cart.value?.count ?? 0}</span>)
          </router.Link>
          <Show
            when={user()}
            fallback={
              <>
                <router.Link href="/login">Log in</router.Link>
                <router.Link href="/register">Register</router.Link>
              </>
            }
          >
            {(signedIn) => (
              <>
                <router.Link href="/orders">Orders</router.Link>
                <Show when={signedIn().isStaff}>
                  <router.Link href="/staff/products">Manage products</router.Link>
                </Show>
                <router.Link href="/account">{signedIn().email}</router.Link>
                <button type="button" onClick={() => void logout()} disabled={auth.logout.pending()}>
                  Log out
                </button>
              </>
            )}
          </Show>
        </nav>
        <ConnectionIndicator status={strata.status()} />
      </header>
      <div class="toasts" role="status" aria-live="polite">
        <For each={strata.toasts()}>
          {(toast) => (
            <p class={`toast ${toast.level}`}>
              {toast.message}{' '}
              <button type="button" aria-label="Dismiss" onClick={() => strata.dismissToast(toast.id)}>
                ×
              </button>
            </p>
          )}
        </For>
      </div>
      <main id="main">
        <router.View fallback={<NotFound />} />
      </main>
    </ShopContext.Provider>
  );
}

/**
 * The signed-in user: the one the page was rendered with until the socket knows (the auth
 * session says `undefined` until its first refresh, and again after each sign-in or sign-out).
 */
function currentUser(strata: Strata<ShopStates>, auth: AuthSession): () => CurrentUser | null {
  const [last, setLast] = createSignal<CurrentUser | null>((strata.state('auth').value?.user as CurrentUser | null | undefined) ?? null);
  createEffect(() => {
    const known = auth.user();
    if (known !== undefined) setLast(known);
  });
  return () => {
    const known = auth.user();
    return known === undefined ? last() : known;
  };
}

/**
 * Keeps the tab current in the browser (effects do not run on the server): after a later
 * welcome — a new tab after signing in or out, or a reconnect — the page's data is loaded again;
 * a tab the server ended (signed out in another tab, or its token expired) starts over as a new
 * tab of the browser's current session.
 */
function keepTabCurrent(strata: Strata<ShopStates>, router: Router, auth: AuthSession): void {
  let joined = false;
  let restartsSinceLive = 0;
  const run = (call: LoadCall) =>
    // Outside any owner: a state taken inside this effect would be released when it re-runs.
    runWithOwner(null, () => {
      const calls = strata.state(call.state as ShopStates['name']).call as unknown as Record<string, (args?: unknown) => Promise<unknown>>;
      void calls[call.handler]!(call.args).catch(() => undefined);
    });
  createEffect(
    on(strata.status, (status) => {
      if (status === 'live') {
        // The first welcome continues the server-rendered tab: its data is already here. After
        // that, the layout's data (the auth session refreshes the user itself), and the page's
        // unless a navigation in flight is loading it.
        if (joined) {
          const page = router.loading() ? [] : loadCalls(appRoutes, router.location());
          const layout = LAYOUT_CALLS.filter((call) => call.state !== 'auth' && !page.some((own) => own.state === call.state && own.handler === call.handler));
          for (const call of [...page, ...layout]) run(call);
        }
        joined = true;
        restartsSinceLive = 0;
      } else if (status === 'expired') {
        // A sign-in or sign-out in this tab restarts it itself. Two tabs signed out together
        // may each get a new session, and the last cookie wins: the other tab's token is then
        // refused, and its next restart takes the cookie that stayed (at most 3 in a row).
        if (auth.login.pending() || auth.register.pending() || auth.logout.pending() || restartsSinceLive >= 3) return;
        restartsSinceLive++;
        void fetchSession()
          .then(({ token }) => token && strata.restart(token))
          .catch(() => undefined);
      }
    }),
  );
}
