/**
 * The protocol fuzzer shared by fuzz.test.ts (a few thousand frames in CI) and bench/src/fuzz.ts
 * (100,000 frames): frame generators (fast-check), the oracles, and a driver that sends the
 * frames over real sockets to a running server. It imports nothing of the state runtime, so
 * the bench bundles it against the built package; both callers declare the states of
 * {@link FUZZ_TARGET} the same way.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { WebSocket } from 'ws';

/** A JSON object written entry by entry, so `__proto__` and duplicate keys survive as text. */
class Obj {
  constructor(readonly entries: [string | Raw, Node][]) {}
}
/** JSON text taken as is: odd numbers, escaped keys, placeholders the driver fills. */
class Raw {
  constructor(readonly text: string) {}
}
type Node = null | boolean | number | string | Node[] | Obj | Raw;

/** Placeholders the driver replaces when it sends a frame (a raw NUL never occurs in JSON text). */
const SEQ = '\u0000SEQ\u0000';
const OLD_SEQ = '\u0000OLD\u0000';
const TOKEN = '\u0000TOKEN\u0000';

/** One generated frame: JSON-ish text, or bytes sent as a binary (or invalid UTF-8 text) frame. */
export interface FuzzFrame {
  generator: string;
  text?: string;
  bytes?: Uint8Array;
  binary?: boolean;
}

/** The states, handlers and argument shapes the callers declare (see fuzz.test.ts). */
export const FUZZ_TARGET = {
  states: ['fz_counter', 'fz_admin', 'fz_job', 'fz_items'],
  /** Codes the fixtures' guards raise on purpose (`EventError`): answers, not protocol codes. */
  appCodes: ['FUZZ_DENIED', 'FUZZ_ODD'],
  /** Names that are not handlers: vars, computed, backend vars, inherited and magic names. */
  notHandlers: ['count', 'double', 'label', 'data', 'secret', 'hasLoaded', 'list', 'constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then', 'toJSON', '__defineGetter__', 'isPrototypeOf', '', ' add', 'ADD'],
  notStates: ['nope', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'fz_counter ', 'FZ_COUNTER'],
} as const;

const dangerousKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'then', 'toJSON', 'length', '0'];
/** `__proto__` spelled with JSON escapes: the same key once parsed. */
const escapedProtoKeys = ['"\\u005f_proto__"', '"__proto\\u005f_"', '"\\u005F\\u005Fproto\\u005F\\u005F"', '"\\u005f\\u005f\\u0070roto__"'];
const oddNumbers = ['-0', '0', '1e308', '-1e308', '1e400', '-1e400', '5e-324', '9007199254740991', '9007199254740993', '1.0', '1E2', '1e-400', '123456789012345678901234567890', '0.5', '-1'];

const key = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...dangerousKeys) },
  { weight: 1, arbitrary: fc.constantFrom(...escapedProtoKeys).map((text) => new Raw(text)) },
);
const oddNumber = fc.constantFrom(...oddNumbers).map((text) => new Raw(text));

/** Any JSON value, with dangerous keys at any depth and odd number literals. */
const node: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    oddNumber,
    fc.string({ maxLength: 20, unit: 'binary' }),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('node')), { maxLength: 4 }).map((entries) => new Obj(entries)),
  ),
})).node;

/** A plain JS value (objects with string keys) as a node. */
function toNode(value: unknown): Node {
  if (value instanceof Obj || value instanceof Raw) return value;
  if (Array.isArray(value)) return value.map(toNode);
  if (value !== null && typeof value === 'object') return new Obj(Object.entries(value).map(([k, v]) => [k, toNode(v)]));
  return value as Node;
}

