import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInQueryScope } from '..';
import { databases } from './helpers.js';
import { Tag, Ticket, models } from './fixtures.js';

describe.each(databases)('QuerySet iteration ($name)', (db) => {
  beforeAll(async () => {
    await db.open([...models, Ticket]);
    await Tag.objects.create({ label: 'other' });
    await Tag.objects.bulkCreate(Array.from({ length: 1050 }, (_, i) => ({ label: `bulk-${String(i).padStart(4, '0')}` })));
  });
  afterAll(() => db.close());

  it('does for await in chunks: 1,050 rows in 3 queries, each row once', async () => {
    const bulk = Tag.objects.filter({ label: { startsWith: 'bulk-' } });
    const seen: number[] = [];
    const { count } = await runInQueryScope(async () => {
      for await (const tag of bulk.iterate({ chunkSize: 500 })) seen.push(tag.id);
    });
    expect(count).toBe(3);
    expect(seen).toHaveLength(1050);
    expect(new Set(seen).size).toBe(1050);
    const viaDefault: number[] = [];
    for await (const tag of bulk) viaDefault.push(tag.id);
    expect(viaDefault).toEqual(seen);
  });

  it('does iterate an ordered queryset in its order', async () => {
    const labels: string[] = [];
    const { count } = await runInQueryScope(async () => {
      for await (const tag of Tag.objects.filter({ label: { startsWith: 'bulk-' } }).orderBy('-label').iterate({ chunkSize: 400 })) labels.push(tag.label);
    });
    expect(count).toBe(3);
    expect(labels).toHaveLength(1050);
    expect(labels[0]).toBe('bulk-1049');
    expect(labels.at(-1)).toBe('bulk-0000');
  });

  it('does honour limit and offset while iterating', async () => {
    const bulk = Tag.objects.filter({ label: { startsWith: 'bulk-' } });
    const collect = async (qs: typeof bulk) => {
      const out: string[] = [];
      for await (const tag of qs.iterate({ chunkSize: 300 })) out.push(tag.label);
      return out;
    };
    const window = await collect(bulk.offset(100).limit(700));
    expect(window).toHaveLength(700);
    expect([window[0], window.at(-1)]).toEqual(['bulk-0100', 'bulk-0799']);
    const ordered = await collect(bulk.orderBy('-label').offset(1000).limit(100));
    expect(ordered).toEqual(Array.from({ length: 50 }, (_, i) => `bulk-${String(49 - i).padStart(4, '0')}`));
    await expect(bulk.iterate({ chunkSize: 0 }).next()).rejects.toMatchObject({ code: 'STRATA_MODEL_INVALID_QUERY' });
  });

  it('does page by primary key without an ordering, so rows deleted behind the cursor skip nothing', async () => {
    const rows = await Tag.objects.bulkCreate(Array.from({ length: 300 }, (_, i) => ({ label: `mut-${String(i).padStart(3, '0')}` })));
    const seen: string[] = [];
    for await (const tag of Tag.objects.filter({ label: { startsWith: 'mut-' } }).iterate({ chunkSize: 100 })) {
      seen.push(tag.label);
      if (seen.length === 50) await Tag.objects.filter({ id: { in: rows.slice(0, 20).map((row) => row.id) } }).delete();
    }
    expect(seen).toEqual(rows.map((row) => row.label));
  });

  it('does not skip or repeat rows when the ordering ties (a default ordering on a column of three values)', async () => {
    const tickets = await Ticket.objects.bulkCreate(Array.from({ length: 1500 }, (_, i) => ({ priority: (i * 7) % 3 })));
    const ids = async (qs: typeof Ticket.objects) => {
      const out: number[] = [];
      for await (const ticket of qs.iterate({ chunkSize: 100 })) out.push(ticket.id);
      return out;
    };
    const byPriority = (sign: 1 | -1) => [...tickets].sort((a, b) => sign * (a.priority - b.priority) || a.id - b.id).map((t) => t.id);
    const viaDefault = await ids(Ticket.objects);
    expect(new Set(viaDefault).size).toBe(1500);
    expect(viaDefault).toEqual(byPriority(1));
    expect(await ids(Ticket.objects.orderBy('-priority'))).toEqual(byPriority(-1));
    expect(await ids(Ticket.objects.orderBy('-priority', '-id'))).toEqual(byPriority(1).reverse());
    expect(await ids(Ticket.objects.orderBy())).toEqual(tickets.map((t) => t.id));
  });
});
