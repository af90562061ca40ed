/**
 * Path-level patches: what changed in a state after an event, as small operations.
 * Browser-safe (no imports). The format is documented in docs/protocol.md ("Patches").
 *
 * A path is a list of segments: a string is an object property; `[key]` (a one-element
 * array) is the item of a keyed list whose key is `key`. Lists whose items are objects
 * with a unique `id` (number or string) are keyed by it, so one changed, inserted, moved
 * or removed row costs one small op, not the list.
 */

/** JSON data: what a client var holds and what crosses the wire. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** The key of a keyed-list item. */
export type ItemKey = string | number;
/** A property name, or a keyed-list item: `[key]` (keyed by `id`) or `[key, field]` (keyed by a declared field). */
export type PathSegment = string | readonly [ItemKey] | readonly [ItemKey, string];
/** Where a value is in a state: property names and keyed-list items. */
export type Path = readonly PathSegment[];

/** One patch operation. */
export type PatchOp =
  /** Replace (or add) the value at `path`. */
  | { op: 'set'; path: Path; value: JsonValue }
  /** Remove the object property at `path`. */
  | { op: 'del'; path: Path }
  /** Insert `value` into the keyed list at `path`, right after the item keyed `after` (`null`: first). */
  | { op: 'ins'; path: Path; after: ItemKey | null; value: JsonValue; by?: string }
  /** Remove the item keyed `key` from the keyed list at `path`. */
  | { op: 'rm'; path: Path; key: ItemKey; by?: string }
  /** Move the item keyed `key` to right after the item keyed `after` (`null`: first). */
  | { op: 'mv'; path: Path; key: ItemKey; after: ItemKey | null; by?: string };

/** Options of {@link diff}. */
export interface DiffOptions {
  /** The key field of the list at a path (its property names joined by dots, e.g. `order.lines`); default `id`. */
  keyOf?: (dottedPath: string) => string | undefined;
}

/** The ops that turn one version of a state into the next, applied in order. */
export type Patch = PatchOp[];

type JsonObject = { [key: string]: JsonValue };

/** A plain object (class instances, Dates and Maps are values, so the server's JSON check sees them). */
const isObject = (value: unknown): value is JsonObject => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** The keys of a list's items, when the list is keyed (every item an object with a unique primitive `field`). */
function keysOf(list: readonly JsonValue[], field: string): ItemKey[] | undefined {
  const keys: ItemKey[] = [];
  const seen = new Set<ItemKey>();
  for (const item of list) {
    const key = isObject(item) ? item[field] : undefined;
    if ((typeof key !== 'string' && typeof key !== 'number') || seen.has(key)) return undefined;
    seen.add(key);
    keys.push(key);
  }
  return keys;
}

/** The operations that turn `before` into `after` (both JSON data). */
export function diff(before: JsonValue, after: JsonValue, path: Path = [], options: DiffOptions = {}): Patch {
  const ops: Patch = [];
  diffInto(ops, before, after, path, options);
  return ops;
}

function diffInto(ops: Patch, before: JsonValue, after: JsonValue, path: Path, options: DiffOptions): void {
  if (before === after) return;
  if (Array.isArray(before) && Array.isArray(after)) return diffList(ops, before, after, path, options);
  if (isObject(before) && isObject(after)) return diffObject(ops, before, after, path, options);
  ops.push({ op: 'set', path, value: after });
}

function diffObject(ops: Patch, before: JsonObject, after: JsonObject, path: Path, options: DiffOptions): void {
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) ops.push({ op: 'del', path: [...path, key] });
  for (const key of Object.keys(after)) {
    if (Object.hasOwn(before, key)) diffInto(ops, before[key]!, after[key]!, [...path, key], options);
    else ops.push({ op: 'set', path: [...path, key], value: after[key]! });
  }
}

function diffList(ops: Patch, before: JsonValue[], after: JsonValue[], path: Path, options: DiffOptions): void {
  const field = (options.keyOf && options.keyOf(path.filter((segment) => typeof segment === 'string').join('.'))) ?? 'id';
  const by = field === 'id' ? {} : { by: field };
  const oldKeys = keysOf(before, field);
  const newKeys = oldKeys && keysOf(after, field);
  if (!oldKeys || !newKeys) {
    if (before.length !== after.length || before.some((item, i) => !equal(item, after[i]!))) ops.push({ op: 'set', path, value: after });
    return;
  }
  const oldIndex = new Map(oldKeys.map((key, i) => [key, i]));
  // No item kept (a new page, a first load): one `set` is smaller than an `rm` and an `ins` per item.
  if (before.length + after.length > 1 && !newKeys.some((key) => oldIndex.has(key))) {
    ops.push({ op: 'set', path, value: after });
    return;
  }
  const newSet = new Set(newKeys);
  for (const key of oldKeys) if (!newSet.has(key)) ops.push({ op: 'rm', path, key, ...by });
  // Items on the longest run that kept its order stay; every other kept item moves once.
  const kept = newKeys.filter((key) => oldIndex.has(key));
  const anchored = longestIncreasing(kept, (key) => oldIndex.get(key)!);
  newKeys.forEach((key, i) => {
    const previous = i === 0 ? null : newKeys[i - 1]!;
    if (!oldIndex.has(key)) ops.push({ op: 'ins', path, after: previous, value: after[i]!, ...by });
    else if (!anchored.has(key)) ops.push({ op: 'mv', path, key, after: previous, ...by });
  });
  newKeys.forEach((key, i) => {
    const j = oldIndex.get(key);
    const segment: PathSegment = field === 'id' ? [key] : [key, field];
    if (j !== undefined) diffInto(ops, before[j]!, after[i]!, [...path, segment], options);
  });
}

