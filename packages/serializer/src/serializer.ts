import { modelOfRow, type AnyModel, type FieldConfig, type FieldsOf, type Row, type ToManyKeys } from '@strata/model';
import type { InputDescription } from './description.js';
import { SerializerError } from './errors.js';
import { addError, buildInputSchema, FORBIDDEN_KEYS, parseWithSchema, type FieldErrors, type ParseResult, type Refinements } from './inputSchema.js';
import { describeField } from './internal/describe.js';
import { outputPlan, serializeRows, type OutputPlan } from './internal/output.js';
import { saveData, type SaveResult } from './internal/save.js';
import type { ComputedField, DataOf, FieldName, InputOf, JsonValue, NestedSpec, OutputOf, SensitiveKeys, SerializerContext } from './types.js';

type MaybePromise<T> = T | Promise<T>;
/**
 * A per-field server-side rule: a message (or messages) to reject, nothing to accept.
 * Called for values only: a null (where the field allows it) is accepted without it, as by model validators.
 */
export type FieldValidator = (value: any, context: ValidationContext) => MaybePromise<string | string[] | undefined | void>;
/** Options of `parse()`. */
export interface ParseOptions {
  /** Validate only the fields given (an update); default: true when `instance` is given. */
  partial?: boolean;
  /** The row being updated, handed to validators. */
  instance?: Record<string, unknown>;
  /** Caller context (request, user) handed to validators. */
  context?: SerializerContext;
}

/** What validators see besides the data. */
export interface ValidationContext {
  /** The row being updated, when `parse` was given one. */
  instance: Record<string, unknown> | undefined;
  partial: boolean;
  context: SerializerContext;
}

export interface ModelSerializerOptions<M extends AnyModel, TFields extends string, TExclude extends string, TReadOnly extends string, TWriteOnly extends string, TComputed, TNested> {
  /** Fields to expose, or `'__all__'` (every non-sensitive column, `<relation>Id` key and `id`). */
  fields: readonly TFields[] | '__all__';
  /** Fields to leave out, of `'__all__'` or of the list. */
  exclude?: readonly TExclude[];
  /** Output only; rejected in input with a field error. `id` is always read-only. */
  readOnly?: readonly TReadOnly[];
  /** Input only, never output. The only way a `sensitive` field can be accepted. */
  writeOnly?: readonly TWriteOnly[];
  /** Output fields computed from the row and the context (sync or async). */
  computed?: { [K in keyof TComputed]: (row: Row<M> & Record<string, any>, context: SerializerContext) => TComputed[K] | Promise<TComputed[K]> };
  /** Relations serialized by another serializer: `{ category: CategorySerializer, items: [ItemSerializer] }`. */
  nested?: TNested;
  // NoInfer on refine and validators: naming a field there must not make it write-only (or listed) in the types.
  /** Valibot refinements of field schemas, e.g. `{ name: (s) => v.pipe(s, v.minLength(3)) }` (server and client). */
  refine?: { [K in NoInfer<TFields | TWriteOnly>]?: Refinements[string] };
  /** Server-side field rules, sync or async (e.g. a uniqueness check). */
  validators?: { [K in NoInfer<TFields | TWriteOnly>]?: FieldValidator };
  /** Server-side object rule: returns per-field errors, a non-field message, or nothing. */
  validate?: (data: Record<string, unknown>, context: ValidationContext) => MaybePromise<FieldErrors | string | undefined | void>;
}

const ALL = '__all__';

/**
 * A serializer: the one typed mapping between rows of a model and what crosses to the client.
 * Built by {@link createModelSerializer}.
 */
export class ModelSerializer<M extends AnyModel, TOutput, TInput, TData> {
  readonly model: M;
  /** @internal */
  readonly plan: OutputPlan;
  private readonly description: InputDescription;
  private readonly schemas: { full: ReturnType<typeof buildInputSchema>; partial: ReturnType<typeof buildInputSchema> };
  private readonly fieldRules: [string, FieldValidator][];
  private readonly modelValidators: (readonly [string, readonly ((value: unknown) => string | undefined | void)[]])[];
  private readonly validateObject: ModelSerializerOptions<M, string, string, string, string, unknown, unknown>['validate'];
  declare readonly __types?: { output: TOutput; input: TInput; data: TData };

