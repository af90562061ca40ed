import * as v from 'valibot';
import { DEFAULT_TEXT_LIMIT, JSON_DEPTH_LIMIT, JSON_SIZE_LIMIT, KEYS_LIMIT, type FieldDescription, type InputDescription } from './description.js';

// Browser-safe: this module imports valibot only.

type AnySchema = v.GenericSchema<unknown, unknown>;

/** Per-field error messages; `__all__` holds errors of the whole object. */
export type FieldErrors = Record<string, string[]>;

/** Either typed clean data, or per-field errors. Never thrown for a user's mistake. */
export type ParseResult<TData> = { ok: true; data: TData } | { ok: false; errors: FieldErrors };

/** Keys that must never be read from input as data (prototype pollution). */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const INT32 = 2_147_483_647;
/** A UTF-16 surrogate without its pair: not text PostgreSQL can store (SQLite would). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed = (s: string) => !s.includes('\u0000') && !LONE_SURROGATE.test(s);
const DECIMAL = /^-?\d+(\.\d+)?$/;
const INTEGER_TEXT = /^-?\d{1,19}$/;
const INT64_MAX = 9_223_372_036_854_775_807n;

/** Valibot refinements of field schemas, by field name (e.g. `{ name: (s) => v.pipe(s, v.minLength(3)) }`). */
export type Refinements = Record<string, (schema: AnySchema) => AnySchema>;

/**
 * The valibot schema of one input object, built from a description (server and browser alike).
 * `partial` makes every field optional (updates).
 */
export function buildInputSchema(description: InputDescription, options: { partial?: boolean; refine?: Refinements } = {}) {
  const entries: Record<string, AnySchema> = {};
  for (const [name, field] of Object.entries(description.fields)) {
    let schema = fieldSchema(field);
    const refine = options.refine?.[name];
    if (refine) schema = refine(schema);
    if (field.nullable) schema = v.nullable(schema);
    entries[name] = options.partial || field.optional ? v.optional(schema) : v.nonOptional(schema, 'This field is required.');
  }
  // valibot reports a missing key with the object's message: only a whole non-object has no path.
  return v.object(entries, (issue) => (issue.path ? 'This field is required.' : 'Expected an object.'));
}

/**
 * Checks input against a description's schema: unknown, read-only and forbidden keys are
 * field errors (never written), everything else goes through valibot. Returns per-field errors.
 */
export function parseWithSchema<TData>(description: InputDescription, schema: AnySchema, input: unknown): ParseResult<TData> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: { __all__: ['Expected an object of fields.'] } };
  }
  // Allocated only when there is something to report: the valid path stays lean.
  let errors: FieldErrors | undefined;
  const readOnly = description.readOnly ?? [];
  for (const key of Object.keys(input)) {
    if (Object.hasOwn(description.fields, key) && !FORBIDDEN_KEYS.has(key)) continue;
    const message = FORBIDDEN_KEYS.has(key) ? 'This field is not allowed.' : readOnly.includes(key) ? 'This field is read-only.' : 'Unknown field.';
    addError((errors ??= {}), key, message);
  }
  const result = v.safeParse(schema, input);
  if (!result.success) {
    for (const issue of result.issues) {
      const key = issue.path?.[0]?.key;
      addError((errors ??= {}), typeof key === 'string' ? key : '__all__', issue.message);
    }
  }
  if (errors) return { ok: false, errors };
  return { ok: true, data: (result as { output: TData }).output };
}

/** Adds a message under a field; safe for any key, `__proto__` included. */
export function addError(errors: FieldErrors, key: string, message: string): void {
  const list = Object.hasOwn(errors, key) ? errors[key]! : [];
  if (!list.includes(message)) list.push(message);
  Object.defineProperty(errors, key, { value: list, enumerable: true, writable: true, configurable: true });
}

function fieldSchema(field: FieldDescription): AnySchema {
  switch (field.kind) {
    case 'text':
      return textSchema(field);
    case 'uuid':
      return v.pipe(v.string('Expected a string.'), v.uuid('Expected a UUID.'));
    case 'choice':
      return v.picklist(field.choices ?? [], `Expected one of: ${(field.choices ?? []).join(', ')}.`);
    case 'date':
      return v.pipe(v.string('Expected a string.'), v.check(isCalendarDate, 'Expected a date as YYYY-MM-DD.'));
    case 'datetime':
      return datetimeSchema();
    case 'integer':
      return numberSchema(field, true);
    case 'float':
      return numberSchema(field, false);
    case 'bigint':
      return bigintSchema(field);
    case 'decimal':
      return decimalSchema(field);
    case 'boolean':
      return v.boolean('Expected true or false.');
    case 'json':
      return v.custom<unknown>(isBoundedJson, `Expected JSON data, at most ${JSON_DEPTH_LIMIT} levels deep and ${JSON_SIZE_LIMIT} characters.`);
    case 'key':
      return keySchema(field);
    case 'keys':
      // The length first: an oversized list is refused without an issue per item.
      return v.pipe(
        v.array(v.unknown(), 'Expected a list of keys.'),
        v.maxLength(KEYS_LIMIT, `At most ${KEYS_LIMIT} keys.`),
        v.array(keySchema(field), 'Expected a list of keys.'),
      ) as AnySchema;
  }
}

