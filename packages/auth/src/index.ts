import type { FastifyInstance } from 'fastify';
import './context.js';
import { type AuthOptions, AuthCore } from './auth.js';
import { defineAuthState } from './authState.js';
import { registerAuthRoutes } from './routes.js';

/**
 * The auth layer of an app: the HTTP plugin (routes, `request.user`, CSRF), the event
 * middleware (`ctx.user` from the session on every event), the join-token binding, and the
 * `auth` state with the flows as handlers.
 *
 * @example
 * const auth = createAuth({ secret: process.env.STRATA_SECRET_KEY!, siteOrigin: 'https://shop.example' });
 * await app.register(auth.plugin);
 * await app.register(strataState, { states: [auth.AuthState, ...states], secret, middleware: [auth.middleware], bindToken: auth.bindToken });
 */
export function createAuth(options: AuthOptions) {
  const core = new AuthCore(options);
  const plugin = Object.assign(async (app: FastifyInstance) => registerAuthRoutes(app, core), {
    // Like fastify-plugin: the hooks, decorations and routes belong to the app.
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@strata/auth',
  });
  return {
    plugin,
    middleware: core.middleware,
    bindToken: core.bindToken,
    AuthState: defineAuthState(core),
    /** Checks a login and password (throttled, constant-time for unknown users); for custom flows. */
    authenticate: (login: string, password: string, ip: string) => core.authenticate(login, password, ip),
    /** Ends every session of a user on every worker (e.g. after deactivating them). */
    endUserSessions: (userId: number) => core.endUserSessions(userId),
    core,
  };
}

export type Auth = ReturnType<typeof createAuth>;
export type { AuthOptions } from './auth.js';
export type { AuthUser, CurrentSession } from './currentUser.js';
export { permissionsOf } from './currentUser.js';
export { AuthError, authErrorCodes, type AuthErrorCode } from './errors.js';
export type { PublicUser } from './flows.js';
export { groupRequired, loginRequired, permissionRequired, staffRequired, superuserRequired, userPassesTest } from './guards.js';
export { authModels, Group, Permission, Session, User } from './models.js';
export {
  defaultPasswordValidators,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  minLength,
  needsRehash,
  notCommon,
  notNumeric,
  notSimilarToUser,
  PASSWORD_HASH_PARAMS,
  PasswordError,
  type PasswordValidator,
  validatePassword,
  verifyPassword,
} from './passwords.js';
export { databaseSessionStore, redisSessionStore, type SessionRecord, type SessionStore } from './sessions.js';
export { createMemoryThrottle, createRedisThrottle, type Throttle, type ThrottleResult } from './throttle.js';
export { createSuperuser, createUser, type NewUser, setPassword, syncPermissions } from './users.js';
