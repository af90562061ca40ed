import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStrataError } from '@strata/model';
import type { AuthCore } from './auth.js';
import { AuthError, authErrorStatus, type AuthErrorCode } from './errors.js';
import { changePassword, confirmReset, parseFlow, publicUser, register, requestReset } from './flows.js';
import type { CurrentSession } from './currentUser.js';
import { User } from './models.js';
import { sessionKey } from './sessions.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The HTTP side of the auth layer: `request.user` and `request.session` on every request,
 * CSRF checks on every state-changing request, and the sign-in, sign-out, registration and
 * password routes under `routePrefix`.
 */
export async function registerAuthRoutes(app: FastifyInstance, core: AuthCore): Promise<void> {
  if (!app.hasRequestDecorator('cookies')) await app.register(cookie);
  app.decorateRequest('user', null);
  app.decorateRequest('session', null);
  // Once every plugin is in: the state runtime (if any) is registered after this one.
  app.addHook('onReady', async () => core.attach(app));
  app.addHook('onClose', async () => core.close());

  const prefix = core.routePrefix;
  const exchangeUrl = `${prefix}/exchange`;

  app.addHook('onRequest', async (request, reply) => {
    try {
      const { user, session } = await core.users.resolve(request.cookies[core.cookieName]);
      request.user = user;
      request.session = session;
    } catch (error) {
      return sendError(reply, error);
    }
    // A cookie whose session ended is cleared, so the browser stops sending it.
    if (!request.session && request.cookies[core.cookieName] !== undefined) reply.clearCookie(core.cookieName, { path: '/' });
  });

  app.addHook('preHandler', async (request, reply) => {
    if (!UNSAFE.has(request.method) || request.routeOptions.url === exchangeUrl || core.csrfExempt?.(request)) return;
    // A route that protects itself says so in its config (the state runtime's upload route: Origin + a session-bound token in a custom header).
    if ((request.routeOptions.config as { csrfExempt?: unknown } | undefined)?.csrfExempt === true) return;
    const body = request.body as { _csrf?: unknown } | undefined;
    const token = request.headers['x-csrf-token'] ?? (typeof body === 'object' && body !== null ? body._csrf : undefined);
    if (!core.checkCsrf(request.session?.key, token)) {
      return reply.code(403).send({ error: { code: 'STRATA_AUTH_CSRF', message: 'This form expired or came from another site; reload the page and try again.' } });
    }
  });

  const setSession = (reply: FastifyReply, value: string) =>
    reply.setCookie(core.cookieName, value, { httpOnly: true, sameSite: 'lax', secure: core.production, path: '/', maxAge: Math.floor(core.sessionTtlMs / 1000) });
  /** What a page needs after its session changed: the user, the new CSRF token and a join token bound to the new session. */
  const signedIn = (request: FastifyRequest, value: string, user: Parameters<typeof publicUser>[0]) => {
    const key = sessionKey(value)!;
    const token = app.hasDecorator('strata') ? app.strata.issueToken(request, { bind: core.bindingOf(key) }) : undefined;
    return { user: publicUser(user), csrf: core.csrfFor(key), ...(token ? { token } : {}) };
  };
  const route = (url: string, handler: (request: FastifyRequest, body: unknown, reply: FastifyReply) => Promise<unknown>) =>
    app.post(`${prefix}${url}`, {
      // A body the parser refuses (malformed JSON, a __proto__ key, an unknown type) is invalid input, typed like any other.
      errorHandler: (error, _request, reply) =>
        (error as { statusCode?: number }).statusCode === 413 || (error as { statusCode?: number }).statusCode === 415 || (error as { statusCode?: number }).statusCode === 400
          ? sendError(reply, new AuthError('STRATA_AUTH_INVALID', 'The request body is not valid JSON input.'))
          : sendError(reply, error),
    }, async (request, reply) => {
      try {
        return await handler(request, withoutCsrf(request.body), reply);
      } catch (error) {
        return sendError(reply, error);
      }
    });

  // A session (and so a CSRF token) for a page with a form; a visitor without one gets an anonymous one.
  /** The request's session, made (anonymous, cookie set) when it has none: a page with a form or a cart needs one. */
  const ensureSession = async (request: FastifyRequest, reply: FastifyReply): Promise<CurrentSession> => {
    if (request.session) return request.session;
    const value = await core.anonymousSession();
    setSession(reply, value);
    request.cookies[core.cookieName] = value;
    const { session } = await core.users.resolve(value);
    request.session = session;
    return session!;
  };
  app.decorate('ensureSession', ensureSession);

  app.get(`${prefix}/csrf`, async (request, reply) => {
    try {
      const { key } = await ensureSession(request, reply);
      // With the state runtime, a join token of this session too (a page starting over after a sign-out).
      const token = app.hasDecorator('strata') ? app.strata.issueToken(request, { bind: core.bindingOf(key) }) : undefined;
      return { csrf: core.csrfFor(key), ...(token ? { token } : {}) };
    } catch (error) {
      return sendError(reply, error);
    }
  });
  app.get(`${prefix}/me`, async (request) => ({ user: publicUser(request.user) }));

  route('/login', async (request, body, reply) => {
    const args = parseFlow('login', body);
    const user = await core.authenticate(args.login, args.password, request.ip);
    const value = await core.startSession(user.id, request.session);
    setSession(reply, value);
    return signedIn(request, value, user);
  });
  route('/register', async (request, body, reply) => {
    const user = await register(core, body, request.ip);
    const value = await core.startSession(user.id, request.session);
    setSession(reply, value);
    return signedIn(request, value, user);
  });
  route('/logout', async (request, body, reply) => {
    // `{ everywhere: true }` ends every session of the user (every device), not only this one.
    const everywhere = (body as { everywhere?: unknown } | undefined)?.everywhere === true;
    if (everywhere && request.user) await core.endUserSessions(request.user.id);
    else if (request.session) await core.endSessions([request.session.key]);
    reply.clearCookie(core.cookieName, { path: '/' });
    return { user: null };
  });
  route('/password/change', async (request, body) => {
    await changePassword(core, request.user, request.session?.key, body);
    return { ok: true };
  });
  route('/password/reset', async (request, body, reply) => {
    await requestReset(core, body, request.ip, (message) => request.log.info(message));
    // The same answer whether or not the account exists.
    return reply.code(202).send({ ok: true });
  });
  route('/password/reset/confirm', async (request, body) => {
    await confirmReset(core, body, request.ip);
    return { ok: true };
  });
  // The second half of a sign-in over the socket: the one-time code becomes the HttpOnly cookie.
  route('/exchange', async (request, body, reply) => {
    const { code } = parseFlow('exchange', body);
    const userId = await core.spendExchange(code, request.session?.key);
    const user = await User.objects.filter({ id: userId, isActive: true }).first();
    if (!user) throw new AuthError('STRATA_AUTH_BAD_TOKEN', 'This sign-in link is invalid or was already used; sign in again.');
    const value = await core.startSession(user.id, request.session);
    setSession(reply, value);
    return signedIn(request, value, user);
  });
}

/** The body without its `_csrf` field (a form's CSRF token is not input of the flow). */
function withoutCsrf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, '_csrf')) return body;
  const { _csrf: _, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** Answers an error as `{ error: { code, message, fields? } }`: auth errors with their status, anything else as a 500 without details. */
function sendError(reply: FastifyReply, error: unknown) {
  if (isStrataError(error) && Object.hasOwn(authErrorStatus, error.code)) {
    const { code } = error as { code: AuthErrorCode };
    const { fields, retryAfterMs } = error as { fields?: Record<string, string[]>; retryAfterMs?: number };
    if (retryAfterMs !== undefined) reply.header('retry-after', Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return reply.code(authErrorStatus[code]).send({ error: { code, message: error.message, ...(fields ? { fields } : {}) } });
  }
  reply.log.error({ err: error }, 'strata auth route failed');
  return reply.code(500).send({ error: { code: 'STRATA_AUTH_FAILED', message: 'The server could not complete this request.' } });
}
