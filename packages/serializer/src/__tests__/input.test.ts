import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createModelSerializer, type FieldErrors, type ParseResult } from '..';
import { databases } from './helpers.js';
import { Product, ProductSerializer, ProfileSerializer, User, UserSerializer, models } from './fixtures.js';

function errorsOf(result: ParseResult<unknown>): FieldErrors {
  if (result.ok) throw new Error(`expected errors, got data ${JSON.stringify(result.data, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return result.errors;
}

function dataOf<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new Error(`expected data, got errors ${JSON.stringify(result.errors)}`);
  return result.data;
}

describe('ModelSerializer.parse', () => {
  it('returns clean data in the model’s own value types', async () => {
    const result = await ProfileSerializer.parse({
      userId: 7,
      nickname: 'neo',
      rating: 4.5,
      active: false,
      karma: '123456789012',
      lastSeen: '2026-11-25T10:00:00+01:00',
    });
    const data = dataOf(result);
    expect(data).toEqual({ userId: 7, nickname: 'neo', rating: 4.5, active: false, karma: 123_456_789_012n, lastSeen: new Date('2026-11-25T09:00:00Z') });
    expectTypeOf(data.karma).toEqualTypeOf<bigint | undefined>();
    expectTypeOf(data.lastSeen).toEqualTypeOf<Date | null | undefined>();
    expect(dataOf(await ProfileSerializer.parse({ userId: 7, nickname: 'neo', karma: -12 })).karma).toBe(-12n);
  });

  it('gives the same answers synchronously with parseSync when the serializer has no async-capable rules', async () => {
    const inputs: unknown[] = [
      { name: 'Sencha', price: '12.50' },
      { name: 'x', price: '12.505', stock: -1 },
      { name: 'Sencha', price: '1.00', views: '3' },
      JSON.parse('{"__proto__": {"polluted": true}, "name": "Sencha", "price": "1.00"}'),
      'not an object',
    ];
    for (const input of inputs) expect(ProductSerializer.parseSync(input)).toEqual(await ProductSerializer.parse(input));
    expect(() => UserSerializer.parseSync({ email: 'a@x.io' })).toThrow(expect.objectContaining({ code: 'STRATA_SERIALIZER_DEFINITION' }));
  });

  it('leaves out optional fields that were not sent', async () => {
    const data = dataOf(await ProductSerializer.parse({ name: 'Sencha', price: '12.50' }));
    expect(Object.keys(data)).toEqual(['name', 'price']);
    expectTypeOf(data.price).toEqualTypeOf<string>();
  });

  it('reports every missing required field as required', async () => {
    expect(errorsOf(await ProductSerializer.parse({}))).toEqual({ name: ['This field is required.'], price: ['This field is required.'] });
    expect(errorsOf(await ProductSerializer.parse({ name: undefined, price: '1.00' }))).toEqual({ name: ['This field is required.'] });
  });

  it('validates only the fields given for a partial update, or with an instance', async () => {
    expect(dataOf(await ProductSerializer.parse({ price: '3.00' }, { partial: true }))).toEqual({ price: '3.00' });
    expect(dataOf(await ProductSerializer.parse({}, { instance: { id: 1 } }))).toEqual({});
    expect(errorsOf(await ProductSerializer.parse({ price: 'x' }, { partial: true }))).toEqual({
      price: ['Expected a decimal number as a string, such as "19.99".'],
    });
  });

  it('checks types, lengths, choices, ranges and formats, one list of messages per field', async () => {
    const errors = errorsOf(
      await ProductSerializer.parse({
        name: 'x'.repeat(101),
        price: '1.234',
        stock: -1,
        status: 'gone',
        releasedOn: '2026-02-30',
        attributes: 'plain text is JSON too',
        sku: 'not-a-uuid',
        categoryId: '1',
        tags: [1, 0],
      }),
    );
    expect(errors).toEqual({
      name: ['Ensure this value has at most 100 characters.'],
      price: ['Ensure there are at most 2 decimal places.'],
      stock: ['Ensure this value is at least 0.'],
      status: ['Expected one of: draft, live.'],
      releasedOn: ['Expected a date as YYYY-MM-DD.'],
      sku: ['Expected a UUID.'],
      categoryId: ['Expected a key.'],
      tags: ['Expected a positive integer key.'],
    });
    expect(errorsOf(await ProductSerializer.parse({ name: 'ab', price: '-0.01' }))).toEqual({ price: ['Ensure this value is at least 0.00.'] });
    expect(errorsOf(await ProductSerializer.parse({ name: 'ab', price: '123456789.00' }))).toEqual({
      price: ['Ensure there are at most 8 digits before the decimal point.'],
    });
    expect(errorsOf(await ProfileSerializer.parse({ userId: 1, nickname: 'a', rating: 5.5, karma: '1000000000001' }))).toEqual({
      rating: ['Ensure this value is at most 5.'],
      karma: ['Ensure this value is at most 1000000000000.'],
    });
  });

  it('refuses null where the model does, and accepts it where the field is nullable', async () => {
    expect(errorsOf(await ProductSerializer.parse({ name: null, price: '1.00' }))).toEqual({ name: ['Expected a string.'] });
    const data = dataOf(await ProductSerializer.parse({ name: 'ab', price: '1.00', releasedOn: null, sku: null, categoryId: null }));
    expect(data).toMatchObject({ releasedOn: null, sku: null, categoryId: null });
  });

  it('refuses a datetime without a time zone, or on a day that does not exist', async () => {
    const parse = (lastSeen: unknown) => ProfileSerializer.parse({ userId: 1, nickname: 'a', lastSeen });
    expect(errorsOf(await parse('2026-11-25T10:00:00'))).toEqual({
      lastSeen: ['Expected a date and time as ISO-8601 with a time zone, such as "2026-11-25T10:00:00Z".'],
    });
    expect(errorsOf(await parse('2026-02-30T10:00:00Z'))).toEqual({ lastSeen: ['Expected a valid date and time.'] });
    expect(errorsOf(await parse('2026-11-25T25:00:00Z'))).toEqual({ lastSeen: ['Expected a valid date and time.'] });
  });

  it('runs the model’s custom validators and the serializer’s refinements', async () => {
    expect(errorsOf(await ProfileSerializer.parse({ userId: 1, nickname: 'bad name!' }))).toEqual({ nickname: ['Letters, digits and underscores only.'] });
    expect(errorsOf(await ProductSerializer.parse({ name: 'a', price: '1.00' }))).toEqual({ name: ['Too short.'] });
  });

  it('runs the serializer’s field validators and its object rule', async () => {
    expect(errorsOf(await ProfileSerializer.parse({ userId: 1, nickname: 'Admin' }))).toEqual({ nickname: ['This nickname is reserved.'] });
    const Ruled = createModelSerializer(Product, {
      fields: ['name', 'price', 'stock'],
      validators: { name: async (value: string) => (value.includes('!') ? ['No shouting.', 'Really.'] : undefined) },
      validate: (data) => (data.stock === 0 && data.price !== '0.00' ? 'Priced products need stock.' : undefined),
    });
    expect(errorsOf(await Ruled.parse({ name: 'Tea!', price: '1.00' }))).toEqual({ name: ['No shouting.', 'Really.'] });
    expect(errorsOf(await Ruled.parse({ name: 'Tea', price: '1.00', stock: 0 }))).toEqual({ __all__: ['Priced products need stock.'] });
    expect(dataOf(await Ruled.parse({ name: 'Tea', price: '1.00', stock: 2 }))).toEqual({ name: 'Tea', price: '1.00', stock: 2 });
  });

  it('calls field validators for values only, not for null (as the model does)', async () => {
    const seen: unknown[] = [];
    const Skus = createModelSerializer(Product, {
      fields: ['name', 'price', 'sku'],
      validators: { sku: (value: string) => (seen.push(value), value.startsWith('0') ? 'No leading zero.' : undefined) },
    });
    expect(dataOf(await Skus.parse({ name: 'ab', price: '1.00', sku: null }))).toEqual({ name: 'ab', price: '1.00', sku: null });
    expect(seen).toEqual([]);
    const sku = '0b6f3f0e-7a47-4c1d-9a8e-3f2d1c0b9a87';
    expect(errorsOf(await Skus.parse({ name: 'ab', price: '1.00', sku }))).toEqual({ sku: ['No leading zero.'] });
    expect(seen).toEqual([sku]);
  });

  it('rejects unknown fields with a field error, sensitive ones included', async () => {
    const errors = errorsOf(await ProductSerializer.parse({ name: 'ab', price: '1.00', bogus: 1, secretNote: 'x', category_id: 1 }));
    expect(errors).toEqual({ bogus: ['Unknown field.'], secretNote: ['Unknown field.'], category_id: ['Unknown field.'] });
  });

  it('rejects read-only fields with a field error: id, readOnly, computed and nested names', async () => {
    const errors = errorsOf(
      await ProductSerializer.parse({ name: 'ab', price: '1.00', id: 5, views: '7', updatedAt: '2026-01-01T00:00:00Z', inStock: true, category: { id: 1 } }),
    );
    expect(errors).toEqual({
      id: ['This field is read-only.'],
      views: ['This field is read-only.'],
      updatedAt: ['This field is read-only.'],
      inStock: ['This field is read-only.'],
      category: ['This field is read-only.'],
    });
  });

  it('rejects __proto__, constructor and prototype keys with a field error', async () => {
    const input: unknown = JSON.parse('{"name":"ab","price":"1.00","__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":{}}');
    expect(Object.hasOwn(input as object, '__proto__')).toBe(true);
    const errors = errorsOf(await ProductSerializer.parse(input));
    expect(Object.entries(errors)).toEqual([
      ['__proto__', ['This field is not allowed.']],
      ['constructor', ['This field is not allowed.']],
      ['prototype', ['This field is not allowed.']],
    ]);
    expect(Object.getPrototypeOf(errors)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

});

describe.each(databases)('ModelSerializer.parse against the database ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  it('runs an async object rule that queries the database', async () => {
    await User.objects.create({ email: 'taken@x.io', passwordHash: 'h' });
    expect(errorsOf(await UserSerializer.parse({ email: 'TAKEN@x.io', passwordHash: 'h' }))).toEqual({ email: ['This email is taken.'] });
    const data = dataOf(await UserSerializer.parse({ email: 'free@x.io', passwordHash: 'h' }));
    expect(data).toEqual({ email: 'free@x.io', passwordHash: 'h' });
    // The sensitive field is accepted because the serializer names it in writeOnly.
    expectTypeOf<keyof typeof data>().toEqualTypeOf<'email' | 'passwordHash'>();
  });

  it('hands the instance and the context to validators, for updates', async () => {
    const Unique = createModelSerializer(User, {
      fields: ['email'],
      validators: {
        email: async (value: string, { instance, context }) => {
          const others = User.objects.filter({ email: { iexact: value } }).exclude({ id: (instance?.id as number | undefined) ?? -1 });
          if (context.locale === 'fr') return (await others.exists()) ? 'Adresse déjà prise.' : undefined;
          return (await others.exists()) ? 'Taken.' : undefined;
        },
      },
    });
    const own = await User.objects.create({ email: 'own@x.io', passwordHash: 'h' });
    expect(dataOf(await Unique.parse({ email: 'OWN@x.io' }, { instance: own }))).toEqual({ email: 'OWN@x.io' });
    expect(errorsOf(await Unique.parse({ email: 'taken@x.io' }, { instance: own }))).toEqual({ email: ['Taken.'] });
    expect(errorsOf(await Unique.parse({ email: 'taken@x.io' }, { context: { locale: 'fr' } }))).toEqual({ email: ['Adresse déjà prise.'] });
  });
});
