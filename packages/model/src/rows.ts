import { ROW_MODEL } from './internal/compile.js';
import type { AnyModel, Branded } from './types.js';

/**
 * True when `value` is a row read through a model (its brand is a non-enumerable symbol,
 * so it never appears in JSON). The state layer uses it to refuse raw rows in client state.
 */
export function isModelRow(value: unknown): value is Branded<string> & Record<string, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ROW_MODEL] !== undefined;
}

/** The model a row was read through, or undefined for anything else. */
export function modelOfRow(value: unknown): AnyModel | undefined {
  return isModelRow(value) ? ((value as Record<symbol, unknown>)[ROW_MODEL] as AnyModel) : undefined;
}
