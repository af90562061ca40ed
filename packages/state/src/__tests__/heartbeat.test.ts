import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { defineState } from '../server.js';
import { connect, startServer } from './serverHelpers.js';

const Counter = defineState('counter', { vars: () => ({ count: 0 }), handlers: (h) => ({ bump: h.event((s) => ++s.count) }) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the heartbeat', () => {
  it('drops a socket that stops answering pings, keeps one that answers, and pings each once per heartbeat', async () => {
    const server = await startServer([Counter], { heartbeatMs: 300 });
    const live = await Promise.all(Array.from({ length: 40 }, () => connect(server.wsUrl, { origin: server.origin })));
    let pings = 0;
    live[0]!.socket.on('ping', () => pings++);
    // A peer that is gone: the TCP connection stays, but nothing answers (no pong).
    const silent = new WebSocket(server.wsUrl, { headers: { origin: server.origin }, autoPong: false });
    const silentClosed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    await new Promise((resolve) => silent.once('open', resolve));
    const started = Date.now();
    await silentClosed;
    // Pinged within a heartbeat, judged at the next sweep: well within three heartbeats.
    expect(Date.now() - started).toBeLessThan(900);
    await sleep(1200);
    expect(live.every((client) => client.socket.readyState === WebSocket.OPEN)).toBe(true);
    // One ping per heartbeat (about 300 ms), not one per slice of it (10 ms).
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(pings).toBeLessThanOrEqual(8);
    for (const client of live) client.socket.close();
  });
});
