import { describe, expect, it } from 'vitest';
import { createModelSerializer, DEFAULT_TEXT_LIMIT, JSON_DEPTH_LIMIT, KEYS_LIMIT, type FieldErrors, type ParseResult } from '..';
import { ProductSerializer, ProfileSerializer, User } from './fixtures.js';

const MB = 1_000_000;
const validProduct = { name: 'Sencha', price: '12.50' };
const validProfile = { userId: 1, nickname: 'neo' };

function errorsOf(result: ParseResult<unknown>): FieldErrors {
  if (result.ok) throw new Error('expected field errors, got clean data');
  return result.errors;
}

/** A value nested `depth` levels deep, built without recursion. */
function deep(depth: number, kind: 'object' | 'array'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === 'object' ? { a: value } : [value];
  return value;
}

/** Values no JSON body can carry, plus JSON values of every shape. */
const garbage: unknown[] = [
  { $gt: '' },
  [[[[]]]],
  [{ id: 1 }],
  true,
  -1.5,
  '',
  '💥'.repeat(3),
  Number.NaN,
  Number.POSITIVE_INFINITY,
  10n,
  Symbol('x'),
  () => 1,
  new Date(Number.NaN),
  new Map([[1, 2]]),
  Object.create(null) as unknown,
  deep(1000, 'object'),
];

/** Taken before any test of this file runs. */
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype);

