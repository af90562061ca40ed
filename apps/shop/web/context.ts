/** What every page of the shop shares: the connection, the router, the session, and the page's metadata. */
import type { Auth } from '@strata/auth';
import type { AuthSession, CurrentUser, Router, Strata } from '@strata/solid';
import type { DeepReadonly, inferClientState } from '@strata/state/client';
import { type Accessor, createContext, useContext } from 'solid-js';
import type { CartState, Categories, Orders, ProductPage, Products } from '../src/states.js';

/** The server's states, by type only: nothing of the server reaches the browser. */
export type ShopStates = typeof Products | typeof ProductPage | typeof Categories | typeof CartState | typeof Orders | Auth['AuthState'];

/** What a page tells the document around it (on the server, the HTML's title and status). */
export interface PageMeta {
  title(text: string): void;
  /** This URL shows nothing: the server answers 404. */
  notFound(): void;
}

export interface Shop {
  strata: Strata<ShopStates>;
  router: Router;
  auth: AuthSession;
  /** The signed-in user (null when anonymous): the server-rendered one until the socket says. */
  user: Accessor<CurrentUser | null>;
  meta: PageMeta;
}

export const ShopContext = createContext<Shop>();

/** The shop of the page being rendered. */
export function useShop(): Shop {
  const shop = useContext(ShopContext);
  if (!shop) throw new Error('useShop() is used outside <App>.');
  return shop;
}

/** The same-origin path a `?next=` names, or `fallback` (never another site). */
export function safeNext(value: string | null, fallback = '/'): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : fallback;
}

/** A product as the `products` state lists it. */
export type ProductRow = DeepReadonly<inferClientState<typeof Products>['list'][number]>;

/** A price as the shop shows it. */
export function money(amount: string | number): string {
  return `€${typeof amount === 'number' ? amount.toFixed(2) : amount}`;
}
