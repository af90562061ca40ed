import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { defineState } from '../server.js';
import { join, startServer, type TestServer } from './serverHelpers.js';

let computeCount = 0;
const Counter = defineState('counter', {
  vars: () => ({ count: 0, items: [] as { id: number; name: string }[] }),
  backend: () => ({ secret: new Map<string, number>() }),
  computed: {
    double: (s) => {
      computeCount++;
      return s.count * 2;
    },
  },
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => { s.count += by; return s.count; } }),
    remember: h.event((s) => { s.secret.set('k', 1); }),
    add: h.event({ args: v.object({ id: v.number(), name: v.string() }), run: (s, item) => { s.items.push(item); } }),
  }),
});

let server: TestServer;
afterEach(async () => server?.close());

describe('state plugin', () => {
  it('joins, runs an event and sends only the changed paths', async () => {
    server = await startServer([Counter]);
    const { client, welcome } = await join(server, ['counter']);
    expect(welcome.states).toEqual({ counter: { count: 0, items: [], double: 0 } });
    expect(welcome.ack).toBe(0);
    client.send({ t: 'event', seq: 1, state: 'counter', handler: 'increment', args: { by: 2 } });
    const result = await client.next((f) => f.t === 'result');
    expect(result).toEqual({
      t: 'result', seq: 1, value: 2,
      patch: { counter: [{ op: 'set', path: ['count'], value: 2 }, { op: 'set', path: ['double'], value: 4 }] },
    });
    client.send({ t: 'event', seq: 2, state: 'counter', handler: 'add', args: { id: 7, name: 'x' } });
    expect(await client.next((f) => f.t === 'result')).toEqual({
      t: 'result', seq: 2, patch: { counter: [{ op: 'ins', path: ['items'], after: null, value: { id: 7, name: 'x' } }] },
    });
    const before = computeCount;
    client.send({ t: 'event', seq: 3, state: 'counter', handler: 'remember' });
    expect(await client.next((f) => f.t === 'result')).toEqual({ t: 'result', seq: 3 });
    expect(computeCount).toBe(before);
    client.socket.close();
  });
});
