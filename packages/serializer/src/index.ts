/**
 * @strata/serializer — the single typed mapping between model rows and what crosses to the
 * client: JSON output by one documented rule, valibot input validation with per-field
 * errors, and saves through the model layer. Browser code uses `@strata/serializer/client`.
 */
export { createModelSerializer, ModelSerializer } from './serializer.js';
export type { FieldValidator, ModelSerializerOptions, ParseOptions, ValidationContext } from './serializer.js';
export { SerializerError, serializerErrorCodes } from './errors.js';
export type { SerializerErrorCode } from './errors.js';
export { buildInputSchema } from './inputSchema.js';
export type { FieldErrors, ParseResult, Refinements } from './inputSchema.js';
export type { SaveResult } from './internal/save.js';
export { DEFAULT_TEXT_LIMIT, JSON_DEPTH_LIMIT, JSON_SIZE_LIMIT, KEYS_LIMIT } from './description.js';
export type { FieldDescription, InputDescription } from './description.js';
export type {
  ComputedField,
  FieldName,
  InferData,
  InferInput,
  InferOutput,
  JsonOf,
  JsonValue,
  NestedSpec,
  SensitiveKeys,
  SerializerContext,
} from './types.js';
