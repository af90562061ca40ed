import type { ItemKey, Path, PathSegment } from '../patch.js';

/** A function told that something at, above or below the path it watches changed. */
export type Listener = () => void;

interface Node {
  readonly parent: Node | undefined;
  readonly segment: PathSegment | undefined;
  readonly listeners: Set<{ readonly listener: Listener }>;
  props: Map<string, Node> | undefined;
  items: Map<ItemKey, Node> | undefined;
  /** The `touch` round whose subtree walk already passed here. */
  round: number;
}

const newNode = (parent: Node | undefined, segment: PathSegment | undefined): Node => ({
  parent,
  segment,
  listeners: new Set(),
  props: undefined,
  items: undefined,
  round: 0,
});

/**
 * Listeners keyed by path, in a trie with one level per segment (`[key]` segments by key).
 * `touch(path)` marks the listeners of the path itself, of its ancestors and of its
 * descendants; `drain()` hands them over once each. The cost of a touch is the path's depth
 * plus the watchers below it, never the number of watchers in all.
 */
export class PathListeners {
  readonly #root = newNode(undefined, undefined);
  #marked = new Set<Listener>();
  #round = 1;

  /** Adds `listener` at `path`; the returned function removes it (once). */
  add(path: Path, listener: Listener): () => void {
    let node = this.#root;
    for (const segment of path) node = childOf(node, checkSegment(segment), true);
    const entry = { listener };
    node.listeners.add(entry);
    return () => {
      if (node.listeners.delete(entry)) prune(node);
    };
  }

  /** Marks the listeners an operation at `path` concerns. */
  touch(path: Path): void {
    let node: Node | undefined = this.#root;
    this.#mark(node);
    for (const segment of path) {
      node = childOf(node, segment, false);
      if (!node) return;
      this.#mark(node);
    }
    this.#markBelow(node);
  }

  /** The marked listeners, each once, and a fresh round. */
  drain(): Set<Listener> {
    const marked = this.#marked;
    this.#marked = new Set();
    this.#round++;
    return marked;
  }

  #mark(node: Node): void {
    for (const entry of node.listeners) this.#marked.add(entry.listener);
  }

  #markBelow(start: Node): void {
    if (start.round === this.#round) return;
    start.round = this.#round;
    const stack = [...children(start)];
    for (let node = stack.pop(); node; node = stack.pop()) {
      // A subtree walked earlier in this round holds nothing new.
      if (node.round === this.#round) continue;
      node.round = this.#round;
      this.#mark(node);
      stack.push(...children(node));
    }
  }
}

function children(node: Node): Node[] {
  return [...(node.props?.values() ?? []), ...(node.items?.values() ?? [])];
}

function childOf(node: Node, segment: PathSegment, create: true): Node;
function childOf(node: Node, segment: PathSegment, create: false): Node | undefined;
function childOf(node: Node, segment: PathSegment, create: boolean): Node | undefined {
  const keyed = Array.isArray(segment);
  const map: Map<string | ItemKey, Node> | undefined = keyed ? node.items : node.props;
  const key = keyed ? (segment as readonly [ItemKey])[0] : (segment as string);
  const found = map?.get(key);
  if (found || !create) return found;
  const child = newNode(node, segment);
  if (keyed) (node.items ??= new Map()).set(key, child);
  else (node.props ??= new Map()).set(key as string, child);
  return child;
}

/** Drops `node` and its ancestors while they hold nothing, so unwatched paths cost no memory. */
function prune(start: Node): void {
  for (let node = start; node.parent && node.listeners.size === 0 && !node.props?.size && !node.items?.size; node = node.parent) {
    const segment = node.segment!;
    if (Array.isArray(segment)) node.parent.items?.delete((segment as readonly [ItemKey])[0]);
    else node.parent.props?.delete(segment as string);
  }
}

function checkSegment(segment: PathSegment): PathSegment {
  if (typeof segment === 'string') return segment;
  const fits = Array.isArray(segment) && (segment.length === 1 || (segment.length === 2 && typeof segment[1] === 'string'));
  const key: unknown = fits ? segment[0] : undefined;
  if (typeof key === 'string' || typeof key === 'number') return segment;
  throw new TypeError(`A watched path segment must be a property name, [key] or [key, field] with a string or number key, not ${JSON.stringify(segment)}.`);
}
