import { atomic, defineModel, f, runInQueryScope } from '@strata/model';
import { createModelSerializer } from '@strata/serializer';
import * as v from 'valibot';
import { defineModelState, EventError, type Middleware } from '../server.js';

export const Category = defineModel('ms.Category', { fields: { name: f.text({ maxLength: 50 }) } });
export const Product = defineModel('ms.Product', {
  fields: {
    name: f.text({ maxLength: 100 }),
    price: f.decimal({ precision: 10, scale: 2 }),
    stock: f.integer({ default: 0, min: 0 }),
    owner: f.integer(),
    version: f.integer({ default: 1 }),
    category: f.foreignKey(() => Category, { onDelete: 'cascade', null: true }),
  },
});
export const ProductSerializer = createModelSerializer(Product, {
  fields: ['id', 'name', 'price', 'stock', 'owner', 'version', 'categoryId'],
  readOnly: ['stock', 'owner', 'version'],
  nested: { category: createModelSerializer(Category, { fields: ['id', 'name'] }) },
});

export const Products = defineModelState('products', {
  model: Product,
  serializer: ProductSerializer,
  pageSize: 2,
  maxPageSize: 100,
  ordering: ['name', 'price'],
  search: ['name'],
  filters: { categoryId: v.number() },
  selectRelated: ['category'],
  versionField: 'version',
  getQueryset: (ctx) => Product.objects.filter({ owner: ctx.locals.userId as number }),
  assign: (ctx, instance) => (instance ? {} : { owner: ctx.locals.userId }),
  actions: (a) => ({
    /** A custom action: its row comes from the tab's scope, like every built-in lookup. */
    restock: a.action({
      args: v.strictObject({ id: v.number(), by: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)) }),
      run: async (s, { id, by }, _ctx, rows) => {
        const stock = await atomic(async () => {
          const row = (await rows.get(id, { forUpdate: true })) as { stock: number };
          await Product.objects.filter({ id }).update({ stock: row.stock + by });
          return row.stock + by;
        });
        await rows.reload();
        return { stock, shown: s.list.length };
      },
    }),
    /** One with no arguments and a guard of its own. */
    clearSearch: a.action({
      guard: (ctx) => {
        if (ctx.locals.userId === 3) throw new EventError('TEST_NO_CLEAR', 'Not for you.');
      },
      run: async (s, _args, _ctx, rows) => {
        s.search = '';
        await rows.reload();
      },
    }),
  }),
});

const staffOnly = (ctx: { locals: Record<string, unknown> }) => {
  if (ctx.locals.userId !== 1) throw new EventError('TEST_STAFF_ONLY', 'Staff only.');
};
export const Guarded = defineModelState('guarded', {
  model: Product,
  serializer: ProductSerializer,
  getQueryset: () => Product.objects,
  guards: { delete: staffOnly, update: staffOnly },
});

/** Every hook, recording what it saw; `afterSave` and `afterDelete` fail on demand. */
export const hookLog: string[] = [];
export const Hooked = defineModelState('hooked', {
  model: Product,
  serializer: ProductSerializer,
  selectRelated: ['category'],
  getQueryset: (ctx) => Product.objects.filter({ owner: ctx.locals.userId as number }),
  assign: (ctx, instance) => (instance ? {} : { owner: ctx.locals.userId }),
  beforeSave: (data) => ({ ...data, ...(typeof data.name === 'string' ? { name: data.name.trim() } : {}) }),
  afterSave: (row, _ctx, created) => {
    hookLog.push(`afterSave ${(row as { name: string }).name} ${created ? 'created' : 'updated'}`);
    if ((row as { name: string }).name === 'Boom') throw new EventError('TEST_AFTER_SAVE', 'afterSave refused.');
  },
  beforeDelete: (row) => {
    if ((row as { stock: number }).stock > 0) throw new EventError('TEST_IN_STOCK', 'Still in stock.');
  },
  afterDelete: (id) => {
    hookLog.push(`afterDelete ${id}`);
    if (hookLog.includes('fail next delete')) throw new EventError('TEST_AFTER_DELETE', 'afterDelete refused.');
  },
});

/** The signed-in user, from the upgrade request's cookie (what the auth layer will do with a session). */
export const user: Middleware = async (ctx, next) => {
  ctx.locals.userId = Number(ctx.cookies.uid);
  await next();
};
export const queries: number[] = [];
export const countQueries: Middleware = async (ctx, next) => {
  const { count } = await runInQueryScope(next);
  queries.push(count);
};
