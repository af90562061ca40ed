import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { defineState, type StrataStateOptions } from '../server.js';
import { connect, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

/** How many times each handler body ran, across every server of this file. */
const runs: Record<string, number> = {};
const ran = (name: string) => {
  runs[name] = (runs[name] ?? 0) + 1;
};
const totalRuns = () => Object.values(runs).reduce((sum, n) => sum + n, 0);

const Counter = defineState('counter', {
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
interface Frame {
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

interface JoinedTab {
  client: RawClient;
  tabId: string;
  token: string;
  seq: number;
}

let servers: TestServer[] = [];
let sockets: WebSocket[] = [];

beforeEach(() => {
  for (const key of Object.keys(runs)) delete runs[key];
});

afterEach(async () => {
  for (const socket of sockets) socket.terminate();
  sockets = [];
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function open(options: Partial<StrataStateOptions> = {}): Promise<TestServer> {
  const server = await startServer([Counter], options);
  servers.push(server);
  return server;
}

async function openTab(server: TestServer, token?: string): Promise<JoinedTab> {
  const { client, welcome } = await join(server, ['counter'], token);
  sockets.push(client.socket);
  return { client, tabId: welcome.tab, token: welcome.token, seq: welcome.ack };
}

async function rawClient(server: TestServer, options: { origin?: string; headers?: Record<string, string> } = { origin: server.origin }): Promise<RawClient> {
  const client = await connect(server.wsUrl, options);
  sockets.push(client.socket);
  return client;
}

/** Waits for a frame matching `match` among every frame received (nothing is consumed). */
function waitFor(client: RawClient, match: (frame: Frame) => boolean, timeoutMs = 3000): Promise<Frame> {
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

const resultOf = (client: RawClient, seq: number) => waitFor(client, (f) => f.t === 'result' && f.seq === seq);
const errorFrame = (client: RawClient, code: string) => waitFor(client, (f) => f.t === 'error' && f.error?.code === code);
const errorFrames = (client: RawClient) => (client.frames as Frame[]).filter((f) => f.t === 'error');

/** Sends an event with the tab's next seq and resolves with its result. */
async function call(tab: JoinedTab, handler: string, args?: unknown, state = 'counter'): Promise<Frame> {
  const seq = ++tab.seq;
  tab.client.send(args === undefined ? { t: 'event', seq, state, handler } : { t: 'event', seq, state, handler, args });
  return resultOf(tab.client, seq);
}

/** The tab still answers a normal event with the right value and patch. */
async function expectWorks(tab: JoinedTab, countBefore: number): Promise<void> {
  const result = await call(tab, 'increment', { by: 1 });
  expect(result).toEqual({
    t: 'result',
    seq: tab.seq,
    value: countBefore + 1,
    patch: { counter: [{ op: 'set', path: ['count'], value: countBefore + 1 }, { op: 'set', path: ['double'], value: (countBefore + 1) * 2 }] },
  });
}

/** Resolves with the HTTP status of a refused upgrade (and its body), or 101 when it opened. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
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
function closeOf(client: RawClient, timeoutMs = 3000): Promise<{ code: number; reason: string }> {
  return Promise.race([client.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs))]);
}

/** Joins with `token` (plus an event right behind it) and expects 4401, no welcome, no handler run. */
async function expectJoinRefused(server: TestServer, join: Record<string, unknown>, connectOptions?: { origin?: string; headers?: Record<string, string> }): Promise<void> {
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function flipChar(text: string, index: number): string {
  const c = text[index]!;
  // 'A' and 'g' differ in their high base64 bits, so the decoded bytes change too.
  return text.slice(0, index) + (c === 'A' ? 'g' : 'A') + text.slice(index + 1);
}

describe('state plugin: bad input', () => {
  describe('Origin', () => {
    it('refuses a foreign Origin with HTTP 403 before any socket exists', async () => {
      const server = await open();
      const other = await openTab(server);
      const refused = await upgrade(server.wsUrl, { origin: 'https://evil.example' });
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'STRATA_STATE_BAD_ORIGIN' } });
      expect(server.app.strata.stats().connections).toBe(1);
      await expectWorks(other, 0);
    });

    it('refuses an upgrade without an Origin header with HTTP 403', async () => {
      const server = await open();
      const other = await openTab(server);
      expect((await upgrade(server.wsUrl, {})).status).toBe(403);
      expect((await upgrade(server.wsUrl, { origin: 'null' })).status).toBe(403);
      expect(server.app.strata.stats().connections).toBe(1);
      await expectWorks(other, 0);
    });

    it('accepts an origin listed in allowedOrigins and refuses the others', async () => {
      const server = await open({ allowedOrigins: ['https://app.example'] });
      const client = await rawClient(server, { origin: 'https://app.example' });
      client.send({ t: 'join', v: 1, token: await server.token(), states: ['counter'] });
      const welcome = await waitFor(client, (f) => f.t === 'welcome');
      const tab: JoinedTab = { client, tabId: welcome.tab!, token: welcome.token!, seq: 0 };
      await expectWorks(tab, 0);
      expect((await upgrade(server.wsUrl, { origin: server.origin })).status).toBe(403);
      expect((await upgrade(server.wsUrl, { origin: 'https://app.example.evil.example' })).status).toBe(403);
    });
  });

  describe('join token', () => {
    it('closes with 4401 when the join frame has no token field', async () => {
      const server = await open();
      const other = await openTab(server);
      await expectJoinRefused(server, {});
      await expectWorks(other, 0);
    });

    it('closes with 4401 on an empty token', async () => {
      const server = await open();
      const other = await openTab(server);
      await expectJoinRefused(server, { token: '' });
      await expectWorks(other, 0);
    });

    it('closes with 4401 on a token whose signature has one character flipped', async () => {
      const server = await open();
      const other = await openTab(server);
      const token = await server.token();
      const signatureStart = token.lastIndexOf('.') + 1;
      await expectJoinRefused(server, { token: flipChar(token, signatureStart + 10) });
      await expectJoinRefused(server, { token: flipChar(token, signatureStart) });
      await expectWorks(other, 0);
    });

    it('closes with 4401 on a token whose payload names another tab', async () => {
      const server = await open();
      const other = await openTab(server);
      const [prefix, , signature] = (await server.token()).split('.');
      const payload = Buffer.from(JSON.stringify({ tab: other.tabId, exp: Date.now() + 60_000 })).toString('base64url');
      await expectJoinRefused(server, { token: `${prefix}.${payload}.${signature}` });
      await expectWorks(other, 0);
    });

    it('closes with 4401 on a token signed with another secret', async () => {
      const server = await open();
      const foreign = await open({ secret: 'another-secret-that-is-also-32-bytes-long!!' });
      const other = await openTab(server);
      await expectJoinRefused(server, { token: await foreign.token() });
      await expectWorks(other, 0);
    });

    it('closes with 4401 on an expired token', async () => {
      const server = await open({ tokenTtlMs: 1 });
      const token = await server.token();
      await sleep(20);
      await expectJoinRefused(server, { token });
    });

    it('closes with 4401 on a token bound to another session', async () => {
      const server = await open({ bindToken: (request) => request.headers['x-session'] as string | undefined });
      const page = await server.app.inject({ method: 'GET', url: '/page', headers: { 'x-session': 'alice' } });
      const { token } = page.json() as { token: string };
      await expectJoinRefused(server, { token }, { origin: server.origin, headers: { 'x-session': 'mallory' } });
      await expectJoinRefused(server, { token }, { origin: server.origin });
      // The same token on alice's session joins: the refusals above are about the binding.
      const client = await rawClient(server, { origin: server.origin, headers: { 'x-session': 'alice' } });
      client.send({ t: 'join', v: 1, token, states: ['counter'] });
      const welcome = await waitFor(client, (f) => f.t === 'welcome');
      await expectWorks({ client, tabId: welcome.tab!, token: welcome.token!, seq: 0 }, 0);
    });
  });

  describe('before join', () => {
    it('answers frames before the join with STRATA_STATE_NOT_JOINED and keeps the connection', async () => {
      const server = await open();
      const other = await openTab(server);
      const client = await rawClient(server);
      client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 5 } });
      const refused = await errorFrame(client, 'STRATA_STATE_NOT_JOINED');
      expect.soft(refused.seq).toBe(1);
      client.send({ t: 'sub', states: ['counter'] });
      await waitFor(client, (f) => f.t === 'error' && f.error?.code === 'STRATA_STATE_NOT_JOINED' && f !== refused);
      expect(runs.increment).toBeUndefined();
      client.send({ t: 'join', v: 1, token: await server.token(), states: ['counter'] });
      const welcome = await waitFor(client, (f) => f.t === 'welcome');
      expect(welcome.states).toEqual({ counter: { count: 0, double: 0 } });
      await expectWorks({ client, tabId: welcome.tab!, token: welcome.token!, seq: welcome.ack! }, 0);
      await expectWorks(other, 0);
    });
  });

  describe('unknown names', () => {
    const names = ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'then', 'toJSON', 'hits', 'double', 'count'];
    for (const name of names) {
      it(`answers handler "${name}" with STRATA_STATE_UNKNOWN_HANDLER in its result`, async () => {
        const server = await open();
        const [tab, other] = [await openTab(server), await openTab(server)];
        const result = await call(tab, name);
        expect(result.seq).toBe(tab.seq);
        expect(result.error?.code).toBe('STRATA_STATE_UNKNOWN_HANDLER');
        expect(result.patch).toBeUndefined();
        // With args too: the name is refused before any schema is looked at.
        expect((await call(tab, name, { by: 1 })).error?.code).toBe('STRATA_STATE_UNKNOWN_HANDLER');
        expect(totalRuns()).toBe(0);
        await expectWorks(tab, 0);
        await expectWorks(other, 0);
      });
    }

    it('answers an unknown state with STRATA_STATE_UNKNOWN_STATE in the result', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      for (const state of ['nope', '__proto__', 'constructor', 'toString']) {
        const result = await call(tab, 'increment', { by: 1 }, state);
        expect(result).toMatchObject({ t: 'result', seq: tab.seq, error: { code: 'STRATA_STATE_UNKNOWN_STATE' } });
      }
      tab.client.send({ t: 'sub', states: ['nope'] });
      await errorFrame(tab.client, 'STRATA_STATE_UNKNOWN_STATE');
      expect(totalRuns()).toBe(0);
      await expectWorks(tab, 0);
      await expectWorks(other, 0);
    });
  });

  describe('__proto__ in arguments', () => {
    const frames = {
      'as a key of args': (seq: number) => `{"t":"event","seq":${seq},"state":"counter","handler":"increment","args":{"by":1,"__proto__":{"admin":true}}}`,
      'escaped as \\u005f_proto__': (seq: number) => `{"t":"event","seq":${seq},"state":"counter","handler":"increment","args":{"by":1,"\\u005f_proto__":{"admin":true}}}`,
      'nested in an array': (seq: number) => `{"t":"event","seq":${seq},"state":"counter","handler":"increment","args":{"by":1,"x":[{"__proto\\u005f_":{"admin":true}}]}}`,
    };
    for (const [where, frame] of Object.entries(frames)) {
      it(`refuses __proto__ ${where} with STRATA_STATE_BAD_FRAME and its seq`, async () => {
        const server = await open();
        const [tab, other] = [await openTab(server), await openTab(server)];
        tab.client.send(frame(1));
        const refused = await errorFrame(tab.client, 'STRATA_STATE_BAD_FRAME');
        expect(refused.seq).toBe(1);
        expect(runs.increment).toBeUndefined();
        expect(({} as Record<string, unknown>).admin).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('admin');
        // The refused frame did not use up its seq: the same seq with clean args runs.
        tab.seq = 0;
        await expectWorks(tab, 0);
        await expectWorks(other, 0);
      });
    }
  });

  describe('arguments', () => {
    it('answers wrong argument types with STRATA_STATE_BAD_ARGS naming the fields', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      const wrong = await call(tab, 'increment', { by: '2' });
      expect(wrong).toMatchObject({ t: 'result', seq: tab.seq, error: { code: 'STRATA_STATE_BAD_ARGS' } });
      expect(Object.keys(wrong.error!.fields!)).toEqual(['by']);
      expect(wrong.error!.fields!.by![0]).toMatch(/number/);
      const both = await call(tab, 'profile', { name: 5, age: 'x' });
      expect(Object.keys(both.error!.fields!).sort()).toEqual(['age', 'name']);
      const missing = await call(tab, 'increment');
      expect(missing.error?.code).toBe('STRATA_STATE_BAD_ARGS');
      expect(missing.error?.fields).toHaveProperty('__all__');
      expect((await call(tab, 'increment', [1])).error?.code).toBe('STRATA_STATE_BAD_ARGS');
      expect(totalRuns()).toBe(0);
      await expectWorks(tab, 0);
      await expectWorks(other, 0);
    });

    it('answers args sent to a handler that takes none with STRATA_STATE_BAD_ARGS', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      for (const args of [{ by: 1 }, null, 0, '']) {
        const result = await call(tab, 'read', args);
        expect(result).toMatchObject({ t: 'result', seq: tab.seq, error: { code: 'STRATA_STATE_BAD_ARGS' } });
      }
      expect(totalRuns()).toBe(0);
      expect((await call(tab, 'read')).value).toBe(0);
      await expectWorks(other, 0);
    });
  });

  describe('frame size', () => {
    it('answers a text frame above maxFrameBytes with STRATA_STATE_FRAME_TOO_LARGE and keeps the connection', async () => {
      const server = await open({ limits: { maxFrameBytes: 1024 } });
      const [tab, other] = [await openTab(server), await openTab(server)];
      tab.client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 1, pad: 'x'.repeat(2000) } });
      await errorFrame(tab.client, 'STRATA_STATE_FRAME_TOO_LARGE');
      expect(runs.increment).toBeUndefined();
      tab.seq = 0;
      await expectWorks(tab, 0);
      await expectWorks(other, 0);
    });

    it('closes with 1009 on a frame above hardFrameBytes', async () => {
      const server = await open({ limits: { maxFrameBytes: 1024, hardFrameBytes: 4096 } });
      const [tab, other] = [await openTab(server), await openTab(server)];
      tab.client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 1, pad: 'x'.repeat(5000) } });
      expect((await closeOf(tab.client)).code).toBe(1009);
      expect(runs.increment).toBeUndefined();
      await expectWorks(other, 0);
    });

    it('closes with 1009 on a binary frame above hardFrameBytes', async () => {
      const server = await open({ limits: { maxFrameBytes: 1024, hardFrameBytes: 4096 } });
      const [tab, other] = [await openTab(server), await openTab(server)];
      tab.client.socket.send(randomBytes(8192), { binary: true });
      expect((await closeOf(tab.client)).code).toBe(1009);
      await expectWorks(other, 0);
    });
  });

  describe('malformed frames', () => {
    it('answers a binary frame of random bytes with STRATA_STATE_BAD_FRAME', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      tab.client.socket.send(randomBytes(200), { binary: true });
      // Even bytes that spell a valid event are refused when sent as binary.
      tab.client.socket.send(Buffer.from(JSON.stringify({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 1 } })), { binary: true });
      await waitFor(tab.client, () => errorFrames(tab.client).length === 2);
      expect(errorFrames(tab.client).map((f) => f.error?.code)).toEqual(['STRATA_STATE_BAD_FRAME', 'STRATA_STATE_BAD_FRAME']);
      expect(totalRuns()).toBe(0);
      await expectWorks(tab, 0);
      await expectWorks(other, 0);
    });

    it('answers invalid JSON, non-object JSON and unknown frame types with STRATA_STATE_BAD_FRAME', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      const bad = ['{"t":"event","seq":1,', 'not json', '', '[1,2,3]', '[{"t":"event","seq":1,"state":"counter","handler":"increment","args":{"by":1}}]', '42', 'null', '"event"', 'true', '{"t":"hack"}', '{"t":"toString"}', '{"t":"__proto__"}', '{"seq":1}', '{"t":"welcome","v":1}'];
      for (const text of bad) tab.client.send(text);
      await waitFor(tab.client, () => errorFrames(tab.client).length === bad.length);
      expect(new Set(errorFrames(tab.client).map((f) => f.error?.code))).toEqual(new Set(['STRATA_STATE_BAD_FRAME']));
      expect(totalRuns()).toBe(0);
      await expectWorks(tab, 0);
      await expectWorks(other, 0);
    });

    it('refuses an event frame carrying another tab id with STRATA_STATE_BAD_FRAME and leaves that tab alone', async () => {
      const server = await open();
      const [attacker, victim] = [await openTab(server), await openTab(server)];
      attacker.client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 5 }, tab: victim.tabId });
      const refused = await errorFrame(attacker.client, 'STRATA_STATE_BAD_FRAME');
      expect(refused.seq).toBe(1);
      expect(runs.increment).toBeUndefined();
      expect(victim.client.frames.filter((f) => f.t !== 'welcome')).toEqual([]);
      expect((await call(victim, 'read')).value).toBe(0);
      attacker.seq = 0;
      expect((await call(attacker, 'read')).value).toBe(0);
      await expectWorks(victim, 0);
    });
  });

  describe('flooding', () => {
    it(
      'closes a socket that bursts 10,000 events with 1008 after too many strikes, running at most the burst',
      async () => {
        const server = await open();
        const [flood, other] = [await openTab(server), await openTab(server)];
        const started = Date.now();
        for (let seq = 1; seq <= 10_000; seq++) flood.client.send({ t: 'event', seq, state: 'counter', handler: 'increment', args: { by: 1 } });
        // Another tab's event during the burst completes, and the HTTP side answers.
        await expectWorks(other, 0);
        expect((await server.app.inject({ url: '/strata/health' })).json()).toEqual({ status: 'ok' });
        expect((await closeOf(flood.client, 10_000)).code).toBe(1008);
        const elapsedSeconds = (Date.now() - started) / 1000;
        const allowance = 100 + Math.ceil(elapsedSeconds * 50) + 1;
        expect(runs.increment! - 1).toBeLessThanOrEqual(allowance);
        const results = (flood.client.frames as Frame[]).filter((f) => f.t === 'result');
        for (const result of results) {
          if (result.error) expect(['STRATA_STATE_RATE_LIMITED', 'STRATA_STATE_QUEUE_FULL']).toContain(result.error.code);
        }
        expect(results.filter((r) => r.error).length).toBeGreaterThan(0);
        // The tab survives its socket: rejoining shows exactly the events that ran, in order.
        await sleep(50);
        const back = await openTab(server, flood.token);
        const welcome = (back.client.frames as Frame[]).find((f) => f.t === 'welcome')!;
        expect(welcome.tab).toBe(flood.tabId);
        expect(welcome.states).toEqual({ counter: { count: runs.increment! - 1, double: (runs.increment! - 1) * 2 } });
        expect(welcome.ack).toBeGreaterThanOrEqual(runs.increment! - 1);
        // Nothing sent after the frame that used up the strikes ran (that frame got no answer).
        const lastAnswered = Math.max(...results.map((r) => r.seq!));
        expect(welcome.ack).toBeLessThanOrEqual(lastAnswered + 1);
        await expectWorks(other, 1);
        expect((await server.app.inject({ url: '/strata/health' })).statusCode).toBe(200);
      },
      20_000,
    );

    it('closes a client that keeps sending garbage with 1008 and leaves other tabs alone', async () => {
      const server = await open();
      const [noisy, other] = [await openTab(server), await openTab(server)];
      for (let i = 0; i < 60; i++) noisy.client.send(`garbage ${i}`);
      expect((await closeOf(noisy.client)).code).toBe(1008);
      const refusals = errorFrames(noisy.client).length;
      expect(refusals).toBeGreaterThanOrEqual(49);
      expect(refusals).toBeLessThanOrEqual(50);
      await expectWorks(other, 0);
    });

    it('runs no event that arrives after the strike limit closed the socket', async () => {
      const server = await open();
      const [noisy, other] = [await openTab(server), await openTab(server)];
      for (let i = 0; i < 50; i++) noisy.client.send(`garbage ${i}`);
      noisy.client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 1 } });
      expect((await closeOf(noisy.client)).code).toBe(1008);
      await sleep(50);
      expect(runs.increment).toBeUndefined();
      const back = await openTab(server, noisy.token);
      const welcome = (back.client.frames as Frame[]).find((f) => f.t === 'welcome')!;
      expect(welcome).toMatchObject({ tab: noisy.tabId, ack: 0, states: { counter: { count: 0, double: 0 } } });
      await expectWorks(other, 0);
    });

    it('does not close a client whose refused frames are interrupted by good events', async () => {
      const server = await open();
      const tab = await openTab(server);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 40; i++) tab.client.send('garbage');
        await expectWorks(tab, round);
      }
      expect(tab.client.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('sequence numbers', () => {
    it('answers a replayed seq with STRATA_STATE_REPLAYED and a malformed seq with STRATA_STATE_BAD_FRAME', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      const event = (seq: unknown) => ({ t: 'event', seq, state: 'counter', handler: 'increment', args: { by: 1 } });
      tab.client.send(event(1));
      expect((await resultOf(tab.client, 1)).value).toBe(1);
      tab.client.send(event(1));
      await waitFor(tab.client, (f) => f.t === 'result' && f.seq === 1 && f.error !== undefined);
      const replays = (tab.client.frames as Frame[]).filter((f) => f.t === 'result' && f.seq === 1);
      expect(replays[1]).toMatchObject({ error: { code: 'STRATA_STATE_REPLAYED' } });
      expect(replays[1]!.patch).toBeUndefined();
      const malformed = [0, -1, 1.5, '2', null, 2 ** 53, 'NaN'];
      for (const seq of malformed) tab.client.send(event(seq));
      tab.client.send(`{"t":"event","seq":1e400,"state":"counter","handler":"increment","args":{"by":1}}`);
      await waitFor(tab.client, () => errorFrames(tab.client).length === malformed.length + 1);
      expect(new Set(errorFrames(tab.client).map((f) => f.error?.code))).toEqual(new Set(['STRATA_STATE_BAD_FRAME']));
      expect(runs.increment).toBe(1);
      // A seq above the last one runs; one below it is a replay again.
      tab.client.send(event(5));
      expect((await resultOf(tab.client, 5)).value).toBe(2);
      tab.client.send(event(3));
      expect((await resultOf(tab.client, 3)).error?.code).toBe('STRATA_STATE_REPLAYED');
      expect(runs.increment).toBe(2);
      await expectWorks(other, 0);
    });
  });

  describe('handler failures', () => {
    /** Collects the raw text of every frame the client receives from now on. */
    function recordText(client: RawClient): string[] {
      const texts: string[] = [];
      client.socket.on('message', (data) => texts.push(data.toString()));
      return texts;
    }

    it('sends a generic STRATA_STATE_HANDLER_FAILED in production, reverts the vars and keeps the tab working', async () => {
      const server = await open({ production: true });
      const [tab, other] = [await openTab(server), await openTab(server)];
      await expectWorks(tab, 0);
      const texts = recordText(tab.client);
      const failed = await call(tab, 'explode');
      expect(runs.explode).toBe(1);
      expect(failed).toEqual({ t: 'result', seq: tab.seq, error: { code: 'STRATA_STATE_HANDLER_FAILED', message: expect.any(String) } });
      const text = texts.join('\n');
      expect(text).toContain('STRATA_STATE_HANDLER_FAILED');
      expect(text).not.toContain('secret internal detail');
      expect(text).not.toMatch(/\bat \S+ \(|\bat .*:\d+:\d+|\.ts:\d+/);
      expect(text).not.toContain('Error:');
      expect((await call(tab, 'read')).value).toBe(1);
      await expectWorks(tab, 1);
      await expectWorks(other, 0);
    });

    it('sends the error message but never the stack in development, reverting the vars', async () => {
      const server = await open({ production: false });
      const tab = await openTab(server);
      await expectWorks(tab, 0);
      const texts = recordText(tab.client);
      const failed = await call(tab, 'explode');
      expect(failed).toEqual({ t: 'result', seq: tab.seq, error: { code: 'STRATA_STATE_HANDLER_FAILED', message: 'secret internal detail' } });
      const text = texts.join('\n');
      expect(text).not.toMatch(/\bat \S+ \(|\bat .*:\d+:\d+|\.ts:\d+/);
      expect(text).not.toContain('badInput.test');
      expect((await call(tab, 'read')).value).toBe(1);
      await expectWorks(tab, 1);
    });
  });
});
