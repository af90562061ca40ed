/**
 * @strata/serializer/client — browser-safe: builds a serializer's valibot input schema from
 * its JSON description (`serializer.describe()`, sent by the server), so forms validate
 * before sending. Imports valibot only; the serializer's types come through `import type`.
 * @example
 * import type { ProductSerializer } from '../server/serializers';
 * const form = createInputValidator<typeof ProductSerializer>(description);
 * const result = form.parse({ name: 'Sencha', price: '12.5x' }); // { ok: false, errors: { price: [...] } }
 * // `refine` rules are functions and do not travel in the description: pass the same ones here.
 */
import type * as v from 'valibot';
import type { InputDescription } from './description.js';
import { buildInputSchema, parseWithSchema, type ParseResult, type Refinements } from './inputSchema.js';
import type { InferData, InferInput } from './types.js';

export interface InputValidator<TInput, TData> {
  /** The valibot schema (full: every required field must be there). */
  schema: v.GenericSchema<TInput, TData>;
  /** The valibot schema of an update (every field optional). */
  partialSchema: v.GenericSchema<Partial<TInput>, Partial<TData>>;
  /** Validates like the server's first step: per-field errors, unknown keys refused. */
  parse(input: unknown, options?: { partial?: boolean }): ParseResult<TData>;
}

/** A typed validator for a serializer's input, from its description. */
export function createInputValidator<TSerializer>(
  description: InputDescription,
  options: { refine?: Refinements } = {},
): InputValidator<InferInput<TSerializer>, InferData<TSerializer>> {
  const refine = options.refine ?? {};
  const schema = buildInputSchema(description, { refine });
  const partialSchema = buildInputSchema(description, { partial: true, refine });
  return {
    schema: schema as never,
    partialSchema: partialSchema as never,
    parse: (input, parseOptions = {}) => parseWithSchema(description, parseOptions.partial ? partialSchema : schema, input),
  };
}

export type { FieldDescription, InputDescription } from './description.js';
export { DEFAULT_TEXT_LIMIT, JSON_DEPTH_LIMIT, JSON_SIZE_LIMIT, KEYS_LIMIT } from './description.js';
export type { FieldErrors, ParseResult, Refinements } from './inputSchema.js';
export type { InferData, InferInput, InferOutput } from './types.js';
