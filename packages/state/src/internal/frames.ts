import { StateError } from '../errors.js';
import type { JsonValue } from '../patch.js';
import { type ClientFrame, MAX_FRAME_DEPTH } from '../protocol.js';

/** A frame the server cannot use; `seq` is set when the frame was an event whose seq could be read. */
export class FrameError extends StateError {
  constructor(
    message: string,
    readonly seq?: number,
  ) {
    super('STRATA_STATE_BAD_FRAME', message);
  }
}

const FIELDS: Record<ClientFrame['t'], readonly string[]> = {
  join: ['t', 'v', 'token', 'states'],
  sub: ['t', 'states'],
  unsub: ['t', 'states'],
  event: ['t', 'seq', 'state', 'handler', 'args'],
  cancel: ['t', 'seq'],
};

const MAX_STATES = 64;

/**
 * Parses one inbound text frame, strictly: a JSON object of a known type with exactly its
 * fields, of the right types, no `__proto__` key anywhere and at most {@link MAX_FRAME_DEPTH}
 * levels deep. Throws {@link FrameError}.
 */
export function parseClientFrame(text: string): ClientFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new FrameError('A frame must be one JSON object; this one is not valid JSON.');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new FrameError('A frame must be one JSON object.');
  const record = frame as Record<string, unknown>;
  const type = record.t;
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) throw new FrameError(`Unknown frame type ${JSON.stringify(type)}.`);
  const seq = type === 'event' && isSeq(record.seq) ? record.seq : undefined;
  const allowed = FIELDS[type as ClientFrame['t']];
  for (const key of Object.keys(record)) if (!allowed.includes(key)) throw new FrameError(`A ${type} frame has no field ${JSON.stringify(key)}.`, seq);
  // Cheap scans first: only frames that could spell the key (directly or escaped), or that open
  // enough brackets to be too deep, get walked.
  const spellsProto = text.includes('__proto__') || text.includes('\\u');
  if (spellsProto || opensMoreThan(text, MAX_FRAME_DEPTH)) {
    const problem = inspectTree(record);
    if (problem === 'proto') throw new FrameError('A frame may not contain a "__proto__" key.', seq);
    if (problem === 'deep') throw new FrameError(`A frame may nest objects and arrays at most ${MAX_FRAME_DEPTH} levels deep.`, seq);
  }
  switch (type) {
    case 'join':
      if (typeof record.v !== 'number') throw new FrameError('A join frame needs a numeric protocol version v.');
      // A missing token is the token check's to refuse (close 4401), not a malformed frame.
      return { t: 'join', v: record.v, token: typeof record.token === 'string' ? record.token : '', states: stateNames(record.states) };
    case 'sub':
    case 'unsub':
      return { t: type, states: stateNames(record.states) };
    case 'cancel':
      if (!isSeq(record.seq)) throw new FrameError('A cancel frame needs the seq of a task event.');
      return { t: 'cancel', seq: record.seq };
    default:
      if (seq === undefined) throw new FrameError('An event needs seq, a positive integer.');
      if (typeof record.state !== 'string' || typeof record.handler !== 'string') throw new FrameError('An event needs string state and handler fields.', seq);
      return record.args === undefined
        ? { t: 'event', seq, state: record.state, handler: record.handler }
        : { t: 'event', seq, state: record.state, handler: record.handler, args: record.args as JsonValue };
  }
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function stateNames(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_STATES || !value.every((name) => typeof name === 'string' && name.length <= 64)) {
    throw new FrameError(`states must be a list of at most ${MAX_STATES} state names.`);
  }
  return value as string[];
}

/** Whether `text` has more than `count` opening brackets (a bound on its nesting depth). */
function opensMoreThan(text: string, count: number): boolean {
  let opened = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 0x7b || c === 0x5b) && ++opened > count) return true;
  }
  return false;
}

/** The first problem of a parsed frame's tree: an own `__proto__` key, or nesting too deep. Iterative, so depth cannot overflow it. */
function inspectTree(root: object): 'proto' | 'deep' | undefined {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_FRAME_DEPTH) return 'deep';
    if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return 'proto';
    for (const item of Object.values(value)) stack.push([item, depth + 1]);
  }
  return undefined;
}
