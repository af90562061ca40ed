import { batch } from 'solid-js';
import { createStore, reconcile, type SetStoreFunction } from 'solid-js/store';
import type { ClientState, JsonValue, Path } from '@strata/state/client';

type Box = { value: JsonValue | undefined };

/** A deep copy of JSON data: the store must never share objects with the client core, which patches its copy in place. */
function copy(value: JsonValue | undefined): JsonValue | undefined {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

const isObject = (value: unknown): value is Record<string, JsonValue> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The store path of a patch path in `doc` (the state after the patch): keyed segments
 * `[key]` / `[key, field]` become list indexes. Undefined when the path no longer leads
 * anywhere (e.g. a later op of the frame removed the item) — its list path is touched too.
 */
function storePath(doc: JsonValue, path: Path): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  let node: JsonValue = doc;
  for (const segment of path) {
    if (typeof segment !== 'string') {
      if (!Array.isArray(node)) return undefined;
      const [key, field = 'id'] = segment;
      const index = node.findIndex((item) => isObject(item) && Object.hasOwn(item, field) && item[field] === key);
      if (index < 0) return undefined;
      out.push(index);
      node = node[index]!;
    } else {
      if (!isObject(node) || !Object.hasOwn(node, segment)) return undefined;
      out.push(segment);
      node = node[segment]!;
    }
  }
  return out;
}

function valueAt(doc: JsonValue, path: (string | number)[]): JsonValue {
  let node = doc;
  for (const segment of path) node = (node as Record<string | number, JsonValue>)[segment]!;
  return node;
}

/**
 * A Solid store that mirrors a server state, fine-grained: each patch updates exactly the
 * paths its operations touched (a field of one row touches that field's signal only; a
 * list insert, move or removal reconciles that list by `id`, keeping its rows). Returns the
 * store and the function that stops mirroring.
 */
export function mirrorState(handle: ClientState, initial?: JsonValue): [store: Box, stop: () => void] {
  // A server-rendered page starts from the values it was rendered with, until the socket's welcome (the same data).
  const [store, setStore] = createStore<Box>({ value: copy((handle.value as JsonValue | undefined) ?? initial) });
  const set = setStore as unknown as (...args: unknown[]) => void;
  const stop = handle.onChange((paths, keys) =>
    // One frame, one update: whatever reads several of its paths recomputes once.
    batch(() => {
      const doc = handle.value as JsonValue | undefined;
      if (doc === undefined) return (setStore as SetStoreFunction<Box>)('value', undefined);
      for (const path of paths) {
        const at = path.length === 0 || store.value === undefined ? [] : storePath(doc, path);
        // A path that no longer leads anywhere: its nearest existing ancestor changed too.
        const target = at ?? storePath(doc, path.slice(0, -1)) ?? [];
        const value = copy(target.length ? valueAt(doc, target) : doc);
        // Rows of a list keyed by a declared field (`keys: { lines: 'sku' }`) are matched by it.
        const key = (at && keys.get(path)) ?? 'id';
        set('value', ...target, isObject(value) || Array.isArray(value) ? reconcile(value, { key, merge: true }) : value);
      }
    }),
  );
  return [store, stop];
}