  /** @internal */
  constructor(model: M, options: ModelSerializerOptions<M, string, string, string, string, Record<string, JsonValue>, Record<string, NestedSpec>>) {
    this.model = model;
    const listed = listedFields(model, options);
    const writeOnly = new Set(options.writeOnly ?? []);
    const readOnly = new Set(['id', ...(options.readOnly ?? [])]);
    for (const name of [...writeOnly, ...readOnly]) {
      if (name !== 'id' && !listed.includes(name) && !isFieldName(model, name)) throw unknown(model, name);
    }
    for (const name of listed) {
      if (model.fieldConfig(name)?.sensitive && !writeOnly.has(name)) {
        throw new SerializerError(
          'STRATA_SERIALIZER_DEFINITION',
          `${model.name}.${name} is sensitive: it is never output, and is accepted as input only when named in writeOnly.`,
        );
      }
    }
    const computed = (options.computed ?? {}) as Record<string, ComputedField<M>>;
    const nested = options.nested ?? {};
    checkOwnNames(model, [...listed, ...writeOnly], [...Object.keys(computed), ...Object.keys(nested)]);
    for (const [name, spec] of Object.entries(nested)) checkNested(model, name, spec);
    const output = listed.filter((name) => !writeOnly.has(name));
    this.plan = outputPlan(model, output, computed, nested);
    const writable = [...new Set([...listed, ...writeOnly])].filter((name) => !readOnly.has(name));
    const outputOnly = [...new Set([...readOnly, ...output, ...Object.keys(computed), ...Object.keys(nested)])];
    this.description = {
      model: model.name,
      fields: {},
      // Sent to browsers: a sensitive name stays out, and is refused as unknown instead.
      readOnly: outputOnly.filter((name) => !writable.includes(name) && !model.fieldConfig(name)?.sensitive),
    };
    for (const name of writable) this.description.fields[name] = describeField(model, name)!;
    for (const name of [...Object.keys(options.validators ?? {}), ...Object.keys(options.refine ?? {})]) {
      if (!writable.includes(name)) throw definitionError(`validators and refine of the ${model.name} serializer name "${name}", which it does not accept as input.`);
    }
    const refine = (options.refine ?? {}) as Refinements;
    this.schemas = {
      full: buildInputSchema(this.description, { refine }),
      partial: buildInputSchema(this.description, { partial: true, refine }),
    };
    this.fieldRules = Object.entries((options.validators ?? {}) as Record<string, FieldValidator>);
    this.modelValidators = Object.keys(this.description.fields)
      .map((name) => [name, (model.fieldConfig(name)?.validators ?? []) as readonly ((value: unknown) => string | undefined | void)[]] as const)
      .filter(([, rules]) => rules.length > 0);
    this.validateObject = options.validate;
  }

  /**
   * Rows (or one row) as plain JSON data by the documented rule: decimals and bigints as
   * strings, dates and datetimes as ISO-8601 strings, no class instances, no `undefined`.
   * Nested relations must have been loaded (`selectRelated` / `prefetch`): a missing one
   * throws `STRATA_SERIALIZER_RELATION_NOT_LOADED`, never a query per row.
   */
  toJSON(rows: readonly Row<M>[] | readonly (Row<M> & Record<string, unknown>)[], context?: SerializerContext): Promise<TOutput[]>;
  toJSON(row: Row<M> | (Row<M> & Record<string, unknown>), context?: SerializerContext): Promise<TOutput>;
  async toJSON(input: unknown, context: SerializerContext = {}): Promise<unknown> {
    const many = Array.isArray(input);
    const rows = (many ? input : [input]) as Record<string, unknown>[];
    for (const row of rows) {
      const model = modelOfRow(row);
      if (model && model !== this.model) {
        throw new SerializerError('STRATA_SERIALIZER_DEFINITION', `The ${this.model.name} serializer was given a ${model.name} row.`);
      }
    }
    const out = await serializeRows(this.plan, rows, context);
    return many ? out : out[0];
  }

  /**
   * Validates input: unknown, read-only and prototype keys, types, lengths, choices, ranges,
   * required fields, the model's validators, then this serializer's own rules (sync and
   * async). Never throws for a user's mistake: returns clean data or per-field errors.
   * `partial` (or an `instance`) validates only the fields given, as for an update.
   */
  parse(input: unknown, options?: ParseOptions & { partial?: false; instance?: undefined }): Promise<ParseResult<TData>>;
  parse(input: unknown, options?: ParseOptions): Promise<ParseResult<Partial<TData>>>;
  async parse(input: unknown, options: ParseOptions = {}): Promise<ParseResult<TData>> {
    const partial = options.partial ?? options.instance !== undefined;
    const checked = this.check(input, partial);
    if (!checked.ok || (!this.fieldRules.length && !this.validateObject)) return checked;
    const errors: FieldErrors = {};
    await this.runRules(checked.data as Record<string, unknown>, errors, { instance: options.instance, partial, context: options.context ?? {} });
    for (const _ in errors) return { ok: false, errors };
    return checked;
  }

