import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStrataError, ValidationError } from '..';
import { databases } from './helpers.js';
import { Category, Customer, OrderItem, Product, Profile, models } from './fixtures.js';

const valid = { name: 'Sencha', price: '12.50' };
const CATEGORY_ID_KEY = 'Expected an integer primary key (categoryId takes a key; give a row as category).';

/** The errors of `Product.validate(data)`, or undefined when it passed. */
function productErrors(data: Record<string, unknown>) {
  const result = Product.validate(data);
  return result.ok ? undefined : result.errors;
}

describe('Model.validate', () => {
  it('passes valid data through unchanged', () => {
    const data = { ...valid, stock: 3, releasedOn: '2024-02-29', sku: 'ABCDEF01-2345-4789-abcd-ef0123456789' };
    expect(Product.validate(data)).toEqual({ ok: true, value: data });
  });

  it('reports required fields without a default', () => {
    expect(productErrors({})).toEqual({ name: ['This field is required.'], price: ['This field is required.'] });
    expect(OrderItem.validate({ quantity: 1 })).toEqual({ ok: false, errors: { order: ['This field is required.'] } });
  });

  it('checks only the given keys when partial', () => {
    expect(Product.validate({ stock: 3 }, { partial: true })).toEqual({ ok: true, value: { stock: 3 } });
    expect(Product.validate({ stock: -3 }, { partial: true }).ok).toBe(false);
  });

  it('rejects null unless the field allows it', () => {
    expect(productErrors({ ...valid, name: null, stock: null })).toEqual({
      name: ['This field may not be null.'],
      stock: ['This field may not be null.'],
    });
    expect(productErrors({ ...valid, sku: null, weight: null, category: null, releasedOn: null })).toBeUndefined();
  });

  it('enforces maxLength in characters, not bytes', () => {
    expect(productErrors({ ...valid, name: 'x'.repeat(101) })).toEqual({
      name: ['Ensure this value has at most 100 characters (it has 101).'],
    });
    expect(productErrors({ ...valid, name: '茶'.repeat(100) })).toBeUndefined();
    expect(productErrors({ ...valid, name: '🍵'.repeat(100) })).toBeUndefined();
  });

  it('enforces min and max', () => {
    expect(productErrors({ ...valid, stock: -1 })).toEqual({ stock: ['Ensure this value is at least 0.'] });
    expect(productErrors({ ...valid, price: '-0.01' })).toEqual({ price: ['Ensure this value is at least 0.00.'] });
    expect(productErrors({ ...valid, stock: 2 ** 31 })).toEqual({ stock: ['Out of the 32-bit integer range; use a bigint field.'] });
    expect(productErrors({ ...valid, views: 2n ** 63n })).toEqual({ views: ['Out of the 64-bit integer range.'] });
  });

  it('enforces choices', () => {
    expect(productErrors({ ...valid, status: 'deleted' })).toEqual({ status: ['Expected one of: draft, live, archived.'] });
    expect(productErrors({ ...valid, status: 'LIVE' })).toEqual({ status: ['Expected one of: draft, live, archived.'] });
  });

  it('enforces decimal places and digits', () => {
    expect(productErrors({ ...valid, price: '1.234' })).toEqual({ price: ['Ensure there are at most 2 decimal places.'] });
    expect(productErrors({ ...valid, price: '123456789.00' })).toEqual({
      price: ['Ensure there are at most 8 digits before the decimal point.'],
    });
    expect(productErrors({ ...valid, price: '12345678.99' })).toBeUndefined();
    expect(productErrors({ ...valid, price: '00012.5' })).toBeUndefined();
    for (const price of ['1e3', '.5', '5.', '+1.00', ' 1.00', 'NaN', '']) {
      expect(productErrors({ ...valid, price }), price).toEqual({ price: ['Expected a decimal number as a string, such as "19.99".'] });
    }
  });

  it('checks UUIDs and dates', () => {
    expect(productErrors({ ...valid, sku: 'not-a-uuid' })).toEqual({ sku: ['Expected a UUID.'] });
    for (const releasedOn of ['2024-02-30', '2023-02-29', '2024-2-3', '2024-02-03T00:00:00Z', '03/02/2024']) {
      expect(productErrors({ ...valid, releasedOn }), releasedOn).toEqual({ releasedOn: ['Expected a date as YYYY-MM-DD.'] });
    }
  });

  it('runs custom validators after the type checks', () => {
    expect(productErrors({ ...valid, name: '   ' })).toEqual({ name: ['Name may not be blank.'] });
    expect(productErrors({ ...valid, name: 5 })).toEqual({ name: ['Expected a string.'] });
  });

  it('rejects unknown fields, generated keys and many-to-many names', () => {
    expect(productErrors({ ...valid, colour: 'red', stockId: 1, tags: [] })).toEqual({
      colour: ['Unknown field.'],
      stockId: ['Unknown field.'],
      tags: ['Unknown field.'],
    });
    // Object.fromEntries makes an own "__proto__" key (a literal would set the prototype).
    expect(productErrors(JSON.parse('{"name":"a","price":"1.00","__proto__":{"stock":1},"constructor":1}'))).toEqual(
      Object.fromEntries([['__proto__', ['Unknown field.']], ['constructor', ['Unknown field.']]]),
    );
  });

  it('never coerces a value of the wrong JavaScript type', () => {
    expect(
      productErrors({
        ...valid,
        stock: '5',
        views: 5,
        weight: '1.5',
        price: 12.5,
        updatedAt: '2024-01-01T00:00:00Z',
        releasedOn: new Date(),
        attributes: { at: new Date() },
      }),
    ).toEqual({
      stock: ['Expected an integer.'],
      views: ['Expected a bigint.'],
      weight: ['Expected a finite number.'],
      price: ['Expected a decimal number as a string, such as "19.99".'],
      updatedAt: ['Expected a valid Date.'],
      releasedOn: ['Expected a string.'],
      attributes: ['Expected JSON data (objects, arrays, strings, finite numbers, booleans, null).'],
    });
    expect(Customer.validate({ email: 'a@x.io', name: 'A', isVip: 'true' })).toEqual({ ok: false, errors: { isVip: ['Expected true or false.'] } });
    expect(productErrors({ ...valid, stock: 1.5, weight: Number.NaN, updatedAt: new Date('nope') })).toEqual({
      stock: ['Expected an integer.'],
      weight: ['Expected a finite number.'],
      updatedAt: ['Expected a valid Date.'],
    });
  });

  it('checks primary keys and relation keys against the key type of the model they name', () => {
    expect(productErrors({ ...valid, id: '5' })).toEqual({ id: ['Expected an integer primary key.'] });
    expect(productErrors({ ...valid, id: 5 })).toBeUndefined();
    expect(productErrors({ ...valid, categoryId: '5' })).toEqual({ category: [CATEGORY_ID_KEY] });
    expect(productErrors({ ...valid, category: 5.5 })).toEqual({ category: ['Expected a row or an integer primary key.'] });
    expect(productErrors({ ...valid, category: { id: 5 } })).toBeUndefined();
    expect(Profile.validate({ id: 7, customer: 1 })).toEqual({ ok: false, errors: { id: ['Expected a UUID primary key.'] } });
  });

  it('takes only a primary key as <relation>Id, and a row or a key as <relation>', () => {
    const row = { id: 5, name: 'Tea' };
    expect(productErrors({ ...valid, categoryId: { id: 5 } })).toEqual({ category: [CATEGORY_ID_KEY] });
    expect(productErrors({ ...valid, categoryId: row })).toEqual({ category: [CATEGORY_ID_KEY] });
    expect(productErrors({ ...valid, categoryId: 5 })).toBeUndefined();
    expect(productErrors({ ...valid, category: row })).toBeUndefined();
    expect(productErrors({ ...valid, category: 5, categoryId: 6 })).toEqual({ category: ['Give either category or categoryId, not both.'] });
    expect(Product.validate({ categoryId: { id: 5 } }, { partial: true })).toEqual({ ok: false, errors: { category: [CATEGORY_ID_KEY] } });
  });

  it('rejects null characters in text and in JSON strings', () => {
    expect(productErrors({ ...valid, name: 'a\u0000b' })).toEqual({ name: ['Null characters are not allowed.'] });
    expect(productErrors({ ...valid, attributes: { note: 'a\u0000b' } })).toEqual({
      attributes: ['Null characters are not allowed.'],
    });
  });
});