/** JSON text of a node; `undefined`-free, duplicates and `__proto__` kept as written. */
export function serialize(value: Node): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Obj) return `{${value.entries.map(([k, v]) => `${k instanceof Raw ? k.text : JSON.stringify(k)}:${serialize(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

/** A mutation of an object node: drop, add (dangerous keys included), replace or duplicate an entry. */
function mutated(base: Obj, keep = 8): fc.Arbitrary<Obj> {
  const n = base.entries.length;
  return fc.oneof(
    { weight: keep, arbitrary: fc.constant(base) },
    { weight: 2, arbitrary: fc.nat({ max: Math.max(0, n - 1) }).map((i) => new Obj(base.entries.filter((_, j) => j !== i))) },
    { weight: 3, arbitrary: fc.tuple(key, node).map((entry) => new Obj([...base.entries, entry])) },
    { weight: 3, arbitrary: fc.tuple(fc.nat({ max: Math.max(0, n - 1) }), node).map(([i, value]) => new Obj(base.entries.map(([k, v], j) => [k, j === i ? value : v]))) },
    { weight: 1, arbitrary: fc.nat({ max: Math.max(0, n - 1) }).map((i) => new Obj(n ? [...base.entries, base.entries[i]!] : base.entries)) },
    { weight: 1, arbitrary: fc.shuffledSubarray(base.entries, { minLength: n, maxLength: n }).map((entries) => new Obj(entries)) },
  );
}

/** Arguments shaped like a handler's schema, then possibly mutated. */
function argsFor(valid: fc.Arbitrary<unknown>): fc.Arbitrary<Node | undefined> {
  const shaped: fc.Arbitrary<Node> = valid.map(toNode);
  const arbitraries: fc.WeightedArbitrary<Node | undefined>[] = [
    { weight: 6, arbitrary: shaped },
    { weight: 4, arbitrary: shaped.chain((args): fc.Arbitrary<Node> => (args instanceof Obj ? mutated(args) : fc.constant(args))) },
    { weight: 2, arbitrary: node },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: shaped.map((args): Node => [args]) },
  ];
  return fc.oneof(...arbitraries);
}

const smallInt = fc.integer({ min: -3, max: 30 });
const itemId = fc.oneof(fc.integer({ min: 1, max: 30 }), fc.string({ maxLength: 5 }), fc.constant(-1));
const itemData = fc.record({ name: fc.string({ maxLength: 60 }), qty: smallInt }, { requiredKeys: [] });
const loadArgs = fc.option(
  fc.record(
    { page: smallInt, pageSize: smallInt, ordering: fc.array(fc.constantFrom('name', '-name', 'qty', '-qty', 'id', 'secret'), { maxLength: 3 }), search: fc.string({ maxLength: 10 }), filters: fc.record({ qty: smallInt }, { requiredKeys: [] }) },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

/** Valid arguments per handler (undefined: the handler takes none). */
const HANDLER_ARGS: Record<string, Record<string, fc.Arbitrary<unknown> | undefined>> = {
  fz_counter: {
    add: fc.record({ by: fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double(), fc.constantFrom(1e308, -1e308)) }),
    read: undefined,
    rename: fc.record({ label: fc.string({ maxLength: 50 }), tags: fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }) }),
    store: fc.dictionary(key.filter((k): k is string => typeof k === 'string' && k !== '__proto__'), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }),
  },
  fz_admin: { wipe: fc.record({ key: fc.constantFrom('open-sesame', 'nope', '') }), peek: undefined },
  fz_job: { work: fc.record({ steps: fc.integer({ min: -1, max: 4 }) }) },
  fz_items: {
    load: loadArgs,
    startEdit: fc.record({ id: itemId }),
    cancelEdit: undefined,
    save: fc.record({ id: itemId, data: itemData, version: smallInt }, { requiredKeys: ['data'] }),
    delete: fc.record({ id: itemId }),
    restock: fc.record({ id: itemId, by: smallInt }),
    dispatch: fc.record({ action: fc.constantFrom('load', 'startEdit', 'save', 'delete', 'restock', 'cancelEdit', 'nope', 'constructor'), payload: fc.oneof(loadArgs, fc.record({ id: itemId }), fc.record({ data: itemData })) }, { requiredKeys: ['action'] }),
  },
};

/** The handlers `state` declares. */
export function targetHandlers(state: string): string[] {
  return Object.keys(HANDLER_ARGS[state]!);
}

/** Valid arguments for `state.handler` (undefined when it takes none): the well-behaved client's and the generators' shape. */
export function handlerArgs(state: string, handler: string): fc.Arbitrary<unknown> | undefined {
  return HANDLER_ARGS[state]![handler];
}

const seqNode: fc.Arbitrary<Node> = fc.oneof(
  { weight: 20, arbitrary: fc.constant(new Raw(SEQ)) },
  { weight: 2, arbitrary: fc.constant(new Raw(OLD_SEQ)) },
  { weight: 2, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.double(), fc.constantFrom('1', 'NaN', '-0', '')) },
  { weight: 1, arbitrary: node },
);
const stateName = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FUZZ_TARGET.states) }, { weight: 2, arbitrary: fc.constantFrom(...FUZZ_TARGET.notStates) });
const stateList = fc.oneof(
  { weight: 6, arbitrary: fc.array(stateName, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.constant('fz_counter'), { minLength: 60, maxLength: 70 }) },
  { weight: 1, arbitrary: fc.array(fc.string({ minLength: 60, maxLength: 70 }), { maxLength: 2 }) },
  { weight: 1, arbitrary: node },
);

