import { readFileSync, writeFileSync } from 'node:fs';
import { defineModel, f } from '@strata/model';
import { createModelSerializer } from '@strata/serializer';
import fc from 'fast-check';
import fastify, { type FastifyInstance } from 'fastify';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_LIMITS, defineModelState, defineState, EventError, type Middleware, strataState } from '../server.js';
import { documentedCodes, errorLog, FUZZ_TARGET, type FuzzReport, type FuzzServer, handlerArgs, prototypeChanges, runFuzz, snapshotPrototypes, targetHandlers, watchProcess } from './fuzzFrames.js';
import { databases } from './modelStateDb.js';
import { SECRET } from './serverHelpers.js';

/** The states of FUZZ_TARGET (bench/src/fuzz.ts declares the same against the built package). */
const Item = defineModel('fz.Item', { fields: { name: f.text({ maxLength: 50 }), qty: f.integer({ default: 0, min: 0 }), version: f.integer({ default: 1 }) } });
const staffOnly = (ctx: { locals: Record<string, unknown> }) => {
  if (ctx.locals.userId !== 1) throw new EventError('FUZZ_DENIED', 'Staff only.');
};
const Counter = defineState('fz_counter', {
  vars: () => ({ count: 0, label: '', tags: [] as string[], data: {} as Record<string, unknown> }),
  backend: () => ({ secret: 'backend only' }),
  computed: { double: (s) => s.count * 2 },
  handlers: (h) => ({
    add: h.event({ args: v.object({ by: v.number() }), public: true, run: (s, { by }) => (s.count += by) }),
    read: h.event((s) => s.count),
    rename: h.event({
      args: v.strictObject({ label: v.pipe(v.string(), v.maxLength(40)), tags: v.pipe(v.array(v.string()), v.maxLength(5)) }),
      public: true,
      run: (s, { label, tags }) => {
        if (new Set(tags).size !== tags.length) throw new EventError('FUZZ_ODD', 'Tags must differ.');
        s.label = label;
        s.tags = tags;
      },
    }),
    store: h.event({ args: v.record(v.string(), v.unknown()), public: true, run: (s, args) => void (s.data = args) }),
  }),
});
const Admin = defineState('fz_admin', {
  vars: () => ({ wiped: 0 }),
  handlers: (h) => ({
    wipe: h.event({ args: v.object({ key: v.string() }), guard: staffOnly, run: (s) => void s.wiped++ }),
    peek: h.event((s) => s.wiped),
  }),
});
const Job = defineState('fz_job', {
  vars: () => ({ progress: 0 }),
  handlers: (h) => ({
    work: h.task({
      args: v.object({ steps: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3)) }),
      run: async (task, { steps }) => {
        for (let i = 1; i <= steps && !task.signal.aborted; i++) await task.update((s) => void (s.progress = i));
        return steps;
      },
    }),
  }),
});
const Items = defineModelState('fz_items', {
  model: Item,
  serializer: createModelSerializer(Item, { fields: ['id', 'name', 'qty', 'version'], readOnly: ['version'] }),
  pageSize: 5,
  maxPageSize: 20,
  ordering: ['name', 'qty'],
  search: ['name'],
  filters: { qty: v.number() },
  versionField: 'version',
  getQueryset: () => Item.objects,
  guards: { delete: staffOnly },
  actions: (a) => ({
    restock: a.action({
      args: v.strictObject({ id: v.number(), by: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)) }),
      run: async (_s, { id, by }, _ctx, rows) => {
        const row = (await rows.get(id)) as { qty: number };
        await Item.objects.filter({ id }).update({ qty: row.qty + by });
        await rows.reload();
      },
    }),
  }),
});
const user: Middleware = async (ctx, next) => {
  ctx.locals.userId = Number(ctx.cookies.uid);
  await next();
};

