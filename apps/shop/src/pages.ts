import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
// request.user and request.session: the auth layer's.
import type {} from '@strata/auth';
import { isStrataError } from '@strata/model';
import { type LoadCall, matchRoute, type Route } from '@strata/solid';
import { mountViteDev, renderDocument, serveAssets, type ViteDevServer } from '@strata/solid/server';
import type { JsonValue } from '@strata/state/server';
import { LAYOUT_CALLS, type PageRoute, type RenderPage, routes } from '../web/routes.js';

/** Options of {@link registerPages}. */
export interface PagesOptions {
  /** Vite's client build (`dist/client`): its `assets/` are served, its manifest names the entry's files. */
  clientDir: string;
  /** The SSR entry's `render` (`dist/server/entry-server.js`). */
  render: RenderPage;
  /** The entry script's URL; default: the manifest's entry (with its stylesheets). */
  entryScript?: string;
  styles?: readonly string[];
}

/** What a page's HTML loads. */
interface PageAssets {
  scripts: readonly string[];
  styles: readonly string[];
}

/** Where the socket is (the state runtime's default path). */
const SOCKET_PATH = '/strata/ws';
/** Load refusals after which the page still renders, without its data (it shows "not found"), with this status. */
const PAGE_REFUSALS: Record<string, number> = { STRATA_MODEL_NOT_FOUND: 404, STRATA_STATE_BAD_ARGS: 404, STRATA_AUTH_PERMISSION_DENIED: 403 };

/**
 * The shop's pages in production: every GET no other route answers is a page of `web/routes.ts`
 * (or the 404 page), server-rendered from a tab prepared with its load calls, the signed-in
 * user and the cart; the browser's socket joins that very tab. Anonymous visitors of a page
 * that needs sign-in are sent to `/login?next=…`. Register it after `createShop` (the auth and
 * state routes); it also serves the built assets under `/assets/`.
 *
 * @example
 * const app = await createShop(options);
 * const { render } = await import('./dist/server/entry-server.js');
 * registerPages(app, { clientDir: 'dist/client', render });
 */
export function registerPages(app: FastifyInstance, options: PagesOptions): void {
  serveAssets(app, { dir: join(options.clientDir, 'assets'), prefix: '/assets/' });
  const assets: PageAssets = options.entryScript ? { scripts: [options.entryScript], styles: options.styles ?? [] } : manifestAssets(options.clientDir);
  app.get('/*', (request, reply) => servePage(app, request, reply, { render: options.render, assets }));
}

/**
 * The shop's pages in development, with no build: Vite (created with `web/vite.config.ts`,
 * `server: { middlewareMode: true }, appType: 'custom'`) serves the browser modules and loads
 * the SSR entry, so an edit shows on reload.
 *
 * @example
 * const vite = await createServer({ configFile: 'web/vite.config.ts', server: { middlewareMode: true }, appType: 'custom' });
 * devPages(app, vite);
 */
export function devPages(app: FastifyInstance, vite: ViteDevServer): void {
  const dev = mountViteDev(app, vite);
  const assets: PageAssets = { scripts: ['/entry-client.tsx'], styles: [] };
  app.get('/*', async (request, reply) => {
    // The app's own modules (`/App.tsx`, `/pages/Cart.tsx`, `/shop.css`, `/@solid-refresh`) are Vite's.
    if (isModuleUrl(request.url)) return passToVite(vite, request, reply);
    const { render } = (await dev.load('/entry-server.tsx')) as { render: RenderPage };
    return servePage(app, request, reply, { render, assets, transform: (html) => vite.transformIndexHtml(request.url, html) });
  });
}

/** The entry's script and stylesheets, from the manifest of Vite's client build. */
function manifestAssets(clientDir: string): PageAssets {
  const manifest = JSON.parse(readFileSync(join(clientDir, '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; isEntry?: boolean; css?: string[] }>;
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
  if (!entry) throw new Error(`${clientDir}/.vite/manifest.json names no entry; build the web app with \`pnpm build:web\`.`);
  return { scripts: [`/${entry.file}`], styles: (entry.css ?? []).map((file) => `/${file}`) };
}

async function servePage(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  page: { render: RenderPage; assets: PageAssets; transform?: (html: string) => Promise<string> },
): Promise<FastifyReply> {
  const url = request.url;
  // `matchRoute` reads a route's path and load only; the table has no components on the server.
  const match = matchRoute(routes as unknown as readonly Route[], url) as (ReturnType<typeof matchRoute> & { route: PageRoute }) | undefined;
  const user = request.user;
  if (match?.route.signedIn && !user) return reply.redirect(loginUrl(url), 302);
  await app.ensureSession(request, reply);
  const calls = match?.route.load?.(match.params, match.query) ?? [];
  let status: number | undefined;
  let tab: { token: string; states: Record<string, JsonValue> };
  try {
    tab = await prepare(app, request, calls, calls);
  } catch (error) {
    if (isStrataError(error, 'STRATA_AUTH_LOGIN_REQUIRED')) return reply.redirect(loginUrl(url), 302);
    if (!isStrataError(error) || !Object.hasOwn(PAGE_REFUSALS, error.code)) throw error;
    status = PAGE_REFUSALS[error.code];
    tab = await prepare(app, request, calls, []);
  }
  const rendered = page.render(url, tab.states);
  let html = renderDocument({
    title: rendered.title,
    body: rendered.body,
    hydration: rendered.hydration,
    strata: { token: tab.token, states: tab.states, url: SOCKET_PATH },
    scripts: page.assets.scripts,
    styles: page.assets.styles,
  });
  if (page.transform) html = await page.transform(html);
  if (match?.route.staff && !user?.isStaff) status = 403;
  // The page shows who is signed in and their cart: never cached.
  return reply
    .code(status ?? rendered.status)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** The page's tab: its own states and the layout's (the user, the cart), after `calls` and the layout's calls ran. */
function prepare(app: FastifyInstance, request: FastifyRequest, pageCalls: readonly LoadCall[], calls: readonly LoadCall[]) {
  const all = [...calls, ...LAYOUT_CALLS.filter((layout) => !calls.some((call) => call.state === layout.state && call.handler === layout.handler))];
  const states = [...new Set([...pageCalls, ...LAYOUT_CALLS].map((call) => call.state))];
  return app.strata.prepareTab(request, { states, calls: all });
}


function loginUrl(next: string): string {
  return `/login?next=${encodeURIComponent(next)}`;
}

/** A module Vite serves in development: `/@…` ids, or a path whose last segment has an extension (pages have none). */
function isModuleUrl(url: string): boolean {
  const path = url.split('?')[0]!;
  return path.startsWith('/@') || /\/[^/]+\.[a-z0-9]+$/i.test(path);
}

function passToVite(vite: ViteDevServer, request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  vite.middlewares(request.raw, reply.raw, (error) => {
    reply.raw.statusCode = error ? 500 : 404;
    reply.raw.end(error ? 'Vite failed to serve this module.' : 'Not found');
  });
}
