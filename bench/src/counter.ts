/**
 * The counter both socket benchmarks serve: as a Strata state, and as the raw baseline — a
 * plain fastify + @fastify/websocket handler holding `{ count }` per connection and answering
 * with a result frame of the same shape as Strata's.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { defineState } from '@strata/state/server';
import * as v from 'valibot';

export const Counter = defineState('counter', {
  vars: () => ({ count: 0 }),
  handlers: (h) => ({
    increment: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => { s.count += by; } }),
  }),
});

/** The raw baseline on `/ws`. */
export async function registerRawCounter(app: FastifyInstance): Promise<void> {
  await app.register(websocket);
  app.get('/ws', { websocket: true }, (socket) => {
    const state = { count: 0 };
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { seq: number; args: { by: number } };
      state.count += frame.args.by;
      socket.send(JSON.stringify({ t: 'result', seq: frame.seq, patch: { counter: [{ op: 'set', path: ['count'], value: state.count }] } }));
    });
  });
}
