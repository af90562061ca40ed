/**
 * The server side of the auth benchmark, in its own process: the same counter handler served
 * by the state runtime `plain`, or `auth` — the auth plugin, its event middleware (session →
 * user) and a permission guard. Queries are counted per event by the outermost middleware.
 * On the SQLite file the driver created and seeded. Talks to the driver over IPC.
 */
import fastify from 'fastify';
import { authModels, createAuth, permissionRequired } from '@strata/auth';
import { runInQueryScope, setup } from '@strata/model';
import { defineState, type Guard, type Middleware, strataState } from '@strata/state/server';
import * as v from 'valibot';

const [mode, databaseUrl] = process.argv.slice(2) as ['plain' | 'auth', string];
const SECRET = 'bench-secret-bench-secret-bench-secret!!';
/** The permission the driver grants the bench user through a group (auth.ts). */
const PERMISSION = 'bench.change_counter';

await setup({ databaseUrl, models: authModels, debug: false });
const app = fastify({ logger: false });

/** Queries of the latest events, outermost middleware first so the session lookup and the guard count too. */
const counts: number[] = [];
const countQueries: Middleware = async (_ctx, next) => {
  counts.push((await runInQueryScope(next)).count);
  if (counts.length > 20_000) counts.splice(0, 10_000);
};

function counter(guard?: Guard) {
  return defineState('counter', {
    vars: () => ({ count: 0 }),
    handlers: (h) => ({
      increment: h.event({ args: v.object({ by: v.number() }), ...(guard ? { guard } : {}), run: (s, { by }) => void (s.count += by) }),
    }),
  });
}

// Rate limits are lifted: the benchmark measures the pipeline, not the limiters.
const limits = { eventsPerSecond: 1e9, burst: 1e9, queueLength: 1e6 };
if (mode === 'auth') {
  // The sign-in throttle is lifted too, so 30 timed logins in a row are not refused.
  const auth = createAuth({ secret: SECRET, siteOrigin: 'http://127.0.0.1', sendPasswordReset: () => undefined, throttle: { limit: 1e6 } });
  await app.register(auth.plugin);
  await app.register(strataState, {
    states: [counter(permissionRequired(PERMISSION))],
    secret: SECRET,
    limits,
    middleware: [countQueries, auth.middleware],
    bindToken: auth.bindToken,
  });
} else {
  await app.register(strataState, { states: [counter()], secret: SECRET, limits, middleware: [countQueries] });
}
app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));

const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.on('message', (message: { type: string; last?: number }) => {
  if (message.type === 'queries') process.send!({ counts: counts.slice(-(message.last ?? counts.length)) });
  if (message.type === 'stop') void app.close().then(() => process.exit(0));
});
process.send!({ address });
