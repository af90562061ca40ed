import { describe, expectTypeOf, it } from 'vitest';
import { Count, Sum, type InsertData, type QuerySet, type Row, type Where } from '..';
import { Category, Customer, Order, OrderItem, Product, Profile, Tag } from './fixtures.js';

type Rows<Q> = Q extends PromiseLike<infer R> ? R : never;

describe('Row', () => {
  it('does map every field kind to its value type', () => {
    type P = Row<typeof Product>;
    expectTypeOf<P['id']>().toEqualTypeOf<number>();
    expectTypeOf<P['name']>().toEqualTypeOf<string>();
    expectTypeOf<P['price']>().toEqualTypeOf<string>();
    expectTypeOf<P['stock']>().toEqualTypeOf<number>();
    expectTypeOf<P['views']>().toEqualTypeOf<bigint>();
    expectTypeOf<P['weight']>().toEqualTypeOf<number | null>();
    expectTypeOf<P['sku']>().toEqualTypeOf<string | null>();
    expectTypeOf<P['status']>().toEqualTypeOf<'draft' | 'live' | 'archived'>();
    expectTypeOf<P['releasedOn']>().toEqualTypeOf<string | null>();
    expectTypeOf<P['updatedAt']>().toEqualTypeOf<Date>();
    expectTypeOf<P['attributes']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<P['categoryId']>().toEqualTypeOf<number | null>();
  });

  it('does not give relations (or a many-to-many key) a column', () => {
    expectTypeOf<Row<typeof Product>>().not.toHaveProperty('category');
    expectTypeOf<Row<typeof Product>>().not.toHaveProperty('tags');
    expectTypeOf<Row<typeof Product>>().not.toHaveProperty('tagsId');
  });

  it('does type a uuid primary key and a key pointing at one', () => {
    expectTypeOf<Row<typeof Profile>['id']>().toEqualTypeOf<string>();
    expectTypeOf<Row<typeof Profile>['customerId']>().toEqualTypeOf<number>();
    expectTypeOf<Row<typeof OrderItem>['productId']>().toEqualTypeOf<number | null>();
  });

  it('does make fields with defaults, nullable fields and json fields optional in create()', () => {
    expectTypeOf<{ name: string; price: string }>().toExtend<InsertData<typeof Product>>();
    expectTypeOf<{ name: string }>().not.toExtend<InsertData<typeof Product>>();
  });
});

describe('selectRelated', () => {
  it('does add a nullable relation as row or null', () => {
    const qs = Product.objects.selectRelated('category');
    expectTypeOf<Rows<typeof qs>[number]['category']>().toEqualTypeOf<Row<typeof Category> | null>();
  });

  it('does add a required relation as a row, nested paths included', () => {
    expectTypeOf<Rows<ReturnType<typeof Order.objects.selectRelated<'customer'>>>[number]['customer']>().toEqualTypeOf<Row<typeof Customer>>();
    const items = OrderItem.objects.selectRelated('order.customer', 'product');
    type Item = Rows<typeof items>[number];
    expectTypeOf<Item['order']['customer']>().toEqualTypeOf<Row<typeof Customer>>();
    expectTypeOf<Item['order']['note']>().toEqualTypeOf<string | null>();
    expectTypeOf<NonNullable<Item['product']>['price']>().toEqualTypeOf<string>();
    expectTypeOf<Item['product']>().toExtend<object | null>();
  });

  it('does refuse a field that is not a to-one relation', () => {
    // @ts-expect-error a column is not a relation
    void Product.objects.selectRelated('name');
    // @ts-expect-error many-to-many relations are prefetched, not joined
    void Product.objects.selectRelated('tags');
    // @ts-expect-error misspelt nested path
    void OrderItem.objects.selectRelated('order.custmer');
  });
});

describe('prefetch', () => {
  it('does type forward many-to-many and to-one names, and the queryset form', async () => {
    const [product] = await Product.objects.prefetch('tags', 'category');
    expectTypeOf(product!.tags).toEqualTypeOf<Row<typeof Tag>[]>();
    expectTypeOf(product!.category).toEqualTypeOf<Row<typeof Category> | null>();
    const [order] = await Order.objects.prefetch({ items: OrderItem.objects.filter({ quantity: { gte: 2 } }) });
    expectTypeOf(order!.items).toEqualTypeOf<Row<typeof OrderItem>[]>();
    const [customer] = await Customer.objects.prefetch('orders');
    expectTypeOf(customer!.orders).toBeUnknown();
  });
});