/** An event: a real or dangerous handler name, args from the handler's schema, mutated. */
const eventFrame: fc.Arbitrary<Node> = fc
  .tuple(stateName, fc.boolean())
  .chain(([state, real]) => {
    const handlers = targetHandlers(Object.hasOwn(HANDLER_ARGS, state) ? state : 'fz_counter');
    const handler = real ? fc.constantFrom(...handlers) : fc.oneof(fc.constantFrom(...handlers), fc.constantFrom(...FUZZ_TARGET.notHandlers));
    return fc.tuple(fc.constant(state), handler);
  })
  .chain(([state, handler]) => {
    const valid = Object.hasOwn(HANDLER_ARGS, state) && Object.hasOwn(HANDLER_ARGS[state]!, handler) ? HANDLER_ARGS[state]![handler] : undefined;
    return fc.tuple(fc.constant(state), fc.constant(handler), seqNode, valid ? argsFor(valid) : fc.option(node, { freq: 4, nil: undefined }));
  })
  .map(([state, handler, seq, args]) => new Obj([['t', 'event'], ['seq', seq], ['state', state], ['handler', handler], ...(args === undefined ? [] : ([['args', args]] as [string, Node][]))]))
  .chain((frame) => mutated(frame, 30));

/** The other client frames (and unknown types), mutated. */
const otherFrame: fc.Arbitrary<Node> = fc
  .oneof(
    stateList.map((states) => new Obj([['t', 'sub'], ['states', states]])),
    stateList.map((states) => new Obj([['t', 'unsub'], ['states', states]])),
    seqNode.map((seq) => new Obj([['t', 'cancel'], ['seq', seq]])),
    fc.tuple(fc.oneof(fc.constant(new Raw(`"${TOKEN}"`)), fc.string({ maxLength: 30 })), stateList).map(([token, states]) => new Obj([['t', 'join'], ['v', 1], ['token', token], ['states', states]])),
    fc.constantFrom('ack', 'welcome', 'result', 'state', 'patch', 'done', 'token', 'error', 'EVENT', '__proto__', 'constructor', '').map((t) => new Obj([['t', t], ['seq', new Raw(SEQ)]])),
    node.map((t) => new Obj([['t', t]])),
  )
  .chain((frame) => mutated(frame));

