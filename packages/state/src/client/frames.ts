import type { ServerFrame } from '../protocol.js';

type Fields = Record<string, unknown>;
type Check = (value: unknown) => boolean;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const isSeq = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) > 0;
const isAck = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const isString = (value: unknown): boolean => typeof value === 'string';
const isStringList = (value: unknown): boolean => Array.isArray(value) && value.every(isString);
const optional = (check: Check): Check => (value) => value === undefined || check(value);
const recordOf = (check: Check): Check => (value) => isObject(value) && Object.values(value).every(check);

const isWireError: Check = (value) =>
  isObject(value) && isString(value.code) && isString(value.message) && optional(recordOf(isStringList))(value.fields);
const isPatches = recordOf(Array.isArray);

/** The fields each server frame must have; unknown fields are ignored (docs/protocol.md, "Versioning"). */
const shapes: Record<ServerFrame['t'], Record<string, Check>> = {
  welcome: { token: isString, ack: isAck, states: isObject },
  state: { states: isObject },
  result: { seq: isSeq, error: optional(isWireError), patch: optional(isPatches), actions: optional(Array.isArray), task: optional((t) => t === true) },
  done: { seq: isSeq, error: optional(isWireError) },
  patch: { patch: isPatches, actions: optional(Array.isArray) },
  error: { error: isWireError, seq: optional(isSeq) },
  token: { token: isString },
};

/** A server frame read from a text message, or a sentence saying why it is not one. */
export function parseServerFrame(data: unknown): ServerFrame | string {
  if (typeof data !== 'string') return 'The server sent a binary frame; the protocol has text frames only.';
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return 'The server sent a frame that is not JSON.';
  }
  if (!isObject(frame) || typeof frame.t !== 'string' || !Object.hasOwn(shapes, frame.t)) {
    return `The server sent a frame of no known type: ${data.slice(0, 200)}`;
  }
  const shape = shapes[frame.t as ServerFrame['t']];
  const bad = Object.keys(shape).find((field) => !shape[field]!(frame[field]));
  return bad === undefined ? (frame as ServerFrame) : `The server sent a "${frame.t}" frame whose "${bad}" is invalid.`;
}
