import type { FieldConfig } from '../fields.js';
import type { FieldErrors } from '../errors.js';
import type { AnyModel } from '../types.js';
import { isExpression } from '../expressions.js';
import { ROW_MODEL } from './compile.js';

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const INT32 = 2_147_483_647;
const INT64 = 9_223_372_036_854_775_807n;

/**
 * Validates `data` against the model's fields. Relation keys (`category`, `categoryId`)
 * are checked for type only; the database enforces that they exist.
 */
export function validateData(model: AnyModel, data: Record<string, unknown>, partial: boolean): ValidationResult<Record<string, unknown>> {
  // A Map, so that keys such as "__proto__" from parsed JSON are reported, never assigned.
  const errors = new Map<string, string[]>();
  const add = (field: string, message: string) => errors.set(field, [...(errors.get(field) ?? []), message]);
  for (const key of Object.keys(data)) {
    if (key === 'id') {
      if (data.id !== undefined && !isKey(model, data.id)) add('id', `Expected ${keyKind(model)} primary key.`);
      continue;
    }
    const base = key.endsWith('Id') ? key.slice(0, -2) : key;
    const config = model.fields[base]?.config as FieldConfig | undefined;
    const isRelation = config && (config.kind === 'foreignKey' || config.kind === 'oneToOne');
    if (!config || (base !== key && !isRelation) || config.kind === 'manyToMany') add(key, 'Unknown field.');
  }
  for (const [name, field] of Object.entries(model.fields as Record<string, { config: FieldConfig }>)) {
    const config = field.config as FieldConfig;
    if (config.kind === 'manyToMany') continue;
    const isRelation = config.kind === 'foreignKey' || config.kind === 'oneToOne';
    const idKey = `${name}Id`;
    if (isRelation && data[name] !== undefined && data[idKey] !== undefined) {
      add(name, `Give either ${name} or ${idKey}, not both.`);
      continue;
    }
    const key = isRelation && data[name] === undefined ? idKey : name;
    const present = key in data && data[key] !== undefined;
    if (!present) {
      if (!partial && config.default === undefined && !config.null) add(name, 'This field is required.');
      continue;
    }
    const value = data[key];
    if (value === null) {
      if (!config.null) add(name, 'This field may not be null.');
      continue;
    }
    if (isExpression(value)) continue;
    const message = !isRelation
      ? checkValue(config, value)
      : key === name
        ? checkRelation(config.target!(), value)
        : checkRelationKey(config.target!(), value, name);
    if (message) {
      add(name, message);
      continue;
    }
    for (const validator of config.validators) {
      const result = (validator as (v: unknown) => string | undefined | void)(value);
      if (typeof result === 'string') add(name, result);
    }
  }
  return errors.size ? { ok: false, errors: Object.fromEntries(errors) } : { ok: true, value: data };
}

/** A relation is a row (or `{ id }`) or a primary key of the target's key type, never coerced. */
export function checkRelation(target: AnyModel, value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'id' in value) {
    const model = (value as Record<symbol, AnyModel | undefined>)[ROW_MODEL];
    if (model && model !== target) return `Expected a row of ${target.name}, not of ${model.name}.`;
    value = value.id;
  }
  return isKey(target, value) ? undefined : `Expected a row or ${keyKind(target)} primary key.`;
}

/** A `<relation>Id` value is a primary key only: a row goes under the relation's own name. */
function checkRelationKey(target: AnyModel, value: unknown, name: string): string | undefined {
  return isKey(target, value) ? undefined : `Expected ${keyKind(target)} primary key (${name}Id takes a key; give a row as ${name}).`;
}

/** True when `value` is a primary key of `model`'s kind (a safe integer, or a UUID string). */
export function isKey(model: AnyModel, value: unknown): boolean {
  return model.primaryKey === 'uuid' ? typeof value === 'string' && UUID.test(value) : typeof value === 'number' && Number.isSafeInteger(value);
}

const keyKind = (model: AnyModel) => (model.primaryKey === 'uuid' ? 'a UUID' : 'an integer');

