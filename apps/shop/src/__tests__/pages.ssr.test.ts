import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build, createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Order, Product } from '../models.js';
import { devPages, registerPages } from '../pages.js';
import { SEED_ACCOUNTS, seed } from '../seed.js';
import { createShop } from '../server.js';
import type { RenderPage } from '../../web/routes.js';
import { closeDatabase, databases, openDatabase, PASSWORD } from './shopHarness.js';

const web = join(import.meta.dirname, '..', '..', 'web');
const SECRET = 'shop-pages-test-secret-shop-pages-test-secret';

/** Debian's Chromium (`apt-get install -y chromium`); never a downloaded one. */
function findChromium(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const executablePath = findChromium();
if (!executablePath) console.log('pages.ssr.test: no chromium on PATH (apt-get install -y chromium); the real-browser tests are skipped.');

type Manifest = Record<string, { file: string; isEntry?: boolean; imports?: string[]; css?: string[] }>;

/** The gzip size of every script the entry loads (itself and its static imports). */
function entryScriptsGzip(clientDir: string): { files: string[]; bytes: number } {
  const manifest = JSON.parse(readFileSync(join(clientDir, '.vite', 'manifest.json'), 'utf8')) as Manifest;
  const files = new Set<string>();
  const visit = (key: string) => {
    const chunk = manifest[key]!;
    if (files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(Object.keys(manifest).find((key) => manifest[key]!.isEntry)!);
  return { files: [...files], bytes: [...files].reduce((sum, file) => sum + gzipSync(readFileSync(join(clientDir, file)), { level: 9 }).length, 0) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('the shop’s pages', () => {
  const db = databases.find((target) => target.name === 'sqlite')!;
  const out = mkdtempSync(join(tmpdir(), 'shop-pages-'));
  const shots = mkdtempSync(join(tmpdir(), 'shop-pages-shots-'));
  let app: FastifyInstance;
  let origin: string;
  let clientDir: string;

  beforeAll(async () => {
    // The web app built as `pnpm build:web` builds it (into a temporary folder).
    clientDir = join(out, 'client');
    const configFile = join(web, 'vite.config.ts');
    await build({ configFile, logLevel: 'silent', build: { outDir: clientDir } });
    await build({ configFile, logLevel: 'silent', build: { ssr: true, outDir: join(out, 'server') } });
    const { render } = (await import(pathToFileURL(join(out, 'server', 'entry-server.js')).href)) as { render: RenderPage };

    await openDatabase(db);
    await seed();
    app = await createShop({ secret: SECRET, siteOrigin: 'http://127.0.0.1', sendPasswordReset: () => undefined });
    registerPages(app, { clientDir, render });
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await closeDatabase(db);
    rmSync(out, { recursive: true, force: true });
    if (readdirSync(shots).length === 0) rmSync(shots, { recursive: true });
  });

  describe('over HTTP', () => {
    it('renders the catalog’s first paint on the server: names, prices, stock, categories, and what the browser takes over from', async () => {
      const response = await fetch(`${origin}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      // A visitor without a session gets one: their cart and a sign-in over the socket live in it.
      expect(response.headers.get('set-cookie')).toMatch(/^strata_session=[\w-]+;.*HttpOnly/i);
      const html = await response.text();
      expect(html).toContain('<title>Catalog · Strata tea shop</title>');
      expect(html).toMatch(/>Assam<\/a>/);
      expect(html).toContain('€7.90');
      expect(html).toMatch(/aria-label="stock"[^>]*>50<\/output>/);
      expect(html).toMatch(/<option[^>]*value="\d+"[^>]*>Teaware<\/option>/);
      expect(html).toMatch(/Page <!--\$-->1<!--\/-->|Page 1/);
      expect(html).toMatch(/href="\/\?page=2"[^>]*>Next<\/a>/);
      expect(html).toContain('window.__STRATA__=');
      expect(html).toMatch(/<script type="module" src="\/assets\/entry-client-[\w-]+\.js"><\/script>/);
      expect(html).toMatch(/<link rel="stylesheet" href="\/assets\/entry-client-[\w-]+\.css">/);
    });

    it('renders a product page with its stock, the catalog’s search and pages, and answers 404 for what does not exist', async () => {
      const matcha = await Product.objects.get({ name: 'Matcha' });
      const page = await (await fetch(`${origin}/products/${matcha.id}`)).text();
      expect(page).toContain('<title>Matcha · Strata tea shop</title>');
      expect(page).toContain('Stone-ground tencha for whisking.');
      expect(page).toContain('€24.90');
      expect(page).toMatch(/aria-label="stock"[^>]*>25<\/output>/);

      const found = await (await fetch(`${origin}/?search=matcha`)).text();
      expect(found).toMatch(/>Matcha<\/a>/);
      expect(found).not.toMatch(/>Sencha<\/a>/);
      const second = await (await fetch(`${origin}/?page=2`)).text();
      expect(second).toMatch(/href="\/"[^>]*>Previous<\/a>/);
      expect((second.match(/aria-label="stock"/g) ?? []).length).toBe(2); // 14 products, 12 a page

      const unknown = await fetch(`${origin}/no/such/page`);
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toContain('<title>Not found · Strata tea shop</title>');
      expect((await fetch(`${origin}/products/99999`)).status).toBe(404);
      expect((await fetch(`${origin}/products/tea`)).status).toBe(404);
    });

    it('sends anonymous visitors of pages that need sign-in to the login page, and back after', async () => {
      for (const path of ['/orders', '/orders/1', '/account', '/staff/products']) {
        const response = await fetch(`${origin}${path}`, { redirect: 'manual' });
        expect(response.status).toBe(302);
        expect(response.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
      }
      expect((await fetch(`${origin}/login?next=%2Forders`)).status).toBe(200);
    });

    it('renders a signed-in customer’s pages: their orders, another’s order not found, the staff page refused', async () => {
      const session = await fetch(`${origin}/auth/csrf`);
      const { csrf } = (await session.json()) as { csrf: string };
      const login = await fetch(`${origin}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, cookie: session.headers.get('set-cookie')!.split(';')[0]! },
        body: JSON.stringify({ login: SEED_ACCOUNTS.customer.email, password: SEED_ACCOUNTS.customer.password }),
      });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const orders = await fetch(`${origin}/orders`, { headers: { cookie } });
      expect(orders.status).toBe(200);
      const html = await orders.text();
      expect(html).toContain('No orders yet.');
      expect(html).toMatch(/>customer@shop\.example<\/a>/);
      expect(orders.headers.get('set-cookie')).toBeNull();
      expect((await fetch(`${origin}/orders/99999`, { headers: { cookie } })).status).toBe(404);
      const staff = await fetch(`${origin}/staff/products`, { headers: { cookie } });
      expect(staff.status).toBe(403);
      expect(await staff.text()).toContain('This page is for staff only.');
    });

    it('measures the catalog’s browser JavaScript and its server-side rendering time', async () => {
      const { files, bytes } = entryScriptsGzip(clientDir);
      /** The median time of 20 fetches of the catalog (the body read whole). */
      const timeCatalog = async (headers: Record<string, string>) => {
        const times: number[] = [];
        for (let i = 0; i < 20; i++) {
          const started = performance.now();
          await (await fetch(`${origin}/`, { headers })).text();
          times.push(performance.now() - started);
        }
        return median(times);
      };
      const firstVisit = await timeCatalog({});
      const cookie = (await fetch(`${origin}/`)).headers.get('set-cookie')!.split(';')[0]!;
      const returning = await timeCatalog({ cookie });
      console.log(
        `pages.ssr.test: catalog JS ${(bytes / 1024).toFixed(1)} KB gzip (${files.join(', ')}); ` +
          `SSR of / median of 20: ${returning.toFixed(1)} ms with a session, ${firstVisit.toFixed(1)} ms for a first visit (a new session each)`,
      );
      expect(bytes).toBeLessThan(40 * 1024);
    });
  });

  describe('in development', () => {
    it('renders pages through Vite with no build: the SSR entry loaded by Vite, the modules served by it', async () => {
      const dev = await createShop({ secret: SECRET, siteOrigin: 'http://127.0.0.1' });
      try {
        const vite = await createServer({ configFile: join(web, 'vite.config.ts'), logLevel: 'silent', server: { middlewareMode: true, hmr: false }, appType: 'custom' });
        devPages(dev, vite);
        const page = await dev.inject({ url: '/' });
        expect(page.statusCode).toBe(200);
        expect(page.body).toMatch(/>Assam<\/a>/);
        expect(page.body).toContain('/@vite/client');
        expect(page.body).toContain('src="/entry-client.tsx"');
        const entry = await dev.inject({ url: '/entry-client.tsx' });
        expect(entry.statusCode).toBe(200);
        expect(entry.headers['content-type']).toContain('javascript');
        expect((await dev.inject({ url: '/pages/Catalog.tsx' })).body).toContain('Catalog');
      } finally {
        await dev.close();
      }
    });
  });

  describe.skipIf(!executablePath)('in Chromium', () => {
    let browser: Browser;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: executablePath!,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }, 30_000);

    afterAll(async () => {
      await browser?.close();
    });

    /** Script errors and console errors of every page (a hydration mismatch is one). */
    const problems: string[] = [];
    /** The frames each page's socket sent. */
    const sent = new Map<Page, Record<string, unknown>[]>();

    /** A fresh browser profile (its own cookies), closed after the test. */
    async function profile(options: { javaScriptEnabled?: boolean } = {}): Promise<BrowserContext> {
      const context = await browser.newContext({ baseURL: origin, ...options });
      context.setDefaultTimeout(10_000);
      context.on('page', (page) => {
        page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
        // Failed loads are told by their responses (with their URLs); a browser asks for /favicon.ico on its own.
        page.on('console', (message) => void (message.type() === 'error' && !message.text().startsWith('Failed to load resource') && problems.push(`${page.url()}: ${message.text()}`)));
        page.on('response', (response) => void (response.status() >= 400 && !response.url().endsWith('/favicon.ico') && problems.push(`${response.url()}: HTTP ${response.status()}`)));
        const frames: Record<string, unknown>[] = [];
        sent.set(page, frames);
        page.on('websocket', (socket) => socket.on('framesent', ({ payload }) => void frames.push(JSON.parse(String(payload)) as Record<string, unknown>)));
      });
      contexts.push(context);
      return context;
    }

    /** A page of `context` at `path`, once it joined its tab. */
    async function open(context: BrowserContext, path: string): Promise<Page> {
      const page = await context.newPage();
      await page.goto(path);
      await page.locator('[data-status="live"]').waitFor();
      return page;
    }

    /** The handler calls a page's socket sent (`state.handler`). */
    const callsOf = (page: Page) => sent.get(page)!.filter((frame) => frame.t === 'event').map((frame) => `${frame.state}.${frame.handler}`);

    /** Runs a scenario; on failure, screenshots every open page (and says where) before failing. */
    async function scenario(name: string, run: () => Promise<void>): Promise<void> {
      problems.length = 0;
      try {
        await run();
        expect(problems).toEqual([]);
      } catch (error) {
        let n = 0;
        for (const context of contexts) {
          for (const page of context.pages()) {
            const path = join(shots, `${name}-${++n}.png`);
            await page.screenshot({ path, fullPage: true }).catch(() => undefined);
            console.log(`pages.ssr.test: screenshot of ${page.url()} at ${path}`);
          }
        }
        throw error;
      } finally {
        for (const context of contexts.splice(0)) await context.close();
      }
    }

    it('shows the catalog with JavaScript off', () =>
      scenario('no-js', async () => {
        const page = await (await profile({ javaScriptEnabled: false })).newPage();
        await page.goto('/');
        await expect.poll(() => page.getByLabel('stock').count()).toBe(12);
        expect(await page.getByRole('link', { name: 'Gyokuro' }).isVisible()).toBe(true);
        // The filters are a plain GET form: it works without the script.
        await page.getByLabel('Search').fill('oolong');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.waitForURL(/search=oolong/);
        expect(await page.getByLabel('stock').count()).toBe(1);
      }), 30_000);

    it('registers, browses, adds to the cart and checks out; another shopper sees the stock change live; signing out in one tab signs out the other', () =>
      scenario('checkout', async () => {
        const gyokuro = await Product.objects.get({ name: 'Gyokuro' });
        const watcher = await open(await profile(), `/products/${gyokuro.id}`);
        expect(await watcher.getByLabel('stock').textContent()).toBe(String(gyokuro.stock));
        // The socket joined the tab the page was rendered from: the product was not loaded again.
        expect(callsOf(watcher)).not.toContain('product.load');

        // Anonymous first: the cart lives in the browser's session and carries over at sign-in.
        const shopper = await profile();
        const page = await open(shopper, `/products/${gyokuro.id}`);
        await page.getByRole('button', { name: 'Add to cart' }).click();
        await page.getByRole('link', { name: 'Cart (1)' }).waitFor();
        await page.getByRole('link', { name: 'Register' }).click();
        await page.waitForURL(`${origin}/register`);
        await page.getByLabel('Email').fill('ada@example.com');
        // The server's refusal, next to its field.
        await page.getByLabel(/^Password/).fill('password1');
        await page.getByRole('button', { name: 'Register' }).click();
        const password = page.getByLabel(/^Password/);
        await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');
        const describedBy = (await password.getAttribute('aria-describedby'))!;
        expect(await page.locator(`[id="${describedBy}"]`).textContent()).toMatch(/common/i);
        await password.fill(PASSWORD);
        await page.getByRole('button', { name: 'Register' }).click();
        await page.getByRole('link', { name: 'ada@example.com' }).waitFor();
        await page.waitForURL(`${origin}/`);
        await page.getByRole('link', { name: 'Cart (1)' }).waitFor();

        // Browse: pages, search and filters change the URL through the router, without a page load.
        await page.evaluate(() => void ((globalThis as unknown as { stayed: boolean }).stayed = true));
        await page.getByRole('link', { name: 'Next' }).click();
        await page.waitForURL(`${origin}/?page=2`);
        await expect.poll(() => page.getByLabel('stock').count()).toBe(2);
        await page.getByRole('link', { name: 'Previous' }).click();
        await page.waitForURL(`${origin}/`);
        // Names and descriptions: the whisk and the bowl are for matcha.
        await page.getByLabel('Search').fill('matcha');
        await page.getByLabel('Search').press('Enter');
        await page.waitForURL(`${origin}/?search=matcha`);
        await expect.poll(() => page.getByRole('rowheader').allTextContents()).toEqual(['Chasen whisk', 'Matcha', 'Tea bowl']);
        await page.getByLabel('Sort by').selectOption({ label: 'Price: high to low' });
        await page.waitForURL(`${origin}/?search=matcha&ordering=-price`);
        await expect.poll(() => page.getByRole('rowheader').allTextContents()).toEqual(['Tea bowl', 'Matcha', 'Chasen whisk']);
        await page.getByLabel('Search').fill('');
        await page.getByLabel('Category').selectOption({ label: 'Tea' });
        await page.waitForURL(/categoryId=/);
        await expect.poll(() => page.getByLabel('stock').count()).toBe(8);
        await page.getByRole('link', { name: 'Gyokuro' }).click();
        await page.waitForURL(`${origin}/products/${gyokuro.id}`);
        expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);
        expect(await page.getByRole('heading', { name: 'Gyokuro' }).isVisible()).toBe(true);
        await page.getByRole('button', { name: 'Add to cart' }).click();
        await page.getByText('Added to your cart.').waitFor();
        await page.getByRole('link', { name: 'Cart (2)' }).waitFor();
        // More than is left: refused with how many are left.
        await page.getByLabel('Quantity').fill('20');
        await page.getByRole('button', { name: 'Add to cart' }).click();
        await expect.poll(() => page.getByRole('alert').textContent()).toBe(`Only ${gyokuro.stock} left of Gyokuro.`);

        // A second tab of the same browser, on the cart.
        const cart = await open(shopper, '/cart');
        await cart.getByRole('button', { name: 'Checkout' }).click();
        await cart.waitForURL(`${origin}/orders`);
        const order = await Order.objects.orderBy('-id').first();
        await cart.getByRole('link', { name: `Order ${order!.id}` }).waitFor();
        expect(await cart.getByText(`Order ${order!.id} placed.`).isVisible()).toBe(true);

        // Live stock, in both tabs showing the product.
        const left = String(gyokuro.stock - 2);
        await expect.poll(() => watcher.getByLabel('stock').textContent()).toBe(left);
        await expect.poll(() => page.getByLabel('stock').textContent()).toBe(left);

        // Signing out in one tab signs out the other.
        await cart.getByRole('button', { name: 'Log out' }).click();
        await cart.getByRole('link', { name: 'Log in' }).waitFor();
        await page.getByRole('link', { name: 'Log in' }).waitFor();
        expect(await page.getByRole('link', { name: 'ada@example.com' }).count()).toBe(0);
        await page.locator('[data-status="live"]').waitFor();
      }), 30_000);

    it('lets staff change a price, and shows a conflict with the current values when someone else changed the product', () =>
      scenario('staff', async () => {
        const sencha = await Product.objects.get({ name: 'Sencha' });
        const page = await open(await profile(), '/login?next=%2Fstaff%2Fproducts');
        await page.getByLabel('Email').fill(SEED_ACCOUNTS.staff.email);
        await page.getByLabel('Password').fill(SEED_ACCOUNTS.staff.password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(`${origin}/staff/products`);

        await page.getByRole('button', { name: 'Edit Sencha' }).click();
        await page.getByLabel('Price (€)').fill('13.40');
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByText('Saved Sencha.').waitFor();
        await expect.poll(() => page.getByRole('row', { name: /Sencha/ }).textContent()).toContain('€13.40');
        expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ price: '13.40' });

        // A field error, next to its field.
        await page.getByRole('button', { name: 'Edit Sencha' }).click();
        await page.getByLabel('Price (€)').fill('-3');
        await page.getByRole('button', { name: 'Save' }).click();
        await expect.poll(() => page.getByLabel('Price (€)').getAttribute('aria-invalid')).toBe('true');

        // Someone else saves first: this save is refused with their values.
        const current = await Product.objects.get({ id: sencha.id });
        await Product.objects.filter({ id: sencha.id }).update({ price: '15.00', version: current.version + 1 });
        await page.getByLabel('Price (€)').fill('14.00');
        await page.getByRole('button', { name: 'Save' }).click();
        const conflict = page.getByRole('alert').filter({ hasText: 'Someone else changed this product' });
        await conflict.waitFor();
        expect(await conflict.textContent()).toContain('€15.00');
        // Saving again, having seen theirs, goes through.
        await page.getByRole('button', { name: 'Save' }).click();
        await page.getByText('Saved Sencha.').waitFor();
        expect(await Product.objects.get({ id: sencha.id })).toMatchObject({ price: '14.00' });
      }), 30_000);
  });
});
