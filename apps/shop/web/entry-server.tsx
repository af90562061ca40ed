/** The server side of the pages: renders a URL from the states its tab was prepared with. */
import { createRouter, createStaticStrata } from '@strata/solid';
import { generateHydrationScript, renderToString } from 'solid-js/web';
import { App, appRoutes } from './App.js';
import type { PageMeta, ShopStates } from './context.js';
import type { RenderedPage } from './routes.js';

export const SITE_NAME = 'Strata tea shop';

/** Renders the page at `url` from the states `prepareTab` answered; its status is 404 when the page found nothing. */
export function render(url: string, states: Record<string, unknown>): RenderedPage {
  const page = { title: '', status: 200 };
  const meta: PageMeta = {
    title: (text) => void (page.title = text),
    notFound: () => void (page.status = 404),
  };
  const body = renderToString(() => {
    const strata = createStaticStrata<ShopStates>(states);
    const router = createRouter(appRoutes, { url });
    return <App strata={strata} router={router} meta={meta} />;
  });
  return { body, hydration: generateHydrationScript(), status: page.status, title: page.title ? `${page.title} · ${SITE_NAME}` : SITE_NAME };
}