/** Nesting `depth` deep, of arrays or objects. */
function nested(depth: number, objects: boolean): string {
  return objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

const text = (generator: string) => (value: string): FuzzFrame => ({ generator, text: value });

/** Whatever a socket can carry: arbitrary strings, truncated or deeply nested JSON. */
const rawText: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    fc.string({ maxLength: 64 }),
    fc.string({ maxLength: 64, unit: 'binary' }),
    fc.string({ maxLength: 32, unit: 'grapheme' }),
    fc.json({ maxDepth: 3 }),
    fc.tuple(fc.oneof(eventFrame, otherFrame).map(serialize), fc.nat()).map(([json, cut]) => json.slice(0, cut % (json.length + 1))),
    fc.tuple(fc.integer({ min: 1, max: 40_000 }), fc.boolean()).map(([depth, objects]) => nested(depth, objects)),
    fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"t":"event","seq":${SEQ},"state":"fz_counter","handler":"store","args":{"deep":${nested(depth, false)}}}`),
    fc.integer({ min: 1, max: 9_000 }).map((depth) => `{"t":"event","seq":${SEQ},"state":"fz_counter","handler":"store","args":{"deep":${nested(depth, true)}}}`),
    fc.constantFrom(...oddNumbers, '{}', '[]', 'null', '""', '{"t":"event"}', '{"t":"event","t":"event"}', '\u0000', '\uFEFF{}', ' {"t":"sub","states":[]} '),
  )
  .map(text('raw text'));

/** Binary frames, and text frames whose bytes are not UTF-8. */
const bytes: fc.Arbitrary<FuzzFrame> = fc.oneof(
  fc.uint8Array({ maxLength: 128 }).map((value) => ({ generator: 'bytes', bytes: value, binary: true })),
  fc.oneof(eventFrame, otherFrame).map((frame) => ({ generator: 'bytes', bytes: Buffer.from(serialize(frame)), binary: true })),
  fc.tuple(fc.uint8Array({ maxLength: 16 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82])).map(([prefix, bad]) => ({
    generator: 'bytes',
    bytes: Buffer.concat([Buffer.from('{"t":"sub","states":["'), prefix, Buffer.from(bad), Buffer.from('"]}')]),
    binary: false,
  })),
);

/** Strings near the soft frame limit, and now and then above the hard one. */
function oversize(limits: { maxFrameBytes: number; hardFrameBytes: number }): fc.Arbitrary<FuzzFrame> {
  const padded = (bytes: number) => `{"t":"event","seq":${SEQ},"state":"fz_counter","handler":"rename","args":{"label":"${'x'.repeat(Math.max(0, bytes - 90))}","tags":[]}}`;
  return fc
    .oneof(
      { weight: 12, arbitrary: fc.integer({ min: -64, max: 64 }).map((delta) => padded(limits.maxFrameBytes + delta)) },
      { weight: 4, arbitrary: fc.integer({ min: -200, max: 8 }).map((delta) => `"${'é'.repeat(Math.floor((limits.maxFrameBytes + delta) / 2))}"`) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((delta) => padded(limits.hardFrameBytes + delta)) },
    )
    .map(text('oversize'));
}

export interface Generator {
  name: string;
  share: number;
  /** Sent on fresh sockets before their join. */
  prejoin?: boolean;
  arbitrary: fc.Arbitrary<FuzzFrame>;
}

/** The generators and their share of the frames. Pre-join frames go to fresh, unjoined sockets. */
export function generators(limits: { maxFrameBytes: number; hardFrameBytes: number }): Generator[] {
  return [
    { name: 'events', share: 40, arbitrary: eventFrame.map((frame) => ({ generator: 'events', text: serialize(frame) })) },
    { name: 'other frames', share: 20, arbitrary: otherFrame.map((frame) => ({ generator: 'other frames', text: serialize(frame) })) },
    { name: 'raw text', share: 20, arbitrary: rawText },
    { name: 'bytes', share: 10, arbitrary: bytes },
    { name: 'oversize', share: 4, arbitrary: oversize(limits) },
    { name: 'before join', share: 6, prejoin: true, arbitrary: fc.oneof(eventFrame, otherFrame, otherFrame).map((frame) => ({ generator: 'before join', text: serialize(frame) })) },
  ];
}

/** Well-formed events only: the baseline a bench compares the fuzzed frames' throughput with. */
export const baselineGenerator: Generator = {
  name: 'baseline: valid events',
  share: 1,
  arbitrary: fc
    .oneof(fc.record({ by: fc.integer({ min: -100, max: 100 }) }).map((args) => ['add', args] as const), fc.constant(['read', undefined] as const))
    .map(([handler, args]): FuzzFrame => ({ generator: 'baseline: valid events', text: serialize(new Obj([['t', 'event'], ['seq', new Raw(SEQ)], ['state', 'fz_counter'], ['handler', handler], ...(args ? ([['args', toNode(args)]] as [string, Node][]) : [])])) })),
};

// ---------------------------------------------------------------------------------------------
// Oracles

/** The error codes docs/protocol.md names (its "Errors" table and the join flow) and its close codes. */
export function documentedCodes(protocolMd: string): { errors: Set<string>; closes: Set<number> } {
  const section = (title: string) => protocolMd.split(/^## /m).find((part) => part.startsWith(title)) ?? '';
  const errors = new Set([...protocolMd.matchAll(/`(STRATA_[A-Z_]+)`/g)].map((m) => m[1]!));
  // "model codes (`STRATA_MODEL_VALIDATION` …, `…_NOT_FOUND`, …)"
  for (const m of section('Errors').matchAll(/`…(_[A-Z_]+)`/g)) errors.add(`STRATA_MODEL${m[1]}`);
  const closes = new Set([...section('Close codes').matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1])));
  return { errors, closes };
}

type Descriptor = [string, unknown, unknown, unknown];
/** Own property names and values (or accessors) of Object, Array and Function prototypes. */
export function snapshotPrototypes(): Descriptor[] {
  const out: Descriptor[] = [];
  for (const [name, proto] of [['Object', Object.prototype], ['Array', Array.prototype], ['Function', Function.prototype]] as const) {
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      out.push([`${name}.prototype.${String(key)}`, d.value, d.get, d.set]);
    }
    out.push([`${name}.prototype's prototype`, Object.getPrototypeOf(proto), undefined, undefined]);
  }
  return out;
}

