/**
 * Errors of the model layer. Every error has a stable `code`
 * (`STRATA_MODEL_<PROBLEM>`), a message that says what to do, and a `cause`
 * where one exists. Recognise errors with {@link isStrataError} (a brand
 * survives two copies of the package being loaded), not only `instanceof`.
 */

const brand = Symbol.for('strata.error');

/** Every model error code, with the sentence docs/errors.md expands on. */
export const modelErrorCodes = {
  STRATA_MODEL_NOT_READY: 'A query ran before setup() connected the database.',
  STRATA_MODEL_ALREADY_SETUP: 'setup() was called while another database is connected.',
  STRATA_MODEL_DEFINITION: 'A model definition is invalid.',
  STRATA_MODEL_UNKNOWN_MODEL: 'A model is used that was not passed to setup().',
  STRATA_MODEL_UNKNOWN_FIELD: 'A field, lookup or relation path does not exist on the model.',
  STRATA_MODEL_INVALID_QUERY: 'A queryset operation was given arguments it cannot use.',
  STRATA_MODEL_NOT_FOUND: 'get() matched no row.',
  STRATA_MODEL_MULTIPLE_FOUND: 'get() matched more than one row.',
  STRATA_MODEL_VALIDATION: 'Data failed the model field rules; see fieldErrors.',
  STRATA_MODEL_INTEGRITY: 'The database refused a write because of a constraint.',
  STRATA_MODEL_PROTECTED: 'A delete was refused because protected rows still point at the rows.',
  STRATA_MODEL_DATABASE_URL: 'The database URL is not one Strata can connect to.',
  STRATA_MODEL_MIGRATION: 'A migration could not be generated or applied.',
  STRATA_MODEL_UNAVAILABLE: 'The database could not be reached (connection refused or lost, server restarting, or locked too long).',
} as const;

export type ModelErrorCode = keyof typeof modelErrorCodes;

/** Base class of every Strata error: a stable `code` plus a message that says what to do. */
export class StrataError<TCode extends string = string> extends Error {
  readonly code: TCode;
  readonly [brand] = true;

  constructor(code: TCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `value` is a Strata error (of any copy of the package), optionally of one code. */
export function isStrataError<TCode extends string = string>(value: unknown, code?: TCode): value is StrataError<TCode> {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[brand] !== true) return false;
  return code === undefined || (value as StrataError).code === code;
}

/** An error raised by the model layer. */
export class ModelError extends StrataError<ModelErrorCode> {}

/** Thrown by `get()` when no row matched. */
export class NotFoundError extends ModelError {
  readonly model: string;
  constructor(model: string, detail = '') {
    super('STRATA_MODEL_NOT_FOUND', `${model} matching the query does not exist${detail}.`);
    this.model = model;
  }
}

/** Thrown by `get()` when more than one row matched. */
export class MultipleFoundError extends ModelError {
  readonly model: string;
  constructor(model: string) {
    super('STRATA_MODEL_MULTIPLE_FOUND', `get() on ${model} matched more than one row; narrow the filter or use first().`);
    this.model = model;
  }
}

/** Per-field error messages, keyed by field name; `__all__` holds errors of the whole object. */
export type FieldErrors = Record<string, string[]>;

/** Thrown by writes whose data fails the model's field rules; nothing was written. */
export class ValidationError extends ModelError {
  readonly model: string;
  readonly fieldErrors: FieldErrors;
  constructor(model: string, fieldErrors: FieldErrors) {
    const summary = Object.entries(fieldErrors)
      .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
      .join('; ');
    super('STRATA_MODEL_VALIDATION', `Invalid ${model}: ${summary}`);
    this.model = model;
    this.fieldErrors = fieldErrors;
  }
}

/** Which kind of constraint the database enforced. */
export type ConstraintKind = 'unique' | 'notNull' | 'foreignKey' | 'check';

/** The database refused a write; the surrounding transaction was rolled back. */
export class IntegrityError extends ModelError {
  readonly model: string | undefined;
  readonly field: string | undefined;
  readonly constraint: string | undefined;
  readonly kind: ConstraintKind;
  constructor(details: { model?: string; field?: string; constraint?: string; kind: ConstraintKind }, cause: unknown) {
    const where = [details.model, details.field].filter(Boolean).join('.');
    const named = details.constraint ? ` (constraint ${details.constraint})` : '';
    super('STRATA_MODEL_INTEGRITY', `${describeKind(details.kind)} violated${where ? ` on ${where}` : ''}${named}.`, { cause });
    this.model = details.model;
    this.field = details.field;
    this.constraint = details.constraint;
    this.kind = details.kind;
  }
}

function describeKind(kind: ConstraintKind): string {
  switch (kind) {
    case 'unique':
      return 'Unique constraint';
    case 'notNull':
      return 'Not-null constraint';
    case 'foreignKey':
      return 'Foreign key constraint';
    case 'check':
      return 'Check constraint';
  }
}

/** A delete was refused: rows of `protectedBy` reference the rows through an `onDelete: 'protect'` key. */
export class ProtectedError extends ModelError {
  readonly model: string;
  readonly protectedBy: string;
  constructor(model: string, protectedBy: string, field: string) {
    super(
      'STRATA_MODEL_PROTECTED',
      `Cannot delete ${model}: rows of ${protectedBy} still reference it through ${field} (onDelete: 'protect'). Delete or reassign them first.`,
    );
    this.model = model;
    this.protectedBy = protectedBy;
  }
}
