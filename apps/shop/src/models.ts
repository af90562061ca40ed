import { defineModel, f } from '@strata/model';
import { User } from '@strata/auth';

export const Category = defineModel('shop.Category', {
  fields: { name: f.text({ maxLength: 60, unique: true }) },
  ordering: ['name'],
});

/** A product; `version` is bumped by every staff save, so a stale edit is refused instead of overwriting. */
export const Product = defineModel('shop.Product', {
  fields: {
    name: f.text({ maxLength: 100 }),
    description: f.text({ maxLength: 2000, default: '' }),
    price: f.decimal({ precision: 10, scale: 2, min: '0.00' }),
    stock: f.integer({ default: 0, min: 0 }),
    category: f.foreignKey(() => Category, { relatedName: 'products', onDelete: 'protect' }),
    version: f.integer({ default: 1 }),
  },
});

/** A cart: a signed-in customer's (one each), or an anonymous session's (its id kept in the session's data). */
export const Cart = defineModel('shop.Cart', {
  fields: {
    // One cart per customer: two tabs adding at once cannot make a second one.
    owner: f.oneToOne(() => User, { null: true, onDelete: 'cascade', relatedName: 'cart' }),
  },
});

export const CartLine = defineModel('shop.CartLine', {
  fields: {
    cart: f.foreignKey(() => Cart, { relatedName: 'lines', onDelete: 'cascade' }),
    product: f.foreignKey(() => Product, { relatedName: 'cartLines', onDelete: 'cascade' }),
    quantity: f.integer({ min: 1, max: 99 }),
  },
  indexes: [{ fields: ['cart', 'product'], unique: true }],
});

/** An order: what was bought, at the prices of the day (copied, so later price changes do not rewrite history). */
export const Order = defineModel('shop.Order', {
  fields: {
    customer: f.foreignKey(() => User, { onDelete: 'protect', relatedName: 'orders' }),
    total: f.decimal({ precision: 12, scale: 2 }),
    createdAt: f.datetime({ default: () => new Date() }),
  },
});

export const OrderLine = defineModel('shop.OrderLine', {
  fields: {
    order: f.foreignKey(() => Order, { relatedName: 'lines', onDelete: 'cascade' }),
    product: f.foreignKey(() => Product, { relatedName: 'orderLines', onDelete: 'protect' }),
    name: f.text({ maxLength: 100 }),
    price: f.decimal({ precision: 10, scale: 2 }),
    quantity: f.integer({ min: 1 }),
  },
});

export const shopModels = [Category, Product, Cart, CartLine, Order, OrderLine];
