/**
 * @strata/solid/server — Node only: serving the built browser assets and writing the HTML of
 * a server-rendered page. (The bindings themselves are in the browser-safe main entry.)
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A file name with a content hash (Vite's `name-[hash].js`): its bytes never change, so it may be cached for good. */
const HASHED = /[.-][\w-]{8,}\.\w+$/;

/**
 * Serves the built browser assets (Vite's `dist/client`) under `prefix`: hashed files with
 * `Cache-Control: public, max-age=31536000, immutable`, others with `no-cache` and an ETag;
 * nothing outside `dir` (no `..`, no absolute paths, no dotfiles).
 */
export function serveAssets(app: FastifyInstance, options: { dir: string; prefix?: string }): void {
  const root = resolve(options.dir);
  const prefix = (options.prefix ?? '/assets/').replace(/\/?$/, '/');
  app.get(`${prefix}*`, async (request, reply) => {
    const relative = decodeURIComponent((request.params as { '*': string })['*'] ?? '');
    const path = resolve(join(root, relative));
    if (!path.startsWith(root + sep) || relative.split('/').some((part) => part.startsWith('.'))) return reply.code(404).send({ error: 'Not found' });
    let body: Buffer;
    try {
      if (!(await stat(path)).isFile()) return reply.code(404).send({ error: 'Not found' });
      body = await readFile(path);
    } catch {
      return reply.code(404).send({ error: 'Not found' });
    }
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    reply.header('content-type', TYPES[extname(path)] ?? 'application/octet-stream').header('etag', etag).header('x-content-type-options', 'nosniff');
    reply.header('cache-control', HASHED.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.send(body);
  });
}

/** JSON for inside a `<script>`: no `</script>`, `<!--` or line separators can end or confuse it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** What a server-rendered page is made of. */
export interface PageParts {
  title: string;
  /** The rendered app (`renderToString(...)`). */
  body: string;
  /** Solid's `generateHydrationScript()` (omit for a page without hydration). */
  hydration?: string;
  /** What the browser needs to take over: the states' values and the join token from `prepareTab`, and the socket URL. */
  strata: { token: string; states: Record<string, unknown>; url: string };
  /** Module scripts and stylesheets (asset URLs). */
  scripts?: readonly string[];
  styles?: readonly string[];
  lang?: string;
}

/**
 * The HTML of a server-rendered page: the rendered body (readable without JavaScript), the
 * hydration script, and `window.__STRATA__` for `createStrata({ ...window.__STRATA__ })`.
 */
export function renderDocument(parts: PageParts): string {
  const styles = (parts.styles ?? []).map((href) => `<link rel="stylesheet" href="${escapeHtml(href)}">`).join('');
  const scripts = (parts.scripts ?? []).map((src) => `<script type="module" src="${escapeHtml(src)}"></script>`).join('');
  return (
    `<!doctype html><html lang="${escapeHtml(parts.lang ?? 'en')}"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(parts.title)}</title>${styles}` +
    `${parts.hydration ?? ''}<script>window.__STRATA__=${scriptJson(parts.strata)}</script></head>` +
    `<body><div id="root">${parts.body}</div>${scripts}</body></html>`
  );
}

/** What `mountViteDev` needs of a Vite dev server (`createServer({ server: { middlewareMode: true }, appType: 'custom' })`). */
export interface ViteDevServer {
  middlewares: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, next: (error?: unknown) => void) => void;
  transformIndexHtml(url: string, html: string): Promise<string>;
  ssrLoadModule(url: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** URLs only Vite's dev server answers: its own (`/@vite/client`, `/@fs/…`, `/@id/…`, `/@solid-refresh`), dependencies, and module files (`/App.tsx`, `/src/x.ts`, `/style.css`). */
const VITE_URL = /^\/(?:@|node_modules\/)|\.[a-z0-9]+$/i;

/**
 * Development: Vite serves the browser modules (with HMR on its own socket) inside the app's
 * fastify server, and `render` loads the SSR entry through Vite, so an edit shows on reload
 * without a rebuild. Production serves the build with {@link serveAssets} instead.
 *
 * @example
 * const vite = await createServer({ root, server: { middlewareMode: true }, appType: 'custom', plugins: [solid({ ssr: true })] });
 * const dev = mountViteDev(app, vite);
 * const { render } = await dev.load('/src/entry-server.tsx');
 */
export function mountViteDev(app: FastifyInstance, vite: ViteDevServer): { load(entry: string): Promise<Record<string, unknown>> } {
  // Before routing: module URLs (any path with a file extension) are Vite's, whatever the app's routes are.
  app.addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?')[0] ?? '';
    if ((request.method !== 'GET' && request.method !== 'HEAD') || !VITE_URL.test(path)) return done();
    reply.hijack();
    vite.middlewares(request.raw, reply.raw, (error) => {
      reply.raw.statusCode = error ? 500 : 404;
      reply.raw.end(error ? 'Vite failed to serve this module.' : 'Not found');
    });
  });
  app.addHook('onClose', async () => vite.close());
  return { load: (entry) => vite.ssrLoadModule(entry) };
}