/** What differs between two snapshots (empty: nothing polluted). */
export function prototypeChanges(before: Descriptor[], after: Descriptor[] = snapshotPrototypes()): string[] {
  const index = new Map(before.map((d) => [d[0], d]));
  const changes = after.filter((d) => {
    const old = index.get(d[0]);
    return !old || !Object.is(old[1], d[1]) || old[2] !== d[2] || old[3] !== d[3];
  });
  const gone = before.filter((d) => !after.some((a) => a[0] === d[0]));
  return [...changes.map((d) => `changed ${d[0]}`), ...gone.map((d) => `removed ${d[0]}`)];
}

/** Records uncaught exceptions and unhandled rejections of this process until `stop()`. */
export function watchProcess(): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const record = (kind: string) => (error: unknown) => errors.push(`${kind}: ${error instanceof Error ? error.stack : String(error)}`);
  const uncaught = record('uncaughtException');
  const rejection = record('unhandledRejection');
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', rejection);
  return {
    errors,
    stop() {
      process.off('uncaughtException', uncaught);
      process.off('unhandledRejection', rejection);
    },
  };
}

/** A fastify log stream keeping the server's error lines (`logError`: an unexpected error). */
export function errorLog(): { lines: string[]; stream: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (line) => void lines.push(line) } };
}

let gc: (() => void) | undefined;
/** Heap in use after a full GC (MB). */
export function heapAfterGcMb(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

// ---------------------------------------------------------------------------------------------
// The driver

/** A running server under test. */
export interface FuzzServer {
  wsUrl: string;
  origin: string;
  /** Cookies and other headers of every socket (the fixtures' middleware reads `uid`). */
  headers: Record<string, string>;
  /** A fresh join token for a new tab. */
  token(): Promise<string>;
}

interface Received {
  t: string;
  seq?: number;
  error?: { code?: unknown; message?: unknown };
  token?: string;
  ack?: number;
  value?: unknown;
  patch?: unknown;
  states?: unknown;
  task?: boolean;
}

/** Counters of one generator. */
export interface GeneratorStats {
  frames: number;
  typedErrors: number;
  closes: number;
  answeredOk: number;
  silent: number;
  hangs: number;
  failures: number;
  /** How often each error code answered. */
  codes: Record<string, number>;
}

export interface FuzzOptions {
  server: FuzzServer;
  frames: number;
  seed: number;
  /** Sockets fuzzing at once (each its own tab). */
  lanes?: number;
  batchFrames?: number;
  /** Longest wait for a frame's answer (ms); longer is a hang. */
  answerMs?: number;
  limits: { maxFrameBytes: number; hardFrameBytes: number };
  documented: { errors: Set<string>; closes: Set<number> };
  /** Called after every batch: the oracles that need the server's side (crashes, logs, well-behaved client). Returns problems. */
  afterBatch(batch: number): Promise<string[]>;
  /** Close codes and error codes accepted though undocumented (known issues the caller reports). */
  toleratedCloses?: number[];
  toleratedCodes?: string[];
  /** The generators to run (default: every one of {@link generators}). */
  generators?: Generator[];
  /** Keep going after a failure (the bench) or stop at the first batch with one (the test). */
  keepGoing?: boolean;
}

export interface FuzzReport {
  seed: number;
  stats: Map<string, GeneratorStats>;
  failures: string[];
  pollution: string[];
  heapMb: number[];
  seconds: number;
}

const TIME_OUT = Symbol('timeout');

/** One socket and the frames it received, with waits on them. */
class Socket {
  readonly inbox: Received[] = [];
  closed: { code: number } | undefined;
  readonly malformed: string[] = [];
  private wake: (() => void) | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.inbox.push(JSON.parse(data.toString()) as Received);
      } catch {
        this.malformed.push(data.toString().slice(0, 200));
      }
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.closed = { code };
      this.wake?.();
    });
    ws.on('error', () => undefined);
  }

  static open(server: FuzzServer): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(server.wsUrl, { headers: { origin: server.origin, ...server.headers } });
      const socket = new Socket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  /** Resolves with the index of the first frame from `from` on matching `match`, or 'closed', or TIME_OUT. */
  async until(from: number, match: (frame: Received) => boolean, timeoutMs: number): Promise<number | 'closed' | typeof TIME_OUT> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.inbox.length; i++) if (match(this.inbox[i]!)) return i;
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return TIME_OUT;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  send(frame: FuzzFrame | string): void {
    if (typeof frame === 'string') return this.ws.send(frame);
    if (frame.bytes) this.ws.send(frame.bytes, { binary: frame.binary ?? true });
    else this.ws.send(frame.text!);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A documented code, one the fixtures raise on purpose, or a tolerated known issue. */
function codeAllowed(options: FuzzOptions, code: unknown): boolean {
  if (typeof code !== 'string') return false;
  return options.documented.errors.has(code) || (FUZZ_TARGET.appCodes as readonly string[]).includes(code) || (options.toleratedCodes ?? []).includes(code);
}

const ASYNC_FRAMES = new Set(['patch', 'done', 'token']);
/** Seqs this far up leave the tab few events: the lane starts a new tab. */
const SEQ_CEILING = Number.MAX_SAFE_INTEGER - 1;

/** What the driver knows of a frame it sent: its type and seq as the server parses them (when JSON). */
function peek(text: string | undefined): { t?: unknown; seq?: unknown } {
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as { t?: unknown; seq?: unknown }) : {};
  } catch {
    return {};
  }
}
const isSeq = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** One tab fuzzed over one socket at a time (reconnecting after a close). */
class Lane {
  private socket: Socket | undefined;
  private token = '';
  /** The highest seq the server may have taken for this tab. */
  private floor = 0;
  readonly problems: string[] = [];

