import * as v from 'valibot';
import type { AuthCore } from './auth.js';
import type { AuthUser } from './currentUser.js';
import { AuthError } from './errors.js';
import { User } from './models.js';
import { MAX_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { checkResetToken, makeResetToken, resetTokenUser } from './tokens.js';
import { createUser, normalizeEmail, setPassword } from './users.js';

// Input bounds: checked before anything is looked up or hashed.
const password = v.pipe(v.string('Enter a password.'), v.minLength(1, 'Enter a password.'), v.maxLength(MAX_PASSWORD_LENGTH, `At most ${MAX_PASSWORD_LENGTH} characters.`));
const login = v.pipe(v.string('Enter your e-mail or username.'), v.trim(), v.minLength(1, 'Enter your e-mail or username.'), v.maxLength(254, 'At most 254 characters.'));
const email = v.pipe(v.string('Enter your e-mail.'), v.maxLength(254, 'At most 254 characters.'));

/** The arguments of each flow, shared by the HTTP routes and the event handlers. */
export const flowArgs = {
  login: v.strictObject({ login, password }),
  register: v.strictObject({ email, password, name: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(150))), username: v.optional(v.pipe(v.string(), v.maxLength(150))) }),
  changePassword: v.strictObject({ current: password, password }),
  requestReset: v.strictObject({ email }),
  confirmReset: v.strictObject({ token: v.pipe(v.string(), v.maxLength(200)), password }),
  exchange: v.strictObject({ code: v.pipe(v.string(), v.maxLength(100)) }),
};

/** Parses a flow's input, or throws STRATA_AUTH_INVALID with field errors. */
export function parseFlow<K extends keyof typeof flowArgs>(kind: K, input: unknown): v.InferOutput<(typeof flowArgs)[K]> {
  const parsed = v.safeParse(flowArgs[kind], input);
  if (parsed.success) return parsed.output;
  const flat = v.flatten(parsed.issues);
  const fields: Record<string, string[]> = { ...(flat.nested as Record<string, string[]> | undefined) };
  if (flat.root) fields.__all__ = flat.root;
  throw new AuthError('STRATA_AUTH_INVALID', 'Some fields are invalid.', { fields });
}

/** What the client may know of a user. */
export interface PublicUser {
  id: number;
  email: string;
  username: string | null;
  name: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

/** The public fields of a user row or an {@link AuthUser}. */
export function publicUser(user: Pick<AuthUser, keyof PublicUser> | null | undefined): PublicUser | null {
  if (!user) return null;
  return { id: user.id, email: user.email, username: user.username, name: user.name, isStaff: user.isStaff, isSuperuser: user.isSuperuser };
}

/** Registers a user (throttled per address like a sign-in); returns the new user. */
export async function register(core: AuthCore, input: unknown, ip: string) {
  const args = parseFlow('register', input);
  await core.throttled([`register:ip:${ip}`]);
  return createUser({ email: args.email, password: args.password, ...(args.name !== undefined ? { name: args.name } : {}), ...(args.username ? { username: args.username } : {}) }, core.validators);
}

/**
 * Changes the signed-in user's password after checking the current one (throttled per
 * user); every other session of the user ends, on every worker.
 */
export async function changePassword(core: AuthCore, user: AuthUser | null | undefined, sessionKey: string | undefined, input: unknown): Promise<void> {
  if (!user) throw new AuthError('STRATA_AUTH_LOGIN_REQUIRED', 'Sign in to do this.');
  const args = parseFlow('changePassword', input);
  await core.throttled([`password:user:${user.id}`]);
  const row = await User.objects.filter({ id: user.id }).first();
  if (!row || !(await verifyPassword(row.password, args.current)).ok) {
    throw new AuthError('STRATA_AUTH_INVALID', 'Your current password is wrong.', { fields: { current: ['Your current password is wrong.'] } });
  }
  await setPassword(user.id, args.password, core.validators);
  await core.endUserSessions(user.id, sessionKey);
}

/**
 * Sends a reset link to the account's e-mail, if there is an active account: the answer is
 * the same either way (throttled per e-mail and per address). The link is built from the
 * configured site origin, never from the request.
 */
export async function requestReset(core: AuthCore, input: unknown, ip: string, log: (message: string) => void): Promise<void> {
  const args = parseFlow('requestReset', input);
  let address: string;
  try {
    address = normalizeEmail(args.email);
  } catch {
    await core.throttled([`reset:ip:${ip}`]);
    return;
  }
  await core.throttled([`reset:account:${address}`, `reset:ip:${ip}`]);
  const user = await User.objects.filter({ email: address, isActive: true }).first();
  if (!user) return;
  const url = new URL(core.resetPath, core.siteOrigin);
  url.searchParams.set('token', makeResetToken(core.secret, user));
  const message = { email: user.email, link: url.href, userId: user.id };
  if (core.sendPasswordReset) await core.sendPasswordReset(message);
  else log(`[strata auth] Password reset link for ${user.email} (development only; set sendPasswordReset to e-mail it): ${url.href}`);
}

/** Sets a new password with a reset token (single use, expiring, for its user only); every session of the user ends. */
export async function confirmReset(core: AuthCore, input: unknown, ip: string): Promise<void> {
  const args = parseFlow('confirmReset', input);
  await core.throttled([`reset:confirm:ip:${ip}`]);
  const bad = new AuthError('STRATA_AUTH_BAD_TOKEN', 'This reset link is invalid, expired or already used; ask for a new one.');
  const id = resetTokenUser(args.token);
  if (id === undefined) throw bad;
  const user = await User.objects.filter({ id }).first();
  if (!user || !user.isActive || !checkResetToken(core.secret, args.token, user, core.resetTtlMs)) throw bad;
  await setPassword(user.id, args.password, core.validators);
  await core.endUserSessions(user.id);
}
