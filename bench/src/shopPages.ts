/**
 * The catalog page: server-rendering time of GET / over HTTP (the shop's built SSR entry), and
 * the browser JS that page loads — every script its HTML references, with their static imports
 * from Vite's manifest — gzipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RunningShop } from './shopApp.js';
import { median } from './table.js';

const REQUESTS = 50;
const WARMUP = 10;

/** One visitor's timing of the catalog page. */
export interface PageTiming {
  visitor: string;
  status: number;
  medianMs: number;
  p95Ms: number;
  htmlBytes: number;
}

/** One JS file the catalog page loads. */
export interface ScriptSize {
  file: string;
  raw: number;
  gzip: number;
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

async function get(url: string, cookie: string | undefined): Promise<{ status: number; html: string; setCookie: string | null }> {
  const response = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
  return { status: response.status, html: await response.text(), setCookie: response.headers.get('set-cookie') };
}

/** `REQUESTS` timed GETs of `/` carrying `cookie`, after `WARMUP` untimed ones. */
async function timePage(shop: RunningShop, visitor: string, cookie: string): Promise<PageTiming & { html: string }> {
  const samples: number[] = [];
  let last = { status: 0, html: '' };
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const start = process.hrtime.bigint();
    last = await get(`${shop.origin}/`, cookie);
    if (i >= WARMUP) samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { visitor, status: last.status, medianMs: median(samples), p95Ms: percentile(samples, 0.95), htmlBytes: Buffer.byteLength(last.html), html: last.html };
}

/**
 * GET / for an anonymous visitor (the session cookie the first answer set, then reused) and
 * for a signed-in customer with a one-line cart; returns the timings and the page's HTML.
 */
export async function benchCatalogPage(shop: RunningShop): Promise<{ timings: PageTiming[]; html: string }> {
  const first = await get(`${shop.origin}/`, undefined);
  const anonymous = first.setCookie?.split(';')[0];
  if (!anonymous) throw new Error(`GET / answered ${first.status} without a session cookie`);
  const visitors = [
    { name: 'anonymous visitor (its session reused)', cookie: anonymous },
    { name: 'signed-in customer, 1 item in the cart', cookie: shop.customers[0]!.cookie },
  ];
  const timings: (PageTiming & { html: string })[] = [];
  for (const visitor of visitors) timings.push(await timePage(shop, visitor.name, visitor.cookie));
  return { timings: timings.map(({ html: _html, ...timing }) => timing), html: timings[0]!.html };
}

type Manifest = Record<string, { file: string; imports?: string[] }>;

/** The JS files `html` references (scripts and module preloads), with their static imports per the manifest. */
function pageScripts(html: string, clientDir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(clientDir, '.vite', 'manifest.json'), 'utf8')) as Manifest;
  const referenced = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!.replace(/^\//, ''));
  const files = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const chunk = Object.values(manifest).find((c) => c.file === file);
    for (const key of chunk?.imports ?? []) visit(manifest[key]!.file);
  };
  for (const file of referenced.filter((f) => f.endsWith('.js'))) visit(file);
  return [...files];
}

/** Raw and gzip (level 9) bytes of every JS file the catalog page loads. */
export function catalogScripts(html: string, clientDir: string): ScriptSize[] {
  return pageScripts(html, clientDir).map((file) => {
    const bytes = readFileSync(join(clientDir, file));
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
}