  constructor(
    private readonly options: FuzzOptions,
    private readonly stats: (generator: string) => GeneratorStats,
  ) {}

  async start(): Promise<void> {
    this.token = await this.options.server.token();
    this.floor = 0;
    await this.join();
  }

  private async join(): Promise<void> {
    this.socket?.close();
    const socket = await Socket.open(this.options.server);
    socket.send(JSON.stringify({ t: 'join', v: 1, token: this.token, states: [...FUZZ_TARGET.states] }));
    const at = await socket.until(0, (f) => f.t === 'welcome' || f.t === 'error', this.options.answerMs ?? 2000);
    const welcome = typeof at === 'number' ? socket.inbox[at]! : undefined;
    if (welcome?.t !== 'welcome') throw new Error(`the lane could not join: ${JSON.stringify(welcome ?? at)} ${JSON.stringify(socket.closed)}`);
    this.token = welcome.token!;
    this.floor = Math.max(this.floor, welcome.ack!);
    this.socket = socket;
  }

  /** Sends one frame and a sentinel event behind it; checks what came back in between. */
  async fuzz(frame: FuzzFrame): Promise<void> {
    const socket = this.socket!;
    const stats = this.stats(frame.generator);
    stats.frames++;
    const sent = this.fill(frame);
    const shape = peek(sent.text);
    if (shape.t === 'event' && isSeq(shape.seq)) this.floor = Math.max(this.floor, shape.seq);
    const from = socket.inbox.length;
    socket.send(sent);
    let at: number | 'closed' | typeof TIME_OUT;
    if (this.floor + 1 > SEQ_CEILING) {
      // The frame took a seq so high that no sentinel event fits above it: its answer comes alone.
      at = await socket.until(from, () => true, this.options.answerMs ?? 2000);
      if (typeof at === 'number') at++;
    } else {
      const sentinel = ++this.floor;
      socket.send(JSON.stringify({ t: 'event', seq: sentinel, state: 'fz_counter', handler: 'read' }));
      at = await socket.until(from, (f) => (f.t === 'result' || f.t === 'error') && f.seq === sentinel, this.options.answerMs ?? 2000);
    }
    const fail = (what: string) => {
      stats.failures++;
      this.problems.push(`${frame.generator}: ${what}; frame ${quote(sent)}`);
    };
    this.checkAsync(socket, from, fail);
    if (at === TIME_OUT) {
      stats.hangs++;
      fail(`no answer in ${this.options.answerMs ?? 2000} ms`);
      return this.restart();
    }
    const answers = socket.inbox.slice(from, at === 'closed' ? undefined : at).filter((f) => !ASYNC_FRAMES.has(f.t));
    for (const answer of answers) this.checkAnswer(answer, shape, fail);
    if (answers.length > 1) fail(`${answers.length} answers: ${JSON.stringify(answers).slice(0, 300)}`);
    if (at === 'closed') {
      stats.closes++;
      if (!this.closeAllowed(socket.closed!.code)) fail(`undocumented close code ${socket.closed!.code}`);
      return this.rejoin();
    }
    const answer = answers[0];
    if (!answer) {
      stats.silent++;
      // Only a good unsub or cancel goes unanswered.
      if (shape.t !== 'unsub' && shape.t !== 'cancel') fail('no answer');
    } else if (answer.error) {
      stats.typedErrors++;
      stats.codes[String(answer.error.code)] = (stats.codes[String(answer.error.code)] ?? 0) + 1;
    } else stats.answeredOk++;
    if (this.floor >= SEQ_CEILING) await this.start();
  }