  /**
   * The synchronous `parse()`, for serializers without `validators` or `validate` (which may
   * be async): the same checks, no promise. Throws `STRATA_SERIALIZER_DEFINITION` otherwise.
   */
  parseSync(input: unknown, options?: { partial?: false }): ParseResult<TData>;
  parseSync(input: unknown, options?: { partial?: boolean }): ParseResult<Partial<TData>>;
  parseSync(input: unknown, options: { partial?: boolean } = {}): ParseResult<TData> {
    if (this.fieldRules.length || this.validateObject) {
      throw new SerializerError('STRATA_SERIALIZER_DEFINITION', `The ${this.model.name} serializer has validators or validate, which may be async: use parse().`);
    }
    return this.check(input, options.partial ?? false);
  }

  /** Schema, unknown and read-only keys, then the model's own custom validators. */
  private check(input: unknown, partial: boolean): ParseResult<TData> {
    const first = parseWithSchema<Record<string, unknown>>(this.description, partial ? this.schemas.partial : this.schemas.full, input);
    if (!first.ok) return first;
    const data = first.data;
    let errors: FieldErrors | undefined;
    // Types, lengths, ranges and choices are in the schema (derived from the same field
    // configs); only the model's custom validators are left to run.
    for (const [field, rules] of this.modelValidators) {
      const value = data[field];
      if (value === undefined || value === null) continue;
      for (const rule of rules) {
        const message = rule(value);
        if (typeof message === 'string') addError((errors ??= {}), field, message);
      }
    }
    return errors ? { ok: false, errors } : { ok: true, data: data as TData };
  }

  /** The serializer's own rules: per field (concurrently), then the object rule if all passed. */
  private async runRules(data: Record<string, unknown>, errors: FieldErrors, ctx: ValidationContext): Promise<void> {
    await Promise.all(
      this.fieldRules.map(async ([field, rule]) => {
        if (!(field in data) || data[field] === null || errors[field]) return;
        for (const message of asMessages(await rule(data[field], ctx))) addError(errors, field, message);
      }),
    );
    if (this.validateObject && Object.keys(errors).length === 0) {
      const result = await this.validateObject(data, ctx);
      if (typeof result === 'string') addError(errors, '__all__', result);
      else if (result) for (const [field, messages] of Object.entries(result)) for (const m of messages) addError(errors, field, m);
    }
  }

  /**
   * Creates (or, with `instance`, updates) a row from data `parse` returned, assigning
   * many-to-many keys, in one transaction. Database constraint violations (unique,
   * foreign key) come back as field errors, not exceptions. `set` holds values the server
   * decides (an owner, a timestamp), written as they are and never read from input.
   */
  save(data: TData, options?: { set?: Record<string, unknown> }): Promise<SaveResult<Row<M>>>;
  save(data: Partial<TData>, options: { instance: { id: unknown }; set?: Record<string, unknown> }): Promise<SaveResult<Row<M>>>;
  async save(data: TData | Partial<TData>, options: { instance?: { id: unknown }; set?: Record<string, unknown> } = {}): Promise<SaveResult<Row<M>>> {
    // Only what this serializer accepts as input is ever written, whatever the caller passes.
    const errors: FieldErrors = {};
    for (const key of Object.keys(data as object)) {
      if (!Object.hasOwn(this.description.fields, key) || FORBIDDEN_KEYS.has(key)) addError(errors, key, 'This field cannot be written through this serializer.');
    }
    if (Object.keys(errors).length) return { ok: false, errors };
    return saveData(this.model, this.description, data as Record<string, unknown>, options.instance, options.set);
  }

  /** The JSON description of the input, for `@strata/serializer/client` in the browser. */
  describe(): InputDescription {
    return structuredClone(this.description);
  }
}

/**
 * Creates a serializer for a model.
 * @example
 * const ProductSerializer = createModelSerializer(Product, {
 *   fields: ['id', 'name', 'price', 'stock', 'categoryId'],
 *   readOnly: ['stock'],
 *   computed: { inStock: (row) => row.stock > 0 },
 *   nested: { category: CategorySerializer },
 * });
 * const json = await ProductSerializer.toJSON(await Product.objects.selectRelated('category'));
 */
export function createModelSerializer<
  M extends AnyModel,
  const TFields extends FieldName<M> = Exclude<FieldName<M>, SensitiveKeys<M> | ToManyKeys<FieldsOf<M>>>,
  const TExclude extends FieldName<M> = never,
  const TReadOnly extends FieldName<M> = never,
  const TWriteOnly extends FieldName<M> = never,
  TComputed extends Record<string, JsonValue> = {},
  TNested extends Record<string, NestedSpec> = {},
