import { describe, expectTypeOf, it } from 'vitest';
import { createModelSerializer, type InferData, type InferInput, type InferOutput } from '..';
import { CategoryTreeSerializer, Product, ProductAllSerializer, ProductSerializer, ProfileSerializer, User, UserSerializer } from './fixtures.js';

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

  it('keeps refined and validated fields in the output type', () => {
    // Regression: the keys of refine/validators were inferred as write-only fields.
    expectTypeOf<InferOutput<typeof ProductSerializer>['name']>().toEqualTypeOf<string>();
    expectTypeOf<keyof InferOutput<typeof ProfileSerializer>>().toEqualTypeOf<'id' | 'userId' | 'nickname' | 'rating' | 'active' | 'karma' | 'lastSeen'>();
    expectTypeOf<InferOutput<typeof ProfileSerializer>['karma']>().toEqualTypeOf<string>();
  });

  it('leaves sensitive fields, many-to-many lists and excluded fields out of __all__', () => {
    type Out = InferOutput<typeof ProductAllSerializer>;
    expectTypeOf<keyof Out>().toEqualTypeOf<'id' | 'name' | 'price' | 'stock' | 'views' | 'status' | 'releasedOn' | 'updatedAt' | 'sku' | 'categoryId'>();
    expectTypeOf<keyof InferInput<typeof ProductAllSerializer>>().toEqualTypeOf<
      'name' | 'price' | 'stock' | 'views' | 'status' | 'releasedOn' | 'updatedAt' | 'sku' | 'categoryId'
    >();
    const Users = createModelSerializer(User, { fields: '__all__', writeOnly: ['passwordHash'] });
    expectTypeOf<InferOutput<typeof Users>>().toEqualTypeOf<{ id: number; email: string }>();
    expectTypeOf<InferInput<typeof Users>>().toEqualTypeOf<{ email: string; passwordHash: string }>();
  });

  it('applies exclude to an explicit list as well', () => {
    const Short = createModelSerializer(Product, { fields: ['id', 'name', 'price'], exclude: ['price'] });
    expectTypeOf<InferOutput<typeof Short>>().toEqualTypeOf<{ id: number; name: string }>();
    expectTypeOf<InferData<typeof Short>>().toEqualTypeOf<{ name: string }>();
  });

  it('types a nested many relation as an array of the nested output', () => {
    type Out = InferOutput<typeof CategoryTreeSerializer>;
    expectTypeOf<Out['products']>().toEqualTypeOf<{ id: number; name: string; price: string; priceLabel: `${string} ${string}`; tags: { id: number; label: string }[] }[]>();
  });

  it('makes a misspelt field a compile error', () => {
    // @ts-expect-error 'nmae' is not a field of shop.Product
    createModelSerializer(Product, { fields: ['id', 'nmae'] });
    // @ts-expect-error a relation is listed as its key, categoryId
    createModelSerializer(User, { fields: ['id', 'category'] });
  });
});
