import type { AnyModel, FieldConfig } from '@strata/model';
import type { FieldDescription } from '../description.js';

/** The input description of one model field (a column, a `<rel>Id` key or a many-to-many list). */
export function describeField(model: AnyModel, name: string): FieldDescription | undefined {
  const own = model.fieldConfig(name);
  if (own?.kind === 'manyToMany') return { kind: 'keys', optional: true, nullable: false, keyKind: own.target!().primaryKey };
  if (own) return own.kind === 'foreignKey' || own.kind === 'oneToOne' ? undefined : column(own);
  const relation = name.endsWith('Id') ? model.fieldConfig(name.slice(0, -2)) : undefined;
  if (relation && (relation.kind === 'foreignKey' || relation.kind === 'oneToOne')) {
    return { kind: 'key', optional: relation.null, nullable: relation.null, keyKind: relation.target!().primaryKey };
  }
  return undefined;
}

function column(config: FieldConfig): FieldDescription {
  const out: FieldDescription = {
    kind: config.kind as FieldDescription['kind'],
    optional: config.null || config.default !== undefined,
    nullable: config.null,
  };
  if (config.maxLength !== undefined) out.maxLength = config.maxLength;
  if (config.minLength !== undefined) out.minLength = config.minLength;
  if (config.min !== undefined) out.min = typeof config.min === 'bigint' ? String(config.min) : config.min;
  if (config.max !== undefined) out.max = typeof config.max === 'bigint' ? String(config.max) : config.max;
  if (config.kind === 'decimal') {
    out.precision = config.precision ?? 12;
    out.scale = config.scale ?? 2;
  }
  if (config.choices) out.choices = [...config.choices];
  return out;
}
