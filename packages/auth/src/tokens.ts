import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of `message` under the app secret, for one `purpose` (keys never cross purposes). */
function mac(secret: string | Buffer, purpose: string, message: string): string {
  return createHmac('sha256', secret).update(`strata-auth:${purpose}\n${message}`).digest('base64url');
}

/** Constant-time equality of two strings. */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The CSRF token of a session: forms and `x-csrf-token` headers must carry it. */
export function csrfToken(secret: string | Buffer, sessionKey: string): string {
  return mac(secret, 'csrf', sessionKey);
}

/** What a reset token is bound to: any change (a new password, a sign-in, deactivation) spends it. */
export interface ResetSubject {
  id: number;
  email: string;
  password: string;
  isActive: boolean;
  lastLogin: Date | null;
}

const fingerprint = (user: ResetSubject, issued: string) => `${user.id}\n${issued}\n${user.email}\n${user.password}\n${user.isActive}\n${user.lastLogin?.getTime() ?? ''}`;

/**
 * A password-reset token: `<user id>.<issued at, base 36 seconds>.<mac>`. Stateless yet
 * single-use: its MAC covers the password hash and last sign-in, so using it (which sets a
 * new password) or signing in spends it.
 */
export function makeResetToken(secret: string | Buffer, user: ResetSubject, now = Date.now()): string {
  const issued = Math.floor(now / 1000).toString(36);
  return `${user.id}.${issued}.${mac(secret, 'reset', fingerprint(user, issued))}`;
}

/** The user id a well-formed token claims, or undefined (check it with {@link checkResetToken}). */
export function resetTokenUser(token: unknown): number | undefined {
  if (typeof token !== 'string' || token.length > 200) return undefined;
  const match = /^(\d{1,15})\.([0-9a-z]{1,10})\.[\w-]{43}$/.exec(token);
  return match ? Number(match[1]) : undefined;
}

/** True when `token` was made for `user` as it is now, less than `ttlMs` ago. */
export function checkResetToken(secret: string | Buffer, token: string, user: ResetSubject, ttlMs: number, now = Date.now()): boolean {
  const [id, issued, given] = token.split('.');
  if (id !== String(user.id) || !issued || !given) return false;
  const age = now - parseInt(issued, 36) * 1000;
  if (!(age >= -60_000 && age <= ttlMs)) return false;
  return sameText(given, mac(secret, 'reset', fingerprint(user, issued)));
}
