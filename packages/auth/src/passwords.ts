/**
 * Passwords: argon2id hashing with upgrade of old hashes on login, a dummy
 * verify that makes an unknown user cost as much as a wrong password, and the
 * validators that registration and password change run (Django's
 * `AUTH_PASSWORD_VALIDATORS`).
 */
import { randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { StrataError } from '@strata/model';
import { commonPasswords } from './commonPasswords.js';

/**
 * argon2id parameters of every new hash: OWASP's minimum recommendation for
 * argon2id (m = 19 MiB, t = 2 iterations, p = 1 lane), with a 32-byte output.
 * Raising them makes `verifyPassword` report `needsRehash` for older hashes,
 * so each user's hash is upgraded on their next login.
 */
export const PASSWORD_HASH_PARAMS = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const);

/** Longest password accepted, in characters (code points); longer input is refused before any hashing. */
export const MAX_PASSWORD_LENGTH = 1024;

// The binding's `Algorithm` is a const enum whose runtime object is empty, and
// isolatedModules cannot inline it, so the value is written out.
const ARGON2ID: Algorithm = 2;
const ARGON2_VERSION = 19;

const TOO_LONG_MESSAGE = `This password is too long. Use at most ${MAX_PASSWORD_LENGTH} characters.`;
const INVALID_MESSAGE = 'The password must be text.';

/** Codes of {@link PasswordError}. */
export type PasswordErrorCode = 'STRATA_AUTH_PASSWORD_TOO_LONG' | 'STRATA_AUTH_PASSWORD_INVALID';

/** Thrown by {@link hashPassword} for input it refuses to hash; `messages` are safe to show the user. */
export class PasswordError extends StrataError<PasswordErrorCode> {
  override readonly name = 'PasswordError';
  readonly messages: string[];

  constructor(options: { code: PasswordErrorCode; messages: string[] }) {
    super(options.code, options.messages.join(' '));
    this.messages = options.messages;
  }
}

/**
 * Hashes a password with argon2id and {@link PASSWORD_HASH_PARAMS} into a PHC
 * string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with a fresh random salt.
 * Rejects with a {@link PasswordError} for non-string or over-long input.
 * @example
 * user.password = await hashPassword(form.password);
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string') {
    throw new PasswordError({ code: 'STRATA_AUTH_PASSWORD_INVALID', messages: [INVALID_MESSAGE] });
  }
  if (isTooLong(password)) {
    throw new PasswordError({ code: 'STRATA_AUTH_PASSWORD_TOO_LONG', messages: [TOO_LONG_MESSAGE] });
  }
  return hash(password, { ...PASSWORD_HASH_PARAMS, algorithm: ARGON2ID });
}

/** Result of {@link verifyPassword}. */
export interface PasswordCheck {
  /** The password matches the stored hash. */
  ok: boolean;
  /** Only ever true when `ok`: the hash uses older parameters, so store `hashPassword(password)` now. */
  needsRehash: boolean;
}

/**
 * Checks a password against a stored hash in constant time (argon2's own
 * comparison). Never throws: a malformed or unsupported hash, an over-long or
 * non-string password all give `{ ok: false }` after the same argon2 work as a
 * wrong password, so neither the reason nor the timing tells them apart.
 * @example
 * const { ok, needsRehash } = await verifyPassword(user.password, form.password);
 * if (ok && needsRehash) await user.update({ password: await hashPassword(form.password) });
 */
export async function verifyPassword(storedHash: string, password: string): Promise<PasswordCheck> {
  if (typeof password !== 'string' || isTooLong(password)) return reject(password);
  const params = parseHash(storedHash);
  if (params === undefined) return reject(password);
  try {
    const ok = await verify(storedHash, password);
    return { ok, needsRehash: ok && !isCurrent(params) };
  } catch {
    return reject(password);
  }
}

/** True when a stored hash is not argon2id with {@link PASSWORD_HASH_PARAMS} (including when it is not a hash at all). */
export function needsRehash(storedHash: string): boolean {
  const params = parseHash(storedHash);
  return params === undefined || !isCurrent(params);
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends one full argon2id verify against a dummy hash made once, lazily, with
 * the current parameters, then resolves `false`. Call it when a login names an
 * unknown user, so the rejection takes as long as a wrong password.
 */
export async function verifyDummy(password: string): Promise<false> {
  const candidate = typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH) : '';
  await verify(await getDummyHash(), candidate);
  return false;
}

