import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, getRegistry, setup } from '..';
import { createSchema } from '../migrations.js';
import { Category, models } from './fixtures.js';

// SQLite statements are prepared once per SQL text and reused (see internal/connect.ts).
describe('SQLite statement reuse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-statements-'));
  beforeAll(async () => {
    await setup({ databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`, models, debug: false });
    await createSchema();
    await Category.objects.bulkCreate([{ name: 'Tea' }, { name: 'Cups' }]);
  });
  afterAll(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers objects from a statement drizzle last used for raw rows', async () => {
    const { db } = getRegistry();
    const table = getRegistry().table(Category);
    const query = db.select({ name: table.name }).from(table).orderBy(table.name);
    // A selection with fields runs the statement in raw (array) mode ...
    expect(await query).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
    // ... and the same SQL text without fields must answer objects again, not arrays.
    expect(db.all(sql.raw(query.toSQL().sql))).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
    expect(await query).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
  });

  it('gives a fresh statement while the cached one is still being iterated', () => {
    const client = getRegistry().db.$client as { prepare(text: string): { iterate(): Iterator<unknown>; all(): unknown[] } };
    const text = 'select name from shop_category order by name';
    const open = client.prepare(text).iterate();
    expect(open.next().value).toEqual({ name: 'Cups' });
    expect(client.prepare(text).all()).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
    expect(open.next().value).toEqual({ name: 'Tea' });
    open.return?.();
  });

  it('keeps answering correctly past the cache size, and after the schema changed', async () => {
    const { db } = getRegistry();
    for (let i = 0; i < 600; i++) expect(db.get(sql.raw(`select ${i} as n`))).toEqual({ n: BigInt(i) });
    expect(await Category.objects.orderBy('name').values('name')).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
    db.run(sql.raw('alter table shop_category add column extra integer default 7'));
    expect(db.all(sql.raw('select name, extra from shop_category order by name'))).toEqual([
      { name: 'Cups', extra: 7n },
      { name: 'Tea', extra: 7n },
    ]);
    expect(await Category.objects.orderBy('name').values('name')).toEqual([{ name: 'Cups' }, { name: 'Tea' }]);
  });
});

const pgUrl = process.env.STRATA_TEST_PG_URL;
// PostgreSQL statements with parameters run as named (server-side prepared) statements.
describe.skipIf(!pgUrl)('PostgreSQL named statements', () => {
  const schema = `strata_named_${process.pid}`;
  beforeAll(async () => {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    await setup({ databaseUrl: pgUrl!, schema, models, debug: false, poolSize: 3 });
    await createSchema();
    await Category.objects.bulkCreate([{ name: 'Tea' }, { name: 'Cups' }]);
  });
  afterAll(async () => {
    await getRegistry().db.execute(sql.raw(`drop schema ${schema} cascade`));
    await close();
  });

  it('prepares a query once per connection and reuses it', async () => {
    for (let i = 0; i < 20; i++) expect(await Category.objects.filter({ name: 'Tea' }).values('name')).toEqual([{ name: 'Tea' }]);
    const { rows } = (await getRegistry().db.execute(sql.raw(`select count(*)::int as n from pg_prepared_statements where name like 'strata_%'`))) as { rows: { n: number }[] };
    // The connection that answered holds the statements it prepared (at least the one above).
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
  });

  it('answers a query whose result type a migration changed, outside a transaction at once', async () => {
    const names = () => Category.objects.filter({ name: { in: ['Tea', 'Cups'] } }).orderBy('name').values('name');
    // Prepare it on every connection of the pool.
    await Promise.all(Array.from({ length: 6 }, names));
    await getRegistry().db.execute(sql.raw(`alter table ${schema}.shop_category alter column name type varchar(120)`));
    await expect(Promise.all(Array.from({ length: 6 }, names))).resolves.toEqual(Array.from({ length: 6 }, () => [{ name: 'Cups' }, { name: 'Tea' }]));
  });
});
