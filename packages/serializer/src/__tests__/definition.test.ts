import { isStrataError, type AnyModel } from '@strata/model';
import { describe, expect, it } from 'vitest';
import { createModelSerializer, SerializerError, serializerErrorCodes } from '..';
import { Category, CategorySerializer, Product, Profile, TagSerializer, User } from './fixtures.js';

/** The factory without its types: definitions as a JavaScript caller (or a cast) could write them. */
const define = createModelSerializer as unknown as (model: AnyModel, options: Record<string, unknown>) => unknown;

function definitionError(make: () => unknown): SerializerError {
  try {
    make();
  } catch (error) {
    expect(isStrataError(error, 'STRATA_SERIALIZER_DEFINITION')).toBe(true);
    return error as SerializerError;
  }
  throw new Error('expected STRATA_SERIALIZER_DEFINITION, but the definition was accepted');
}

describe('createModelSerializer definitions', () => {
  it('refuses a field the model does not have, naming it', () => {
    const error = definitionError(() => define(Product, { fields: ['id', 'nmae'] }));
    expect(error).toBeInstanceOf(SerializerError);
    expect(error.message).toContain('"nmae"');
    expect(serializerErrorCodes).toHaveProperty(error.code);
  });

  it('refuses a relation listed by its name instead of its key', () => {
    expect(definitionError(() => define(Product, { fields: ['id', 'category'] })).message).toContain('"category"');
  });

  it('refuses unknown names in exclude, readOnly and writeOnly', () => {
    definitionError(() => define(Product, { fields: '__all__', exclude: ['nope'] }));
    definitionError(() => define(Product, { fields: ['id', 'name'], readOnly: ['nope'] }));
    definitionError(() => define(User, { fields: ['id', 'email'], writeOnly: ['password'] }));
  });

  it('refuses fields that are neither a list nor __all__', () => {
    definitionError(() => define(Product, { fields: 'name' }));
  });

  it('refuses a sensitive field listed without writeOnly', () => {
    const error = definitionError(() => define(User, { fields: ['id', 'email', 'passwordHash'] }));
    expect(error.message).toContain('auth.User.passwordHash is sensitive');
    expect(() => define(User, { fields: ['id', 'email', 'passwordHash'], writeOnly: ['passwordHash'] })).not.toThrow();
  });

  it('refuses a name that is both a field and computed', () => {
    const error = definitionError(() => define(Product, { fields: ['id', 'name'], computed: { name: () => 'x' } }));
    expect(error.message).toContain('"name"');
  });

  it('refuses a name that is both a field and nested', () => {
    definitionError(() => define(Product, { fields: ['id', 'tags'], nested: { tags: [TagSerializer] } }));
  });

  it('refuses a computed field named like a write-only field', () => {
    // Otherwise the computed value would be output under the name of a field that is never output.
    definitionError(() => define(User, { fields: ['id', 'email'], writeOnly: ['passwordHash'], computed: { passwordHash: () => 'x' } }));
  });

  it('refuses a name that is both computed and nested', () => {
    definitionError(() => define(Product, { fields: ['id'], computed: { category: () => null }, nested: { category: CategorySerializer } }));
  });

  it('refuses a nested serializer on a column', () => {
    definitionError(() => define(Product, { fields: ['id'], nested: { name: CategorySerializer } }));
  });

  it('refuses a nested serializer of another model than the relation points at', () => {
    const error = definitionError(() => define(Product, { fields: ['id'], nested: { category: TagSerializer } }));
    expect(error.message).toContain('shop.Category');
    expect(error.message).toContain('shop.Tag');
  });

  it('refuses a single nested serializer on a to-many relation, and a list on a to-one', () => {
    expect(definitionError(() => define(Product, { fields: ['id'], nested: { tags: TagSerializer } })).message).toContain('[');
    definitionError(() => define(Product, { fields: ['id'], nested: { category: [CategorySerializer] } }));
  });

  it('refuses validators and refinements for fields the serializer does not accept', () => {
    definitionError(() => define(Product, { fields: ['id', 'name'], validators: { price: () => undefined } }));
    definitionError(() => define(Product, { fields: ['id', 'name'], readOnly: ['name'], refine: { name: (s: unknown) => s } }));
  });

  it('accepts nested serializers on forward and reverse relations of both arities', () => {
    expect(() => define(Product, { fields: ['id'], nested: { category: CategorySerializer, tags: [TagSerializer] } })).not.toThrow();
    expect(() => define(Category, { fields: ['id'], nested: { products: [define(Product, { fields: ['id'] })] } })).not.toThrow();
    expect(() => define(User, { fields: ['id'], nested: { profile: define(Profile, { fields: ['id'] }) } })).not.toThrow();
  });

  it('lists every non-sensitive column, relation key and id for __all__, never many-to-many', () => {
    const all = define(Product, { fields: '__all__' }) as { describe(): { fields: Record<string, unknown> } };
    expect(Object.keys(all.describe().fields).sort()).toEqual(
      ['attributes', 'categoryId', 'name', 'price', 'releasedOn', 'sku', 'status', 'stock', 'updatedAt', 'views'].sort(),
    );
    const users = define(User, { fields: '__all__' }) as { describe(): { fields: Record<string, unknown> } };
    expect(Object.keys(users.describe().fields)).toEqual(['email']);
  });

  it('accepts a sensitive field under __all__ only through writeOnly', () => {
    const users = define(User, { fields: '__all__', writeOnly: ['passwordHash'] }) as { describe(): { fields: Record<string, unknown> } };
    expect(Object.keys(users.describe().fields).sort()).toEqual(['email', 'passwordHash']);
  });
});
