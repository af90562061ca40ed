import type { AuthUser, CurrentSession } from './currentUser.js';

// The auth layer's fields on every event context and every HTTP request.
declare module '@strata/state/server' {
  interface ContextExtensions {
    /** The signed-in user, from the server-side session, resolved for this event; null when anonymous. */
    user: AuthUser | null;
    /** The session of the socket's cookie, if it has one. */
    session: CurrentSession | null;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The request's session; a visitor without one gets an anonymous one (its cookie set on `reply`). */
    ensureSession(request: FastifyRequest, reply: FastifyReply): Promise<CurrentSession>;
  }
  interface FastifyRequest {
    /** The signed-in user of this request (null when anonymous). */
    user: AuthUser | null;
    /** The session of this request's cookie, if it has one. */
    session: CurrentSession | null;
  }
}