  private closeAllowed(code: number): boolean {
    return this.options.documented.closes.has(code) || (this.options.toleratedCloses ?? []).includes(code);
  }

  private checkAnswer(answer: Received, shape: { t?: unknown; seq?: unknown }, fail: (what: string) => void): void {
    if (answer.error !== undefined) {
      const code = answer.error.code;
      if (!codeAllowed(this.options, code)) fail(`undocumented error code ${JSON.stringify(code)}`);
      if (typeof answer.error.message !== 'string') fail(`error without a message: ${JSON.stringify(answer)}`);
    }
    if (answer.t === 'result' && shape.t === 'event' && answer.seq !== shape.seq) fail(`a result for seq ${answer.seq}, not ${JSON.stringify(shape.seq)}`);
    if (!['result', 'error', 'state'].includes(answer.t)) fail(`unexpected ${answer.t} frame`);
  }

  /** Frames the server sends on its own (task progress and ends, tokens) must be well formed too. */
  private checkAsync(socket: Socket, from: number, fail: (what: string) => void): void {
    for (const text of socket.malformed.splice(0)) fail(`the server sent a frame that is not JSON: ${text}`);
    for (const frame of socket.inbox.slice(from)) {
      if (frame.t === 'done' && frame.error && !codeAllowed(this.options, frame.error.code)) fail(`undocumented code ${String(frame.error.code)} in a done frame`);
    }
  }

  private fill(frame: FuzzFrame): FuzzFrame {
    if (frame.text === undefined || !frame.text.includes('\u0000')) return frame;
    const text = frame.text
      .replaceAll(SEQ, () => String(this.floor + 1))
      .replaceAll(OLD_SEQ, () => String(Math.max(1, this.floor - (this.floor % 3))))
      .replaceAll(TOKEN, this.token);
    return { ...frame, text };
  }

  private async rejoin(): Promise<void> {
    try {
      await this.join();
    } catch {
      await this.start();
    }
  }

  private async restart(): Promise<void> {
    this.socket?.close();
    await this.start();
  }

  stop(): void {
    this.socket?.close();
  }
}

/** Frames sent before a join, on a fresh socket each few: each gets a typed error, or a close (or a welcome for a join). */
async function fuzzBeforeJoin(options: FuzzOptions, frames: FuzzFrame[], stats: GeneratorStats, problems: string[]): Promise<void> {
  const wait = options.answerMs ?? 2000;
  let socket: Socket | undefined;
  let token = '';
  for (const [i, frame] of frames.entries()) {
    if (!socket || socket.closed || i % 8 === 0) {
      socket?.close();
      socket = await Socket.open(options.server);
      token = await options.server.token();
    }
    stats.frames++;
    const text = frame.text!.replaceAll(SEQ, '1').replaceAll(OLD_SEQ, '1').replaceAll(TOKEN, token);
    const shape = peek(text);
    const fail = (what: string) => {
      stats.failures++;
      problems.push(`before join: ${what}; frame ${quote({ ...frame, text })}`);
    };
    const sentinel = 2 ** 50 + i;
    const from = socket.inbox.length;
    socket.send(text);
    socket.send(JSON.stringify({ t: 'event', seq: sentinel, state: 'fz_counter', handler: 'read' }));
    const at = await socket.until(from, (f) => (f.t === 'result' || f.t === 'error') && f.seq === sentinel, wait);
    if (at === TIME_OUT) {
      stats.hangs++;
      fail(`no answer in ${wait} ms`);
      socket.close();
      socket = undefined;
      continue;
    }
    const answers = socket.inbox.slice(from, at === 'closed' ? undefined : at).filter((f) => !ASYNC_FRAMES.has(f.t));
    for (const answer of answers) {
      const code = answer.error?.code;
      if (answer.error && !codeAllowed(options, code)) fail(`undocumented error code ${JSON.stringify(code)}`);
      if (answer.t === 'welcome' && shape.t !== 'join') fail('a welcome for a frame that is not a join');
    }
    if (answers.length > 1) fail(`${answers.length} answers: ${JSON.stringify(answers).slice(0, 300)}`);
    if (at === 'closed') {
      stats.closes++;
      if (!options.documented.closes.has(socket.closed!.code) && !(options.toleratedCloses ?? []).includes(socket.closed!.code)) fail(`undocumented close code ${socket.closed!.code}`);
    } else if (!answers[0]) {
      stats.silent++;
      // A fuzzed join may have joined this socket: then a good unsub or cancel goes unanswered.
      const joined = socket.inbox.some((f) => f.t === 'welcome');
      if (!joined || (shape.t !== 'unsub' && shape.t !== 'cancel')) fail('no answer');
    } else if (answers[0].error) {
      stats.typedErrors++;
      stats.codes[String(answers[0].error.code)] = (stats.codes[String(answers[0].error.code)] ?? 0) + 1;
    } else stats.answeredOk++;
  }
  socket?.close();
}

