/**
 * The per-event context: rebuilt for every event from what the server holds about the
 * connection (the upgrade request's cookies and headers, the client address, the tab id),
 * never from anything the client sends with the event.
 */

/**
 * Fields later layers add to every context, by declaration merging:
 *
 * @example
 * declare module '@strata/state/server' {
 *   interface ContextExtensions { user: User | AnonymousUser }
 * }
 */
// biome-ignore lint: an empty interface is the augmentation point.
export interface ContextExtensions {}

/** What the server knows about a connection, captured once at the upgrade. */
export interface ConnectionInfo {
  /** The tab id from the verified join token. */
  readonly tab: string;
  /** Cookies of the upgrade request (signed cookies still signed). */
  readonly cookies: Readonly<Record<string, string>>;
  /** Headers of the upgrade request. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client address as fastify resolves it (honours `trustProxy`). */
  readonly ip: string;
  /** The Origin the upgrade came from (already checked against the allowed origins). */
  readonly origin: string;
}

/** The context every middleware, guard and handler of one event sees. */
export interface BaseContext extends ConnectionInfo {
  /** The state the event is for. */
  readonly state: string;
  /** The handler the event calls. */
  readonly handler: string;
  /** Values middleware attach for this event only (e.g. the session). */
  readonly locals: Record<string, unknown>;
}

/** The per-event context, with what later layers add (e.g. `user`, by the auth layer). */
export type EventContext = BaseContext & Partial<ContextExtensions>;

/**
 * A guard: a plain function of the context. It passes by returning; it refuses by throwing
 * (an `EventError` whose code says why, e.g. the auth layer's login-required code), and the handler never runs.
 */
export type Guard = (ctx: EventContext) => void | Promise<void>;

/**
 * Middleware around every event: do work before and after `next()`, set context fields
 * (`ctx.user`), or refuse the event by throwing before calling `next()`.
 *
 * @example
 * const timing: Middleware = async (ctx, next) => { const t = performance.now(); await next(); log(ctx.handler, performance.now() - t); };
 */
export type Middleware = (ctx: EventContext, next: () => Promise<void>) => Promise<void>;

/** Runs `middleware` around `inner`, outermost first. */
export function compose(middleware: readonly Middleware[], ctx: EventContext, inner: () => Promise<void>): Promise<void> {
  let index = -1;
  const dispatch = async (i: number): Promise<void> => {
    if (i <= index) throw new Error('A middleware called next() twice.');
    index = i;
    const layer = middleware[i];
    if (!layer) return inner();
    await layer(ctx, () => dispatch(i + 1));
  };
  return dispatch(0);
}

/** A guard option (one guard or a list) as a list. */
export function guardList(guard: Guard | readonly Guard[] | undefined): readonly Guard[] {
  if (!guard) return [];
  return typeof guard === 'function' ? [guard] : guard;
}

/** Runs guards in order; the first that throws refuses. */
export async function runGuards(guards: readonly Guard[], ctx: EventContext): Promise<void> {
  for (const guard of guards) await guard(ctx);
}
