import type { WireError } from '../protocol.js';

const strataBrand = Symbol.for('strata.error');
const serverBrand = Symbol.for('strata.state.serverError');

/**
 * An error with a stable `code`, as the server sent it for a call or a frame, or as the client
 * raises it for a protocol failure (`STRATA_STATE_BAD_FRAME`, `STRATA_STATE_BAD_PATCH`) and for
 * calls that can no longer complete (`STRATA_STATE_CLOSED`, `STRATA_STATE_CANCELLED`).
 * `fields` holds per-field messages of validation errors (`__all__`: the whole input).
 * Branded like the server's `StrataError`; recognise it with {@link isServerError}, which also
 * works across two loaded copies of the package, where `instanceof` does not.
 */
export class ServerError extends Error {
  readonly code: string;
  declare readonly fields?: Record<string, string[]>;
  readonly [strataBrand] = true;
  readonly [serverBrand] = true;

  constructor(code: string, message: string, options: { fields?: Record<string, string[]> | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServerError';
    this.code = code;
    if (options.fields) Object.defineProperty(this, 'fields', { value: options.fields, enumerable: true });
  }
}

/** True when `value` is a {@link ServerError} (of any copy of the package), optionally of one code. */
export function isServerError(value: unknown, code?: string): value is ServerError {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[serverBrand] !== true) return false;
  return code === undefined || (value as ServerError).code === code;
}

/** The {@link ServerError} for an error as it crossed the wire. */
export function fromWire(error: WireError): ServerError {
  return new ServerError(error.code, error.message, { fields: error.fields });
}

/** The error pending calls are rejected with once the client can no longer send them. */
export function closedError(why: 'closed' | 'expired' | 'replaced' | 'signedOut' | 'restarted'): ServerError {
  const messages = {
    signedOut: 'The session ended (signed out here or elsewhere) before the server answered this call: load the page again.',
    restarted: 'The client started over as a new tab (e.g. after signing in) before the server answered this call.',
    closed: 'The client was closed before the server answered this call.',
    expired: 'The page’s session expired before the server answered this call: reload the page.',
    replaced: 'Another connection took this tab over before the server answered this call: reload the page to use it here.',
  };
  return new ServerError('STRATA_STATE_CLOSED', messages[why]);
}
