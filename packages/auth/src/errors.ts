import { StrataError } from '@strata/model';

/** Every auth error code, with the sentence docs/errors.md expands on. */
export const authErrorCodes = {
  STRATA_AUTH_LOGIN_REQUIRED: 'The action needs a signed-in user.',
  STRATA_AUTH_PERMISSION_DENIED: 'The signed-in user lacks a permission, group or flag the action requires.',
  STRATA_AUTH_INVALID_CREDENTIALS: 'The login or password is wrong, or the account cannot sign in (never says which).',
  STRATA_AUTH_THROTTLED: 'Too many sign-in or reset attempts for this account or address; the message says when to retry.',
  STRATA_AUTH_UNAVAILABLE: 'The session store or the throttle store cannot be reached; nothing was decided.',
  STRATA_AUTH_CSRF: 'A state-changing HTTP request came without the CSRF token of its session.',
  STRATA_AUTH_BAD_TOKEN: 'A password-reset token or a sign-in exchange code is forged, expired, used or meant for another session.',
  STRATA_AUTH_INVALID: 'The submitted data is invalid (field errors say where), e.g. a weak password or a taken e-mail.',
  STRATA_AUTH_CONFIG: 'The auth options are invalid (a short secret, a site origin that is not a URL, a bad throttle limit).',
  STRATA_AUTH_PASSWORD_TOO_LONG: 'A password longer than the bound (1,024 characters) reached the hashing function; it was refused before hashing.',
  STRATA_AUTH_PASSWORD_INVALID: 'Something that is not a string was given as a password to hash.',
  STRATA_AUTH_FAILED: 'An auth route failed unexpectedly; the details are in the server log, never in the answer.',
} as const;

/** A code of {@link authErrorCodes}. */
export type AuthErrorCode = keyof typeof authErrorCodes;

/**
 * An error of the auth layer. Its message is written for users, so it crosses to the client
 * as it is (over the socket and in HTTP answers); `fields` hold per-field messages.
 */
export class AuthError extends StrataError<AuthErrorCode> {
  /** Marks the message as written for users (the state runtime's wire boundary sends it). */
  readonly expose = true;
  readonly fields: Record<string, string[]> | undefined;
  /** For `STRATA_AUTH_THROTTLED`: when to try again (ms). */
  readonly retryAfterMs: number | undefined;
  constructor(code: AuthErrorCode, message: string, options: { fields?: Record<string, string[]>; retryAfterMs?: number; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.fields = options.fields;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The HTTP status each code answers with. */
export const authErrorStatus: Record<AuthErrorCode, number> = {
  STRATA_AUTH_LOGIN_REQUIRED: 401,
  STRATA_AUTH_PERMISSION_DENIED: 403,
  STRATA_AUTH_INVALID_CREDENTIALS: 401,
  STRATA_AUTH_THROTTLED: 429,
  STRATA_AUTH_UNAVAILABLE: 503,
  STRATA_AUTH_CSRF: 403,
  STRATA_AUTH_BAD_TOKEN: 400,
  STRATA_AUTH_INVALID: 400,
  STRATA_AUTH_CONFIG: 500,
  STRATA_AUTH_PASSWORD_TOO_LONG: 400,
  STRATA_AUTH_PASSWORD_INVALID: 400,
  STRATA_AUTH_FAILED: 500,
};
