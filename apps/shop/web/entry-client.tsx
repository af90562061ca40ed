/** The browser side: the page takes over the server-rendered HTML and joins the very tab it was rendered from. */
import { createRouter, createStrata, type Router } from '@strata/solid';
import { hydrate } from 'solid-js/web';
import { App, appRoutes } from './App.js';
import type { PageMeta, ShopStates } from './context.js';

declare global {
  interface Window {
    /** What the server rendered the page with (`renderDocument`): the tab's join token, the states' values and the socket's path. */
    __STRATA__: { token: string; states: Record<string, unknown>; url: string };
  }
}

const boot = window.__STRATA__;
const socketUrl = new URL(boot.url, location.href);
socketUrl.protocol = socketUrl.protocol === 'https:' ? 'wss:' : 'ws:';

let router: Router | undefined;
const strata = createStrata<ShopStates>({
  url: socketUrl.href,
  token: boot.token,
  initial: boot.states,
  // Server redirects stay in the page.
  navigate: (to, options) => router!.navigate(to, options),
  // A refused join token leaves the tab `expired`, which the app recovers from (a new tab of the current session).
  onError: (error) => (error.code === 'STRATA_STATE_BAD_TOKEN' ? console.warn('[strata]', error.message) : console.error('[strata]', error)),
});
const meta: PageMeta = {
  title: (text) => void (document.title = `${text} · Strata tea shop`),
  notFound: () => undefined,
};
hydrate(() => {
  // Made inside the page's root: its history listener goes with it.
  router = createRouter(appRoutes, { strata });
  return <App strata={strata} router={router} meta={meta} />;
}, document.getElementById('root')!);