/** Returns an error message when `value` does not fit the field, else undefined. */
export function checkValue(config: FieldConfig, value: unknown): string | undefined {
  switch (config.kind) {
    case 'text':
    case 'choice':
    case 'uuid':
    case 'date':
      if (typeof value !== 'string') return 'Expected a string.';
      return checkString(config, value);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'Expected an integer.';
      if (Math.abs(value) > INT32) return 'Out of the 32-bit integer range; use a bigint field.';
      return checkRange(config, value);
    case 'bigint':
      if (typeof value !== 'bigint') return 'Expected a bigint.';
      if (value > INT64 || value < -INT64 - 1n) return 'Out of the 64-bit integer range.';
      return checkRange(config, value);
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'Expected a finite number.';
      return checkRange(config, value);
    case 'decimal':
      return checkDecimal(config, value);
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'Expected true or false.';
    case 'datetime':
      return value instanceof Date && !Number.isNaN(value.getTime()) ? undefined : 'Expected a valid Date.';
    case 'json':
      if (!isJsonValue(value)) return 'Expected JSON data (objects, arrays, strings, finite numbers, booleans, null).';
      // PostgreSQL's jsonb cannot hold U+0000; refuse it on both databases alike.
      return hasNul(value) ? 'Null characters are not allowed.' : undefined;
    default:
      return undefined;
  }
}

function checkString(config: FieldConfig, value: string): string | undefined {
  if (config.kind === 'uuid' && !UUID.test(value)) return 'Expected a UUID.';
  if (config.kind === 'date' && !isDate(value)) return 'Expected a date as YYYY-MM-DD.';
  if (config.kind === 'choice' && !config.choices?.includes(value)) {
    return `Expected one of: ${config.choices?.join(', ')}.`;
  }
  const length = [...value].length;
  if (config.maxLength !== undefined && length > config.maxLength) {
    return `Ensure this value has at most ${config.maxLength} characters (it has ${length}).`;
  }
  if (config.minLength !== undefined && length < config.minLength) {
    return `Ensure this value has at least ${config.minLength} characters (it has ${length}).`;
  }
  if (value.includes('\u0000')) return 'Null characters are not allowed.';
  return undefined;
}

function isDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

function checkRange(config: FieldConfig, value: number | bigint): string | undefined {
  if (config.min !== undefined && value < (config.min as number | bigint)) return `Ensure this value is at least ${config.min}.`;
  if (config.max !== undefined && value > (config.max as number | bigint)) return `Ensure this value is at most ${config.max}.`;
  return undefined;
}

function checkDecimal(config: FieldConfig, value: unknown): string | undefined {
  if (typeof value !== 'string' || !DECIMAL.test(value)) return 'Expected a decimal number as a string, such as "19.99".';
  const [whole = '', fraction = ''] = value.replace('-', '').split('.');
  const scale = config.scale ?? 2;
  const precision = config.precision ?? 12;
  if (fraction.length > scale) return `Ensure there are at most ${scale} decimal places.`;
  if (whole.replace(/^0+/, '').length > precision - scale) {
    return `Ensure there are at most ${precision - scale} digits before the decimal point.`;
  }
  if (config.min !== undefined && compareDecimal(value, String(config.min)) < 0) return `Ensure this value is at least ${config.min}.`;
  if (config.max !== undefined && compareDecimal(value, String(config.max)) > 0) return `Ensure this value is at most ${config.max}.`;
  return undefined;
}

/** Compares two decimal strings exactly. */
export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(a.split('.')[1]?.length ?? 0, b.split('.')[1]?.length ?? 0);
  const diff = scaleDecimal(a, scale) - scaleDecimal(b, scale);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

/** `"12.3"` at scale 2 → `1230n`. */
export function scaleDecimal(value: string, scale: number): bigint {
  const negative = value.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? value.slice(1) : value).split('.');
  const digits = BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
  return negative ? -digits : digits;
}

/** `1230n` at scale 2 → `"12.30"`. */
export function unscaleDecimal(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** True for JSON data: strings, finite numbers, booleans, null, arrays and plain objects (at most 100 levels). */
export function isJsonValue(value: unknown, depth = 0): boolean {
  if (depth > 100) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value as object).every((item) => isJsonValue(item, depth + 1));
  }
  return false;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, item]) => key.includes('\u0000') || hasNul(item));
}
