import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModel, f, getRegistry, isStrataError } from '..';
import { databases } from './helpers.js';

const Document = defineModel('edge.Document', { fields: { label: f.text(), data: f.json({ null: true }) } });

/** A default of every kind whose SQL DEFAULT could be emitted wrongly. */
const Defaulted = defineModel('edge.Defaulted', {
  fields: {
    label: f.text(),
    greeting: f.json({ default: 'hello' }),
    note: f.json({ null: true, default: 'hi' }),
    price: f.decimal({ precision: 8, scale: 2, default: '1.50' }),
    refund: f.decimal({ scale: 3, default: '-0.125' }),
    views: f.bigint({ default: 2n ** 62n }),
    active: f.boolean({ default: true }),
    archived: f.boolean({ default: false }),
    stock: f.integer({ default: -3 }),
    ratio: f.float({ default: 0.25 }),
    motto: f.text({ default: "it's" }),
    kind: f.choice({ choices: ['a', 'b'], default: 'b' }),
    since: f.date({ default: '2024-02-29' }),
    ref: f.uuid({ default: 'ABCDEF01-2345-4789-ABCD-EF0123456789' }),
  },
});

/** Decimals at the widest precision a scaled 64-bit integer holds exactly. */
const Ledger = defineModel('edge.Ledger', {
  fields: { whole: f.decimal({ precision: 18, scale: 0, null: true }), fine: f.decimal({ precision: 18, scale: 6, null: true }) },
});

const Shelf = defineModel('edge.Shelf', { fields: { name: f.text() } });
const Book = defineModel('edge.Book', {
  fields: {
    shelf: f.foreignKey(() => Shelf),
    formerShelf: f.foreignKey(() => Shelf, { null: true, index: false, relatedName: 'formerBooks' }),
  },
});

/** Rows of a raw SQL query on either database. */
async function rawRows(query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const registry = getRegistry();
  return registry.dialect === 'sqlite' ? registry.db.all(query) : (await registry.db.execute(query)).rows;
}

describe.each(databases)('field edge cases ($name)', (db) => {
  beforeAll(() => db.open([Document, Defaulted, Ledger, Shelf, Book]));
  afterAll(() => db.close());

  it('reads JSON strings that look like other JSON back as the same strings', async () => {
    const values = ['123', 'true', 'null', '[1]', '{"a":1}', '"quoted"', '', 0, 1.5, true, false, [1, '1', null], { a: '1', b: { c: ['true'] } }];
    for (const data of values) {
      const created = await Document.objects.create({ label: JSON.stringify(data), data });
      const read = await Document.objects.get({ id: created.id });
      expect([created.data, read.data], JSON.stringify(data)).toEqual([data, data]);
      expect(typeof read.data).toBe(typeof data);
    }
  });

  it('fills defaults of every kind alike whether the model or the database fills them', async () => {
    const table = getRegistry().table(Defaulted);
    // A row inserted by plain SQL gets the columns' SQL DEFAULTs (as rows do when a migration adds a column).
    await rawRows(sql`insert into ${table} (${sql.identifier('label')}, ${sql.identifier('greeting')}) values ('raw', '"raw"') returning id`);
    const byModel = await Defaulted.objects.create({ label: 'model' });
    const byDatabase = await Defaulted.objects.get({ label: 'raw' });
    const expected = {
      greeting: 'hello',
      note: 'hi',
      price: '1.50',
      refund: '-0.125',
      views: 2n ** 62n,
      active: true,
      archived: false,
      stock: -3,
      ratio: 0.25,
      motto: "it's",
      kind: 'b',
      since: '2024-02-29',
      ref: 'abcdef01-2345-4789-abcd-ef0123456789',
    };
    expect({ ...byModel }).toEqual({ id: byModel.id, label: 'model', ...expected });
    // JSON fields get no SQL DEFAULT (a JSON value is no SQL literal): only the model fills them.
    expect({ ...byDatabase }).toEqual({ id: byDatabase.id, label: 'raw', ...expected, greeting: 'raw', note: null });
  });

  it('stores decimals of precision 18 exactly', async () => {
    const values = [
      { whole: '999999999999999999', fine: '999999999999.999999' },
      { whole: '-999999999999999999', fine: '-999999999999.999999' },
    ];
    for (const data of values) {
      const created = await Ledger.objects.create(data);
      expect({ ...(await Ledger.objects.get({ id: created.id })) }).toEqual({ id: created.id, ...data });
    }
  });

  it('indexes a foreign key unless it says index: false', async () => {
    const query =
      db.name === 'sqlite'
        ? sql`select name from sqlite_master where type = 'index' and tbl_name = 'edge_book'`
        : sql`select indexname as name from pg_indexes where schemaname = current_schema() and tablename = 'edge_book'`;
    const names = (await rawRows(query)).map((row) => row.name);
    expect(names).toContain('edge_book_shelf_id_idx');
    expect(names).not.toContain('edge_book_former_shelf_id_idx');
  });
});

describe.each(databases)('decimal precision limit ($name)', (db) => {
  afterAll(() => db.close());

  it('refuses a decimal wider than 18 digits when the models are set up', async () => {
    const Wide = defineModel('edge.Wide', { fields: { amount: f.decimal({ precision: 19, scale: 2 }) } });
    const error = await db.open([Wide]).catch((e: unknown) => e);
    expect(isStrataError(error, 'STRATA_MODEL_DEFINITION')).toBe(true);
    expect((error as Error).message).toBe(
      'edge.Wide.amount: decimal precision 19 is above 18, the most digits a 64-bit integer holds exactly (how SQLite stores decimals); use at most 18.',
    );
  });
});

describe('Model.withScopes', () => {
  it('adds scopes while the model is being defined, across several calls', () => {
    const Note = defineModel('edge.Note', { fields: { title: f.text() } })
      .withScopes({ titled: (qs, title: string) => qs.filter({ title }) })
      .withScopes({ recent: (qs) => qs.orderBy('-id') });
    expect(typeof Note.objects.titled).toBe('function');
    expect(typeof Note.objects.recent).toBe('function');
  });

  it('refuses scopes added after the model was queried, which its querysets would lack', () => {
    const Note = defineModel('edge.LateNote', { fields: { title: f.text() } });
    void Note.objects;
    const error = (() => {
      try {
        Note.withScopes({ recent: (qs) => qs.orderBy('-id') });
      } catch (e) {
        return e;
      }
    })();
    expect(isStrataError(error, 'STRATA_MODEL_DEFINITION')).toBe(true);
    expect((error as Error).message).toBe(
      'withScopes() on edge.LateNote after its querysets were used: define scopes where the model is defined.',
    );
    expect('recent' in Note.objects).toBe(false);
  });
});
