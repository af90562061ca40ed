import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Category, Product } from '../models.js';
import { closeDatabase, databases, openDatabase, startShop, Visitor } from './shopHarness.js';

const url = process.env.STRATA_TEST_REDIS_URL;
if (!url) console.log('workers.test: STRATA_TEST_REDIS_URL is not set; the two-worker shop test is skipped.');

describe.skipIf(!url)('the shop on two workers sharing Redis', () => {
  const db = databases[0]!;
  beforeAll(() => openDatabase(db));
  afterAll(async () => {
    await closeDatabase(db);
    const redis = new Redis(url!);
    const keys = await redis.keys('strata-shop-test:*');
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('shows a purchase made on one worker live on the other, and signs a customer in on either', async () => {
    const prefix = `strata-shop-test:${randomBytes(4).toString('hex')}:`;
    const [a, b] = [await startShop({ redisUrl: url!, redisPrefix: prefix }), await startShop({ redisUrl: url!, redisPrefix: prefix })];
    const tea = await Category.objects.create({ name: 'Tea' });
    const sencha = await Product.objects.create({ name: 'Sencha', price: '12.50', stock: 5, categoryId: tea.id });

    const watcher = new Visitor(b);
    await watcher.open();
    const catalog = await watcher.tab(['products']);
    await catalog.call('products', 'load');

    // A customer registers on worker a (the session lives in Redis) and buys there.
    const buyer = new Visitor(a);
    await buyer.register('buyer@example.com');
    const tab = await buyer.tab(['cart']);
    await tab.call('cart', 'add', { productId: sencha.id, quantity: 2 });
    expect((await tab.call('cart', 'checkout')).error).toBeUndefined();

    const patch = await catalog.next((f) => f.t === 'patch' && JSON.stringify(f).includes('stock'));
    expect(JSON.stringify(patch)).toContain('"value":3');
    // The same browser is signed in on the other worker too.
    expect((await buyer.on(b).http('GET', '/auth/me')).body).toMatchObject({ user: { email: 'buyer@example.com' } });
  });
});
