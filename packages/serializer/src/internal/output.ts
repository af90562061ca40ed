import { isJsonValue, type AnyModel, type FieldConfig } from '@strata/model';
import { SerializerError } from '../errors.js';
import type { ComputedField, NestedSpec, SerializerContext } from '../types.js';
import { compileRow, type RowSerializer } from './compileRow.js';

type RowRecord = Record<string, unknown>;
type Convert = ((value: any) => unknown) | undefined;

interface NestedEntry {
  key: string;
  plan: OutputPlan;
  many: boolean;
  /** Loaded by `selectRelated` (a forward to-one relation) rather than only by `prefetch`. */
  toOne: boolean;
}

/** The nested relations from the serialized row down to the current one, for load hints. */
type Trail = { up: Trail; entry: NestedEntry } | undefined;

/** How rows of one serializer become JSON: precomputed once, applied per row. */
export interface OutputPlan {
  model: AnyModel;
  /** `relation`: a many-to-many list of keys, loaded by `prefetch`. */
  fields: { key: string; convert: Convert; relation: boolean }[];
  computed: [string, ComputedField<AnyModel>][];
  nested: NestedEntry[];
}

const toIso = (value: Date) => value.toISOString();
const toIds = (rows: { id: unknown }[]) => rows.map((row) => row.id);

export function outputPlan(
  model: AnyModel,
  names: readonly string[],
  computed: Record<string, ComputedField<AnyModel>>,
  nested: Record<string, NestedSpec>,
): OutputPlan {
  const fields = names.map((key) => {
    const config = model.fieldConfig(key) as FieldConfig | undefined;
    if (config?.kind === 'manyToMany') return { key, convert: toIds as Convert, relation: true };
    const convert: Convert = config?.kind === 'bigint' ? String : config?.kind === 'datetime' ? toIso : undefined;
    return { key, convert, relation: false };
  });
  const nestedEntries = Object.entries(nested).map(([key, spec]) => {
    const many = Array.isArray(spec);
    const serializer = (many ? (spec as readonly [{ plan: OutputPlan }])[0] : spec) as { plan: OutputPlan };
    const config = model.fieldConfig(key);
    const toOne = config?.kind === 'foreignKey' || config?.kind === 'oneToOne';
    return { key, plan: serializer.plan, many, toOne };
  });
  return { model, fields, computed: Object.entries(computed), nested: nestedEntries };
}

/**
 * Serializes rows. Everything synchronous is done in one pass; async computed values are
 * gathered and awaited together, so a list costs one await, not one per row.
 */
export async function serializeRows(plan: OutputPlan, rows: readonly RowRecord[], context: SerializerContext): Promise<RowRecord[]> {
  const pending: Promise<void>[] = [];
  const compiled = compiledRow(plan);
  const out: RowRecord[] = new Array(rows.length);
  try {
    for (let i = 0; i < rows.length; i++) {
      try {
        out[i] = compiled(rows[i]!, context, pending);
      } catch (error) {
        // The compiled path only says that something is missing; the interpreted one says
        // exactly what, and which call loads it.
        if (error !== MISSING) throw error;
        serializeRow(plan, rows[i]!, context, pending);
        throw new SerializerError('STRATA_SERIALIZER_FIELD_NOT_LOADED', `A ${plan.model.name} row lacks a field or relation the serializer outputs.`);
      }
    }
  } catch (error) {
    // Async values already started must not reject unobserved: an unhandled rejection ends a Node process.
    for (const promise of pending) promise.catch(() => undefined);
    throw error;
  }
  if (pending.length) await Promise.all(pending);
  return out;
}

/** Thrown by compiled serializers for a missing field or relation; never escapes serializeRows. */
const MISSING = Symbol('missing');
const compiledPlans = new WeakMap<OutputPlan, RowSerializer>();