function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('base64url')).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  return dummyHash;
}

async function reject(password: unknown): Promise<PasswordCheck> {
  // A failing dummy (say, out of memory) must not turn a rejection into a throw.
  await verifyDummy(typeof password === 'string' ? password : '').catch(() => false);
  return { ok: false, needsRehash: false };
}

function isTooLong(password: string): boolean {
  if (password.length <= MAX_PASSWORD_LENGTH) return false;
  // A code point is one or two UTF-16 units: only this band needs counting.
  if (password.length > 2 * MAX_PASSWORD_LENGTH) return true;
  return codePoints(password).length > MAX_PASSWORD_LENGTH;
}

function codePoints(text: string): string[] {
  return Array.from(text);
}

interface HashParams {
  algorithm: string;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  outputLen: number;
}

// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, salt and hash in unpadded base64; no `v=` means version 16.
const PHC_PATTERN = /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,3})\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$([A-Za-z0-9+/]{6,})$/;

function parseHash(storedHash: unknown): HashParams | undefined {
  if (typeof storedHash !== 'string') return undefined;
  const match = PHC_PATTERN.exec(storedHash);
  if (match === null) return undefined;
  const [, algorithm = '', version = '16', memoryCost = '', timeCost = '', parallelism = '', digest = ''] = match;
  return {
    algorithm,
    version: Number(version),
    memoryCost: Number(memoryCost),
    timeCost: Number(timeCost),
    parallelism: Number(parallelism),
    outputLen: Math.floor((digest.length * 3) / 4),
  };
}

function isCurrent(params: HashParams): boolean {
  return (
    params.algorithm === 'argon2id' &&
    params.version === ARGON2_VERSION &&
    params.memoryCost === PASSWORD_HASH_PARAMS.memoryCost &&
    params.timeCost === PASSWORD_HASH_PARAMS.timeCost &&
    params.parallelism === PASSWORD_HASH_PARAMS.parallelism &&
    params.outputLen === PASSWORD_HASH_PARAMS.outputLen
  );
}

/** The user attributes a password must not resemble. */
export interface PasswordUser {
  email?: string | null;
  username?: string | null;
  name?: string | null;
}

/** Checks one rule; returns a message for the user when the password fails it, `undefined` when it passes. */
export type PasswordValidator = (password: string, user: PasswordUser) => string | undefined;

/** Rejects passwords shorter than `n` characters (default 8). */
export function minLength(n = 8): PasswordValidator {
  const message = `This password is too short. It must contain at least ${n} characters.`;
  return (password) => (codePoints(password).length < n ? message : undefined);
}

/** Rejects passwords made only of digits. */
export function notNumeric(): PasswordValidator {
  return (password) => (/^\p{Nd}+$/u.test(password) ? 'This password is entirely numeric.' : undefined);
}

const userAttributeLabels = { username: 'username', email: 'email address', name: 'name' } as const;

/**
 * Rejects passwords too similar to the user's username, email address or name,
 * or to a part of one (an email's local part and domain words, a name's words).
 * Similarity is the Ratcliff/Obershelp ratio of Python's difflib; parts shorter
 * than 3 characters are skipped. `maxSimilarity` (default 0.7) is in [0.1, 1].
 */
export function notSimilarToUser(maxSimilarity = 0.7): PasswordValidator {
  if (!(maxSimilarity >= 0.1 && maxSimilarity <= 1)) {
    throw new RangeError(`notSimilarToUser(maxSimilarity) takes a number from 0.1 to 1, got ${maxSimilarity}.`);
  }
  return (password, user) => {
    const candidate = codePoints(password.toLowerCase());
    for (const [attribute, label] of Object.entries(userAttributeLabels)) {
      const value = user[attribute as keyof PasswordUser];
      if (typeof value !== 'string') continue;
      const similar = attributeParts(value).some((part) => similarity(candidate, part, maxSimilarity) >= maxSimilarity);
      if (similar) return `This password is too similar to your ${label}.`;
    }
    return undefined;
  };
}