>(
  model: M,
  options: ModelSerializerOptions<M, TFields, TExclude, TReadOnly, TWriteOnly, TComputed, TNested>,
): ModelSerializer<
  M,
  OutputOf<M, Exclude<TFields, TExclude>, TWriteOnly, TComputed, TNested>,
  InputOf<M, Exclude<Exclude<TFields, TExclude> | TWriteOnly, TReadOnly | 'id'>>,
  DataOf<M, Exclude<Exclude<TFields, TExclude> | TWriteOnly, TReadOnly | 'id'>>
> {
  return new ModelSerializer(model, options as never);
}

/** The listed fields minus `exclude` (with an explicit list too, as the output type has it). */
function listedFields(model: AnyModel, options: { fields: readonly string[] | string; exclude?: readonly string[] }): string[] {
  const exclude = new Set(options.exclude ?? []);
  for (const name of exclude) if (!isFieldName(model, name)) throw unknown(model, name);
  return (options.fields === ALL ? allFields(model) : namedFields(model, options.fields)).filter((name) => !exclude.has(name));
}

function namedFields(model: AnyModel, fields: unknown): string[] {
  if (!Array.isArray(fields)) throw new SerializerError('STRATA_SERIALIZER_DEFINITION', `fields must be a list of names or '__all__'.`);
  for (const name of fields) if (!isFieldName(model, name)) throw unknown(model, name);
  return [...new Set(fields as string[])];
}

/** `'__all__'`: `id`, every column and `<relation>Id` key; never sensitive fields or many-to-many lists. */
function allFields(model: AnyModel): string[] {
  const all = ['id'];
  for (const [name, field] of Object.entries(model.fields as Record<string, { config: FieldConfig }>)) {
    const { kind, sensitive } = field.config;
    if (sensitive || kind === 'manyToMany') continue;
    all.push(kind === 'foreignKey' || kind === 'oneToOne' ? `${name}Id` : name);
  }
  return all;
}

function isFieldName(model: AnyModel, name: string): boolean {
  return name === 'id' || describeField(model, name) !== undefined;
}

function unknown(model: AnyModel, name: string): SerializerError {
  return new SerializerError(
    'STRATA_SERIALIZER_DEFINITION',
    `${model.name} has no field "${name}" a serializer can list (columns, "<relation>Id" keys, many-to-many names; relations go in nested).`,
  );
}

function definitionError(message: string): SerializerError {
  return new SerializerError('STRATA_SERIALIZER_DEFINITION', message);
}

/** Computed and nested names are output names of their own: each may be used once, and never for a field. */
function checkOwnNames(model: AnyModel, fields: readonly string[], own: readonly string[]): void {
  const seen = new Set(fields);
  for (const name of own) {
    if (FORBIDDEN_KEYS.has(name)) throw definitionError(`"${name}" cannot name a computed or nested field of the ${model.name} serializer.`);
    if (seen.has(name)) throw definitionError(`"${name}" on the ${model.name} serializer is named twice (as a field, computed or nested); give each output name one meaning.`);
    seen.add(name);
  }
}

/** A nested serializer fits its relation: the related model, one serializer for to-one, `[serializer]` for to-many. */
function checkNested(model: AnyModel, name: string, spec: NestedSpec): void {
  const many = Array.isArray(spec);
  const nested = (many ? spec[0] : spec) as { model?: AnyModel } | undefined;
  if (!(nested instanceof ModelSerializer)) throw definitionError(`nested.${name} of the ${model.name} serializer must be a serializer, or [serializer] for a list.`);
  const config = model.fieldConfig(name);
  // A reverse relation (a category's `products`) is no field of this model; prefetch checks its name.
  if (!config) return;
  const toOne = config.kind === 'foreignKey' || config.kind === 'oneToOne';
  if (!toOne && config.kind !== 'manyToMany') throw definitionError(`${model.name}.${name} is a column, not a relation: only relations can be nested.`);
  const target = config.target!();
  if (nested.model !== target) throw definitionError(`${model.name}.${name} relates to ${target.name}, but its nested serializer is for ${nested.model.name}.`);
  if (toOne && many) throw definitionError(`${model.name}.${name} is a to-one relation: nest one serializer, not [serializer].`);
  if (!toOne && !many) throw definitionError(`${model.name}.${name} is a many-to-many relation: nest [serializer], a list.`);
}

function asMessages(result: string | string[] | undefined | void): string[] {
  if (result === undefined) return [];
  return typeof result === 'string' ? [result] : result;
}