describe('ModelSerializer.parse with bad input', () => {

  it('refuses anything but an object of fields with an __all__ error', async () => {
    for (const input of [null, undefined, 'name=Sencha', 42, [], [validProduct], true]) {
      expect(await ProductSerializer.parse(input)).toEqual({ ok: false, errors: { __all__: ['Expected an object of fields.'] } });
    }
  });

  it('reports a wrong type under its own field, for every kind of field', async () => {
    const cases: [typeof ProductSerializer | typeof ProfileSerializer, Record<string, unknown>, string, unknown, string][] = [
      [ProductSerializer, validProduct, 'name', 5, 'Expected a string.'],
      [ProductSerializer, validProduct, 'price', 12.5, 'Expected a decimal number as a string, such as "19.99".'],
      [ProductSerializer, validProduct, 'stock', '3', 'Expected a number.'],
      [ProductSerializer, validProduct, 'stock', 2.5, 'Expected an integer.'],
      [ProductSerializer, validProduct, 'stock', 2 ** 31, 'Out of the 32-bit integer range.'],
      [ProductSerializer, validProduct, 'status', 'DRAFT', 'Expected one of: draft, live.'],
      [ProductSerializer, validProduct, 'status', ['draft'], 'Expected one of: draft, live.'],
      [ProductSerializer, validProduct, 'releasedOn', 20260101, 'Expected a string.'],
      [ProductSerializer, validProduct, 'sku', { uuid: 'x' }, 'Expected a string.'],
      [ProductSerializer, validProduct, 'categoryId', '1', 'Expected a key.'],
      [ProductSerializer, validProduct, 'categoryId', 1.5, 'Expected a positive integer key.'],
      [ProductSerializer, validProduct, 'tags', 'green', 'Expected a list of keys.'],
      [ProductSerializer, validProduct, 'tags', [{ id: 1 }], 'Expected a key.'],
      [ProfileSerializer, validProfile, 'userId', null, 'Expected a key.'],
      [ProfileSerializer, validProfile, 'rating', '4.5', 'Expected a number.'],
      [ProfileSerializer, validProfile, 'active', 'true', 'Expected true or false.'],
      [ProfileSerializer, validProfile, 'karma', 1.5, 'Expected an integer (as a string for exact large values).'],
      [ProfileSerializer, validProfile, 'karma', '12345678901234567890', 'Expected an integer (as a string for exact large values).'],
      [ProfileSerializer, validProfile, 'lastSeen', 1_764_064_800_000, 'Expected a date and time as ISO-8601 with a time zone, such as "2026-11-25T10:00:00Z".'],
    ];
    for (const [serializer, valid, field, value, message] of cases) {
      expect(await serializer.parse({ ...valid, [field]: value }), `${field}: ${String(value)}`).toEqual({ ok: false, errors: { [field]: [message] } });
    }
  });

  it('never throws for garbage in any field, and reports it under that field only', async () => {
    for (const [serializer, valid] of [
      [ProductSerializer, validProduct],
      [ProfileSerializer, validProfile],
    ] as const) {
      for (const field of Object.keys(serializer.describe().fields)) {
        for (const value of garbage) {
          const result = await serializer.parse({ ...valid, [field]: value });
          if (result.ok) continue;
          expect(Object.keys(result.errors), field).toEqual([field]);
          // Our own messages, never valibot's defaults ("Invalid type: Expected … but received …").
          for (const message of result.errors[field]!) expect(message, field).not.toMatch(/^Invalid \w+/);
        }
      }
    }
  });

  it('refuses 1 MB strings in every field quickly, with a field error', async () => {
    const huge = { digits: '1'.repeat(MB), text: 'x'.repeat(MB), wide: '😀'.repeat(MB / 2) };
    const started = performance.now();
    for (const [serializer, valid] of [
      [ProductSerializer, validProduct],
      [ProfileSerializer, validProfile],
    ] as const) {
      for (const field of Object.keys(serializer.describe().fields)) {
        for (const value of Object.values(huge)) {
          const errors = errorsOf(await serializer.parse({ ...valid, [field]: value }));
          expect(Object.keys(errors), field).toEqual([field]);
        }
      }
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('counts characters, not UTF-16 units, against the default text limit', async () => {
    const Signup = createModelSerializer(User, { fields: ['email'], writeOnly: ['passwordHash'] });
    const parse = (passwordHash: string) => Signup.parse({ email: 'a@x.io', passwordHash });
    expect((await parse('😀'.repeat(DEFAULT_TEXT_LIMIT))).ok).toBe(true);
    expect(errorsOf(await parse('x'.repeat(DEFAULT_TEXT_LIMIT + 1)))).toEqual({ passwordHash: [`Ensure this value has at most ${DEFAULT_TEXT_LIMIT} characters.`] });
    expect(errorsOf(await parse('a\u0000b'))).toEqual({ passwordHash: ['Null characters and unpaired surrogates are not allowed.'] });
    expect(errorsOf(await parse('a\ud800b'))).toEqual({ passwordHash: ['Null characters and unpaired surrogates are not allowed.'] });
  });

  it('refuses what PostgreSQL could not store (so both databases answer alike): year 0, 64-bit keys, unpaired surrogates in JSON', async () => {
    const base = { name: 'Sencha', price: '1.00' };
    expect(errorsOf(await ProductSerializer.parse({ ...base, releasedOn: '0000-01-01' }))).toHaveProperty('releasedOn');
    expect(errorsOf(await ProductSerializer.parse({ ...base, categoryId: 3_000_000_000 }))).toHaveProperty('categoryId');
    expect(errorsOf(await ProductSerializer.parse({ ...base, tags: [3_000_000_000] }))).toHaveProperty('tags');
    expect(errorsOf(await ProductSerializer.parse({ ...base, attributes: { a: '\ud800' } }))).toHaveProperty('attributes');
    expect((await ProductSerializer.parse({ ...base, releasedOn: '0001-01-01', stock: 0 })).ok).toBe(true);
  });

  it('refuses a 100,000-level depth bomb without overflowing the stack', async () => {
    const bombs = [deep(100_000, 'object'), deep(100_000, 'array'), JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown];
    for (const bomb of bombs) {
      expect(Object.keys(errorsOf(await ProductSerializer.parse({ ...validProduct, attributes: bomb })))).toEqual(['attributes']);
      expect(Object.keys(errorsOf(await ProductSerializer.parse({ ...validProduct, tags: bomb })))).toEqual(['tags']);
      expect(Object.keys(errorsOf(await ProductSerializer.parse({ ...validProduct, name: bomb })))).toEqual(['name']);
      expect(errorsOf(await ProductSerializer.parse({ ...validProduct, bomb }))).toEqual({ bomb: ['Unknown field.'] });
    }
    expect((await ProductSerializer.parse({ ...validProduct, attributes: deep(JSON_DEPTH_LIMIT - 1, 'object') })).ok).toBe(true);
    expect(errorsOf(await ProductSerializer.parse({ ...validProduct, attributes: deep(JSON_DEPTH_LIMIT + 1, 'object') }))).toHaveProperty('attributes');
  });

  it('refuses JSON values with prototype keys or null characters in keys', async () => {
    for (const text of ['{"__proto__":{"polluted":1}}', '{"a":{"constructor":{"prototype":{"polluted":1}}}}', '[{"prototype":1}]', '{"a\\u0000b":1}']) {
      expect(Object.keys(errorsOf(await ProductSerializer.parse({ ...validProduct, attributes: JSON.parse(text) as unknown }))), text).toEqual(['attributes']);
    }
  });

  it('refuses prototype keys at the top level of a JSON body', async () => {
    const body = '{"name":"Sencha","price":"1.00","__proto__":{"polluted":1,"isAdmin":true},"constructor":{"prototype":{"polluted":1}}}';
    const errors = errorsOf(await ProductSerializer.parse(JSON.parse(body)));
    expect(Object.keys(errors)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('refuses an oversized list of keys for its size, without checking every item', async () => {
    expect(errorsOf(await ProductSerializer.parse({ ...validProduct, tags: new Array(KEYS_LIMIT + 1).fill('x') }))).toEqual({ tags: [`At most ${KEYS_LIMIT} keys.`] });
    expect((await ProductSerializer.parse({ ...validProduct, tags: Array.from({ length: KEYS_LIMIT }, (_, i) => i + 1) })).ok).toBe(true);
  });

  it('reports every one of many extra fields, and nothing else', async () => {
    const extra = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`extra${i}`, { nested: [i] }]));
    const errors = errorsOf(await ProductSerializer.parse({ ...validProduct, ...extra }));
    expect(Object.keys(errors)).toHaveLength(1000);
    expect(errors.extra999).toEqual(['Unknown field.']);
  });

  it('reports missing required fields beside garbage in others', async () => {
    expect(errorsOf(await ProfileSerializer.parse({ rating: 'high', karma: {} }))).toEqual({
      userId: ['This field is required.'],
      nickname: ['This field is required.'],
      rating: ['Expected a number.'],
      karma: ['Expected an integer (as a string for exact large values).'],
    });
  });

  it('leaves Object.prototype untouched by everything above (tests of a file run in order)', () => {
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeKeys);
    for (const key of ['polluted', 'isAdmin']) expect(({} as Record<string, unknown>)[key], key).toBeUndefined();
  });
});
