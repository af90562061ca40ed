/**
 * The checkout baseline: one raw-SQL transaction per customer on the driver the shop runs on
 * (drizzle's own client: better-sqlite3 or the node-postgres pool), called in process. It does
 * what the shop's checkout must do and nothing else: take one unit where one is left, insert
 * the order and its line, empty the cart. Values are encoded by the models' own columns, so
 * its rows are the ones the shop writes.
 */
import { getRegistry } from '@strata/model';
import type { Customer, Models } from './shopApp.js';

interface Column {
  name: string;
  mapToDriverValue(value: unknown): unknown;
}
type Table = Record<string, Column>;

/** better-sqlite3, as far as the baseline uses it. */
interface SqliteClient {
  prepare(sql: string): { run(...params: unknown[]): { changes: number }; get(...params: unknown[]): unknown };
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): R };
}
/** node-postgres's pool, as far as the baseline uses it. */
interface PgPool {
  connect(): Promise<{ query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null; rows: { id: number }[] }>; release(): void }>;
}

/** The statements, with `?` placeholders (numbered `$n` on PostgreSQL). */
function statements(models: Models) {
  const registry = getRegistry();
  const q = (name: string) => `"${name}"`;
  const [p, o, ol, cl] = [models.Product, models.Order, models.OrderLine, models.CartLine].map((model) => registry.table(model as never) as Table) as [Table, Table, Table, Table];
  const columns = (table: Table, fields: string[]) => fields.map((field) => q(table[field]!.name)).join(', ');
  const stock = q(p.stock!.name);
  return {
    columns: { o, ol },
    take: `update ${q(models.Product.tableName)} set ${stock} = ${stock} - 1 where ${q(p.id!.name)} = ? and ${stock} >= 1`,
    order: `insert into ${q(models.Order.tableName)} (${columns(o, ['customerId', 'total', 'createdAt'])}) values (?, ?, ?) returning ${q(o.id!.name)} as id`,
    line: `insert into ${q(models.OrderLine.tableName)} (${columns(ol, ['orderId', 'productId', 'name', 'price', 'quantity'])}) values (?, ?, ?, ?, ?)`,
    emptyCart: `delete from ${q(models.CartLine.tableName)} where ${q(cl.cartId!.name)} = ?`,
  };
}

/** What one customer's checkout writes, encoded for the driver. */
function values(sql: ReturnType<typeof statements>, customer: Customer, product: { id: number; name: string; price: string }) {
  const { o, ol } = sql.columns;
  return {
    order: [customer.userId, o.total!.mapToDriverValue(product.price), o.createdAt!.mapToDriverValue(new Date())],
    line: (orderId: unknown) => [orderId, product.id, product.name, ol.price!.mapToDriverValue(product.price), 1],
  };
}

const numbered = (text: string) => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};

/** Returns `checkout(customer)`: true when it bought the unit, false when none was left. */
export function rawCheckout(models: Models, product: { id: number; name: string; price: string }): (customer: Customer) => Promise<boolean> {
  const registry = getRegistry();
  const sql = statements(models);
  if (registry.dialect === 'sqlite') {
    const client = registry.db.$client as SqliteClient;
    const [take, order, line, emptyCart] = [sql.take, sql.order, sql.line, sql.emptyCart].map((text) => client.prepare(text));
    const buy = client.transaction((customer: Customer) => {
      if (take!.run(product.id).changes === 0) return false;
      const v = values(sql, customer, product);
      const { id } = order!.get(...v.order) as { id: unknown };
      line!.run(...v.line(id));
      emptyCart!.run(customer.cartId);
      return true;
    });
    return async (customer) => buy.immediate(customer);
  }
  const pool = registry.db.$client as PgPool;
  const [take, order, line, emptyCart] = [sql.take, sql.order, sql.line, sql.emptyCart].map(numbered);
  return async (customer) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      if ((await client.query(take!, [product.id])).rowCount === 0) {
        await client.query('rollback');
        return false;
      }
      const v = values(sql, customer, product);
      const { id } = (await client.query(order!, v.order)).rows[0]!;
      await client.query(line!, v.line(id));
      await client.query(emptyCart!, [customer.cartId]);
      await client.query('commit');
      return true;
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  };
}
