/** The orders page both ModelState benchmarks use: the ModelState and its hand-written twin. */
import { count, eq, inArray } from 'drizzle-orm';
import { getRegistry } from '@strata/model';
import { createModelSerializer } from '@strata/serializer';
import { defineModelState } from '@strata/state/server';
import { Customer, Order, OrderItem, Product } from './shopModels.js';

export const PAGE = 50;

export const OrderSerializer = createModelSerializer(Order, {
  fields: ['id', 'note', 'customerId'],
  nested: {
    customer: createModelSerializer(Customer, { fields: ['id', 'name', 'email'] }),
    items: [createModelSerializer(OrderItem, { fields: ['id', 'quantity', 'productId'], nested: { product: createModelSerializer(Product, { fields: ['id', 'name', 'price'] }) } })],
  },
});
export const Orders = defineModelState('orders', {
  model: Order,
  serializer: OrderSerializer,
  pageSize: PAGE,
  ordering: ['id'],
  selectRelated: ['customer'],
  prefetch: ['items', 'items.product'],
});

/** The hand-written page: count, orders joined to customers, items joined to products, mapped to the same JSON. */
export async function handPage(page: number) {
  const registry = getRegistry();
  const { db } = registry;
  const [o, c, it, p] = [Order, Customer, OrderItem, Product].map((model) => registry.table(model as typeof Order));
  const [{ total }] = await db.select({ total: count() }).from(o);
  const rows = await db.select({ order: o, customer: c }).from(o).innerJoin(c, eq(c.id, o.customerId)).orderBy(o.id).limit(PAGE).offset((page - 1) * PAGE);
  const items = rows.length
    ? await db.select({ item: it, product: p }).from(it).innerJoin(p, eq(p.id, it.productId)).where(inArray(it.orderId, rows.map((row: { order: { id: number } }) => row.order.id))).orderBy(it.id)
    : [];
  const byOrder = new Map<number, unknown[]>();
  for (const { item, product } of items) {
    const list = byOrder.get(item.orderId) ?? [];
    list.push({ id: item.id, quantity: item.quantity, productId: item.productId, product: { id: product.id, name: product.name, price: product.price } });
    byOrder.set(item.orderId, list);
  }
  const list = rows.map(({ order, customer }: { order: { id: number; note: string; customerId: number }; customer: { id: number; name: string; email: string } }) => ({
    id: order.id,
    note: order.note,
    customerId: order.customerId,
    customer: { id: customer.id, name: customer.name, email: customer.email },
    items: byOrder.get(order.id) ?? [],
  }));
  return { list, total: Number(total), page };
}
