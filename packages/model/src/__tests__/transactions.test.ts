import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { atomic, F, getRegistry, inTransaction, isStrataError, type ChangeEvent } from '..';
import { databases, recordChanges } from './helpers.js';
import { Customer, Product, Tag, models } from './fixtures.js';

/** A promise with its resolve function, to hold a transaction open. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const labels = async (prefix: string) =>
  (await Tag.objects.filter({ label: { startsWith: prefix } }).orderBy('label')).map((tag) => tag.label);

describe.each(databases)('atomic ($name)', (db) => {
  beforeAll(() => db.open(models));
  afterAll(() => db.close());

  let events: ChangeEvent[] = [];
  const listen = () => (events = recordChanges());

  it('commits when the function resolves and returns its value', async () => {
    expect(inTransaction()).toBe(false);
    const result = await atomic(async () => {
      expect(inTransaction()).toBe(true);
      await Tag.objects.create({ label: 'commit-a' });
      return 42;
    });
    expect(result).toBe(42);
    expect(await labels('commit-')).toEqual(['commit-a']);
  });

  it('rolls back every write when the function throws, and rethrows', async () => {
    listen();
    const error = new Error('changed my mind');
    await expect(
      atomic(async () => {
        await Tag.objects.create({ label: 'rollback-a' });
        await Tag.objects.filter({ label: 'commit-a' }).update({ label: 'rollback-renamed' });
        throw error;
      }),
    ).rejects.toBe(error);
    expect(await labels('rollback-')).toEqual([]);
    expect(await labels('commit-')).toEqual(['commit-a']);
    expect(events).toEqual([]);
  });

  it('rolls back an inner savepoint only, when its failure is caught', async () => {
    listen();
    await atomic(async () => {
      await Tag.objects.create({ label: 'nest-outer' });
      await expect(
        atomic(async () => {
          await Tag.objects.create({ label: 'nest-inner' });
          expect(await labels('nest-')).toEqual(['nest-inner', 'nest-outer']);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      expect(inTransaction()).toBe(true);
      await atomic(() => Tag.objects.create({ label: 'nest-second' }));
      expect(events).toEqual([]);
    });
    expect(await labels('nest-')).toEqual(['nest-outer', 'nest-second']);
    expect(events.map((e) => e.type)).toEqual(['created', 'created']);
    const ids = (await Tag.objects.filter({ label: { in: ['nest-outer', 'nest-second'] } }).orderBy('id')).map((t) => t.id);
    expect(events.flatMap((e) => e.pks)).toEqual(ids);
  });

  it('rolls back a committed inner savepoint with the outer transaction', async () => {
    await expect(
      atomic(async () => {
        await atomic(() => Tag.objects.create({ label: 'undone-inner' }));
        throw new Error('outer');
      }),
    ).rejects.toThrow('outer');
    expect(await labels('undone-')).toEqual([]);
  });

  it('delivers change events after commit, in order, and none on rollback', async () => {
    listen();
    const seenInside: number[] = [];
    const tag = await atomic(async () => {
      const created = await Tag.objects.create({ label: 'events-a' });
      await Tag.objects.filter({ id: created.id }).update({ label: 'events-b' });
      seenInside.push(events.length);
      return created;
    });
    expect(seenInside).toEqual([0]);
    expect(events).toEqual([
      { type: 'created', model: 'shop.Tag', pks: [tag.id] },
      { type: 'updated', model: 'shop.Tag', pks: [tag.id] },
    ]);
    events.length = 0;
    await atomic(() => Tag.objects.create({ label: 'events-c' }).then(() => Promise.reject(new Error('no')))).catch(() => {});
    expect(events).toEqual([]);
  });

  it('runs concurrent nested atomic() blocks of one transaction one after another', async () => {
    const labelsWanted = ['par-a', 'par-b', 'par-c', 'par-d'];
    const made = await atomic(() => Promise.all(labelsWanted.map((label) => Tag.objects.getOrCreate({ label }))));
    expect(made.map(([tag, created]) => [tag.label, created])).toEqual(labelsWanted.map((label) => [label, true]));
    await atomic(() =>
      Promise.all([
        atomic(() => Tag.objects.create({ label: 'par-kept' })),
        atomic(async () => {
          await Tag.objects.create({ label: 'par-dropped' });
          throw new Error('inner');
        }).catch(() => undefined),
        atomic(() => Tag.objects.create({ label: 'par-kept-too' })),
      ]),
    );
    expect(await labels('par-')).toEqual(['par-a', 'par-b', 'par-c', 'par-d', 'par-kept', 'par-kept-too']);
  });

  it('refuses selectForUpdate() outside atomic()', async () => {
    const error = await Product.objects.selectForUpdate().first().catch((e: unknown) => e);
    expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY')).toBe(true);
    expect((error as Error).message).toContain('atomic()');
  });

  it('sells exactly the stock to 50 concurrent buyers that lock the row', async () => {
    const { id } = await Product.objects.create({ name: 'Limited', price: '5.00', stock: 20 });
    const buy = () =>
      atomic(async () => {
        const p = await Product.objects.selectForUpdate().get({ id });
        if (p.stock < 1) throw new Error('sold out');
        await Product.objects.filter({ id }).update({ stock: F('stock').minus(1) });
      });
    const results = await Promise.allSettled(Array.from({ length: 50 }, buy));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(30);
    expect(new Set(rejected.map((r) => (r.reason as Error).message))).toEqual(new Set(['sold out']));
    expect((await Product.objects.get({ id })).stock).toBe(0);
  });

  it('sells exactly the stock with a conditional update, 1 or 0 rows each', async () => {
    const { id } = await Product.objects.create({ name: 'Limited again', price: '5.00', stock: 20 });
    const counts = await Promise.all(
      Array.from({ length: 50 }, () => Product.objects.filter({ id, stock: { gte: 1 } }).update({ stock: F('stock').minus(1) })),
    );
    expect(counts.filter((n) => n === 1)).toHaveLength(20);
    expect(counts.filter((n) => n === 0)).toHaveLength(30);
    expect((await Product.objects.get({ id })).stock).toBe(0);
  });

  it('runs a query that outlives its atomic() block outside any transaction, not in the next one', async () => {
    let late: Promise<unknown> | undefined;
    await atomic(async () => {
      late = new Promise((resolve) => setTimeout(resolve, 20)).then(() => Tag.objects.create({ label: 'stray-late' }));
    });
    const other = atomic(async () => {
      await Tag.objects.create({ label: 'stray-other' });
      await new Promise((resolve) => setTimeout(resolve, 60));
      throw new Error('rollback');
    });
    await expect(other).rejects.toThrow('rollback');
    await late;
    expect(await labels('stray-')).toEqual(['stray-late']);
  });

  it('keeps queries outside a transaction out of it: they see no uncommitted row, and their writes survive its rollback', async () => {
    const hold = gate();
    const entered = gate();
    const tx = atomic(async () => {
      await Tag.objects.create({ label: 'outside-uncommitted' });
      entered.open();
      await hold.promise;
      throw new Error('rollback');
    });
    await entered.promise;
    const seen = Tag.objects.filter({ label: 'outside-uncommitted' }).count();
    const written = Tag.objects.create({ label: 'outside-written' });
    // PostgreSQL answers at once; SQLite (one connection) makes them wait for the transaction.
    await new Promise((resolve) => setTimeout(resolve, 50));
    hold.open();
    await expect(tx).rejects.toThrow('rollback');
    expect(await seen).toBe(0);
    await written;
    expect(await labels('outside-')).toEqual(['outside-written']);
  });

  it.runIf(db.name === 'sqlite')('makes queries outside a SQLite transaction wait until it ends', async () => {
    const hold = gate();
    const entered = gate();
    const tx = atomic(async () => {
      await Tag.objects.create({ label: 'wait-inside' });
      entered.open();
      await hold.promise;
    });
    await entered.promise;
    let settled = false;
    const outside = Tag.objects.filter({ label: 'wait-inside' }).count().finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    hold.open();
    await tx;
    expect(await outside).toBe(1);
  });
  it('keeps a write made outside a transaction that waited while the next transaction rolls back', async () => {
    // Regression: the waiting statement used to run inside the transaction that took the
    // connection right after the first one, and was rolled back with it.
    const tag = await Tag.objects.create({ label: 'race-before' });
    const hold = gate();
    const entered = gate();
    let next: Promise<unknown> | undefined;
    const first = atomic(async () => {
      entered.open();
      await hold.promise;
      // Started inside `first`, but runs on after `first` has committed.
      next = atomic(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('next rolls back');
      }).catch(() => undefined);
    });
    await entered.promise;
    const write = Tag.objects.filter({ id: tag.id }).update({ label: 'race-after' });
    hold.open();
    await first;
    await next;
    expect(await write).toBe(1);
    expect(await labels('race-')).toEqual(['race-after']);
  });

  it('keeps the parent\'s own writes when a sibling savepoint running at the same time rolls back', async () => {
    await atomic(async () => {
      await Promise.all([
        new Promise((resolve) => setTimeout(resolve, 5)).then(() => Tag.objects.create({ label: 'sp-parent' })),
        atomic(async () => {
          await Tag.objects.create({ label: 'sp-child' });
          await new Promise((resolve) => setTimeout(resolve, 30));
          throw new Error('child rolls back');
        }).catch(() => undefined),
      ]);
    });
    expect(await labels('sp-')).toEqual(['sp-parent']);
  });
  it('finishes a nested atomic() the block did not await before committing, and rolls back only its savepoint', async () => {
    let child: Promise<unknown> | undefined;
    await atomic(async () => {
      await Tag.objects.create({ label: 'late-parent' });
      child = atomic(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await Tag.objects.create({ label: 'late-child' });
        throw new Error('child rolls back');
      }).catch(() => undefined);
    });
    await child;
    expect(await labels('late-')).toEqual(['late-parent']);
  });
});

const pgUrlForOutage = process.env.STRATA_TEST_PG_URL;
describe.skipIf(!pgUrlForOutage)('a lost PostgreSQL connection', () => {
  const target = databases.find((db) => db.name === 'postgres')!;
  beforeAll(() => target.open([Customer]));
  afterAll(() => target.close());

  it('fails the query and the transaction with STRATA_MODEL_UNAVAILABLE, and the next ones succeed', async () => {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: pgUrlForOutage });
    await admin.connect();
    const end = (marker: string) =>
      new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
        admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where query like '%${marker}%' and pid <> pg_backend_pid()`),
      );
    try {
      const query = getRegistry().run((db) => db.execute(sql.raw(`select pg_sleep(5), 'strata-outage-1'`)));
      const queryFailed = expect(query).rejects.toMatchObject({ code: 'STRATA_MODEL_UNAVAILABLE' });
      await end('strata-outage-1');
      await queryFailed;
      const inTransaction = atomic(async () => {
        await Customer.objects.create({ email: 'lost@x.io', name: 'Lost' });
        await getRegistry().run((d) => d.execute(sql.raw(`select pg_sleep(5), 'strata-outage-2'`)));
      });
      const transactionFailed = expect(inTransaction).rejects.toMatchObject({ code: 'STRATA_MODEL_UNAVAILABLE' });
      await end('strata-outage-2');
      await transactionFailed;
      expect(await Customer.objects.filter({ email: 'lost@x.io' }).exists()).toBe(false);
      expect(await Customer.objects.create({ email: 'back@x.io', name: 'Back' })).toMatchObject({ email: 'back@x.io' });
    } finally {
      await admin.end();
    }
  }, 20_000);
});
