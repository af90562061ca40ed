import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { defineState, type StrataStateOptions } from '../server.js';
import { connect, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

/** How many times each handler body ran, across every server of this file. */
export const runs: Record<string, number> = {};
export const ran = (name: string) => {
  runs[name] = (runs[name] ?? 0) + 1;
};
export const totalRuns = () => Object.values(runs).reduce((sum, n) => sum + n, 0);

export const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  backend: () => ({ hits: 0 }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    increment: h.event({
      args: v.object({ by: v.number() }),
      run: (s, { by }) => {
        ran('increment');
        s.count += by;
        return s.count;
      },
    }),
    read: h.event((s) => {
      ran('read');
      return s.count;
    }),
    profile: h.event({
      args: v.object({ name: v.string(), age: v.number() }),
      run: () => {
        ran('profile');
      },
    }),
    explode: h.event((s) => {
      ran('explode');
      s.count = 99;
      throw new Error('secret internal detail');
    }),
  }),
});

/** A loose view of a server frame, for assertions on any kind. */
export interface Frame {
  t: string;
  seq?: number;
  value?: unknown;
  error?: { code: string; message: string; fields?: Record<string, string[]> };
  patch?: unknown;
  tab?: string;
  token?: string;
  ack?: number;
  states?: Record<string, unknown>;
}

export interface JoinedTab {
  client: RawClient;
  tabId: string;
  token: string;
  seq: number;
}

export let servers: TestServer[] = [];
export let sockets: WebSocket[] = [];

beforeEach(() => {
  for (const key of Object.keys(runs)) delete runs[key];
});

afterEach(async () => {
  for (const socket of sockets) socket.terminate();
  sockets = [];
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

export async function open(options: Partial<StrataStateOptions> = {}): Promise<TestServer> {
  const server = await startServer([Counter], options);
  servers.push(server);
  return server;
}

export async function openTab(server: TestServer, token?: string): Promise<JoinedTab> {
  const { client, welcome } = await join(server, ['counter'], token);
  sockets.push(client.socket);
  return { client, tabId: welcome.tab, token: welcome.token, seq: welcome.ack };
}

export async function rawClient(server: TestServer, options: { origin?: string; headers?: Record<string, string> } = { origin: server.origin }): Promise<RawClient> {
  const client = await connect(server.wsUrl, options);
  sockets.push(client.socket);
  return client;
}

/** Waits for a frame matching `match` among every frame received (nothing is consumed). */
export function waitFor(client: RawClient, match: (frame: Frame) => boolean, timeoutMs = 3000): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = (client.frames as Frame[]).find(match);
      if (!found) return false;
      clearTimeout(timer);
      client.socket.off('message', check);
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      client.socket.off('message', check);
      reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(client.frames)}`));
    }, timeoutMs);
    if (!check()) client.socket.on('message', check);
  });
}

export const resultOf = (client: RawClient, seq: number) => waitFor(client, (f) => f.t === 'result' && f.seq === seq);
export const errorFrame = (client: RawClient, code: string) => waitFor(client, (f) => f.t === 'error' && f.error?.code === code);
export const errorFrames = (client: RawClient) => (client.frames as Frame[]).filter((f) => f.t === 'error');

/** Sends an event with the tab's next seq and resolves with its result. */
export async function call(tab: JoinedTab, handler: string, args?: unknown, state = 'counter'): Promise<Frame> {
  const seq = ++tab.seq;
  tab.client.send(args === undefined ? { t: 'event', seq, state, handler } : { t: 'event', seq, state, handler, args });
  return resultOf(tab.client, seq);
}

/** The tab still answers a normal event with the right value and patch. */
export async function expectWorks(tab: JoinedTab, countBefore: number): Promise<void> {
  const result = await call(tab, 'increment', { by: 1 });
  expect(result).toEqual({
    t: 'result',
    seq: tab.seq,
    value: countBefore + 1,
    patch: { counter: [{ op: 'set', path: ['count'], value: countBefore + 1 }, { op: 'set', path: ['double'], value: (countBefore + 1) * 2 }] },
  });
}

/** Resolves with the HTTP status of a refused upgrade (and its body), or 101 when it opened. */
export function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      sockets.push(socket);
      resolve({ status: 101, body: '' });
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
  });
}

/** Resolves with the close of `client`, failing after `timeoutMs`. */
export function closeOf(client: RawClient, timeoutMs = 3000): Promise<{ code: number; reason: string }> {
  return Promise.race([client.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs))]);
}

/** Joins with `token` (plus an event right behind it) and expects 4401, no welcome, no handler run. */
export async function expectJoinRefused(server: TestServer, join: Record<string, unknown>, connectOptions?: { origin?: string; headers?: Record<string, string> }): Promise<void> {
  const before = totalRuns();
  const client = await rawClient(server, connectOptions ?? { origin: server.origin });
  client.send({ t: 'join', v: 1, states: ['counter'], ...join });
  client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 1 } });
  const { code } = await closeOf(client);
  expect(code).toBe(4401);
  expect((client.frames as Frame[]).some((f) => f.t === 'welcome')).toBe(false);
  expect((client.frames as Frame[]).some((f) => f.t === 'result')).toBe(false);
  expect(totalRuns()).toBe(before);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function flipChar(text: string, index: number): string {
  const c = text[index]!;
  // 'A' and 'g' differ in their high base64 bits, so the decoded bytes change too.
  return text.slice(0, index) + (c === 'A' ? 'g' : 'A') + text.slice(index + 1);
}
