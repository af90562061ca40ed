import { atomic, isStrataError, type AnyModel, type IntegrityError } from '@strata/model';
import type { InputDescription } from '../description.js';
import type { FieldErrors } from '../inputSchema.js';

/** The saved row, or per-field errors (nothing written). */
export type SaveResult<TRow> = { ok: true; row: TRow } | { ok: false; errors: FieldErrors };

/** Thrown inside the transaction to roll all of it back, carrying the field errors to return. */
class Refused extends Error {
  constructor(readonly errors: FieldErrors) {
    super('Refused by the database.');
  }
}

/** Creates or updates through the model layer, many-to-many included, in one transaction. */
export async function saveData(
  model: AnyModel,
  description: InputDescription,
  data: Record<string, unknown>,
  instance: { id: unknown } | undefined,
  set: Record<string, unknown> = {},
): Promise<SaveResult<any>> {
  const columns: Record<string, unknown> = {};
  const sets: [string, unknown[]][] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    if (description.fields[key]?.kind === 'keys') sets.push([key, value as unknown[]]);
    else columns[key] = value;
  }
  Object.assign(columns, set);
  try {
    const row = await atomic(async () => {
      let saved: any;
      if (instance) {
        const scoped = model.objects.filter({ id: instance.id } as never);
        if (Object.keys(columns).length) await scoped.update(columns as never);
        saved = await scoped.get();
      } else {
        saved = await model.objects.create(columns as never);
      }
      for (const [name, keys] of sets) await assignKeys(model, saved, name, keys);
      return saved;
    });
    return { ok: true, row };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, errors: error.errors };
    const errors = await toFieldErrors(model, error, columns);
    if (errors) return { ok: false, errors };
    throw error;
  }
}

async function assignKeys(model: AnyModel, row: { id: unknown }, name: string, keys: unknown[]): Promise<void> {
  try {
    await model.objects.related(row, name).set(keys as (number | string)[]);
  } catch (error) {
    // The database names the join table (SQLite names nothing): the list is the field at fault.
    if (isStrataError(error, 'STRATA_MODEL_INTEGRITY') && (error as IntegrityError).kind === 'foreignKey') {
      throw new Refused({ [name]: ['One or more of these do not exist.'] });
    }
    throw error;
  }
}

async function toFieldErrors(model: AnyModel, error: unknown, columns: Record<string, unknown>): Promise<FieldErrors | undefined> {
  if (isStrataError(error, 'STRATA_MODEL_VALIDATION')) {
    const fieldErrors = (error as unknown as { fieldErrors: FieldErrors }).fieldErrors;
    return Object.fromEntries(Object.entries(fieldErrors).map(([field, messages]) => [inputKey(model, field), messages]));
  }
  if (isStrataError(error, 'STRATA_MODEL_NOT_FOUND')) return { __all__: [`This ${model.label} no longer exists.`] };
  if (!isStrataError(error, 'STRATA_MODEL_INTEGRITY')) return undefined;
  const integrity = error as unknown as IntegrityError;
  const field = integrity.model === model.name ? integrity.field : undefined;
  const key = field && inputKey(model, field);
  switch (integrity.kind) {
    case 'unique':
      return { [key ?? '__all__']: [key ? `A ${model.label} with this ${field} already exists.` : `A ${model.label} like this already exists.`] };
    case 'foreignKey':
      return key ? { [key]: ['The related object does not exist.'] } : ((await missingRelations(model, columns)) ?? { __all__: ['A related object does not exist.'] });
    default:
      return { [key ?? '__all__']: ['This value is not allowed.'] };
  }
}

/** The serializer's name of a model field: a relation is written through its `<name>Id` key. */
function inputKey(model: AnyModel, field: string): string {
  const kind = model.fieldConfig(field)?.kind;
  return kind === 'foreignKey' || kind === 'oneToOne' ? `${field}Id` : field;
}

/**
 * SQLite does not say which foreign key failed: after the rollback, look up the keys that were
 * written (only on this failure path) and name the ones whose row does not exist.
 */
async function missingRelations(model: AnyModel, columns: Record<string, unknown>): Promise<FieldErrors | undefined> {
  const errors: FieldErrors = {};
  for (const [key, value] of Object.entries(columns)) {
    const config = key.endsWith('Id') ? model.fieldConfig(key.slice(0, -2)) : undefined;
    if (value === null || (config?.kind !== 'foreignKey' && config?.kind !== 'oneToOne')) continue;
    if (!(await config.target!().objects.filter({ id: value } as never).exists())) errors[key] = ['The related object does not exist.'];
  }
  return Object.keys(errors).length ? errors : undefined;
}
