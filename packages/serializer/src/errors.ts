import { StrataError } from '@strata/model';

/** Every serializer error code, with the sentence docs/errors.md expands on. */
export const serializerErrorCodes = {
  STRATA_SERIALIZER_DEFINITION: 'A serializer definition names a field it cannot use.',
  STRATA_SERIALIZER_RELATION_NOT_LOADED: 'A nested relation was not loaded with selectRelated/prefetch.',
  STRATA_SERIALIZER_FIELD_NOT_LOADED: 'A row lacks a field the serializer outputs (loaded with only()).',
  STRATA_SERIALIZER_NOT_JSON: 'A computed field returned a value that is not JSON data.',
} as const;

export type SerializerErrorCode = keyof typeof serializerErrorCodes;

/** An error of the serializer layer (a programming mistake, never a user's bad input). */
export class SerializerError extends StrataError<SerializerErrorCode> {}
