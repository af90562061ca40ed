import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyServerStateDef, applyPatch, defineState, type JsonValue, type ServerFrame } from '../server.js';
import { call, connect, join, joinRaw, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type Result = Extract<ServerFrame, { t: 'result' }>;

let server: TestServer | undefined;

async function serve(states: readonly AnyServerStateDef[]): Promise<TestServer> {
  server = await startServer(states);
  return server;
}

describe('computed vars', () => {
  const runs = { double: 0, quad: 0, positive: 0, label: 0 };
  const Calc = defineState('calc', {
    vars: () => ({ count: 0, other: 0 }),
    computed: {
      double: (s) => {
        runs.double++;
        return s.count * 2;
      },
      // A computed reading another computed (the self type of computed vars does not list the others).
      quad: (s) => {
        runs.quad++;
        return (s as unknown as { double: number }).double * 2;
      },
      positive: (s) => {
        runs.positive++;
        return s.count > 0;
      },
      label: (s) => {
        runs.label++;
        return (s as unknown as { positive: boolean }).positive ? 'yes' : 'no';
      },
    },
    handlers: (h) => ({
      bumpOther: h.event((s) => {
        s.other += 1;
      }),
      readCount: h.event((s) => s.count),
      setCount: h.event({ args: v.number(), run: (s, n) => { s.count = n; } }),
    }),
  });

  it('recompute only when a var they read changed, through chains of computed vars', async () => {
    const s = await serve([Calc]);
    const { client, welcome } = await join(s, ['calc']);
    expect(welcome.states).toEqual({ calc: { count: 0, other: 0, double: 0, quad: 0, positive: false, label: 'no' } });
    const start = { ...runs };
    const since = () => ({ double: runs.double - start.double, quad: runs.quad - start.quad, positive: runs.positive - start.positive, label: runs.label - start.label });

    // An unrelated var changes: nothing recomputes.
    expect(await call(client, 1, 'calc', 'bumpOther')).toEqual({ t: 'result', seq: 1, patch: { calc: [{ op: 'set', path: ['other'], value: 1 }] } });
    expect(since()).toEqual({ double: 0, quad: 0, positive: 0, label: 0 });

    // The input is read but not changed: nothing recomputes.
    expect(await call(client, 2, 'calc', 'readCount')).toEqual({ t: 'result', seq: 2, value: 0 });
    expect(since()).toEqual({ double: 0, quad: 0, positive: 0, label: 0 });

    // The input is assigned its own value: not a change.
    expect(await call(client, 3, 'calc', 'setCount', 0)).toEqual({ t: 'result', seq: 3 });
    expect(since()).toEqual({ double: 0, quad: 0, positive: 0, label: 0 });

    // The input changes: each computed reading it recomputes once, and so do those reading them.
    expect(await call(client, 4, 'calc', 'setCount', 1)).toEqual({
      t: 'result', seq: 4,
      patch: { calc: [
        { op: 'set', path: ['count'], value: 1 },
        { op: 'set', path: ['double'], value: 2 },
        { op: 'set', path: ['quad'], value: 4 },
        { op: 'set', path: ['positive'], value: true },
        { op: 'set', path: ['label'], value: 'yes' },
      ] },
    });
    expect(since()).toEqual({ double: 1, quad: 1, positive: 1, label: 1 });

    // `positive` recomputes but keeps its value, so `label` (which reads only it) does not recompute.
    expect(await call(client, 5, 'calc', 'setCount', 2)).toEqual({
      t: 'result', seq: 5,
      patch: { calc: [
        { op: 'set', path: ['count'], value: 2 },
        { op: 'set', path: ['double'], value: 4 },
        { op: 'set', path: ['quad'], value: 8 },
      ] },
    });
    expect(since()).toEqual({ double: 2, quad: 2, positive: 2, label: 1 });

    // And again nothing for an unrelated change after all that.
    await call(client, 6, 'calc', 'bumpOther');
    expect(since()).toEqual({ double: 2, quad: 2, positive: 2, label: 1 });
    client.socket.close();
  });
});

describe('computed vars after a failure', () => {
  const Flaky = defineState('flaky', {
    vars: () => ({ flag: false, a: 1, b: 2, n: 6, d: 1, count: 1 }),
    computed: {
      pick: (s) => (s.flag ? s.a : s.b),
      ratio: (s) => {
        if (s.d === 0) throw new Error('division by zero');
        return s.n / s.d;
      },
      double: (s) => s.count * 2,
      quad: (s) => (s as unknown as { double: number }).double * 2,
    },
    handlers: (h) => ({
      flagThenFail: h.event((s) => {
        s.flag = true;
        void (s as unknown as { pick: number }).pick; // re-reads pick with the new (soon reverted) inputs
        throw new Error('boom');
      }),
      set: h.event({
        args: v.object({ key: v.picklist(['b', 'd', 'n', 'count']), value: v.number() }),
        run: (s, { key, value }) => {
          s[key] = value;
        },
      }),
      setCountReadQuad: h.event({
        args: v.number(),
        run: (s, count) => {
          s.count = count;
          return (s as unknown as { quad: number }).quad;
        },
      }),
    }),
  });

  it('regression: a computed var re-read by a failed event still recomputes when its real inputs change', async () => {
    const s = await serve([Flaky]);
    const { client } = await join(s, ['flaky']);
    expect((await call(client, 1, 'flaky', 'flagThenFail')).error?.code).toBe('STRATA_STATE_HANDLER_FAILED');
    // flag is false again, so pick reads b.
    expect(await call(client, 2, 'flaky', 'set', { key: 'b', value: 50 })).toEqual({
      t: 'result', seq: 2, patch: { flaky: [{ op: 'set', path: ['b'], value: 50 }, { op: 'set', path: ['pick'], value: 50 }] },
    });
    client.socket.close();
  });

  it('regression: a computed var that threw once still recomputes when its inputs change', async () => {
    const s = await serve([Flaky]);
    const { client } = await join(s, ['flaky']);
    expect((await call(client, 1, 'flaky', 'set', { key: 'd', value: 0 })).error?.code).toBe('STRATA_STATE_HANDLER_FAILED');
    expect(await call(client, 2, 'flaky', 'set', { key: 'n', value: 12 })).toEqual({
      t: 'result', seq: 2, patch: { flaky: [{ op: 'set', path: ['n'], value: 12 }, { op: 'set', path: ['ratio'], value: 12 }] },
    });
    client.socket.close();
  });

  it('regression: a handler reading a computed var built on a computed var whose input it changed gets the fresh value', async () => {
    const s = await serve([Flaky]);
    const { client } = await join(s, ['flaky']);
    expect(await call(client, 1, 'flaky', 'setCountReadQuad', 5)).toMatchObject({ value: 20 });
    client.socket.close();
  });

  const Notes = defineState('notes', {
    vars: () => ({ note: '', items: [] as unknown[] }),
    handlers: (h) => ({
      noteThenDate: h.event((s) => {
        s.note = 'x';
        s.items.push(new Date(0));
      }),
      setNote: h.event({ args: v.string(), run: (s, note) => { s.note = note; } }),
    }),
  });
  const NotesPage = defineState('notesPage', {
    vars: () => ({}),
    uses: { notes: Notes },
    computed: { noteLength: (s) => s.notes.note.length },
  });

  it('regression: a computed var of another state still recomputes after a failed commit marked it', async () => {
    const s = await serve([NotesPage]);
    const { client } = await join(s, ['notesPage', 'notes']);
    expect((await call(client, 1, 'notes', 'noteThenDate')).error?.code).toBe('STRATA_STATE_NOT_JSON');
    expect(await call(client, 2, 'notes', 'setNote', 'abc')).toEqual({
      t: 'result', seq: 2,
      patch: { notes: [{ op: 'set', path: ['note'], value: 'abc' }], notesPage: [{ op: 'set', path: ['noteLength'], value: 3 }] },
    });
    client.socket.close();
  });
});

describe('the client copy', () => {
  const Shared = defineState('shared', {
    vars: () => ({ a: [1], b: [2], items: [{ id: 1, name: 'pen' }] }),
    computed: { first: (s) => s.items[0] ?? null },
    handlers: (h) => ({
      alias: h.event((s) => {
        s.a = s.b;
      }),
      pushA: h.event((s) => {
        s.a.push(9);
      }),
      renameViaComputed: h.event((s) => {
        (s.first as { name: string }).name = 'renamed';
      }),
      read: h.event((s) => ({ a: [...s.a], b: [...s.b], items: s.items.map((item) => ({ ...item })), first: s.first })),
    }),
  });

  it('regression: equals the server state after every event (vars sharing one array, writes through a computed value)', async () => {
    const s = await serve([Shared]);
    const { client, welcome } = await join(s, ['shared']);
    let mirror: JsonValue = structuredClone(welcome.states.shared!);
    let seq = 0;
    for (const handler of ['alias', 'pushA', 'renameViaComputed']) {
      const result = await call(client, ++seq, 'shared', handler);
      if (result.patch?.shared) mirror = applyPatch(mirror, result.patch.shared);
      const truth = await call(client, ++seq, 'shared', 'read');
      // Compared before the read's own patch: anything in it is a change the earlier event did not send.
      expect(mirror, `after ${handler}`).toEqual(truth.value);
      if (truth.patch?.shared) mirror = applyPatch(mirror, truth.patch.shared);
    }
    client.socket.close();
  });
});

