import { type Accessor, createComponent, createEffect, createSignal, type JSX, Show } from 'solid-js';
import { completeSignIn, fetchSession, type SignedIn } from '@strata/auth/client';
import type { AnyStateDef } from '@strata/state/client';
import { type Action, createAction } from './action.js';
import type { Strata } from './strata.js';

/** The signed-in user as the `auth` state shows it. */
export type CurrentUser = NonNullable<SignedIn['user']>;

/** Sign-in state and flows for a page, over the `auth` state and the HTTP cookie exchange. */
export interface AuthSession {
  /** The signed-in user, `null` when anonymous, `undefined` until known. */
  readonly user: Accessor<CurrentUser | null | undefined>;
  /** Signs in over the socket, sets the HttpOnly cookie through the exchange, and restarts as a tab of the new session. */
  readonly login: Action<[credentials: { login: string; password: string }], boolean>;
  readonly register: Action<[details: { email: string; password: string; name?: string }], boolean>;
  /** Signs out (this session, or every session of the user) and restarts as an anonymous tab. */
  readonly logout: Action<[options?: { everywhere?: boolean }], boolean>;
  /** Asks for a reset link by e-mail (the answer is the same whether or not the account exists). */
  readonly requestReset: Action<[details: { email: string }], unknown>;
  /** Sets a new password with the token from the link; every session of the user ends. */
  readonly resetPassword: Action<[details: { token: string; password: string }], unknown>;
  /** Changes the signed-in user's password; their other sessions end. */
  readonly changePassword: Action<[details: { current: string; password: string }], unknown>;
}

type Calls = Record<string, (args?: unknown) => PromiseLike<unknown> & { cancel(): void; seq: number }>;

/**
 * Auth for a page: `user()`, and `login`, `register`, `logout` as actions with pending and
 * error status. The session cookie is HttpOnly: it is set by the server's `/auth/exchange`,
 * never through `document.cookie`, and the client restarts as a new tab so nothing of the
 * anonymous tab carries over.
 *
 * @example
 * const auth = createAuthSession(strata);
 * <button onClick={() => auth.login({ login: email(), password: password() })} disabled={auth.login.pending()}>Log in</button>
 */
export function createAuthSession<TStates extends AnyStateDef>(strata: Strata<TStates>, options: { prefix?: string; fetch?: typeof fetch } = {}): AuthSession {
  const state = strata.state('auth' as TStates['name']) as unknown as { value: { user?: CurrentUser | null } | undefined; call: Calls; ready: Promise<void> };
  const [known, setKnown] = createSignal(false);
  const refresh = async () => {
    await state.ready;
    await state.call.refresh!();
    setKnown(true);
  };
  // Once joined, and after every restart (sign-in, sign-out), the tab's user is loaded.
  let wasLive = false;
  createEffect(() => {
    const live = strata.status() === 'live';
    if (live && !wasLive) void refresh().catch(() => undefined);
    wasLive = live;
  });
  const startOver = (token: string | undefined) => {
    if (!token) throw new Error('The server answered no join token; is the state runtime registered?');
    setKnown(false);
    strata.restart(token);
  };
  const signIn = async (handler: 'login' | 'register', args: unknown) => {
    const { exchange } = (await state.call[handler]!(args)) as { exchange: string };
    startOver((await completeSignIn(exchange, options)).token);
    return true;
  };
  const fromServer = (fn: (...args: never[]) => Promise<boolean>) => fn as never;
  return {
    user: () => (known() ? (state.value?.user ?? null) : undefined),
    login: createAction(fromServer((credentials: { login: string; password: string }) => wrap(signIn('login', credentials)))),
    register: createAction(fromServer((details: object) => wrap(signIn('register', details)))),
    requestReset: createAction((details: { email: string }) => state.call.requestPasswordReset!(details) as never),
    resetPassword: createAction((details: { token: string; password: string }) => state.call.resetPassword!(details) as never),
    changePassword: createAction((details: { current: string; password: string }) => state.call.changePassword!(details) as never),
    logout: createAction(
      fromServer((logoutOptions?: { everywhere?: boolean }) =>
        wrap(
          (async () => {
            await state.call.logout!(logoutOptions?.everywhere ? { everywhere: true } : undefined);
            startOver((await fetchSession(options)).token);
            return true;
          })(),
        ),
      ),
    ),
  };
}

/** A promise dressed as a call, so `createAction` can track flows made of several steps. */
function wrap<T>(promise: Promise<T>): Promise<T> & { cancel(): void; seq: number } {
  return Object.assign(promise, { cancel: () => undefined, seq: 0 });
}

/**
 * Shows its children to a signed-in user only; anonymous visitors see `fallback`, or are sent
 * to `redirectTo` through `navigate` (a route guard).
 */
export function RequireUser(props: {
  auth: AuthSession;
  fallback?: JSX.Element;
  redirectTo?: string;
  navigate?: (path: string, options: { replace: boolean }) => void;
  children: JSX.Element;
}): JSX.Element {
  createEffect(() => {
    if (props.auth.user() === null && props.redirectTo && props.navigate) props.navigate(props.redirectTo, { replace: true });
  });
  // Show's overloads do not survive createComponent's inference; its props are these.
  return createComponent(Show as (props: { when: unknown; fallback?: JSX.Element; children: JSX.Element }) => JSX.Element, {
    get when() {
      return props.auth.user();
    },
    get fallback() {
      return props.fallback;
    },
    get children() {
      return props.children;
    },
  });
}
