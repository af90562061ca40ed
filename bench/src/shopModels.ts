/** The bench's small shop: customers, products, orders and their items, with seed data. */
import { defineModel, f } from '@strata/model';

export const Customer = defineModel('bench.Customer', { fields: { email: f.text({ maxLength: 100 }), name: f.text({ maxLength: 100 }) } });
export const Product = defineModel('bench.Product', {
  fields: { name: f.text({ maxLength: 100 }), price: f.decimal({ scale: 2 }), stock: f.integer(), category: f.integer() },
});
export const Order = defineModel('bench.Order', {
  fields: { customer: f.foreignKey(() => Customer, { relatedName: 'orders' }), note: f.text() },
});
export const OrderItem = defineModel('bench.OrderItem', {
  fields: {
    order: f.foreignKey(() => Order, { relatedName: 'items' }),
    product: f.foreignKey(() => Product, { relatedName: 'orderItems' }),
    quantity: f.integer(),
  },
});
export const models = [Customer, Product, Order, OrderItem];
export const ORDERS = 1_000;

export async function seed(): Promise<void> {
  const customers = await Customer.objects.bulkCreate(Array.from({ length: 200 }, (_, i) => ({ email: `c${i}@x.io`, name: `Customer ${i}` })));
  const products = await Product.objects.bulkCreate(
    Array.from({ length: 500 }, (_, i) => ({ name: `Product ${i}`, price: `${(i % 90) + 1}.50`, stock: i % 40, category: i % 10 })),
  );
  const orders = await Order.objects.bulkCreate(Array.from({ length: ORDERS }, (_, i) => ({ customer: customers[i % 200]!, note: `n${i}` })));
  await OrderItem.objects.bulkCreate(
    orders.flatMap((order, i) => [0, 1, 2].map((k) => ({ order, product: products[(i * 3 + k) % 500]!, quantity: k + 1 }))),
  );
}
