import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { join, type RawClient } from './serverHelpers.js';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_DEPTH } from '../protocol.js';
import { runs, ran, totalRuns, type Frame, open, openTab, waitFor, resultOf, errorFrame, errorFrames, call, expectWorks, closeOf, sleep } from './badInputFixture.js';

describe('state plugin: bad input', () => {
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

  describe('nesting depth', () => {
    const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    const event = (seq: number, levels: number) => `{"t":"event","seq":${seq},"state":"counter","handler":"increment","args":{"by":1,"deep":${nested(levels)}}}`;

    // Found by the fuzzer: args 20,000 levels deep reached state code that recurses over client
    // data (cloneJson) and overflowed the stack inside the event.
    it('refuses a frame nested deeper than MAX_FRAME_DEPTH with STRATA_STATE_BAD_FRAME and its seq, running nothing', async () => {
      const server = await open();
      const [tab, other] = [await openTab(server), await openTab(server)];
      tab.client.send(event(1, 20_000));
      // The frame is level 1 and args level 2: arrays from level 3 to MAX_FRAME_DEPTH + 1.
      tab.client.send(event(1, MAX_FRAME_DEPTH - 1));
      await waitFor(tab.client, () => errorFrames(tab.client).length === 2);
      expect(errorFrames(tab.client).map((f) => [f.error?.code, f.seq])).toEqual([
        ['STRATA_STATE_BAD_FRAME', 1],
        ['STRATA_STATE_BAD_FRAME', 1],
      ]);
      expect(runs.increment).toBeUndefined();
      // Exactly at the limit the frame is read and the handler runs.
      tab.client.send(event(1, MAX_FRAME_DEPTH - 2));
      expect((await resultOf(tab.client, 1)).value).toBe(1);
      tab.seq = 1;
      await expectWorks(tab, 1);
      await expectWorks(other, 0);
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
