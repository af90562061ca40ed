/**
 * How a tab holds its values between events: once (the var and what the client holds share
 * one deep-frozen copy), with a private copy for the handler that reads or writes it. What
 * users see: changes made where they cannot be sent fail loudly, and what the client holds
 * never drifts from the server's record of it.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyServerStateDef, applyPatch, defineState, type JsonValue, type ServerFrame } from '../server.js';
import { call, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type Item = { id: number; name: string; tags: string[] };
type Result = Extract<ServerFrame, { t: 'result' }>;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A reference a handler kept past its event (what a careless app might do). */
let kept: Item[] | undefined;

const List = defineState('list', {
  vars: () => ({ items: [] as Item[], note: '' }),
  computed: {
    // A mistake a user can make: sort() sorts its input in place.
    sortedInPlace: (s) => (s.note === 'sort' ? s.items.sort((a, b) => a.name.localeCompare(b.name)).map((item) => item.id) : []),
  },
  handlers: (h) => ({
    add: h.event({ args: v.object({ id: v.number(), name: v.string() }), run: (s, { id, name }) => { s.items.push({ id, name, tags: [] }); } }),
    tag: h.event({ args: v.object({ id: v.number(), tag: v.string() }), run: (s, { id, tag }) => { s.items.find((item) => item.id === id)?.tags.push(tag); } }),
    rename: h.event({ args: v.object({ id: v.number(), name: v.string() }), run: (s, { id, name }) => { const item = s.items.find((i) => i.id === id); if (item) item.name = name; } }),
    replace: h.event({ args: v.array(v.object({ id: v.number(), name: v.string(), tags: v.array(v.string()) })), run: (s, items) => { s.items = items; } }),
    keep: h.event((s) => {
      kept = s.items;
    }),
    keepAndAdd: h.event({ args: v.number(), run: (s, id) => { kept = s.items; kept.push({ id, name: `n${id}`, tags: [] }); } }),
    count: h.event((s) => s.items.length),
    dump: h.event((s) => ({ items: s.items, note: s.note })),
    setNote: h.event({ args: v.string(), run: (s, note) => { s.note = note; } }),
    failAfterChange: h.event((s) => {
      s.items.push({ id: 999, name: 'never', tags: [] });
      throw new Error('boom');
    }),
  }),
});

async function joined(states: readonly AnyServerStateDef[] = [List]): Promise<{ client: RawClient; mirror: Record<string, JsonValue> }> {
  // No rate limit: the random test sends hundreds of events back to back.
  server = await startServer(states, { limits: { eventsPerSecond: 1e9, burst: 1e9 } });
  const { client, welcome } = await join(server, ['list']);
  return { client, mirror: welcome.states as Record<string, JsonValue> };
}

/** Sends an event and applies its patch to the client's mirror, as the browser client does. */
async function send(client: RawClient, mirror: Record<string, JsonValue>, seq: number, handler: string, args?: unknown): Promise<Result> {
  const result = await call(client, seq, 'list', handler, args);
  if (result.patch?.list) applyPatch(mirror.list!, result.patch.list);
  return result;
}

