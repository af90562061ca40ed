import { defineModel, f } from '@strata/model';
import * as v from 'valibot';
import { createModelSerializer } from '..';

export const Category = defineModel('shop.Category', { fields: { name: f.text({ maxLength: 60, unique: true }) } });
export const Tag = defineModel('shop.Tag', { fields: { label: f.text({ maxLength: 30 }) } });
export const Product = defineModel('shop.Product', {
  fields: {
    name: f.text({ maxLength: 100 }),
    price: f.decimal({ precision: 10, scale: 2, min: '0.00' }),
    stock: f.integer({ default: 0, min: 0 }),
    views: f.bigint({ default: 0n }),
    status: f.choice({ choices: ['draft', 'live'], default: 'draft' }),
    releasedOn: f.date({ null: true }),
    updatedAt: f.datetime({ default: () => new Date() }),
    attributes: f.json<Record<string, string>>({ default: () => ({}) }),
    sku: f.uuid({ null: true, unique: true }),
    secretNote: f.text({ sensitive: true, default: '' }),
    category: f.foreignKey(() => Category, { relatedName: 'products', null: true }),
    tags: f.manyToMany(() => Tag, { relatedName: 'products' }),
  },
});
export const User = defineModel('auth.User', {
  fields: {
    email: f.text({ maxLength: 120, unique: true }),
    passwordHash: f.text({ sensitive: true }),
  },
});

export const CategorySerializer = createModelSerializer(Category, { fields: ['id', 'name'] });
export const TagSerializer = createModelSerializer(Tag, { fields: ['id', 'label'] });
export const ProductSerializer = createModelSerializer(Product, {
  fields: ['id', 'name', 'price', 'stock', 'views', 'status', 'releasedOn', 'updatedAt', 'attributes', 'sku', 'categoryId', 'tags'],
  readOnly: ['views', 'updatedAt'],
  refine: { name: (s) => v.pipe(s as v.GenericSchema<string>, v.minLength(2, 'Too short.')) as never },
  computed: { inStock: (row) => row.stock > 0 },
  nested: { category: CategorySerializer },
});
export const UserSerializer = createModelSerializer(User, {
  fields: ['id', 'email'],
  writeOnly: ['passwordHash'],
  validate: async (data) => {
    if (typeof data.email === 'string' && (await User.objects.filter({ email: { iexact: data.email } }).exists())) {
      return { email: ['This email is taken.'] };
    }
  },
});

/** A one-to-one relation, custom model validators and the numeric kinds the others lack. */
export const Profile = defineModel('auth.Profile', {
  fields: {
    user: f.oneToOne(() => User, { relatedName: 'profile' }),
    nickname: f.text({ maxLength: 20, validators: [(s) => (/^\w+$/.test(s) ? undefined : 'Letters, digits and underscores only.')] }),
    rating: f.float({ min: 0, max: 5, default: 0 }),
    active: f.boolean({ default: true }),
    karma: f.bigint({ default: 0n, min: -1000n, max: 1_000_000_000_000n }),
    lastSeen: f.datetime({ null: true }),
  },
});
export const models = [Category, Tag, Product, User, Profile];

export const ProfileSerializer = createModelSerializer(Profile, {
  fields: ['id', 'userId', 'nickname', 'rating', 'active', 'karma', 'lastSeen'],
  validators: { nickname: (value: string) => (value.toLowerCase() === 'admin' ? 'This nickname is reserved.' : undefined) },
});
/** Every non-sensitive column of a product, keys included, minus one. */
export const ProductAllSerializer = createModelSerializer(Product, { fields: '__all__', exclude: ['attributes'] });
/** A product as listed under its category: its tags nested, a computed field using the context. */
export const ProductItemSerializer = createModelSerializer(Product, {
  fields: ['id', 'name', 'price'],
  computed: { priceLabel: async (row, context) => `${String(context.currency ?? 'EUR')} ${row.price}` },
  nested: { tags: [TagSerializer] },
});
export const CategoryTreeSerializer = createModelSerializer(Category, {
  fields: ['id', 'name'],
  nested: { products: [ProductItemSerializer] },
});
