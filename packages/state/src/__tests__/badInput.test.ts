import { join } from './serverHelpers.js';
import { describe, expect, it } from 'vitest';
import { runs, totalRuns, type JoinedTab, open, openTab, rawClient, waitFor, errorFrame, call, expectWorks, upgrade, expectJoinRefused, sleep, flipChar } from './badInputFixture.js';

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

});