describe('values a tab holds between events', () => {
  it('a reference kept past the event that changed it cannot change the state: it throws at the faulty line', async () => {
    const { client, mirror } = await joined();
    await send(client, mirror, 1, 'add', { id: 1, name: 'a' });
    expect((await send(client, mirror, 2, 'keepAndAdd', 2)).error).toBeUndefined();
    // The event changed the list, so the copy the handler kept is now what the client holds: frozen.
    expect(() => kept!.push({ id: 3, name: 'sneaky', tags: [] })).toThrow(TypeError);
    expect(() => {
      kept![0]!.name = 'sneaky';
    }).toThrow(TypeError);
    expect((await send(client, mirror, 3, 'count')).value).toBe(2);
    expect(mirror.list).toEqual({ items: [{ id: 1, name: 'a', tags: [] }, { id: 2, name: 'n2', tags: [] }], note: '', sortedInPlace: [] });
    client.socket.close();
  });

  it('a reference kept by an event that changed nothing is a copy of its own: changing it changes nothing', async () => {
    const { client, mirror } = await joined();
    await send(client, mirror, 1, 'add', { id: 1, name: 'a' });
    await send(client, mirror, 2, 'keep');
    kept!.push({ id: 7, name: 'ghost', tags: [] });
    expect((await send(client, mirror, 3, 'count')).value).toBe(1);
    // The next change is diffed against what the client really holds.
    expect((await send(client, mirror, 4, 'add', { id: 2, name: 'b' })).patch).toEqual({ list: [{ op: 'ins', path: ['items'], after: 1, value: { id: 2, name: 'b', tags: [] } }] });
    expect(mirror.list).toEqual({ items: [{ id: 1, name: 'a', tags: [] }, { id: 2, name: 'b', tags: [] }], note: '', sortedInPlace: [] });
    client.socket.close();
  });

  it('a computed var that changes its input in place fails the event, and the state stays what the client holds', async () => {
    const { client, mirror } = await joined();
    await send(client, mirror, 1, 'add', { id: 1, name: 'b' });
    await send(client, mirror, 2, 'add', { id: 2, name: 'a' });
    const failed = await send(client, mirror, 3, 'setNote', 'sort');
    expect(failed.error?.code).toBe('STRATA_STATE_HANDLER_FAILED');
    // Reverted: the note and the order of the items are as before.
    expect((await send(client, mirror, 4, 'rename', { id: 2, name: 'c' })).patch).toEqual({ list: [{ op: 'set', path: ['items', [2], 'name'], value: 'c' }] });
    expect(mirror.list).toEqual({ items: [{ id: 1, name: 'b', tags: [] }, { id: 2, name: 'c', tags: [] }], note: '', sortedInPlace: [] });
    client.socket.close();
  });

  it('after a failed event the next one is diffed against what the client holds', async () => {
    const { client, mirror } = await joined();
    await send(client, mirror, 1, 'add', { id: 1, name: 'a' });
    expect((await send(client, mirror, 2, 'failAfterChange')).error?.code).toBe('STRATA_STATE_HANDLER_FAILED');
    expect((await send(client, mirror, 3, 'tag', { id: 1, tag: 'x' })).patch).toEqual({ list: [{ op: 'set', path: ['items', [1], 'tags'], value: ['x'] }] });
    expect(mirror.list).toEqual({ items: [{ id: 1, name: 'a', tags: ['x'] }], note: '', sortedInPlace: [] });
    client.socket.close();
  });

  it('an assigned value is copied: the caller changing its object afterwards changes nothing', async () => {
    const mine: Item[] = [{ id: 1, name: 'a', tags: [] }];
    const Assign = defineState('list', {
      vars: () => ({ items: [] as Item[], note: '' }),
      handlers: (h) => ({
        assign: h.event((s) => {
          s.items = mine;
          mine.push({ id: 2, name: 'late', tags: [] });
        }),
        count: h.event((s) => s.items.length),
      }),
    });
    const { client, mirror } = await joined([Assign]);
    await send(client, mirror, 1, 'assign');
    expect(Object.isFrozen(mine)).toBe(false);
    mine.push({ id: 3, name: 'later', tags: [] });
    expect((await send(client, mirror, 2, 'count')).value).toBe(1);
    expect(mirror.list).toEqual({ items: [{ id: 1, name: 'a', tags: [] }], note: '' });
    client.socket.close();
  });

  it('stays equal to the client across many random edits (reads, nested writes, replacements, failures)', async () => {
    const { client, mirror } = await joined();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let seq = 1; seq <= 300; seq++) {
      const id = 1 + random(8);
      const pick = random(6);
      if (pick === 0) await send(client, mirror, seq, 'add', { id: 100 + seq, name: `n${random(50)}` });
      else if (pick === 1) await send(client, mirror, seq, 'tag', { id: 100 + random(seq), tag: `t${random(5)}` });
      else if (pick === 2) await send(client, mirror, seq, 'rename', { id: 100 + random(seq), name: `r${random(50)}` });
      else if (pick === 3) await send(client, mirror, seq, 'count');
      else if (pick === 4) await send(client, mirror, seq, 'failAfterChange');
      else await send(client, mirror, seq, 'replace', Array.from({ length: id }, (_, i) => ({ id: 100 + random(seq + 1) + i * 1000, name: `x${i}`, tags: [] })));
    }
    const { items, note } = mirror.list as { items: Item[]; note: string };
    expect((await send(client, mirror, 301, 'dump')).value).toEqual({ items, note });
    expect(items.length).toBeGreaterThan(0);
    client.socket.close();
  });
});
