import { defineState, type HandlerContext } from '@strata/state/server';
import * as v from 'valibot';
import type { AuthCore } from './auth.js';
import { AuthError } from './errors.js';
import { changePassword, confirmReset, flowArgs, type PublicUser, publicUser, register, requestReset } from './flows.js';
import { loginRequired } from './guards.js';

/** The socket's session, which a sign-in over the socket is bound to (the page created it with its CSRF token). */
function sessionOf(ctx: HandlerContext): string {
  if (!ctx.session) throw new AuthError('STRATA_AUTH_CSRF', 'This page has no session; reload it and try again.');
  return ctx.session.key;
}

/**
 * The `auth` state: the signed-in user as a client var and the flows as handlers. Signing in
 * (or registering) answers a one-time `exchange` code; the page posts it to
 * `<routePrefix>/exchange`, which sets the HttpOnly cookie and answers a join token for a new
 * tab of the new session (`client.restart(token)`): nothing of the anonymous tab carries over.
 */
export function defineAuthState(core: AuthCore) {
  const log = (message: string) => core.log(message);
  const signIn = async (userId: number, ctx: HandlerContext) => ({ exchange: await core.createExchange(userId, sessionOf(ctx)) });
  return defineState('auth', {
    vars: () => ({ user: null as PublicUser | null }),
    handlers: (h) => ({
      /** Loads the signed-in user into `user` (a page calls it once it joined). */
      refresh: h.event({
        public: true,
        run: (s, _args, ctx) => {
          s.user = publicUser(ctx.user);
        },
      }),
      login: h.event({
        args: flowArgs.login,
        public: true,
        run: async (_s, args, ctx) => {
          sessionOf(ctx);
          const user = await core.authenticate(args.login, args.password, ctx.ip);
          return signIn(user.id, ctx);
        },
      }),
      register: h.event({
        args: flowArgs.register,
        public: true,
        run: async (_s, args, ctx) => {
          sessionOf(ctx);
          const user = await register(core, args, ctx.ip);
          return signIn(user.id, ctx);
        },
      }),
      /**
       * Ends this session (with `everywhere`, every session of the user) on every worker; this
       * tab's socket closes (4403) right after the answer.
       */
      logout: h.event({
        args: v.optional(v.strictObject({ everywhere: v.optional(v.boolean()) })),
        public: true,
        run: async (s, args, ctx) => {
          s.user = null;
          if (args?.everywhere && ctx.user) {
            await core.endUserSessions(ctx.user.id, ctx.session?.key);
            if (ctx.session) await core.endSessions([ctx.session.key], { afterReply: true });
          } else if (ctx.session) await core.endSessions([ctx.session.key], { afterReply: true });
        },
      }),
      changePassword: h.event({
        args: flowArgs.changePassword,
        guard: loginRequired,
        run: (_s, args, ctx) => changePassword(core, ctx.user, ctx.session?.key, args),
      }),
      requestPasswordReset: h.event({
        args: flowArgs.requestReset,
        public: true,
        run: (_s, args, ctx) => requestReset(core, args, ctx.ip, log),
      }),
      resetPassword: h.event({
        args: flowArgs.confirmReset,
        public: true,
        run: (_s, args, ctx) => confirmReset(core, args, ctx.ip),
      }),
    }),
  });
}