function attributeParts(value: string): string[][] {
  const lower = value.toLowerCase();
  const parts = new Set<string>();
  // An email's local part and domain count whole too: 'alicesmith1' is far from
  // 'alice.smith@example.com' but close to 'alice.smith'.
  for (const segment of [lower, ...lower.split('@')]) {
    parts.add(segment);
    for (const word of segment.split(/[^\p{L}\p{N}]+/u)) parts.add(word);
  }
  return [...parts].map(codePoints).filter((part) => part.length >= 3);
}

/** Ratcliff/Obershelp ratio, 2·matches / total length; 0 when its upper bound is below `floor`. */
function similarity(a: readonly string[], b: readonly string[], floor: number): number {
  const total = a.length + b.length;
  // Lengths alone bound the ratio; skipping hopeless pairs keeps the quadratic work small.
  if ((2 * Math.min(a.length, b.length)) / total < floor) return 0;
  return (2 * matchingCount(a, b)) / total;
}

function matchingCount(a: readonly string[], b: readonly string[]): number {
  const run = longestCommonRun(a, b);
  if (run.length === 0) return 0;
  const before = matchingCount(a.slice(0, run.a), b.slice(0, run.b));
  const after = matchingCount(a.slice(run.a + run.length), b.slice(run.b + run.length));
  return run.length + before + after;
}

function longestCommonRun(a: readonly string[], b: readonly string[]): { a: number; b: number; length: number } {
  let best = { a: 0, b: 0, length: 0 };
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      if (a[i - 1] !== b[j - 1]) continue;
      const length = (previous[j - 1] ?? 0) + 1;
      current[j] = length;
      if (length > best.length) best = { a: i - length, b: j - length, length };
    }
    previous = current;
  }
  return best;
}

/**
 * Rejects passwords on a list of common passwords (default: the shipped
 * {@link commonPasswords}), also after normalizing: lowercased, leading and
 * trailing digits and symbols stripped, leetspeak mapped back
 * (0→o, 1→i or l, 3→e, 4→a, 5→s, 7→t, @→a, $→s). `P@ssw0rd123!` is common.
 */
export function notCommon(passwords: ReadonlySet<string> = commonPasswords): PasswordValidator {
  return (password) => {
    for (const variant of normalizedVariants(password)) {
      if (passwords.has(variant)) return 'This password is too common.';
    }
    return undefined;
  };
}

const leetLetters: Record<string, string> = { '0': 'o', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };

function normalizedVariants(password: string): Set<string> {
  const lower = password.toLowerCase();
  const variants = new Set<string>();
  for (const base of [lower, stripTrailing(lower)]) {
    for (const plain of [base, unleet(base, 'i'), unleet(base, 'l')]) {
      variants.add(plain).add(stripTrailing(plain)).add(stripLeading(plain));
    }
  }
  variants.delete('');
  return variants;
}

function unleet(text: string, one: 'i' | 'l'): string {
  return text.replace(/[013457@$]/g, (character) => leetLetters[character] ?? one);
}

function stripTrailing(text: string): string {
  return text.replace(/[^\p{L}]+$/u, '');
}

function stripLeading(text: string): string {
  return text.replace(/^[^\p{L}]+/u, '');
}

/** The validators {@link validatePassword} runs by default, like Django's suggested `AUTH_PASSWORD_VALIDATORS`. */
export const defaultPasswordValidators: readonly PasswordValidator[] = Object.freeze([
  minLength(8),
  notSimilarToUser(),
  notCommon(),
  notNumeric(),
]);

/**
 * Runs every validator and returns all their messages; an empty array means the
 * password is acceptable. A password over {@link MAX_PASSWORD_LENGTH} gets only
 * the too-long message: the validators are skipped so the work stays bounded.
 * @example
 * const errors = validatePassword(form.password, { email: form.email });
 * if (errors.length > 0) return { fieldErrors: { password: errors } };
 */
export function validatePassword(
  password: string,
  user: PasswordUser = {},
  validators: readonly PasswordValidator[] = defaultPasswordValidators,
): string[] {
  if (typeof password !== 'string') return [INVALID_MESSAGE];
  if (isTooLong(password)) return [TOO_LONG_MESSAGE];
  return validators.flatMap((validate) => validate(password, user) ?? []);
}