describe.each(databases)('validation on write ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  it('makes create() throw a ValidationError and write nothing', async () => {
    const before = await Product.objects.count();
    const error = await Product.objects.create({ name: ' ', price: '1.234', stock: '5' as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(isStrataError(error, 'STRATA_MODEL_VALIDATION')).toBe(true);
    expect(error).toMatchObject({
      code: 'STRATA_MODEL_VALIDATION',
      model: 'shop.Product',
      fieldErrors: {
        name: ['Name may not be blank.'],
        price: ['Ensure there are at most 2 decimal places.'],
        stock: ['Expected an integer.'],
      },
    });
    expect((error as Error).message).toContain('price: Ensure there are at most 2 decimal places.');
    expect(await Product.objects.count()).toBe(before);
  });

  it('makes bulkCreate() with one bad row write none, naming the row', async () => {
    const before = await Category.objects.count();
    const error = await Category.objects
      .bulkCreate([{ name: 'Fine' }, { name: 'x'.repeat(61) }, { name: 'Also fine' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fieldErrors).toEqual({ '1.name': ['Ensure this value has at most 60 characters (it has 61).'] });
    expect(await Category.objects.count()).toBe(before);
  });

  it('refuses a __proto__ key instead of reading fields through it', async () => {
    const data = JSON.parse('{"email":"proto@x.io","name":"P","__proto__":{"isVip":true}}');
    const error = await Customer.objects.create(data).catch((e: unknown) => e);
    expect((error as ValidationError).fieldErrors).toEqual(Object.fromEntries([['__proto__', ['Unknown field.']]]));
    expect(await Customer.objects.filter({ email: 'proto@x.io' }).exists()).toBe(false);
  });

  it('refuses a row of the wrong model, or an { id } of the wrong type, as a relation', async () => {
    const customer = await Customer.objects.create({ email: 'wrong-row@x.io', name: 'W' });
    const before = await Product.objects.count();
    for (const category of [customer, { id: '1' }]) {
      const error = await Product.objects.create({ ...valid, category: category as never }).catch((e: unknown) => e);
      expect(error, JSON.stringify(category)).toBeInstanceOf(ValidationError);
    }
    expect(Product.validate({ ...valid, category: customer })).toEqual({
      ok: false,
      errors: { category: ['Expected a row of shop.Category, not of shop.Customer.'] },
    });
    expect(await Product.objects.count()).toBe(before);
  });

  it('refuses a row or an { id } given as <relation>Id in create() and update(), before the driver sees it', async () => {
    const cat = await Category.objects.create({ name: 'Id spelling' });
    const other = await Category.objects.create({ name: 'Id spelling 2' });
    const p = await Product.objects.create({ ...valid, category: cat });
    const before = await Product.objects.count();
    for (const categoryId of [{ id: other.id }, other]) {
      for (const write of [
        () => Product.objects.create({ ...valid, categoryId: categoryId as never }),
        () => Product.objects.filter({ id: p.id }).update({ categoryId: categoryId as never }),
      ]) {
        const error = await write().catch((e: unknown) => e);
        expect(error, write.toString()).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).fieldErrors).toEqual({ category: [CATEGORY_ID_KEY] });
      }
    }
    const both = await Product.objects.create({ ...valid, category: cat, categoryId: other.id }).catch((e: unknown) => e);
    expect((both as ValidationError).fieldErrors).toEqual({ category: ['Give either category or categoryId, not both.'] });
    expect(await Product.objects.count()).toBe(before);
    expect((await Product.objects.get({ id: p.id })).categoryId).toBe(cat.id);
  });

  it('makes update() validate the given keys and change nothing', async () => {
    const p = await Product.objects.create({ name: 'Guarded', price: '1.00', stock: 2 });
    await expect(Product.objects.filter({ id: p.id }).update({ stock: -1 })).rejects.toMatchObject({
      code: 'STRATA_MODEL_VALIDATION',
      fieldErrors: { stock: ['Ensure this value is at least 0.'] },
    });
    await expect(Product.objects.filter({ id: p.id }).update({ status: 'gone' as never, colour: 'red' } as never)).rejects.toMatchObject({
      fieldErrors: { status: ['Expected one of: draft, live, archived.'], colour: ['Unknown field.'] },
    });
    expect((await Product.objects.get({ id: p.id })).stock).toBe(2);
  });
});
