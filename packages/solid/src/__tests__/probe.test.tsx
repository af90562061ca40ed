// @vitest-environment node
import fastify from '../../../state/node_modules/fastify/fastify.js';
import { WebSocket } from '../../../state/node_modules/ws/wrapper.mjs';
import * as v from '../../../state/node_modules/valibot/dist/index.mjs';
import { defineModel, f } from '../../../model/dist/index.js';
import { strataState, defineState } from '@strata/state/server';
import { it, expect } from 'vitest';
it('probes', async () => {
  const S = defineState('s', { vars: () => ({ n: 0 }), handlers: (h) => ({ inc: h.event({ args: v.object({ by: v.number() }), run: (s, { by }) => { s.n += by; } }) }) });
  const app = fastify();
  await app.register(strataState, { states: [S], secret: 'x'.repeat(40) });
  const addr = await app.listen({ port: 0, host: '127.0.0.1' });
  const ws = new WebSocket(addr.replace('http', 'ws') + '/strata/ws', { origin: addr });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  ws.close();
  console.log(typeof defineModel, typeof f, typeof document, typeof globalThis.WebSocket);
  await app.close();
  expect(1).toBe(1);
});