/** A rule: a test and the message when it fails. */
type Rule<T> = readonly [(value: T) => boolean, string];

/**
 * All of a field's rules as one valibot check (one pipeline step instead of one per rule):
 * the first failing rule's message is reported. Validation is synchronous, so the message
 * can be handed from the test to the message function through the closure.
 */
function rules<T>(list: readonly Rule<T>[]) {
  let failed = '';
  return v.check<T, () => string>(
    (value) => {
      for (const [test, message] of list) {
        if (!test(value)) {
          failed = message;
          return false;
        }
      }
      return true;
    },
    () => failed,
  );
}

function textSchema(field: FieldDescription): AnySchema {
  const max = field.maxLength ?? DEFAULT_TEXT_LIMIT;
  const min = field.minLength;
  const list: Rule<string>[] = [
    // UTF-16 length bounds the character count from above: count characters only when it must.
    [(s) => s.length <= max || (s.length <= max * 2 && [...s].length <= max), `Ensure this value has at most ${max} characters.`],
    [isWellFormed, 'Null characters and unpaired surrogates are not allowed.'],
  ];
  if (min !== undefined) list.push([(s) => s.length >= min * 2 || [...s].length >= min, `Ensure this value has at least ${min} characters.`]);
  return v.pipe(v.string('Expected a string.'), rules(list));
}

function numberSchema(field: FieldDescription, integer: boolean): AnySchema {
  const list: Rule<number>[] = [[Number.isFinite, 'Expected a finite number.']];
  if (integer) {
    list.push([Number.isInteger, 'Expected an integer.']);
    list.push([(n) => n >= -INT32 - 1 && n <= INT32, 'Out of the 32-bit integer range.']);
  }
  const { min, max } = field;
  if (typeof min === 'number') list.push([(n) => n >= min, `Ensure this value is at least ${min}.`]);
  if (typeof max === 'number') list.push([(n) => n <= max, `Ensure this value is at most ${max}.`]);
  return v.pipe(v.number('Expected a number.'), rules(list));
}

/** JSON has no bigint: accept an integer string (exact) or a safe integer number. */
function bigintSchema(field: FieldDescription): AnySchema {
  const min = field.min === undefined ? undefined : BigInt(field.min);
  const max = field.max === undefined ? undefined : BigInt(field.max);
  const message = 'Expected an integer (as a string for exact large values).';
  // Each branch carries the message too: valibot reports the issues of a branch whose type matched.
  return v.pipe(
    v.union([v.bigint(), v.pipe(v.string(), v.regex(INTEGER_TEXT, message)), v.pipe(v.number(), v.safeInteger(message))], message),
    v.transform((value: bigint | string | number) => BigInt(value)),
    v.check((n: bigint) => n <= INT64_MAX && n >= -INT64_MAX - 1n, 'Out of the 64-bit integer range.'),
    v.check((n: bigint) => min === undefined || n >= min, `Ensure this value is at least ${String(field.min)}.`),
    v.check((n: bigint) => max === undefined || n <= max, `Ensure this value is at most ${String(field.max)}.`),
  ) as AnySchema;
}

function decimalSchema(field: FieldDescription): AnySchema {
  const scale = field.scale ?? 2;
  const digits = (field.precision ?? 12) - scale;
  const format = 'Expected a decimal number as a string, such as "19.99".';
  const list: Rule<string>[] = [
    [(s) => DECIMAL.test(s), format],
    [(s) => s.length - s.indexOf('.') - 1 <= scale || !s.includes('.'), `Ensure there are at most ${scale} decimal places.`],
    [(s) => integerDigits(s) <= digits, `Ensure there are at most ${digits} digits before the decimal point.`],
  ];
  if (field.min !== undefined) {
    const fromMin = decimalComparator(String(field.min));
    list.push([(s) => fromMin(s) >= 0, `Ensure this value is at least ${String(field.min)}.`]);
  }
  if (field.max !== undefined) {
    const fromMax = decimalComparator(String(field.max));
    list.push([(s) => fromMax(s) <= 0, `Ensure this value is at most ${String(field.max)}.`]);
  }
  return v.pipe(v.string(format), rules(list));
}

