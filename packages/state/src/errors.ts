import { StrataError } from '@strata/model';
import * as v from 'valibot';

/** Every state-runtime error code, with the sentence docs/errors.md expands on. */
export const stateErrorCodes = {
  STRATA_STATE_DEFINITION: 'A state definition or the plugin options are invalid.',
  STRATA_STATE_NOT_JSON: 'A client var or a handler result holds something that is not JSON data.',
  STRATA_STATE_BAD_PATCH: 'A patch did not fit the document it was applied to.',
  STRATA_STATE_BAD_FRAME: 'A frame is not a valid protocol frame.',
  STRATA_STATE_FRAME_TOO_LARGE: 'A frame is larger than maxFrameBytes.',
  STRATA_STATE_NOT_JOINED: 'A frame arrived before a successful join.',
  STRATA_STATE_BAD_ORIGIN: 'A WebSocket upgrade came from an origin that is not allowed.',
  STRATA_STATE_BAD_TOKEN: 'The join token is missing, forged, expired or bound to another session.',
  STRATA_STATE_TAB_EXPIRED: 'A reconnect named a tab the server no longer holds (expired, evicted or restarted).',
  STRATA_STATE_UNKNOWN_STATE: 'A frame names a state the app does not declare.',
  STRATA_STATE_UNKNOWN_HANDLER: 'An event names a handler the state does not declare.',
  STRATA_STATE_BAD_ARGS: 'An event’s arguments fail the handler’s schema.',
  STRATA_STATE_REPLAYED: 'An event’s sequence number was already processed.',
  STRATA_STATE_INTERRUPTED: 'The worker running an event stopped mid-way; it may or may not have taken effect, and does not run again.',
  STRATA_STATE_RATE_LIMITED: 'Too many events, for the connection or for the handler.',
  STRATA_STATE_QUEUE_FULL: 'Too many events of the tab are waiting to run.',
  STRATA_STATE_CANCELLED: 'A background task was cancelled.',
  STRATA_STATE_HANDLER_FAILED: 'A handler threw an unexpected error.',
  STRATA_STATE_BAD_ACTION: 'A handler emitted a client action with unusable arguments (e.g. an off-site redirect).',
  STRATA_STATE_CONFLICT: 'A ModelState save came from a stale edit: the row changed meanwhile.',
  STRATA_STATE_UNAVAILABLE: 'The shared state store (Redis) is unavailable, or the tab is busy on another worker.',
  STRATA_STATE_CLOSED: 'The client was closed or the tab expired; the call was not sent.',
  STRATA_STATE_UPLOAD_TOO_LARGE: 'An upload is larger than limits.uploadBytes; it was cut off and nothing was kept.',
  STRATA_STATE_UPLOAD_NOT_FOUND: 'A handler asked for an upload id this tab does not hold (expired, used, or another tab’s).',
} as const;

/** A code of {@link stateErrorCodes}. */
export type StateErrorCode = keyof typeof stateErrorCodes;

/** An error of the state runtime. */
export class StateError extends StrataError<StateErrorCode> {}

/**
 * An error a handler, guard or middleware raises on purpose to refuse an event: its code,
 * message and fields reach the client as they are, in production too.
 *
 * @example
 * if (stock < qty) throw new EventError('SHOP_OUT_OF_STOCK', `Only ${stock} left.`, { fields: { qty: [`Only ${stock} left.`] } });
 */
export class EventError extends StrataError<string> {
  /** Marks the message as written for users (the wire boundary sends it). */
  readonly expose = true;
  readonly fields: Record<string, string[]> | undefined;
  constructor(code: string, message: string, options: { fields?: Record<string, string[]>; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.fields = options.fields;
  }
}

/** `STRATA_STATE_BAD_ARGS` for `where` (`state.handler`), with valibot's issues as per-field messages (`__all__`: the whole input). */
export function argsError(where: string, issues: readonly v.BaseIssue<unknown>[]): StateError {
  const flat = v.flatten(issues as [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]);
  const fields: Record<string, string[]> = { ...(flat.nested as Record<string, string[]> | undefined) };
  if (flat.root) fields.__all__ = flat.root;
  return Object.assign(new StateError('STRATA_STATE_BAD_ARGS', `${where} was called with invalid arguments.`), { fields });
}
