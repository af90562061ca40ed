import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Count, defineModel, f, F, FieldRef, isStrataError, Max, Sum, type ChangeEvent } from '..';
import { databases, recordChanges } from './helpers.js';
import { Category, Customer, Product, Profile, Tag, models } from './fixtures.js';

/** A many-to-many whose owner has a UUID key (bound through the column's mapping). */
const Playlist = defineModel('media.Playlist', {
  primaryKey: 'uuid',
  fields: { title: f.text(), tags: f.manyToMany(() => Tag, { relatedName: 'playlists' }) },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(databases)('QuerySet writes ($name)', (db) => {
  beforeAll(() => db.open([...models, Playlist]));
  afterAll(() => db.close());

  let events: ChangeEvent[] = [];
  const listen = () => (events = recordChanges());

  describe('create', () => {
    it('fills static and function defaults', async () => {
      const before = Date.now();
      const p = await Product.objects.create({ name: 'Defaults', price: '1.00' });
      expect({ ...p }).toEqual({
        id: p.id,
        name: 'Defaults',
        price: '1.00',
        sku: null,
        stock: 0,
        weight: null,
        views: 0n,
        status: 'draft',
        releasedOn: null,
        updatedAt: p.updatedAt,
        attributes: {},
        categoryId: null,
      });
      expect(p.updatedAt).toBeInstanceOf(Date);
      expect(p.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(p.updatedAt.getTime()).toBeLessThanOrEqual(Date.now());
    });

    it('calls a function default once per row', async () => {
      const [a, b] = await Product.objects.bulkCreate([
        { name: 'Fresh A', price: '1.00' },
        { name: 'Fresh B', price: '1.00' },
      ]);
      a!.attributes.mutated = 'yes';
      expect(b!.attributes).toEqual({});
      const [x, y] = await Profile.objects.bulkCreate([
        { customer: await Customer.objects.create({ email: 'pk1@x.io', name: 'P1' }) },
        { customer: await Customer.objects.create({ email: 'pk2@x.io', name: 'P2' }) },
      ]);
      expect(x!.id).toMatch(UUID);
      expect(y!.id).toMatch(UUID);
      expect(x!.id).not.toBe(y!.id);
    });

    it('round-trips every field type exactly', async () => {
      const data = {
        name: 'Gyokuro ☕ 玉露 "quoted" \\ back',
        sku: '0b8f7a0e-3c1d-4e2f-9a6b-7c8d9e0f1a2b',
        price: '12345678.90',
        stock: 2_147_483_647,
        weight: 0.1 + 0.2,
        views: 2n ** 62n,
        status: 'live' as const,
        releasedOn: '2024-02-29',
        updatedAt: new Date('2024-03-01T12:34:56.789Z'),
        attributes: { origin: 'Uji', note: 'a "b" \\ c', empty: '' },
      };
      const created = await Product.objects.create(data);
      const read = await Product.objects.get({ id: created.id });
      for (const row of [created, read]) {
        expect({ ...row }).toEqual({ id: created.id, categoryId: null, ...data });
        expect(typeof row.views).toBe('bigint');
        expect(typeof row.weight).toBe('number');
        expect(row.weight).toBe(0.30000000000000004);
        expect(row.updatedAt.toISOString()).toBe('2024-03-01T12:34:56.789Z');
      }
      const vip = await Customer.objects.create({ email: 'vip@x.io', name: 'V', isVip: true });
      expect((await Customer.objects.get({ id: vip.id })).isVip).toBe(true);
      expect((await Customer.objects.create({ email: 'plain@x.io', name: 'P' })).isVip).toBe(false);
    });

    it('normalises decimals to the field scale', async () => {
      const p = await Product.objects.create({ name: 'Scale', price: '7.5' });
      expect(p.price).toBe('7.50');
      expect((await Product.objects.get({ id: p.id })).price).toBe('7.50');
      expect((await Product.objects.create({ name: 'Cents', price: '0.05' })).price).toBe('0.05');
    });

    it('stores UUIDs in one canonical (lower-case) form on both databases', async () => {
      const p = await Product.objects.create({ name: 'Upper', price: '1.00', sku: 'ABCDEF01-2345-4789-ABCD-EF0123456789' });
      expect(p.sku).toBe('abcdef01-2345-4789-abcd-ef0123456789');
      expect((await Product.objects.get({ sku: 'ABCDEF01-2345-4789-ABCD-EF0123456789' })).id).toBe(p.id);
    });

    it('refuses an explicit integer id unless asked to take it, so no id can exhaust the sequence', async () => {
      const before = await Tag.objects.count();
      for (const write of [
        () => Tag.objects.create({ id: 2_147_483_647, label: 'max id' }),
        () => Tag.objects.bulkCreate([{ label: 'fine' }, { id: 2_147_483_647, label: 'max id' }]),
      ]) {
        const error = await write().catch((e: unknown) => e);
        expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY'), write.toString()).toBe(true);
        expect((error as Error).message).toContain('{ explicitId: true }');
      }
      expect(await Tag.objects.count()).toBe(before);
      expect((await Tag.objects.create({ label: 'still generated' })).id).toBeLessThan(2_147_483_647);
      const profile = await Profile.objects.create({
        id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        customer: await Customer.objects.create({ email: 'own-uuid@x.io', name: 'U' }),
      });
      expect(profile.id).toBe('7c9e6679-7425-40de-944b-e07fc1f90ae7');
    });

    it('keeps generating fresh ids after rows were created with explicit ones', async () => {
      const last = await Tag.objects.create({ label: 'before explicit' });
      await Tag.objects.bulkCreate([{ id: last.id + 1, label: 'explicit 1' }, { id: last.id + 2, label: 'explicit 2' }], { explicitId: true });
      const next = await Tag.objects.create({ label: 'after explicit' });
      expect(next.id).toBe(last.id + 3);
    });

    it('accepts a relation as a row, a primary key or an <name>Id key', async () => {
      const cat = await Category.objects.create({ name: 'Relations' });
      const [a, b, c] = await Product.objects.bulkCreate([
        { name: 'By row', price: '1.00', category: cat },
        { name: 'By pk', price: '1.00', category: cat.id },
        { name: 'By id key', price: '1.00', categoryId: cat.id },
      ]);
      expect([a!.categoryId, b!.categoryId, c!.categoryId]).toEqual([cat.id, cat.id, cat.id]);
    });
  });

  describe('bulkCreate', () => {
    it('returns rows with ids and emits one created event listing all pks', async () => {
      listen();
      const rows = await Tag.objects.bulkCreate([{ label: 'bulk-a' }, { label: 'bulk-b' }, { label: 'bulk-c' }]);
      expect(rows.map((row) => row.label)).toEqual(['bulk-a', 'bulk-b', 'bulk-c']);
      expect(rows.every((row) => typeof row.id === 'number')).toBe(true);
      expect(new Set(rows.map((row) => row.id)).size).toBe(3);
      expect(events).toEqual([{ type: 'created', model: 'shop.Tag', pks: rows.map((row) => row.id) }]);
    });

    it('inserts more rows than one statement holds, atomically, with one event', async () => {
      listen();
      const data = Array.from({ length: 16_000 }, (_, i) => ({ label: `many-${i}` }));
      const rows = await Tag.objects.bulkCreate(data);
      expect(rows).toHaveLength(16_000);
      expect(await Tag.objects.filter({ label: { startsWith: 'many-' } }).count()).toBe(16_000);
      expect(events).toHaveLength(1);
      expect(events[0]!.pks).toEqual(rows.map((row) => row.id));
    });

    it('does nothing for an empty list', async () => {
      listen();
      expect(await Tag.objects.bulkCreate([])).toEqual([]);
      expect(events).toEqual([]);
    });
  });

  describe('getOrCreate', () => {
    it('creates once, then finds the same row', async () => {
      const [a, createdA] = await Customer.objects.getOrCreate({ email: 'goc@x.io' }, { name: 'First' });
      const [b, createdB] = await Customer.objects.getOrCreate({ email: 'goc@x.io' }, { name: 'Second' });
      expect([createdA, createdB]).toEqual([true, false]);
      expect(b.id).toBe(a.id);
      expect(b.name).toBe('First');
      expect(await Customer.objects.filter({ email: 'goc@x.io' }).count()).toBe(1);
    });

    it('creates no duplicate when concurrent callers race', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, () => Category.objects.getOrCreate({ name: 'Raced' })));
      expect(results.filter(([, created]) => created)).toHaveLength(1);
      expect(new Set(results.map(([row]) => row.id)).size).toBe(1);
      expect(await Category.objects.filter({ name: 'Raced' }).count()).toBe(1);
    });
  });

  describe('updateOrCreate', () => {
    it('creates, then updates the same row with the defaults', async () => {
      const [a, createdA] = await Customer.objects.updateOrCreate({ email: 'uoc@x.io' }, { name: 'First' });
      const [b, createdB] = await Customer.objects.updateOrCreate({ email: 'uoc@x.io' }, { name: 'Second', isVip: true });
      expect([createdA, createdB]).toEqual([true, false]);
      expect(b.id).toBe(a.id);
      expect({ name: b.name, isVip: b.isVip }).toEqual({ name: 'Second', isVip: true });
      expect(await Customer.objects.filter({ email: 'uoc@x.io' }).count()).toBe(1);
    });

    it('creates no duplicate when concurrent callers race', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => Customer.objects.updateOrCreate({ email: 'uoc-race@x.io' }, { name: `Racer ${i}` })),
      );
      expect(results.filter(([, created]) => created)).toHaveLength(1);
      expect(new Set(results.map(([row]) => row.id)).size).toBe(1);
      expect(await Customer.objects.filter({ email: 'uoc-race@x.io' }).count()).toBe(1);
    });
  });

  describe('update', () => {
    it('updates, aggregates and deletes a distinct, ordered, sliced queryset on both databases', async () => {
      const made = await Tag.objects.bulkCreate(['ds-a', 'ds-b', 'ds-c'].map((label) => ({ label })));
      const top = () => Tag.objects.filter({ label: { startsWith: 'ds-' } }).distinct().orderBy('-label').limit(2);
      expect(await top().update({ label: 'ds-z' })).toBe(2);
      expect(await top().aggregate({ n: Count() })).toEqual({ n: 2 });
      expect((await top().delete()).count).toBe(2);
      expect((await Tag.objects.filter({ id: { in: made.map((t) => t.id) } })).map((t) => t.label)).toEqual(['ds-a']);
    });

    it('applies F() arithmetic in the database and returns the count', async () => {
      const p = await Product.objects.create({ name: 'Arith', price: '10.00', stock: 5 });
      expect(await Product.objects.filter({ id: p.id }).update({ stock: F('stock').minus(1) })).toBe(1);
      expect(await Product.objects.filter({ id: p.id }).update({ price: F('price').plus('1.25') })).toBe(1);
      const row = await Product.objects.get({ id: p.id });
      expect([row.stock, row.price]).toEqual([4, '11.25']);
    });

    it('keeps decimal arithmetic exact, rounding half away from zero like numeric(p, s)', async () => {
      const p = await Product.objects.create({ name: 'Exact', price: '0.00' });
      const apply = async (start: string, value: FieldRef) => {
        await Product.objects.filter({ id: p.id }).update({ price: start });
        await Product.objects.filter({ id: p.id }).update({ price: value });
        return (await Product.objects.get({ id: p.id })).price;
      };
      expect(await apply('0.10', F('price').plus('0.20'))).toBe('0.30');
      expect(await apply('0.30', F('price').times('1.5'))).toBe('0.45');
      expect(await apply('0.45', F('price').times(3).plus('0.01').div(2))).toBe('0.68');
      expect(await apply('10.01', F('price').div(2))).toBe('5.01');
      expect(await apply('0.99', F('price').times('1.05'))).toBe('1.04');
      expect(await apply('1.00', F('price').times('1.005'))).toBe('1.01');
      expect(await apply('1.00', F('price').plus('0.005'))).toBe('1.01');
      expect(await apply('5.00', F('price').minus('0.004'))).toBe('5.00');
      expect(await apply('1.00', F('price').div(3).times(3))).toBe('1.00');
      expect(await apply('12345678.90', F('price').plus(0))).toBe('12345678.90');
    });

    it('refuses F() arithmetic that would store different values on the two databases', async () => {
      const p = await Product.objects.create({ name: 'Kinds', price: '1.00', stock: 3, weight: 1.5 });
      const attempts = [
        { stock: F('stock').times(1.5) },
        { stock: F('weight') },
        { stock: F('price') },
        { price: F('stock') },
        { stock: F('stock').div(0) },
        { stock: F('stock').plus('1e3') },
        { stock: F('name') },
      ];
      for (const data of attempts) {
        const error = await Product.objects.filter({ id: p.id }).update(data).catch((e: unknown) => e);
        expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY'), JSON.stringify(Object.keys(data))).toBe(true);
      }
      const row = await Product.objects.get({ id: p.id });
      expect([row.stock, row.price, row.weight]).toEqual([3, '1.00', 1.5]);
      await Product.objects.filter({ id: p.id }).update({ weight: F('stock').times(2), views: F('stock').plus(1n) });
      const after = await Product.objects.get({ id: p.id });
      expect([after.weight, after.views]).toEqual([6, 4n]);
    });

    it('refuses an F() operator other than + - * /, whatever built the expression', async () => {
      const p = await Product.objects.create({ name: 'Forged op', price: '2.00', stock: 3 });
      for (const data of [{ stock: new FieldRef('stock', [{ op: '||' as never, operand: 1 }]) }, { price: new FieldRef('price', [{ op: '%' as never, operand: 1 }]) }]) {
        const error = await Product.objects.filter({ id: p.id }).update(data).catch((e: unknown) => e);
        expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY'), JSON.stringify(data)).toBe(true);
        expect((error as Error).message).toMatch(/operators are \+ - \* \//);
      }
      const row = await Product.objects.get({ id: p.id });
      expect([row.stock, row.price]).toEqual([3, '2.00']);
    });

    it('returns how many rows matched and emits their pks', async () => {
      const rows = await Product.objects.bulkCreate(['Count A', 'Count B', 'Count C'].map((name) => ({ name, price: '2.00' })));
      listen();
      expect(await Product.objects.filter({ name: { startsWith: 'Count ' } }).update({ status: 'archived' })).toBe(3);
      expect(await Product.objects.filter({ name: 'nothing' }).update({ status: 'archived' })).toBe(0);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'updated', model: 'shop.Product' });
      expect([...events[0]!.pks].sort()).toEqual(rows.map((row) => row.id).sort());
    });

    it('rejects a change of the primary key', async () => {
      const p = await Product.objects.create({ name: 'Pinned id', price: '1.00' });
      const error = await Product.objects.filter({ id: p.id }).update({ id: p.id + 1000 } as never).catch((e: unknown) => e);
      expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY')).toBe(true);
      expect(await Product.objects.filter({ id: p.id }).exists()).toBe(true);
    });

    it('ignores keys whose value is undefined', async () => {
      const p = await Product.objects.create({ name: 'Undefined', price: '1.00', stock: 2 });
      expect(await Product.objects.filter({ id: p.id }).update({ stock: undefined } as never)).toBe(0);
      expect(await Product.objects.filter({ id: p.id }).update({ stock: undefined, status: 'live' } as never)).toBe(1);
      expect((await Product.objects.get({ id: p.id })).stock).toBe(2);
    });
  });

  describe('aggregate', () => {
    it('aggregates only the rows of a sliced queryset, as update and delete act on them', async () => {
      await Product.objects.bulkCreate(['Slice 1', 'Slice 2', 'Slice 3'].map((name, i) => ({ name, price: `${i + 1}.00`, stock: i + 1 })));
      const slice = Product.objects.filter({ name: { startsWith: 'Slice ' } }).orderBy('name').limit(2);
      expect(await slice.aggregate({ n: Count(), stock: Sum('stock'), top: Max('price') })).toEqual({ n: 2, stock: 3, top: '2.00' });
      expect(await slice.offset(2).aggregate({ n: Count(), stock: Sum('stock') })).toEqual({ n: 1, stock: 3 });
      expect(await slice.update({ status: 'live' })).toBe(2);
    });
  });

  describe('related', () => {
    it('adds, removes, sets, clears and lists a many-to-many set', async () => {
      const p = await Product.objects.create({ name: 'Tagged', price: '1.00' });
      const other = await Product.objects.create({ name: 'Other tagged', price: '1.00' });
      const [a, b, c] = await Tag.objects.bulkCreate([{ label: 'm2m-a' }, { label: 'm2m-b' }, { label: 'm2m-c' }]);
      const tags = Product.objects.related(p, 'tags');
      const labels = async () => (await tags.all()).map((tag) => tag.label);

      await tags.add(a!, b!.id, a!);
      await tags.add(a!);
      expect(await labels()).toEqual(['m2m-a', 'm2m-b']);
      await Product.objects.related(other, 'tags').add(a!);

      await tags.remove(a!);
      expect(await labels()).toEqual(['m2m-b']);

      await tags.set([c!, a!]);
      expect(await labels()).toEqual(['m2m-a', 'm2m-c']);
      expect((await Tag.objects.related(c!, 'products').all()).map((row) => row.id)).toEqual([p.id]);

      await tags.clear();
      expect(await labels()).toEqual([]);
      expect(await Tag.objects.filter({ label: { startsWith: 'm2m-' } }).count()).toBe(3);
      expect((await Product.objects.related(other.id, 'tags').all()).map((tag) => tag.label)).toEqual(['m2m-a']);
    });

    it('emits created and deleted events of the through model, only for rows that changed', async () => {
      const p = await Product.objects.create({ name: 'Evented set', price: '1.00' });
      const [a, b] = await Tag.objects.bulkCreate([{ label: 'ev-a' }, { label: 'ev-b' }]);
      const tags = Product.objects.related(p, 'tags');
      listen();
      await tags.add(a!, b!);
      await tags.add(a!);
      await tags.remove(a!);
      await tags.clear();
      expect(events.map((e) => [e.type, e.model, e.pks.length])).toEqual([
        ['created', 'shop.Product_tags', 2],
        ['deleted', 'shop.Product_tags', 1],
        ['deleted', 'shop.Product_tags', 1],
      ]);
    });

    it('refuses an unsaved owner and target keys of the wrong type, never coercing them', async () => {
      const p = await Product.objects.create({ name: 'Strict set', price: '1.00' });
      const tag = await Tag.objects.create({ label: 'strict' });
      const attempts = [
        () => Product.objects.related({ id: undefined }, 'tags').add(tag),
        () => Product.objects.related(String(p.id), 'tags').all(),
        () => Product.objects.related(p, 'tags').add(String(tag.id)),
        () => Product.objects.related(p, 'tags').add({ id: undefined }),
        () => Product.objects.related(p, 'tags').remove(1.5),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY'), attempt.toString()).toBe(true);
      }
      expect(await Product.objects.related(p, 'tags').all()).toEqual([]);
    });

    it('refuses rows of another model as targets or as the owner', async () => {
      const p = await Product.objects.create({ name: 'Branded set', price: '1.00' });
      const tag = await Tag.objects.create({ label: 'branded' });
      await Product.objects.related(p, 'tags').add(tag);
      // A category whose id is also a tag's id: only the brand tells them apart.
      const category = await Category.objects.create({ name: 'Not a tag' });
      const attempts = [
        () => Product.objects.related(p, 'tags').add(category),
        () => Product.objects.related(p, 'tags').remove(category),
        () => Product.objects.related(p, 'tags').set([category]),
        () => Product.objects.related(category, 'tags').all(),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(isStrataError(error, 'STRATA_MODEL_INVALID_QUERY'), attempt.toString()).toBe(true);
        expect((error as Error).message).toContain('shop.Category');
      }
      expect((await Product.objects.related(p, 'tags').all()).map((row) => row.label)).toEqual(['branded']);
    });

    it('finds the set of an owner whose UUID is given in upper case', async () => {
      const playlist = await Playlist.objects.create({ title: 'Upper' });
      const tag = await Tag.objects.create({ label: 'upper-owner' });
      const upper = playlist.id.toUpperCase();
      await Playlist.objects.related(upper, 'tags').add(tag);
      expect((await Playlist.objects.related(upper, 'tags').all()).map((row) => row.id)).toEqual([tag.id]);
      expect((await Tag.objects.related(tag, 'playlists').all()).map((row) => row.id)).toEqual([playlist.id]);
      await Playlist.objects.related(upper, 'tags').remove(tag);
      expect(await Playlist.objects.related(playlist, 'tags').all()).toEqual([]);
    });

    it('rejects an unknown relation name', async () => {
      const p = await Product.objects.create({ name: 'No such set', price: '1.00' });
      await expect(Product.objects.related(p, 'colours').all()).rejects.toMatchObject({ code: 'STRATA_MODEL_UNKNOWN_FIELD' });
    });
  });
});
