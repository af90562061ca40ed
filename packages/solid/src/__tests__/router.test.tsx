import { render, screen } from '@solidjs/testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { createRouter, loadCalls, matchRoute, type Route } from '../router.js';
import type { Strata } from '../strata.js';

const Home = () => <p>home</p>;
const Product = (props: { params: Readonly<Record<string, string>> }) => <p>product {props.params.id}</p>;
const Docs = (props: { params: Readonly<Record<string, string>> }) => <p>docs {props.params['*']}</p>;
const routes: Route[] = [
  { path: '/', component: Home },
  { path: '/products/:id', component: Product, load: (params) => [{ state: 'product', handler: 'load', args: { id: Number(params.id) } }] },
  { path: '/catalog', component: Home, load: (_params, query) => [{ state: 'products', handler: 'load', args: { page: Number(query.get('page') ?? 1) } }] },
  { path: '/docs/*', component: Docs },
];

/** A Strata that records the calls routes make. */
function recordingStrata() {
  const calls: unknown[] = [];
  const strata = {
    state: (name: string) => ({ call: new Proxy({}, { get: (_t, handler) => async (args: unknown) => void calls.push([name, handler, args]) }) }),
  } as unknown as Strata;
  return { strata, calls };
}

afterEach(() => history.replaceState(null, '', '/'));

describe('matchRoute and loadCalls', () => {
  it('matches params, a trailing wildcard and the query; the first match wins; undefined when nothing matches', () => {
    expect(matchRoute(routes, '/products/42')?.params).toEqual({ id: '42' });
    expect(matchRoute(routes, '/products/caf%C3%A9')?.params).toEqual({ id: 'café' });
    expect(matchRoute(routes, '/docs/a/b/c')?.params).toEqual({ '*': 'a/b/c' });
    expect(matchRoute(routes, '/products')).toBeUndefined();
    expect(matchRoute(routes, '/products/1/extra')).toBeUndefined();
    expect(matchRoute(routes, '/products/%E0%A4%A')?.params).toEqual({ id: '%E0%A4%A' });
    expect(loadCalls(routes, '/catalog?page=3')).toEqual([{ state: 'products', handler: 'load', args: { page: 3 } }]);
    expect(loadCalls(routes, '/nowhere')).toEqual([]);
  });
});

describe('createRouter', () => {
  it('shows the matched route, navigates with the History API, runs the route’s load calls, and follows Back', async () => {
    const { strata, calls } = recordingStrata();
    const router = createRouter(routes, { strata });
    render(() => <router.View fallback={<p>not found</p>} />);
    expect(screen.getByText('home')).toBeTruthy();

    router.navigate('/products/7');
    expect(location.pathname).toBe('/products/7');
    expect(await screen.findByText('product 7')).toBeTruthy();
    expect(calls).toEqual([['product', 'load', { id: 7 }]]);

    router.navigate('/missing', { replace: true });
    expect(await screen.findByText('not found')).toBeTruthy();
    history.back();
    expect(await screen.findByText('home')).toBeTruthy();
  });

  it('intercepts plain clicks on its links (marking the current page), and lets modified clicks through', async () => {
    const router = createRouter(routes);
    render(() => (
      <>
        <router.Link href="/products/3">three</router.Link>
        <router.View />
      </>
    ));
    const link = screen.getByText('three');
    const ctrl = new MouseEvent('click', { bubbles: true, cancelable: true, ctrlKey: true });
    link.dispatchEvent(ctrl);
    expect(ctrl.defaultPrevented).toBe(false);
    link.click();
    expect(await screen.findByText('product 3')).toBeTruthy();
    expect(link.getAttribute('aria-current')).toBe('page');
  });

  it('renders the URL it is given on the server, without touching the History API or loading again', () => {
    const { strata, calls } = recordingStrata();
    const router = createRouter(routes, { strata, url: '/products/9' });
    render(() => <router.View />);
    expect(screen.getByText('product 9')).toBeTruthy();
    expect(location.pathname).toBe('/');
    expect(calls).toEqual([]);
  });
});