function compiledRow(plan: OutputPlan): RowSerializer {
  let compiled = compiledPlans.get(plan);
  if (compiled) return compiled;
  const missing = (): never => {
    throw MISSING;
  };
  compiled = compileRow(
    plan.fields.map((field) => field.key),
    plan.computed.map(([key]) => key),
    plan.nested.map(({ key, many }) => ({ key, many })),
    {
      converts: plan.fields.map((field) => field.convert),
      computed: plan.computed.map(([, compute]) => compute as (row: RowRecord, context: SerializerContext) => unknown),
      checkJson: (index, value) => checkJson(plan.model, plan.computed[index]![0], value),
      nested: plan.nested.map((entry) => compiledRow(entry.plan)),
      missingField: missing,
      missingRelation: missing,
      notARow: missing,
    },
  );
  compiledPlans.set(plan, compiled);
  return compiled;
}

function serializeRow(plan: OutputPlan, row: RowRecord, context: SerializerContext, pending: Promise<void>[], trail?: Trail): RowRecord {
  if (typeof row !== 'object' || row === null) {
    throw new SerializerError('STRATA_SERIALIZER_DEFINITION', `The ${plan.model.name} serializer was given ${row === null ? 'null' : typeof row}, not a row.`);
  }
  const out: RowRecord = {};
  for (const field of plan.fields) {
    const value = row[field.key];
    if (value === undefined) throw field.relation ? notLoaded(plan.model, field.key, false, trail) : fieldNotLoaded(plan.model, field.key);
    out[field.key] = value === null || field.convert === undefined ? value : field.convert(value);
  }
  for (const [key, compute] of plan.computed) {
    const value = compute(row as never, context);
    if (isThenable(value)) pending.push(Promise.resolve(value).then((resolved) => void (out[key] = checkJson(plan.model, key, resolved))));
    else out[key] = checkJson(plan.model, key, value);
  }
  for (const entry of plan.nested) {
    const value = row[entry.key];
    if (value === undefined) throw notLoaded(plan.model, entry.key, entry.toOne, trail);
    const below: Trail = { up: trail, entry };
    if (value === null) out[entry.key] = entry.many ? [] : null;
    else if (entry.many) out[entry.key] = (value as RowRecord[]).map((item) => serializeRow(entry.plan, item, context, pending, below));
    else out[entry.key] = serializeRow(entry.plan, value as RowRecord, context, pending, below);
  }
  return out;
}

function fieldNotLoaded(model: AnyModel, key: string): SerializerError {
  return new SerializerError(
    'STRATA_SERIALIZER_FIELD_NOT_LOADED',
    `${model.name}.${key} is not on the row (was it loaded with only()?); load it or drop it from the serializer.`,
  );
}

/**
 * Names the call that loads the relation from the top-level queryset: the whole path
 * (`prefetch('products.tags')`), by `selectRelated` only when every step is a forward to-one.
 */
function notLoaded(model: AnyModel, key: string, toOne: boolean, trail: Trail): SerializerError {
  const path = [key];
  let joinable = toOne;
  for (let step = trail; step; step = step.up) {
    path.unshift(step.entry.key);
    joinable &&= step.entry.toOne;
  }
  const hint = `${joinable ? 'selectRelated' : 'prefetch'}('${path.join('.')}')`;
  return new SerializerError(
    'STRATA_SERIALIZER_RELATION_NOT_LOADED',
    `${model.name}.${key} was not loaded: add .${hint} to the queryset. The serializer never queries per row.`,
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** Computed values must be JSON data: checked here, at the boundary, naming the field. */
function checkJson(model: AnyModel, key: string, value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'object' && isJsonValue(value)) return value;
  throw new SerializerError(
    'STRATA_SERIALIZER_NOT_JSON',
    `Computed field ${key} of the ${model.name} serializer returned ${describe(value)}, which is not JSON data; return strings, numbers, booleans, null, arrays and plain objects.`,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'object'}`;
  return `a ${typeof value}`;
}