/** The keys on a longest subsequence whose `rank` increases (patience sorting, O(n log n)). */
function longestIncreasing(keys: ItemKey[], rank: (key: ItemKey) => number): Set<ItemKey> {
  const tails: number[] = [];
  const previous: number[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const value = rank(keys[i]!);
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (rank(keys[tails[mid]!]!) < value) low = mid + 1;
      else high = mid;
    }
    previous[i] = low > 0 ? tails[low - 1]! : -1;
    tails[low] = i;
  }
  const out = new Set<ItemKey>();
  for (let i = tails.length ? tails[tails.length - 1]! : -1; i >= 0; i = previous[i]!) out.add(keys[i]!);
  return out;
}

function equal(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => equal(item, b[i]!));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && equal(a[key]!, b[key]!));
  }
  return false;
}

/** Thrown by {@link applyPatch} when an op does not fit the document (a protocol bug, not user input). */
export class PatchError extends Error {
  readonly code = 'STRATA_STATE_BAD_PATCH';
}

/**
 * Applies a patch to a document, in place, and returns the document (a `set` at the root
 * returns the new value). Calls `touched` with the path of every op (and, for a list op of a
 * list keyed by a declared field, that field), for subscribers.
 */
export function applyPatch(document: JsonValue, patch: Patch, touched?: (path: Path, by?: string) => void): JsonValue {
  let root = document;
  for (const op of patch) {
    if (op.path.length === 0 && op.op === 'set') root = op.value;
    else applyOp(root, op);
    touched?.(op.path, 'by' in op ? op.by : undefined);
  }
  return root;
}

function applyOp(root: JsonValue, op: PatchOp): void {
  if (op.op === 'set' || op.op === 'del') {
    const parent = resolve(root, op.path.slice(0, -1));
    const last = op.path[op.path.length - 1]!;
    if (Array.isArray(last)) {
      const list = asList(parent);
      const index = indexOfKey(list, last[0], last[1]);
      if (op.op === 'set') list[index] = op.value;
      else list.splice(index, 1);
      return;
    }
    if (!isObject(parent)) throw new PatchError(`No object at ${formatPath(op.path)}.`);
    const key = last as string;
    // Keys are data, whatever their name: "__proto__" becomes an own property, never the prototype.
    if (op.op === 'del') delete parent[key];
    else if (key === '__proto__') Object.defineProperty(parent, key, { value: op.value, enumerable: true, writable: true, configurable: true });
    else parent[key] = op.value;
    return;
  }
  const list = asList(resolve(root, op.path));
  if (op.op === 'rm') list.splice(indexOfKey(list, op.key, op.by), 1);
  else if (op.op === 'ins') list.splice(op.after === null ? 0 : indexOfKey(list, op.after, op.by) + 1, 0, op.value);
  else {
    const [item] = list.splice(indexOfKey(list, op.key, op.by), 1);
    list.splice(op.after === null ? 0 : indexOfKey(list, op.after, op.by) + 1, 0, item!);
  }
}

function resolve(root: JsonValue, path: Path): JsonValue {
  let node = root;
  for (const segment of path) {
    if (Array.isArray(segment)) node = asList(node)[indexOfKey(asList(node), segment[0], segment[1])]!;
    else if (isObject(node) && Object.hasOwn(node, segment as string)) node = node[segment as string]!;
    else throw new PatchError(`No value at ${formatPath(path)}.`);
  }
  return node;
}

function asList(node: JsonValue): JsonValue[] {
  if (!Array.isArray(node)) throw new PatchError('Expected a list.');
  return node;
}

function indexOfKey(list: JsonValue[], key: ItemKey, field = 'id'): number {
  if (typeof field !== 'string' || field === '__proto__') throw new PatchError(`Refusing the key field ${JSON.stringify(field)}.`);
  const index = list.findIndex((item) => isObject(item) && Object.hasOwn(item, field) && item[field] === key);
  if (index === -1) throw new PatchError(`No item keyed ${JSON.stringify(key)}.`);
  return index;
}

/** A path as text for messages: `.list[3].stock`. */
export function formatPath(path: Path): string {
  return path.map((segment) => (Array.isArray(segment) ? `[${JSON.stringify(segment[0])}]` : `.${String(segment)}`)).join('') || '(root)';
}
