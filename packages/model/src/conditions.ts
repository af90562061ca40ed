import type { Node } from './internal/where.js';
import type { Where } from './types.js';

/** Combinators handed to a filter callback: `filter((q) => q.or({ a: 1 }, { b: 2 }))`. */
export interface Combinators<M> {
  and(...conditions: (Where<M> | Condition)[]): Condition;
  or(...conditions: (Where<M> | Condition)[]): Condition;
  not(condition: Where<M> | Condition): Condition;
}
/** An and/or/not condition built by {@link Combinators}. */
export interface Condition {
  readonly node: Node;
}

// Conditions are recognised by identity, not by shape: `{ node: { type: 'x' } }` is also a
// valid filter on a model with a relation named `node` to a model with a field named `type`.
const conditions = new WeakSet<Condition>();
const condition = (node: Node): Condition => {
  const made = { node };
  conditions.add(made);
  return made;
};

const toNode = (item: Record<string, unknown> | Condition): Node =>
  conditions.has(item as Condition) ? (item as Condition).node : { type: 'where', value: item as Record<string, unknown> };

/** @internal */
export const combinators: Combinators<any> = {
  and: (...items) => condition({ type: 'and', items: items.map(toNode) }),
  or: (...items) => condition({ type: 'or', items: items.map(toNode) }),
  not: (item) => condition({ type: 'not', item: toNode(item) }),
};

