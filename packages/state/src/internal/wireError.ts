import { isStrataError } from '@strata/model';
import type { WireError } from '../protocol.js';
import { stateErrorCodes } from '../errors.js';

/** Model errors whose code is public; the message sent is ours (theirs may name tables or constraints). */
const MODEL_MESSAGES: Record<string, string> = {
  STRATA_MODEL_VALIDATION: 'Some fields are invalid.',
  STRATA_MODEL_NOT_FOUND: 'Not found.',
  STRATA_MODEL_INTEGRITY: 'This conflicts with existing data.',
  STRATA_MODEL_PROTECTED: 'Other records still depend on this.',
  STRATA_MODEL_UNAVAILABLE: 'The database is unavailable; try again shortly.',
};

/** The runtime's refusals of a client's frame: their messages are written for the client. */
const REFUSALS = new Set<string>([
  'STRATA_STATE_BAD_FRAME', 'STRATA_STATE_FRAME_TOO_LARGE', 'STRATA_STATE_NOT_JOINED', 'STRATA_STATE_BAD_TOKEN', 'STRATA_STATE_TAB_EXPIRED',
  'STRATA_STATE_UNKNOWN_STATE', 'STRATA_STATE_UNKNOWN_HANDLER', 'STRATA_STATE_BAD_ARGS', 'STRATA_STATE_REPLAYED', 'STRATA_STATE_INTERRUPTED',
  'STRATA_STATE_RATE_LIMITED', 'STRATA_STATE_QUEUE_FULL', 'STRATA_STATE_CANCELLED', 'STRATA_STATE_UNAVAILABLE',
  'STRATA_STATE_UPLOAD_TOO_LARGE', 'STRATA_STATE_UPLOAD_NOT_FOUND',
]);

const FAILED: WireError = { code: 'STRATA_STATE_HANDLER_FAILED', message: 'The server could not complete this action.' };

/**
 * The one boundary where errors become wire errors. Errors raised on purpose (`EventError`
 * and other errors with `expose`) and the runtime's own codes keep their message; model
 * errors keep their code and fields; anything else is `STRATA_STATE_HANDLER_FAILED`, with
 * its message only in development. Stacks never cross.
 */
export function toWireError(error: unknown, production: boolean): WireError {
  if (isStrataError(error)) {
    const { code } = error;
    const fields = (error as { fields?: unknown }).fields;
    if ((error as { expose?: unknown }).expose === true || REFUSALS.has(code) || (!production && Object.hasOwn(stateErrorCodes, code))) {
      return isFields(fields) ? { code, message: error.message, fields } : { code, message: error.message };
    }
    // A programming error of the app (a non-JSON var, an undeclared name, a bad action): its
    // code helps, its message names internals.
    if (Object.hasOwn(stateErrorCodes, code)) return { code, message: FAILED.message };
    const modelMessage = MODEL_MESSAGES[code];
    if (modelMessage !== undefined) {
      const wire: WireError = { code, message: production ? modelMessage : error.message };
      const fieldErrors = modelFields(error, wire.message);
      if (fieldErrors) wire.fields = fieldErrors;
      return wire;
    }
  }
  if (production) return FAILED;
  return { code: isStrataError(error) ? error.code : FAILED.code, message: error instanceof Error ? error.message : String(error) };
}

function modelFields(error: object, message: string): Record<string, string[]> | undefined {
  const { fieldErrors, field } = error as { fieldErrors?: unknown; field?: unknown };
  if (isFields(fieldErrors)) return fieldErrors;
  if (typeof field === 'string') return { [field]: [message] };
  return undefined;
}

function isFields(value: unknown): value is Record<string, string[]> {
  return typeof value === 'object' && value !== null && Object.values(value).every((list) => Array.isArray(list) && list.every((m) => typeof m === 'string'));
}

/** True for errors that are part of normal operation (refusals, validation): not worth a log line. */
export function isExpectedError(error: unknown): boolean {
  if (!isStrataError(error)) return false;
  return (error as { expose?: unknown }).expose === true || REFUSALS.has(error.code) || Object.hasOwn(MODEL_MESSAGES, error.code);
}
