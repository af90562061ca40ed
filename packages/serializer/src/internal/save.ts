import { atomic, isStrataError, type AnyModel, type IntegrityError } from '@strata/model';
import type { InputDescription } from '../description.js';
import type { FieldErrors } from '../inputSchema.js';

/** The saved row, or per-field errors (nothing written). */
export type SaveResult<TRow> = { ok: true; row: TRow } | { ok: false; errors: FieldErrors };

/** Creates or updates through the model layer, many-to-many included, in one transaction. */
export async function saveData(
  model: AnyModel,
  description: InputDescription,
  data: Record<string, unknown>,
  instance: { id: unknown } | undefined,
): Promise<SaveResult<any>> {
  const columns: Record<string, unknown> = {};
  const sets: [string, unknown[]][] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    if (description.fields[key]?.kind === 'keys') sets.push([key, value as unknown[]]);
    else columns[key] = value;
  }
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
      for (const [name, keys] of sets) await model.objects.related(saved, name).set(keys as (number | string)[]);
      return saved;
    });
    return { ok: true, row };
  } catch (error) {
    const errors = toFieldErrors(model, error);
    if (errors) return { ok: false, errors };
    throw error;
  }
}

function toFieldErrors(model: AnyModel, error: unknown): FieldErrors | undefined {
  if (isStrataError(error, 'STRATA_MODEL_VALIDATION')) return (error as unknown as { fieldErrors: FieldErrors }).fieldErrors;
  if (isStrataError(error, 'STRATA_MODEL_NOT_FOUND')) return { __all__: [`This ${model.label} no longer exists.`] };
  if (!isStrataError(error, 'STRATA_MODEL_INTEGRITY')) return undefined;
  const integrity = error as unknown as IntegrityError;
  const field = integrity.model === model.name ? integrity.field : undefined;
  const key = field && model.fieldConfig(field)?.kind === 'foreignKey' ? `${field}Id` : field;
  switch (integrity.kind) {
    case 'unique':
      return { [key ?? '__all__']: [key ? `A ${model.label} with this ${field} already exists.` : `A ${model.label} like this already exists.`] };
    case 'foreignKey':
      return { [key ?? '__all__']: ['The related object does not exist.'] };
    default:
      return { [key ?? '__all__']: ['This value is not allowed.'] };
  }
}
