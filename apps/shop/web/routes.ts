/**
 * The shop's pages as data, shared by the server and the browser: each path, the page that
 * shows it, and the handler calls that load its data — the server runs them for the first
 * paint (`registerPages` → `prepareTab`), the browser over the socket after each navigation.
 * No components here (they are JSX, and the server's TypeScript has none): `App.tsx` pairs
 * each `page` with its component.
 */
import type { LoadCall, Route } from '@strata/solid';

/** The name of a page component (see `App.tsx`). */
export type PageName = 'catalog' | 'product' | 'cart' | 'orders' | 'order' | 'login' | 'register' | 'account' | 'resetPassword' | 'staffProducts';

/** A route of the shop without its component. */
export interface PageRoute extends Omit<Route, 'component'> {
  page: PageName;
  /** Only for signed-in visitors: the server redirects anonymous ones to `/login?next=…`. */
  signedIn?: boolean;
  /** Only for staff: others get the page's refusal with status 403. */
  staff?: boolean;
}

/** The orderings the catalog offers (the `products` state allows these and nothing else). */
export const ORDERINGS = { name: 'Name', price: 'Price: low to high', '-price': 'Price: high to low', '-stock': 'Most in stock' } as const;

/** A positive integer from a query or path value, or undefined. */
export function positiveInt(value: string | null | undefined): number | undefined {
  if (!value || !/^\d{1,9}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}

/** What the catalog shows, read from its query (`?page=2&search=tea&categoryId=1&ordering=-price`), invalid values dropped. */
export function catalogQuery(query: URLSearchParams): { page: number; search: string; categoryId: number | undefined; ordering: string } {
  const ordering = query.get('ordering') ?? '';
  return {
    page: positiveInt(query.get('page')) ?? 1,
    search: (query.get('search') ?? '').trim().slice(0, 200),
    categoryId: positiveInt(query.get('categoryId')),
    ordering: Object.hasOwn(ORDERINGS, ordering) ? ordering : '',
  };
}

/** The catalog's URL for a query (only the values that differ from the defaults). */
export function catalogUrl(path: string, query: { page?: number; search?: string; categoryId?: number | undefined; ordering?: string }): string {
  const params = new URLSearchParams();
  if (query.search) params.set('search', query.search);
  if (query.categoryId) params.set('categoryId', String(query.categoryId));
  if (query.ordering) params.set('ordering', query.ordering);
  if (query.page && query.page > 1) params.set('page', String(query.page));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const catalogLoad = (query: URLSearchParams): LoadCall => {
  const { page, search, categoryId, ordering } = catalogQuery(query);
  // Every list setting is sent: the tab remembers the last ones, a later visit must not inherit them.
  return { state: 'products', handler: 'load', args: { page, search, ordering: ordering ? [ordering] : [], filters: categoryId ? { categoryId } : {} } };
};
const categoriesLoad: LoadCall = { state: 'categories', handler: 'load' };
const cartLoad: LoadCall = { state: 'cart', handler: 'load' };

/** Every page of the shop (first match wins). */
export const routes: readonly PageRoute[] = [
  { path: '/', page: 'catalog', load: (_params, query) => [catalogLoad(query), categoriesLoad] },
  {
    path: '/products/:id',
    page: 'product',
    load: (params) => {
      const id = positiveInt(params.id);
      return id ? [{ state: 'product', handler: 'load', args: { id } }, cartLoad] : [cartLoad];
    },
  },
  { path: '/cart', page: 'cart', load: () => [cartLoad] },
  { path: '/orders', page: 'orders', signedIn: true, load: (_params, query) => [{ state: 'orders', handler: 'load', args: { page: positiveInt(query.get('page')) ?? 1, ordering: ['-createdAt'] } }] },
  {
    path: '/orders/:id',
    page: 'order',
    signedIn: true,
    load: (params) => {
      const id = positiveInt(params.id);
      return id ? [{ state: 'orders', handler: 'startEdit', args: { id } }] : [];
    },
  },
  { path: '/login', page: 'login' },
  { path: '/register', page: 'register' },
  { path: '/account', page: 'account', signedIn: true },
  { path: '/reset-password', page: 'resetPassword' },
  {
    path: '/staff/products',
    page: 'staffProducts',
    signedIn: true,
    staff: true,
    load: (_params, query) => [{ state: 'products', handler: 'load', args: { page: positiveInt(query.get('page')) ?? 1, search: '', ordering: ['name'], filters: {} } }, categoriesLoad],
  },
];

/** The states every page holds besides its own: the header shows the user and the cart. */
export const LAYOUT_CALLS: readonly LoadCall[] = [{ state: 'auth', handler: 'refresh' }, cartLoad];

/** A rendered page: the app's HTML, Solid's hydration script, and what the page said of itself. */
export interface RenderedPage {
  body: string;
  hydration: string;
  /** 200, or 404 when the page found nothing to show. */
  status: number;
  title: string;
}

/** The SSR entry's `render` (`web/entry-server.tsx`): the page at `url` from the states `prepareTab` answered. */
export type RenderPage = (url: string, states: Record<string, unknown>) => RenderedPage;