/** Digits before the point, leading zeros aside (`"-007.50"` → 1). */
function integerDigits(s: string): number {
  let start = s.startsWith('-') ? 1 : 0;
  const point = s.indexOf('.');
  const end = point === -1 ? s.length : point;
  while (start < end - 1 && s[start] === '0') start++;
  return end - start;
}

/** An ISO-8601 string with a time zone (or a Date, for server callers), read as a Date. */
function datetimeSchema(): AnySchema {
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
  const message = 'Expected a date and time as ISO-8601 with a time zone, such as "2026-11-25T10:00:00Z".';
  return v.pipe(
    v.union([v.date(), v.pipe(v.string(), v.regex(iso, message))], message),
    // The calendar check first: Date reads "2026-02-30T10:00Z" as the 2nd of March.
    v.check((value: Date | string) => value instanceof Date || isCalendarDate(value.slice(0, 10)), 'Expected a valid date and time.'),
    v.transform((value: Date | string) => (value instanceof Date ? value : new Date(value))),
    v.check((d: Date) => !Number.isNaN(d.getTime()), 'Expected a valid date and time.'),
  ) as AnySchema;
}

function keySchema(field: FieldDescription): AnySchema {
  if (field.keyKind === 'uuid') return v.pipe(v.string('Expected a key.'), v.uuid('Expected a UUID key.'));
  // Integer keys are 32-bit on both databases: a larger one would be a raw error on PostgreSQL.
  return v.pipe(v.number('Expected a key.'), rules<number>([[(n) => Number.isInteger(n) && n >= 1 && n <= INT32, 'Expected a positive integer key.']]));
}

/** A real day of years 0001–9999 (PostgreSQL has no year 0). */
function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value.startsWith('0000')) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

function isBoundedJson(value: unknown): boolean {
  let size = 0;
  const visit = (item: unknown, depth: number): boolean => {
    if (depth > JSON_DEPTH_LIMIT) return false;
    if (item === null || typeof item === 'boolean') return (size += 4) <= JSON_SIZE_LIMIT;
    if (typeof item === 'number') return Number.isFinite(item) && (size += 8) <= JSON_SIZE_LIMIT;
    if (typeof item === 'string') return isWellFormed(item) && (size += item.length + 2) <= JSON_SIZE_LIMIT;
    if (Array.isArray(item)) return item.every((entry) => visit(entry, depth + 1));
    if (typeof item !== 'object') return false;
    const proto = Object.getPrototypeOf(item);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.keys(item).every(
      (key) => !FORBIDDEN_KEYS.has(key) && isWellFormed(key) && (size += key.length + 3) <= JSON_SIZE_LIMIT && visit((item as Record<string, unknown>)[key], depth + 1),
    );
  };
  return visit(value, 0);
}

interface DecimalParts {
  negative: boolean;
  whole: string;
  fraction: string;
}

/** Sign, whole digits (no leading zeros) and fraction digits of a decimal string. */
function decimalParts(text: string): DecimalParts {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const point = body.indexOf('.');
  let whole = point === -1 ? body : body.slice(0, point);
  const fraction = point === -1 ? '' : body.slice(point + 1);
  let start = 0;
  while (start < whole.length - 1 && whole[start] === '0') start++;
  if (start) whole = whole.slice(start);
  const zero = whole === '0' && !/[1-9]/.test(fraction);
  return { negative: negative && !zero, whole, fraction };
}

/** Compares decimal strings exactly against a bound parsed once (no floating point, no BigInt). */
function decimalComparator(bound: string): (value: string) => number {
  const b = decimalParts(bound);
  return (value) => {
    const a = decimalParts(value);
    if (a.negative !== b.negative) return a.negative ? -1 : 1;
    const magnitude = compareMagnitude(a, b);
    return a.negative ? -magnitude : magnitude;
  };
}

function compareMagnitude(a: DecimalParts, b: DecimalParts): number {
  if (a.whole.length !== b.whole.length) return a.whole.length < b.whole.length ? -1 : 1;
  if (a.whole !== b.whole) return a.whole < b.whole ? -1 : 1;
  const width = Math.max(a.fraction.length, b.fraction.length);
  for (let i = 0; i < width; i++) {
    const da = a.fraction[i] ?? '0';
    const db = b.fraction[i] ?? '0';
    if (da !== db) return da < db ? -1 : 1;
  }
  return 0;
}
