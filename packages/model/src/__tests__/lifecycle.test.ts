import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { atomic, close, defineModel, f, getRegistry, inTransaction, isModelRow, isStrataError, modelOfRow, setup } from '..';
import { createSchema } from '../migrations.js';
import { databases } from './helpers.js';
import { Category, Customer, Order, Product, Tag, models } from './fixtures.js';

/** The error `fn` throws or rejects with. */
async function failure(fn: () => unknown): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error(`expected a failure from ${fn.toString()}`);
}

describe('before setup()', () => {
  it('imports models and builds querysets without touching the database', () => {
    expect(Product.objects.filter({ stock: { gt: 0 } }).orderBy('name').limit(3)).toBeDefined();
    expect(existsSync(join(process.cwd(), 'db.sqlite'))).toBe(false);
  });

  it('throws STRATA_MODEL_NOT_READY naming setup() for every query', async () => {
    const attempts: (() => unknown)[] = [
      () => Product.objects.count(),
      () => Product.objects.filter({ name: 'x' }).then((rows) => rows),
      () => Category.objects.create({ name: 'Early' }),
      () => Tag.objects.filter({ label: 'x' }).delete(),
      () => atomic(async () => 1),
      () => getRegistry(),
    ];
    for (const attempt of attempts) {
      const error = await failure(attempt);
      expect(isStrataError(error, 'STRATA_MODEL_NOT_READY')).toBe(true);
      expect(error.message).toContain('setup(');
    }
    expect(inTransaction()).toBe(false);
    expect(existsSync(join(process.cwd(), 'db.sqlite'))).toBe(false);
  });
});

describe('setup() and close()', () => {
  let dir: string;
  const url = () => `sqlite:${join(dir, 'life.sqlite')}`;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-life-'));
  });
  afterEach(() => close());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second setup() while connected', async () => {
    const registry = await setup({ databaseUrl: url(), models });
    const error = await failure(() => setup({ databaseUrl: url(), models }));
    expect(isStrataError(error, 'STRATA_MODEL_ALREADY_SETUP')).toBe(true);
    expect(error.message).toContain('close()');
    expect(getRegistry()).toBe(registry);
  });

  it('lets only one of two concurrent setup() calls connect', async () => {
    const results = await Promise.allSettled([setup({ databaseUrl: url(), models }), setup({ databaseUrl: url(), models })]);
    const fulfilled = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof setup>>> => r.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    expect(results.some((r) => r.status === 'rejected' && isStrataError(r.reason, 'STRATA_MODEL_ALREADY_SETUP'))).toBe(true);
    expect(getRegistry()).toBe(fulfilled[0]!.value);
  });

  it('refuses an unsupported database URL and stays unconnected', async () => {
    for (const databaseUrl of ['mysql://root@localhost/shop', 'shop.sqlite', 'http://x']) {
      const error = await failure(() => setup({ databaseUrl, models }));
      expect(isStrataError(error, 'STRATA_MODEL_DATABASE_URL'), databaseUrl).toBe(true);
    }
    expect(isStrataError(await failure(() => getRegistry()), 'STRATA_MODEL_NOT_READY')).toBe(true);
  });

  it('reports an unreachable PostgreSQL without its password', async () => {
    const error = await failure(() => setup({ databaseUrl: 'postgres://shop:s3cret@127.0.0.1:1/shop', models }));
    expect(isStrataError(error, 'STRATA_MODEL_DATABASE_URL')).toBe(true);
    expect(error.message).toContain('postgres://shop:***@127.0.0.1:1/shop');
    expect(error.message).not.toContain('s3cret');
    expect(isStrataError(await failure(() => getRegistry()), 'STRATA_MODEL_NOT_READY')).toBe(true);
  });

  it('refuses a model whose relation points at a model not passed to setup()', async () => {
    const Review = defineModel('lab.Review', { fields: { product: f.foreignKey(() => Product), text: f.text() } });
    const error = await failure(() => setup({ databaseUrl: url(), models: [Review] }));
    expect(isStrataError(error, 'STRATA_MODEL_UNKNOWN_MODEL')).toBe(true);
    expect(error.message).toContain('lab.Review.product points at shop.Product');
    expect(isStrataError(await failure(() => getRegistry()), 'STRATA_MODEL_NOT_READY')).toBe(true);
  });

  it('refuses a query on a model that was not passed to setup()', async () => {
    await setup({ databaseUrl: url(), models: [Tag] });
    const error = await failure(() => Customer.objects.count());
    expect(isStrataError(error, 'STRATA_MODEL_UNKNOWN_MODEL')).toBe(true);
    expect(error.message).toContain('shop.Customer');
  });

  it('connects again after close(), to the same data', async () => {
    await setup({ databaseUrl: url(), models: [Tag] });
    await createSchema();
    await Tag.objects.create({ label: 'survives' });
    await close();
    await close();
    expect(isStrataError(await failure(() => Tag.objects.count()), 'STRATA_MODEL_NOT_READY')).toBe(true);
    await setup({ databaseUrl: url(), models: [Tag] });
    expect((await Tag.objects.orderBy('id')).map((tag) => tag.label)).toEqual(['survives']);
  });
});

describe.each(databases)('rows ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  it('brands rows with their model, invisibly to JSON and spreading', async () => {
    const customer = await Customer.objects.create({ email: 'brand@x.io', name: 'B', isVip: true });
    const row = await Customer.objects.get({ id: customer.id });
    const plain = { id: customer.id, email: 'brand@x.io', name: 'B', isVip: true };
    for (const value of [customer, row]) {
      expect(isModelRow(value)).toBe(true);
      expect(modelOfRow(value)).toBe(Customer);
      expect(isModelRow({ ...value })).toBe(false);
      expect(modelOfRow({ ...value })).toBeUndefined();
      expect(JSON.stringify(value)).toBe(JSON.stringify(plain));
      expect(Object.keys(value)).toEqual(Object.keys(plain));
    }
  });

  it('brands related rows with their own model, and nothing else', async () => {
    const customer = await Customer.objects.create({ email: 'brand2@x.io', name: 'B2' });
    const order = await Order.objects.create({ customer });
    const [loaded] = await Order.objects.filter({ id: order.id }).selectRelated('customer');
    expect(modelOfRow(loaded)).toBe(Order);
    expect(modelOfRow(loaded!.customer)).toBe(Customer);
    const [values] = await Order.objects.filter({ id: order.id }).values('id', 'customerId');
    expect(isModelRow(values)).toBe(false);
    expect(isModelRow(JSON.parse(JSON.stringify(loaded)))).toBe(false);
    for (const other of [null, undefined, 1, 'row', {}, [], Object.create(null)]) expect(isModelRow(other)).toBe(false);
  });
});
