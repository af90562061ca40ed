import { type AnyModel, getRegistry, isStrataError } from '@strata/model';
import * as v from 'valibot';
import { AuthError } from './errors.js';
import { Permission, User } from './models.js';
import { defaultPasswordValidators, hashPassword, MAX_PASSWORD_LENGTH, type PasswordValidator, validatePassword } from './passwords.js';

/** What a new user needs; `email` is the login (stored lowercase). */
export interface NewUser {
  email: string;
  password: string;
  name?: string;
  username?: string | null;
  isStaff?: boolean;
  isSuperuser?: boolean;
}

const emailSchema = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.maxLength(254), v.email('Enter a valid e-mail address.'));
// No "@" in usernames: a login with one is an e-mail, so a username can never shadow someone's e-mail.
const usernameSchema = v.nullish(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(150), v.regex(/^[\w.+-]+$/, 'Use letters, digits and . + - _ only.')));

/** The e-mail as stored (trimmed, lowercase), or field errors. */
export function normalizeEmail(email: unknown): string {
  const parsed = v.safeParse(emailSchema, email);
  if (!parsed.success) throw new AuthError('STRATA_AUTH_INVALID', 'Enter a valid e-mail address.', { fields: { email: ['Enter a valid e-mail address.'] } });
  return parsed.output;
}

/**
 * Creates a user after checking the e-mail, the username and the password (against
 * `validators`); refuses with `STRATA_AUTH_INVALID` and field errors, writing nothing.
 */
export async function createUser(input: NewUser, validators: readonly PasswordValidator[] = defaultPasswordValidators) {
  const email = normalizeEmail(input.email);
  const username = v.safeParse(usernameSchema, input.username);
  const fields: Record<string, string[]> = {};
  if (!username.success) fields.username = username.issues.map((issue) => issue.message);
  const problems = typeof input.password === 'string' ? validatePassword(input.password, { email, username: username.success ? (username.output ?? null) : null, name: input.name ?? null }, validators) : ['Enter a password.'];
  if (problems.length) fields.password = problems;
  if (Object.keys(fields).length) throw new AuthError('STRATA_AUTH_INVALID', 'Some fields are invalid.', { fields });
  const password = await hashPassword(input.password);
  try {
    return await User.objects.create({
      email,
      username: username.success ? (username.output ?? null) : null,
      name: input.name ?? '',
      password,
      isStaff: input.isStaff ?? false,
      isSuperuser: input.isSuperuser ?? false,
    });
  } catch (error) {
    if (isStrataError(error, 'STRATA_MODEL_INTEGRITY')) {
      throw new AuthError('STRATA_AUTH_INVALID', 'An account with this e-mail or username already exists.', {
        fields: { email: ['An account with this e-mail or username already exists.'] },
      });
    }
    throw error;
  }
}

/**
 * Creates a superuser (staff too), for `strata createsuperuser` and scripts. The password
 * validators apply unless `skipValidation` (the CLI asks before skipping them).
 */
export function createSuperuser(input: Omit<NewUser, 'isStaff' | 'isSuperuser'>, options: { skipValidation?: boolean } = {}) {
  const validators = options.skipValidation ? [(password: string) => (password.length > MAX_PASSWORD_LENGTH ? 'This password is too long.' : undefined)] : defaultPasswordValidators;
  return createUser({ ...input, isStaff: true, isSuperuser: true }, validators);
}

/**
 * Sets a user's password (validated); its reset tokens are spent and the cached sessions of
 * every worker see the change (a model change event). Ending its other sessions is the
 * caller's choice (the auth flows do).
 */
export async function setPassword(userId: number, password: string, validators: readonly PasswordValidator[] = defaultPasswordValidators): Promise<void> {
  const user = await User.objects.filter({ id: userId }).only('id', 'email', 'username', 'name').first();
  if (!user) throw new AuthError('STRATA_AUTH_INVALID', 'No such user.');
  const problems = typeof password === 'string' ? validatePassword(password, user, validators) : ['Enter a password.'];
  if (problems.length) throw new AuthError('STRATA_AUTH_INVALID', 'Choose another password.', { fields: { password: problems } });
  await User.objects.filter({ id: userId }).update({ password: await hashPassword(password) });
}

/** `shop.Product` → `shop` and `product`. */
function labels(model: AnyModel): [string, string] {
  const dot = model.name.lastIndexOf('.');
  return dot < 0 ? ['app', model.name.toLowerCase()] : [model.name.slice(0, dot), model.name.slice(dot + 1).toLowerCase()];
}

const ACTIONS = ['add', 'change', 'delete', 'view'] as const;

/**
 * Creates the `add`, `change`, `delete` and `view` permissions of every registered model
 * (`shop.change_product`) that does not have them yet; idempotent. Returns how many it made.
 */
export async function syncPermissions(models: readonly AnyModel[] = getRegistry().models): Promise<number> {
  // The join tables many-to-many fields make by themselves are not things to grant.
  const wanted = models.filter((model) => !model.autoCreated).flatMap((model) => {
    const [app, name] = labels(model);
    return ACTIONS.map((action) => ({ codename: `${app}.${action}_${name}`, name: `Can ${action} ${name}`, model: model.name }));
  });
  const existing = new Set((await Permission.objects.filter({ codename: { in: wanted.map((p) => p.codename) } }).values('codename')).map((p) => p.codename));
  const missing = wanted.filter((p) => !existing.has(p.codename));
  let made = 0;
  // One by one, so a concurrent sync (another worker starting) costs a skipped row, not a failure.
  for (const permission of missing) {
    const [, created] = await Permission.objects.getOrCreate({ codename: permission.codename }, { name: permission.name, model: permission.model });
    if (created) made++;
  }
  return made;
}