function quote(frame: FuzzFrame): string {
  if (frame.bytes) return `${frame.binary === false ? 'text' : 'binary'} bytes ${Buffer.from(frame.bytes).toString('hex').slice(0, 200)}`;
  const text = frame.text!;
  return text.length > 300 ? `${JSON.stringify(text.slice(0, 300))}… (${text.length} chars)` : JSON.stringify(text);
}

/**
 * Sends `frames` generated frames (seeded) in batches over `lanes` sockets, running the
 * per-frame oracles (a typed, documented answer; no hang) and, after every batch, the
 * prototype snapshot, the heap after GC and the caller's `afterBatch` checks.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const gens = options.generators ?? generators(options.limits);
  const totalShare = gens.reduce((sum, g) => sum + g.share, 0);
  const stats = new Map(gens.map((g) => [g.name, { frames: 0, typedErrors: 0, closes: 0, answeredOk: 0, silent: 0, hangs: 0, failures: 0, codes: {} } satisfies GeneratorStats]));
  const statsOf = (name: string) => stats.get(name)!;
  const report: FuzzReport = { seed: options.seed, stats, failures: [], pollution: [], heapMb: [heapAfterGcMb()], seconds: 0 };
  const prototypes = snapshotPrototypes();
  const lanes = Array.from({ length: options.lanes ?? 4 }, () => new Lane(options, statsOf));
  await Promise.all(lanes.map((lane) => lane.start()));
  const batchFrames = options.batchFrames ?? 1000;
  try {
    for (let batch = 0, done = 0; done < options.frames; batch++) {
      const size = Math.min(batchFrames, options.frames - done);
      done += size;
      const seed = options.seed + batch;
      const frames = gens.map((g, i) => ({ g, frames: fc.sample(g.arbitrary, { seed: seed * 31 + i, numRuns: Math.max(1, Math.round((size * g.share) / totalShare)) }) }));
      const joined = frames.filter(({ g }) => !g.prejoin).flatMap(({ frames: list }) => list);
      const prejoin = frames.filter(({ g }) => g.prejoin);
      const problems: string[] = [];
      await Promise.all([
        ...lanes.map(async (lane, l) => {
          for (let i = l; i < joined.length; i += lanes.length) await lane.fuzz(joined[i]!);
        }),
        ...prejoin.map(({ g, frames: list }) => fuzzBeforeJoin(options, list, statsOf(g.name), problems)),
      ]);
      for (const lane of lanes) problems.push(...lane.problems.splice(0));
      const pollution = prototypeChanges(prototypes);
      report.pollution.push(...pollution);
      problems.push(...pollution.map((p) => `prototype pollution: ${p}`), ...(await options.afterBatch(batch)));
      report.heapMb.push(heapAfterGcMb());
      report.failures.push(...problems.map((p) => `[seed ${options.seed}, batch ${batch} (fc seed ${seed})] ${p}`));
      if (problems.length && !options.keepGoing) break;
    }
  } finally {
    for (const lane of lanes) lane.stop();
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
