import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { atomic, runInQueryScope } from '..';
import { databases } from './helpers.js';
import { Category, Product, models } from './fixtures.js';

async function seed(): Promise<number[]> {
  const tea = await Category.objects.create({ name: 'Tea' });
  const rows = await Product.objects.bulkCreate(
    Array.from({ length: 15 }, (_, i) => ({ name: `P${i}`, price: '1.00', stock: i, category: tea })),
  );
  return rows.map((row) => row.id);
}

/** `count` gets of one product by primary key: the N+1 pattern. */
async function getEach(ids: number[], count: number): Promise<void> {
  for (const id of ids.slice(0, count)) await Product.objects.get({ id });
}

describe.each(databases)('runInQueryScope ($name)', (db) => {
  describe('counting', () => {
    let ids: number[] = [];
    beforeAll(async () => {
      await db.open(models);
      ids = await seed();
    });
    afterAll(() => db.close());

    it('does count queries and how often each SQL shape ran', async () => {
      const { count, shapes, result } = await runInQueryScope(async () => {
        await Product.objects.count();
        await Product.objects.filter({ stock: 1 });
        await Product.objects.filter({ stock: 2 });
        return 'done';
      });
      expect(result).toBe('done');
      expect(count).toBe(3);
      expect(shapes.size).toBe(2);
      expect([...shapes.values()].sort()).toEqual([1, 2]);
    });

    it('does fold IN lists of any length into one shape', async () => {
      const { count, shapes } = await runInQueryScope(async () => {
        await Product.objects.filter({ id: { in: ids.slice(0, 2) } });
        await Product.objects.filter({ id: { in: ids.slice(0, 5) } });
      });
      expect(count).toBe(2);
      expect([...shapes.values()]).toEqual([2]);
    });

    it('does count the query of a queryset that fn returns without awaiting', async () => {
      const { count, result } = await runInQueryScope(() => Product.objects.filter({ stock: { lt: 3 } }));
      expect(result).toHaveLength(3);
      expect(count).toBe(1);
    });

    it('does count in every open scope when scopes nest', async () => {
      const outer = await runInQueryScope(async () => {
        await Product.objects.count();
        const inner = await runInQueryScope(async () => {
          await Product.objects.count();
          await Product.objects.exists();
        });
        expect(inner.count).toBe(2);
      });
      expect(outer.count).toBe(3);
    });

    it('does keep concurrent scopes apart', async () => {
      const [a, b] = await Promise.all([
        runInQueryScope(async () => {
          for (let i = 0; i < 4; i++) await Product.objects.count();
        }),
        runInQueryScope(async () => {
          await Product.objects.count();
        }),
      ]);
      expect([a.count, b.count]).toEqual([4, 1]);
    });

    it('does not count transaction control statements', async () => {
      const { count } = await runInQueryScope(() => atomic(() => Product.objects.count()));
      expect(count).toBe(1);
    });

    it('does not warn about N+1 queries when the registry is not in debug mode', async () => {
      const onWarning = vi.fn();
      const { count } = await runInQueryScope(() => getEach(ids, 15), { onWarning });
      expect(count).toBe(15);
      expect(onWarning).not.toHaveBeenCalled();
    });
  });

  describe('N+1 detector (debug)', () => {
    let ids: number[] = [];
    beforeAll(async () => {
      await db.open(models, { debug: true });
      ids = await seed();
    });
    afterAll(() => db.close());

    it('does warn once, naming the model and the call site, when one shape runs past the threshold', async () => {
      const onWarning = vi.fn();
      await runInQueryScope(() => getEach(ids, 15), { onWarning });
      expect(onWarning).toHaveBeenCalledTimes(1);
      const [message] = onWarning.mock.calls[0] as [string];
      expect(message).toContain('shop.Product');
      expect(message).toContain('ran 11 times');
      expect(message).toMatch(/queryScope\.test\.ts:\d+/);
      expect(message).toContain('selectRelated() or prefetch()');
    });

    it('does not warn at or below the threshold', async () => {
      const onWarning = vi.fn();
      await runInQueryScope(() => getEach(ids, 10), { onWarning });
      expect(onWarning).not.toHaveBeenCalled();
    });

    it('does take the threshold from the options, 0 disabling the detector', async () => {
      const low = vi.fn();
      await runInQueryScope(() => getEach(ids, 4), { onWarning: low, nPlusOneThreshold: 3 });
      expect(low).toHaveBeenCalledTimes(1);
      const off = vi.fn();
      await runInQueryScope(() => getEach(ids, 15), { onWarning: off, nPlusOneThreshold: 0 });
      expect(off).not.toHaveBeenCalled();
    });

    it('does not warn for many different queries', async () => {
      const onWarning = vi.fn();
      await runInQueryScope(async () => {
        await Product.objects.prefetch('tags').selectRelated('category');
        for (let i = 0; i < 5; i++) {
          await Product.objects.count();
          await Product.objects.filter({ stock: i }).first();
        }
      }, { onWarning });
      expect(onWarning).not.toHaveBeenCalled();
    });
  });
});