const documented = documentedCodes(readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8'));
// FUZZ_FRAMES and FUZZ_SEED change the run (a failure prints its seed); FUZZ_OUT=<file> writes every failure there.
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const db = databases.find((target) => target.name === 'sqlite')!;
const limits = { eventsPerSecond: 1e9, burst: 1e9, maxStrikes: 1e9 };

let app: FastifyInstance;
let server: FuzzServer;
const log = errorLog();

const known = { notJsonLogged: 0 };

/** What a server error log line is: a known kind, or an unexpected error (a failure). */
function classifyLog(line: string): keyof typeof known | 'unexpected' {
  const { err } = JSON.parse(line) as { err?: { code?: string; message?: string } };
  // A handler that put non-JSON data in a var is the app's bug: answered NOT_JSON and logged, as documented.
  if (err?.code === 'STRATA_STATE_NOT_JSON') return 'notJsonLogged';
  return 'unexpected';
}

/** A well-behaved client on its own tab. */
async function probe(): Promise<{
  call(state: string, handler: string, args?: unknown): Promise<Record<string, unknown>>;
  /** Sends `text` as is and resolves with the frame answering `seq`. */
  raw(text: string, seq: number): Promise<Record<string, unknown>>;
  close(): void;
}> {
  const socket = new WebSocket(server.wsUrl, { headers: { origin: server.origin, cookie: 'uid=1' } });
  const inbox: Record<string, unknown>[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(data.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const next = (match: (frame: Record<string, unknown>) => boolean) =>
    expect.poll(() => inbox.find(match), { timeout: 2000, interval: 5 }).toBeDefined().then(() => inbox.find(match)!);
  socket.send(JSON.stringify({ t: 'join', v: 1, token: await server.token(), states: ['fz_counter', 'fz_items'] }));
  await next((frame) => frame.t === 'welcome');
  let seq = 0;
  return {
    async call(state, handler, args) {
      const mine = ++seq;
      socket.send(JSON.stringify({ t: 'event', seq: mine, state, handler, args }));
      return next((frame) => frame.t === 'result' && frame.seq === mine);
    },
    raw(text, answering) {
      socket.send(text);
      return next((frame) => frame.seq === answering);
    },
    close: () => socket.terminate(),
  };
}

/** The oracles of the server's side, after a batch: no crash, no unexpected error logged, a good client served. */
async function serverChecks(crashes: string[]): Promise<string[]> {
  const problems = crashes.splice(0).map((c) => `crash: ${c}`);
  for (const line of log.lines.splice(0)) {
    const logged = classifyLog(line);
    if (logged === 'unexpected') problems.push(`unexpected error logged: ${line.slice(0, 400)}`);
    else known[logged]++;
  }
  const client = await probe();
  try {
    const added = await client.call('fz_counter', 'add', { by: 2 });
    const expected = { t: 'result', seq: 1, value: 2, patch: { fz_counter: [{ op: 'set', path: ['count'], value: 2 }, { op: 'set', path: ['double'], value: 4 }] } };
    if (JSON.stringify(added) !== JSON.stringify(expected)) problems.push(`the well-behaved client got ${JSON.stringify(added)}`);
    const loaded = await client.call('fz_items', 'load', { pageSize: 3 });
    if (loaded.error) problems.push(`the well-behaved client's load failed: ${JSON.stringify(loaded)}`);
  } catch (error) {
    problems.push(`the well-behaved client got no answer: ${(error as Error).message}`);
  } finally {
    client.close();
  }
  return problems;
}

function table(report: FuzzReport): string {
  const rows = [...report.stats].map(([name, s]) => `${name}: ${s.frames} frames, ${s.typedErrors} typed errors, ${s.closes} closes, ${s.answeredOk} ok, ${s.silent} silent, ${s.hangs} hangs ${JSON.stringify(s.codes)}`);
  return [...rows, `known issues: ${JSON.stringify(known)}`, `heap after GC (MB): ${report.heapMb.map((mb) => mb.toFixed(1)).join(' ')}`, `${report.seconds.toFixed(1)} s`].join('\n');
}

describe('protocol fuzzer', () => {
  beforeAll(async () => {
    await db.open([Item]);
    await Item.objects.bulkCreate(Array.from({ length: 12 }, (_, i) => ({ name: `item ${i}`, qty: i })));
    app = fastify({ logger: { level: 'error', stream: log.stream } });
    await app.register(strataState, { states: [Counter, Admin, Job, Items], secret: SECRET, middleware: [user], limits });
    app.get('/page', async (request) => ({ token: app.strata.issueToken(request) }));
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    server = {
      wsUrl: `${address.replace('http', 'ws')}/strata/ws`,
      origin: address,
      headers: { cookie: 'uid=2' },
      token: async () => ((await app.inject({ url: '/page' })).json() as { token: string }).token,
    };
  });
  afterAll(async () => {
    await app?.close();
    await db.close();
  });

  it('reads its documented codes from docs/protocol.md', () => {
    for (const code of ['STRATA_STATE_BAD_FRAME', 'STRATA_STATE_UNKNOWN_HANDLER', 'STRATA_STATE_NOT_JSON', 'STRATA_MODEL_NOT_FOUND', 'STRATA_MODEL_VALIDATION']) expect(documented.errors).toContain(code);
    expect([...documented.closes].sort()).toEqual([1007, 1008, 1009, 1013, 4401, 4403, 4409, 4410]);
  });

  it('runs every handler of the target with arguments of the generators’ valid shape', async () => {
    const client = await probe();
    try {
      for (const state of FUZZ_TARGET.states) {
        for (const handler of targetHandlers(state)) {
          const shape = handlerArgs(state, handler);
          const [args] = shape ? fc.sample(shape, { seed: 7, numRuns: 1 }) : [undefined];
          const result = await client.call(state, handler, args);
          const code = (result.error as { code?: string } | undefined)?.code;
          // The shape reaches the handler: never refused as an unknown name.
          expect.soft(['STRATA_STATE_UNKNOWN_STATE', 'STRATA_STATE_UNKNOWN_HANDLER'], `${state}.${handler}`).not.toContain(code);
        }
      }
    } finally {
      client.close();
    }
  });

  it('notices an own property added to Object.prototype (the pollution oracle can fail)', () => {
    const before = snapshotPrototypes();
    Object.defineProperty(Object.prototype, 'fuzzPolluted', { value: true, configurable: true });
    try {
      expect(prototypeChanges(before)).toEqual(['changed Object.prototype.fuzzPolluted']);
    } finally {
      delete (Object.prototype as Record<string, unknown>).fuzzPolluted;
    }
    expect(prototypeChanges(before)).toEqual([]);
  });

  // Found by the fuzzer: a handler storing its args (fz_counter.store) got 20,000-level-deep
  // data, and copying the state (cloneJson) overflowed the stack: HANDLER_FAILED and an error log.
  it('refuses args too deep to copy before the handler stores them, logging nothing', async () => {
    log.lines.length = 0;
    const client = await probe();
    try {
      const deep = `{"t":"event","seq":1,"state":"fz_counter","handler":"store","args":{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
      expect(await client.raw(deep, 1)).toMatchObject({ t: 'error', seq: 1, error: { code: 'STRATA_STATE_BAD_FRAME' } });
      expect(await client.call('fz_counter', 'read')).toMatchObject({ seq: 1, value: 0 });
      expect(log.lines).toEqual([]);
    } finally {
      client.close();
    }
  });

  it(`answers ${FRAMES} generated frames with documented codes, without a crash, hang or prototype pollution, and keeps serving`, async () => {
    const watch = watchProcess();
    let report: FuzzReport;
    try {
      report = await runFuzz({
        server,
        frames: FRAMES,
        seed: SEED,
        lanes: 4,
        batchFrames: 1000,
        limits: DEFAULT_LIMITS,
        documented,
        afterBatch: () => serverChecks(watch.errors),
      });
    } finally {
      watch.stop();
    }
    console.info(`[fuzz] seed ${SEED} (FUZZ_SEED=${SEED} reproduces)\n${table(report)}`);
    if (process.env.FUZZ_OUT) writeFileSync(process.env.FUZZ_OUT, report.failures.join('\n'));
    expect(report.failures, `seed ${SEED}: FUZZ_SEED=${SEED} reproduces`).toEqual([]);
    expect(report.pollution).toEqual([]);
    const total = [...report.stats.values()].reduce((sum, s) => sum + s.frames, 0);
    expect(total).toBeGreaterThanOrEqual(FRAMES * 0.99);
    // Every kind of outcome happened: the fuzzer reached the handlers, the refusals and the closes.
    const sum = (key: 'typedErrors' | 'answeredOk' | 'closes') => [...report.stats.values()].reduce((n, s) => n + s[key], 0);
    expect(sum('typedErrors')).toBeGreaterThan(FRAMES / 4);
    expect(sum('answeredOk')).toBeGreaterThan(FRAMES / 50);
    expect(sum('closes')).toBeGreaterThan(0);
    // Memory: the heap after GC does not keep growing over the batches.
    expect(report.heapMb.at(-1)! - report.heapMb[1]!).toBeLessThan(64);
  }, 90_000);
});
