import { authModels, createAuth, createRedisThrottle, redisSessionStore } from '@strata/auth';
import { createRedisStateManager, type MetricsOptions, redisFailFastOptions, strataState } from '@strata/state/server';
import { Redis } from 'ioredis';
import fastify, { type FastifyInstance } from 'fastify';
import { shopModels } from './models.js';
import { shopStates } from './states.js';

/** Every model of the shop, the auth layer's included, for `setup({ models })` and migrations. */
export const models = [...authModels, ...shopModels];
export { shopStates };

/** What the shop needs to run (the CLI reads them from the environment). */
export interface ShopOptions {
  secret: string;
  siteOrigin: string;
  redisUrl?: string | undefined;
  /** Host names the server answers (`Host` header, port aside); others get 400. Default: any. */
  allowedHosts?: readonly string[];
  /** Origins whose pages may open the socket. Default: the server's own origin. */
  allowedOrigins?: readonly string[];
  /** Key prefix in Redis (default `strata:`): tabs, sessions and throttling of this shop. */
  redisPrefix?: string;
  production?: boolean;
  sendPasswordReset?: (message: { email: string; link: string; userId: number }) => void | Promise<void>;
  logger?: boolean;
  /** Prometheus metrics of the state runtime (`STRATA_METRICS_TOKEN` / `STRATA_METRICS_PORT`); unset: none served. */
  metrics?: MetricsOptions | undefined;
}

/**
 * The shop's server: the auth routes, the state runtime with the shop's states (on Redis when
 * `redisUrl` is set, so several workers share tabs, sessions, throttling and live stock), and
 * a join token route for pages. The database is set up by the caller.
 */
export async function createShop(options: ShopOptions): Promise<FastifyInstance> {
  const app = fastify({ logger: options.logger ?? false, trustProxy: false });
  const prefix = options.redisPrefix ?? 'strata:';
  // One connection for sessions, throttling and tabs (the state manager adds its subscriber).
  const redis = options.redisUrl ? new Redis(options.redisUrl, redisFailFastOptions) : undefined;
  if (redis) {
    redis.on('error', () => undefined);
    app.addHook('onClose', async () => void redis.disconnect());
  }
  const hosts = options.allowedHosts && new Set(options.allowedHosts.map((host) => host.toLowerCase()));
  if (hosts) {
    // Like Django's ALLOWED_HOSTS: a request for another host (DNS rebinding, a poisoned Host) is refused.
    app.addHook('onRequest', async (request, reply) => {
      if (!hosts.has(request.hostname.toLowerCase())) return reply.code(400).send({ error: { code: 'SHOP_BAD_HOST', message: 'This host is not served here.' } });
    });
  }
  const auth = createAuth({
    secret: options.secret,
    siteOrigin: options.siteOrigin,
    production: options.production ?? false,
    ...(redis
      ? {
          store: redisSessionStore({ redis, prefix: `${prefix}session:` }),
          throttle: createRedisThrottle({ redis, prefix: `${prefix}throttle:` }),
        }
      : {}),
    ...(options.sendPasswordReset ? { sendPasswordReset: options.sendPasswordReset } : {}),
  });
  await app.register(auth.plugin);
  await app.register(strataState, {
    states: [auth.AuthState, ...shopStates],
    secret: options.secret,
    production: options.production ?? false,
    middleware: [auth.middleware],
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
    bindToken: auth.bindToken,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(redis ? { manager: createRedisStateManager({ redis, prefix: `${prefix}tab:` }) as never } : {}),
  });
  return app;
}
