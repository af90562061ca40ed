import { type Accessor, batch, type Component, createComponent, createMemo, createSignal, type JSX, onCleanup } from 'solid-js';
import { Dynamic } from 'solid-js/web';
import type { JsonValue } from '@strata/state/client';
import type { Strata } from './strata.js';

/** A handler call a route makes when it is shown (on the server for the first paint, over the socket after). */
export interface LoadCall {
  state: string;
  handler: string;
  args?: JsonValue;
}

/** A route: a path pattern (`/products/:id`), what it shows, and what it loads. */
export interface Route {
  path: string;
  component: Component<{ params: Readonly<Record<string, string>> }>;
  /** The calls that load its data, from its params and query (`?page=2`). */
  load?: (params: Readonly<Record<string, string>>, query: URLSearchParams) => readonly LoadCall[];
}

/** A route that matched a URL, with its params. */
export interface Match {
  route: Route;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
}

/**
 * The route a path shows (first match wins): `:name` takes one segment, a final `*` the rest.
 * The server uses it too, to know which calls `prepareTab` runs for the first paint.
 */
export function matchRoute(routes: readonly Route[], url: string): Match | undefined {
  const parsed = new URL(url, 'http://x');
  const segments = parsed.pathname.split('/').filter(Boolean).map(decodeSegment);
  for (const route of routes) {
    const pattern = route.path.split('/').filter(Boolean);
    const params: Record<string, string> = Object.create(null);
    let ok = pattern.length === segments.length || (pattern.at(-1) === '*' && segments.length >= pattern.length - 1);
    for (let i = 0; ok && i < pattern.length; i++) {
      const part = pattern[i]!;
      if (part === '*') params['*'] = segments.slice(i).join('/');
      else if (part.startsWith(':')) params[part.slice(1)] = segments[i]!;
      else ok = part === segments[i];
    }
    if (ok) return { route, params, query: parsed.searchParams };
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The calls a URL loads (for `prepareTab` on the server). */
export function loadCalls(routes: readonly Route[], url: string): readonly LoadCall[] {
  const match = matchRoute(routes, url);
  return match?.route.load?.(match.params, match.query) ?? [];
}

/** A small router over the History API with per-route load calls. */
export interface Router {
  /** The current path with its query (`/products?page=2`). */
  readonly location: Accessor<string>;
  /** True while the current route's load calls run. */
  readonly loading: Accessor<boolean>;
  /** Shows `to` (a same-origin path) and runs its load calls; `replace` replaces the history entry. */
  navigate(to: string, options?: { replace?: boolean }): void;
  /** Renders the matched route's component (or `fallback` when none matches). */
  View(props: { fallback?: JSX.Element }): JSX.Element;
  /** An `<a>` that navigates without a page load (modified clicks open normally). */
  Link(props: { href: string; children?: JSX.Element; class?: string; replace?: boolean }): JSX.Element;
}

/**
 * A router whose routes name the handler calls that load their data: the server runs them for
 * the first paint (`loadCalls` + `prepareTab`), the browser over the socket after each
 * navigation. Pass its `navigate` to `createStrata` so server redirects stay in the page.
 *
 * @example
 * const routes = [{ path: '/products', component: Catalog, load: (_p, q) => [{ state: 'products', handler: 'load', args: { page: Number(q.get('page') ?? 1) } }] }];
 * const router = createRouter(routes, { strata });
 * <router.Link href="/products?page=2">Next</router.Link> <router.View fallback={<NotFound />} />
 */
export function createRouter(routes: readonly Route[], options: { strata?: Strata; url?: string; load?: boolean } = {}): Router {
  const here = () => (globalThis.location ? `${globalThis.location.pathname}${globalThis.location.search}` : '/');
  const [location, setLocation] = createSignal(options.url ?? here());
  const [loading, setLoading] = createSignal(false);
  let round = 0;

  const load = async (url: string) => {
    const calls = loadCalls(routes, url);
    const strata = options.strata;
    if (!strata || calls.length === 0) return;
    const mine = ++round;
    setLoading(true);
    try {
      await Promise.all(calls.map((call) => (strata.state(call.state).call as Record<string, (args?: unknown) => Promise<unknown>>)[call.handler]!(call.args).catch(() => undefined)));
    } finally {
      if (mine === round) setLoading(false);
    }
  };
  const navigate = (to: string, navigateOptions: { replace?: boolean } = {}) => {
    if (!to.startsWith('/') || to.startsWith('//')) {
      globalThis.location?.assign(to);
      return;
    }
    if (globalThis.history) {
      if (navigateOptions.replace) globalThis.history.replaceState(null, '', to);
      else globalThis.history.pushState(null, '', to);
    }
    batch(() => setLocation(to));
    void load(to);
  };
  if (globalThis.addEventListener && !options.url) {
    const popped = () => {
      const to = here();
      setLocation(to);
      void load(to);
    };
    globalThis.addEventListener('popstate', popped);
    // A router made inside a component goes with it.
    try {
      onCleanup(() => globalThis.removeEventListener('popstate', popped));
    } catch {
      // made outside any owner: it lives as long as the page
    }
  }
  // A server-rendered page has its first route's data already; a page built in the browser loads it.
  if (options.load) void load(location());

  const View = (props: { fallback?: JSX.Element }): JSX.Element => {
    const match = createMemo(() => matchRoute(routes, location()));
    const fallback = () => props.fallback;
    return createComponent(Dynamic, {
      get component() {
        return match()?.route.component ?? fallback;
      },
      get params() {
        return match()?.params ?? {};
      },
    });
  };

  const Link = (props: { href: string; children?: JSX.Element; class?: string; replace?: boolean }): JSX.Element =>
    createComponent(Dynamic, {
      component: 'a',
      get href() {
        return props.href;
      },
      get class() {
        return props.class;
      },
      get 'aria-current'() {
        return location() === props.href ? 'page' : undefined;
      },
      onClick: (event: MouseEvent) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        if (!props.href.startsWith('/') || props.href.startsWith('//')) return;
        event.preventDefault();
        navigate(props.href, { replace: props.replace ?? false });
      },
      get children() {
        return props.children;
      },
    });

  return { location, loading, navigate, View, Link };
}