describe('filter and orderBy', () => {
  it('does accept fields, lookups and paths of the model', () => {
    void Product.objects.filter({ name: { icontains: 'tea' }, price: { lt: '10.00' }, stock: { in: [1, 2] }, releasedOn: null });
    void Product.objects.filter({ category: { name: 'Tea' }, tags: { label: 'green' }, categoryId: { isNull: true } });
    void Product.objects.filter((q) => q.or({ stock: 0 }, q.not({ status: 'draft' })));
    void Order.objects.filter({ customer: { email: { endsWith: '@x.io' } } }).orderBy('-customer.email', 'placedAt');
    expectTypeOf<Where<typeof Product>['views']>().toEqualTypeOf<bigint | import('..').Lookups<bigint> | undefined>();
  });

  it('does refuse misspelt names and wrongly typed values', () => {
    // @ts-expect-error misspelt field
    void Product.objects.filter({ nmae: 'Sencha' });
    // @ts-expect-error misspelt field across a relation
    void Product.objects.filter({ category: { nmae: 'Tea' } });
    // @ts-expect-error misspelt ordering
    void Product.objects.orderBy('nmae');
    // @ts-expect-error misspelt related ordering
    void Product.objects.orderBy('-category.nmae');
    // @ts-expect-error a string for an integer
    void Product.objects.filter({ stock: { gt: '3' } });
    // @ts-expect-error a number for a decimal
    void Product.objects.filter({ price: 12.5 });
    // @ts-expect-error a number for a bigint
    void Product.objects.filter({ views: { gte: 5 } });
    // @ts-expect-error a text lookup on a number
    void Product.objects.filter({ stock: { contains: '1' } });
    // @ts-expect-error a value outside the choices
    void Product.objects.filter({ status: 'bogus' });
    // @ts-expect-error the dynamic variants take strings, the typed ones do not
    void Product.objects.only('nope');
  });
});

describe('filterDynamic and orderByDynamic', () => {
  it('does take strings chosen at run time, ordering terms as an array, and allow-lists', () => {
    expectTypeOf(Product.objects.orderByDynamic).parameter(0).toEqualTypeOf<readonly string[]>();
    expectTypeOf(Product.objects.filterDynamic).parameter(0).toEqualTypeOf<Record<string, unknown>>();
    void Product.objects.filterDynamic({ nope: 1 }, { allow: ['name', 'category.name', 'tags.label'] });
    void Product.objects.orderByDynamic(['-price', 'whatever'], { allow: ['price', 'category.name'] });
    // @ts-expect-error terms are one array, not one argument each
    void Product.objects.orderByDynamic('name', 'price');
    // @ts-expect-error an ordering allow-list names field paths of the model
    void Product.objects.orderByDynamic(['name'], { allow: ['nmae'] });
  });
});

describe('terminal methods', () => {
  it('does type get, first, count, exists, values and aggregate', async () => {
    expectTypeOf(await Product.objects.get({ id: 1 })).toEqualTypeOf<Row<typeof Product>>();
    expectTypeOf(await Product.objects.first()).toEqualTypeOf<Row<typeof Product> | null>();
    expectTypeOf(await Product.objects.count()).toEqualTypeOf<number>();
    expectTypeOf(await Product.objects.exists()).toEqualTypeOf<boolean>();
    const [onlyName] = await Product.objects.only('name');
    expectTypeOf(onlyName!.name).toEqualTypeOf<string>();
    expectTypeOf(onlyName!).not.toHaveProperty('price');
    const totals = await Product.objects.aggregate({ total: Sum<string>('price'), n: Count() });
    expectTypeOf(totals).toEqualTypeOf<{ total: string | null; n: number }>();
    expectTypeOf(await Product.objects.values('name', 'category.name')).toEqualTypeOf<Record<'name' | 'category.name', unknown>[]>();
  });
});

describe('scopes', () => {
  it('does type scope methods on the manager and on every queryset', () => {
    expectTypeOf(Product.objects.cheaperThan).parameters.toEqualTypeOf<[price: string]>();
    const chained = Product.objects.filter({ status: 'live' }).inStock().cheaperThan('10.00').orderBy('-price');
    expectTypeOf(chained).toExtend<QuerySet<typeof Product, Row<typeof Product>>>();
    expectTypeOf<Rows<typeof chained>>().toEqualTypeOf<Row<typeof Product>[]>();
    expectTypeOf(Product.objects.selectRelated('category').inStock).returns.toExtend<QuerySet<typeof Product, unknown>>();
  });

  it('does refuse wrong scope arguments and scopes of another model', () => {
    // @ts-expect-error the price is a decimal string
    void Product.objects.cheaperThan(10);
    // @ts-expect-error Order has no inStock scope
    void Order.objects.inStock();
  });
});
