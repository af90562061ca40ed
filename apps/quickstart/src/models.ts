import { defineModel, f } from '@strata/model';

export const Category = defineModel('shop.Category', {
  fields: { name: f.text({ maxLength: 60, unique: true }) },
});

export const Product = defineModel('shop.Product', {
  fields: {
    name: f.text({ maxLength: 100 }),
    price: f.decimal({ precision: 10, scale: 2, min: '0.00' }),
    stock: f.integer({ default: 0, min: 0 }),
    category: f.foreignKey(() => Category, { relatedName: 'products', onDelete: 'protect' }),
  },
}).withScopes({
  inStock: (qs) => qs.filter({ stock: { gt: 0 } }),
});

export const models = [Category, Product];
