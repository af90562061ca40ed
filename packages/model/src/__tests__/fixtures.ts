import { sql } from 'drizzle-orm';
import { defineModel, f } from '..';

export const Customer = defineModel('shop.Customer', {
  fields: {
    email: f.text({ maxLength: 120, unique: true }),
    name: f.text({ maxLength: 80 }),
    isVip: f.boolean({ default: false }),
  },
});

export const Category = defineModel('shop.Category', {
  fields: { name: f.text({ maxLength: 60, unique: true }) },
});

export const Tag = defineModel('shop.Tag', { fields: { label: f.text({ maxLength: 30 }) } });

export const Product = defineModel('shop.Product', {
  fields: {
    name: f.text({ maxLength: 100, validators: [(v) => (v.trim() === '' ? 'Name may not be blank.' : undefined)] }),
    sku: f.uuid({ null: true }),
    price: f.decimal({ precision: 10, scale: 2, min: '0.00' }),
    stock: f.integer({ default: 0, min: 0 }),
    weight: f.float({ null: true }),
    views: f.bigint({ default: 0n }),
    status: f.choice({ choices: ['draft', 'live', 'archived'], default: 'draft' }),
    releasedOn: f.date({ null: true }),
    updatedAt: f.datetime({ default: () => new Date() }),
    attributes: f.json<Record<string, string>>({ default: () => ({}) }),
    category: f.foreignKey(() => Category, { onDelete: 'protect', relatedName: 'products', null: true }),
    tags: f.manyToMany(() => Tag, { relatedName: 'products' }),
  },
  checks: [{ name: 'stock_nonnegative', sql: (c) => sql`${c.stock} >= 0` }],
}).withScopes({
  inStock: (qs) => qs.filter({ stock: { gt: 0 } }),
  cheaperThan: (qs, price: string) => qs.filter({ price: { lt: price } }),
});

export const Order = defineModel('shop.Order', {
  fields: {
    customer: f.foreignKey(() => Customer, { relatedName: 'orders' }),
    placedAt: f.datetime({ default: () => new Date() }),
    note: f.text({ null: true }),
  },
});

export const OrderItem = defineModel('shop.OrderItem', {
  fields: {
    order: f.foreignKey(() => Order, { relatedName: 'items', onDelete: 'cascade' }),
    product: f.foreignKey(() => Product, { relatedName: 'orderItems', onDelete: 'setNull', null: true }),
    quantity: f.integer({ min: 1 }),
  },
});

export const Profile = defineModel('shop.Profile', {
  primaryKey: 'uuid',
  fields: {
    customer: f.oneToOne(() => Customer, { relatedName: 'profile' }),
    bio: f.text({ default: '' }),
  },
});

export const models = [Customer, Category, Tag, Product, Order, OrderItem, Profile];

/** Write-side tests: an `onDelete: 'restrict'` key, and a nullable integer for not-null violations. */
export const Shipment = defineModel('shop.Shipment', {
  fields: {
    order: f.foreignKey(() => Order, { onDelete: 'restrict', relatedName: 'shipments' }),
    parcels: f.integer({ default: 1 }),
    insuredParcels: f.integer({ null: true }),
  },
});

export const writeModels = [...models, Shipment];

/** Read-side tests: a relation named `node` to a model with a field named `type` (filter combinators). */
export const GraphNode = defineModel('graph.Node', { fields: { type: f.text({ maxLength: 20 }) } });
export const GraphEdge = defineModel('graph.Edge', {
  fields: { node: f.foreignKey(() => GraphNode, { relatedName: 'edges' }), weight: f.integer() },
});

export const readModels = [...models, GraphNode, GraphEdge];

/** Iteration tests: a default ordering on a column of three values, so that most rows tie. */
export const Ticket = defineModel('queue.Ticket', {
  fields: { priority: f.integer() },
  ordering: ['priority'],
});

/** Dynamic-input tests: a sensitive field, reachable directly and across every kind of relation. */
export const Account = defineModel('auth.Account', {
  fields: { username: f.text({ maxLength: 40 }), passwordHash: f.text({ sensitive: true }) },
});
export const Document = defineModel('auth.Document', {
  fields: {
    title: f.text({ maxLength: 80 }),
    owner: f.foreignKey(() => Account, { relatedName: 'documents' }),
    readers: f.manyToMany(() => Account, { relatedName: 'readable' }),
  },
});
