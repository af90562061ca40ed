import { modelOfRow } from '@strata/model';
import { StateError } from './errors.js';
import { stateSelves } from './internal/stateSelves.js';

/**
 * Checks that a value may be held in a client var: JSON data only (strings, finite numbers,
 * booleans, null, arrays, plain objects; no cycles). Anything else — a model row, a Date,
 * a Map, a class instance, a function, a request or socket — throws `STRATA_STATE_NOT_JSON`
 * naming the state and the var, in development and production alike.
 */
export function assertClientValue(state: string, name: string, value: unknown): void {
  const problem = findProblem(value);
  if (problem) {
    throw new StateError(
      'STRATA_STATE_NOT_JSON',
      `${state}.${name}${problem.where} holds ${problem.what}, which cannot be sent to the browser: serialize it first${problem.hint}.`,
    );
  }
}

interface Problem {
  where: string;
  what: string;
  hint: string;
}

/** A value still to check, with how it was reached (the path is spelt only for a problem). */
interface Visit {
  value: unknown;
  parent: Visit | undefined;
  key: string;
  exit?: true;
}

function pathOf(visit: Visit): string {
  let where = '';
  for (let at: Visit | undefined = visit; at?.parent; at = at.parent) where = `${Array.isArray(at.parent.value) ? `[${at.key}]` : `.${at.key}`}${where}`;
  return where;
}

function findProblem(root: unknown): Problem | undefined {
  // Iterative walk (a deep value must not overflow the stack); `open` holds the current ancestors for cycles.
  const stack: Visit[] = [{ value: root, parent: undefined, key: '' }];
  const open = new Set<object>();
  while (stack.length) {
    const visit = stack.pop()!;
    const { value } = visit;
    if (visit.exit) {
      open.delete(value as object);
      continue;
    }
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { where: pathOf(visit), what: String(value), hint: '' };
      continue;
    }
    if (typeof value !== 'object') return { where: pathOf(visit), what: value === undefined ? 'undefined' : `a ${typeof value}`, hint: '' };
    const model = modelOfRow(value);
    if (model) return { where: pathOf(visit), what: `a ${model.name} row`, hint: ' with a serializer (toJSON) from @strata/serializer' };
    if (stateSelves.has(value)) return { where: pathOf(visit), what: 'a state object (it includes backend-only vars)', hint: ': copy the vars you need into a plain object' };
    if (open.has(value)) return { where: pathOf(visit), what: 'a cycle', hint: '' };
    const proto = Object.getPrototypeOf(value);
    if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
      return { where: pathOf(visit), what: `a ${value.constructor?.name ?? 'class instance'}`, hint: value instanceof Date ? ' (date.toISOString())' : '' };
    }
    open.add(value);
    stack.push({ value, parent: visit.parent, key: visit.key, exit: true });
    for (const key of Object.keys(value)) stack.push({ value: (value as Record<string, unknown>)[key], parent: visit, key });
  }
  return undefined;
}
