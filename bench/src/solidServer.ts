/**
 * The server of the Solid patch benchmark: a 1,000-row `rows` state with `setStock`, the
 * fixture's built assets, and a client-rendered page that joins a tab.
 */
import fastify from 'fastify';
import { defineState, strataState } from '@strata/state/server';
import { renderDocument, serveAssets } from '@strata/solid/server';
import * as v from 'valibot';

export const ROWS = 1000;

const Rows = defineState('rows', {
  vars: () => ({ rows: Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, name: `Product ${String(i + 1).padStart(4, '0')}`, stock: (i * 7) % 50 })) }),
  handlers: (h) => ({
    setStock: h.event({
      args: v.object({ id: v.number(), stock: v.number() }),
      run: (s, { id, stock }) => {
        const row = s.rows.find((item) => item.id === id);
        if (row) row.stock = stock;
      },
    }),
  }),
});

/** Listens on an ephemeral loopback port; `/` is the page, `script` the built entry under `assets`. */
export async function startListServer(options: { assets: string; script: string }): Promise<{ origin: string; close(): Promise<void> }> {
  const app = fastify({ logger: false });
  // Rate limits are lifted: the benchmark measures patch application, not the limiter.
  await app.register(strataState, { states: [Rows], secret: 'bench-solid-secret-bench-solid-secret!!', limits: { eventsPerSecond: 1e9, burst: 1e9 } });
  serveAssets(app, { dir: options.assets, prefix: '/assets/' });
  app.get('/', async (request, reply) => {
    const strata = { token: app.strata.issueToken(request), states: {}, url: '/strata/ws' };
    return reply.type('text/html').send(renderDocument({ title: 'Rows', body: '', strata, scripts: [`/${options.script}`] }));
  });
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  return { origin, close: () => app.close() };
}
