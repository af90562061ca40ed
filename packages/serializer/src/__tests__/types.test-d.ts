import { describe, expectTypeOf, it } from 'vitest';
import { createModelSerializer, type InferData, type InferInput, type InferOutput } from '..';
import { Product, ProductSerializer, User, UserSerializer } from './fixtures.js';

describe('serializer types', () => {
  it('infers the output type, JSON values included', () => {
    type Out = InferOutput<typeof ProductSerializer>;
    expectTypeOf<Out['price']>().toEqualTypeOf<string>();
    expectTypeOf<Out['views']>().toEqualTypeOf<string>();
    expectTypeOf<Out['updatedAt']>().toEqualTypeOf<string>();
    expectTypeOf<Out['categoryId']>().toEqualTypeOf<number | null>();
    expectTypeOf<Out['tags']>().toEqualTypeOf<number[]>();
    expectTypeOf<Out['inStock']>().toEqualTypeOf<boolean>();
    expectTypeOf<Out['category']>().toEqualTypeOf<{ id: number; name: string } | null>();
  });

  it('keeps sensitive and write-only fields out of the output type', () => {
    type Out = InferOutput<typeof UserSerializer>;
    expectTypeOf<keyof Out>().toEqualTypeOf<'id' | 'email'>();
    expectTypeOf<InferInput<typeof UserSerializer>>().toEqualTypeOf<{ email: string; passwordHash: string }>();
  });

  it('infers input (JSON) and data (model values) types', () => {
    type In = InferInput<typeof ProductSerializer>;
    type Data = InferData<typeof ProductSerializer>;
    expectTypeOf<In['name']>().toEqualTypeOf<string>();
    expectTypeOf<In['price']>().toEqualTypeOf<string>();
    expectTypeOf<In['stock']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Data['tags']>().toEqualTypeOf<number[] | undefined>();
    expectTypeOf<keyof In>().not.toEqualTypeOf<'views'>();
  });

  it('makes a misspelt field a compile error', () => {
    // @ts-expect-error 'nmae' is not a field of shop.Product
    createModelSerializer(Product, { fields: ['id', 'nmae'] });
    // @ts-expect-error a relation is listed as its key, categoryId
    createModelSerializer(User, { fields: ['id', 'category'] });
  });
});
