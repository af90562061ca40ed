import type { AnyModel } from './types.js';

/** A validator returns an error message, or nothing when the value is fine. */
export type Validator<TValue> = (value: TValue) => string | undefined | void;

/** What the database does to referencing rows when the referenced row is deleted. */
export type OnDelete = 'cascade' | 'protect' | 'setNull' | 'restrict';

/** Options every column field accepts. */
export interface BaseFieldOptions<TValue> {
  /** Column may hold NULL (default false). */
  null?: boolean;
  /** Static value or a function called for every insert. */
  default?: TValue | (() => TValue);
  unique?: boolean;
  /** Create an index on this column. */
  index?: boolean;
  /** Run in `validate()` and before every write; return a message to reject. */
  validators?: readonly Validator<TValue>[];
  /** Never serialised to clients (password hashes, tokens); later layers honour it. */
  sensitive?: boolean;
  /** Database column name (default: the field name in snake_case). */
  column?: string;
}

export type FieldKind =
  | 'text'
  | 'integer'
  | 'bigint'
  | 'decimal'
  | 'float'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'json'
  | 'uuid'
  | 'choice'
  | 'foreignKey'
  | 'oneToOne'
  | 'manyToMany';

/** Everything a field stores about itself, read by the dialect compilers and the validator. */
export interface FieldConfig {
  kind: FieldKind;
  null: boolean;
  default: unknown;
  unique: boolean;
  index: boolean;
  validators: readonly Validator<never>[];
  sensitive: boolean;
  column: string | undefined;
  maxLength?: number;
  minLength?: number;
  min?: number | bigint | string;
  max?: number | bigint | string;
  precision?: number;
  scale?: number;
  choices?: readonly string[];
  target?: () => AnyModel;
  onDelete?: OnDelete;
  relatedName?: string;
  through?: () => AnyModel;
}

/** @internal The rules of a field that has none beyond its kind. */
export const plainConfig = {
  null: false,
  default: undefined,
  unique: false,
  index: false,
  validators: [],
  sensitive: false,
  column: undefined,
} as const satisfies Omit<FieldConfig, 'kind'>;

declare const phantom: unique symbol;
declare const sensitiveMark: unique symbol;

/**
 * Type-level mark of a field declared `sensitive: true` (a phantom: nothing at run time).
 * Later layers use it to drop such fields from output types.
 */
export interface Sensitive {
  readonly [sensitiveMark]: true;
}
type SensitiveOf<O> = O extends { sensitive: true } ? Sensitive : unknown;

/**
 * A field definition. Type parameters carry what the row type needs:
 * the value type, nullability, whether the insert may omit it, and the kind.
 */
export interface Field<TValue, TNull extends boolean, TOptional extends boolean, TKind extends FieldKind = FieldKind> {
  readonly config: FieldConfig & { kind: TKind };
  readonly [phantom]?: { value: TValue; null: TNull; optional: TOptional };
}

/** A to-one relation field (foreign key or one-to-one) pointing at `TTarget`. */
export interface RelationField<TTarget extends AnyModel, TNull extends boolean, TKind extends 'foreignKey' | 'oneToOne'>
  extends Field<unknown, TNull, TNull, TKind> {
  readonly [phantom]?: { value: unknown; null: TNull; optional: TNull; target: TTarget };
}

/** A many-to-many relation field pointing at `TTarget`. */
export interface ManyToManyField<TTarget extends AnyModel> extends Field<never, false, true, 'manyToMany'> {
  readonly [phantom]?: { value: never; null: false; optional: true; target: TTarget };
}

export type AnyField = Field<any, boolean, boolean>;

type NullOf<O> = O extends { null: true } ? true : false;
type OptionalOf<O> = O extends { null: true } ? true : O extends { default: unknown } ? true : false;

function column<TValue, O extends BaseFieldOptions<TValue>, TKind extends FieldKind>(
  kind: TKind,
  options: O | undefined,
  extra: Record<string, unknown> = {},
): Field<TValue, NullOf<O>, OptionalOf<O>, TKind> & SensitiveOf<O> {
  const o: BaseFieldOptions<TValue> = options ?? {};
  return <Field<TValue, NullOf<O>, OptionalOf<O>, TKind> & SensitiveOf<O>>{
    config: <FieldConfig & { kind: TKind }>{
      kind,
      null: o.null ?? false,
      default: o.default,
      unique: o.unique ?? false,
      index: o.index ?? false,
      validators: (o.validators ?? []) as readonly Validator<never>[],
      sensitive: o.sensitive ?? false,
      column: o.column,
      ...extra,
    },
  };
}

export interface TextOptions extends BaseFieldOptions<string> {
  /** Maximum length in characters; enforced by validation and (on PostgreSQL) by varchar(n). */
  maxLength?: number;
  minLength?: number;
}
export interface NumberOptions<T> extends BaseFieldOptions<T> {
  min?: T;
  max?: T;
}
export interface DecimalOptions extends BaseFieldOptions<string> {
  /**
   * Total significant digits (default 12, at most 18: SQLite stores a decimal as a 64-bit
   * integer scaled by 10^scale, exact only up to 18 digits; setup() refuses more on every database).
   */
  precision?: number;
  /** Digits after the decimal point (default 2). */
  scale?: number;
  min?: string;
  max?: string;
}
export interface ChoiceOptions<TChoice extends string> extends BaseFieldOptions<TChoice> {
  choices: readonly TChoice[];
}
export interface ForeignKeyOptions {
  /** What happens to this row when the referenced row is deleted (default 'cascade'). */
  onDelete?: OnDelete;
  null?: boolean;
  /** Name of the reverse accessor on the target model (default `<model>Set`). */
  relatedName?: string;
  /** Index the key column (default true; a unique or leading composite index may make it redundant). */
  index?: boolean;
  /** Database column name (default: `<field>_id`). */
  column?: string;
}
export interface ManyToManyOptions {
  relatedName?: string;
  /**
   * An explicit through model with foreign keys to both sides (default: an automatic join table).
   * It points back at this model, so annotate the thunk to break the type cycle: `through: (): AnyModel => Membership`.
   */
  through?: () => AnyModel;
}

/**
 * Field builders.
 * @example
 * const Product = defineModel('shop.Product', {
 *   fields: { name: f.text({ maxLength: 200 }), price: f.decimal({ scale: 2 }), stock: f.integer({ default: 0, min: 0 }) },
 * });
 */
export const f = {
  text: <const O extends TextOptions>(options?: O) =>
    column<string, O, 'text'>('text', options, pick(options, ['maxLength', 'minLength'])),
  integer: <const O extends NumberOptions<number>>(options?: O) =>
    column<number, O, 'integer'>('integer', options, pick(options, ['min', 'max'])),
  bigint: <const O extends NumberOptions<bigint>>(options?: O) =>
    column<bigint, O, 'bigint'>('bigint', options, pick(options, ['min', 'max'])),
  /**
   * Exact decimal, read and written as a string such as `"19.99"`. Precision is at most 18
   * digits on every database (SQLite stores it as a scaled 64-bit integer); setup() refuses more.
   */
  decimal: <const O extends DecimalOptions>(options?: O) =>
    column<string, O, 'decimal'>('decimal', options, {
      precision: options?.precision ?? 12,
      scale: options?.scale ?? 2,
      ...pick(options, ['min', 'max']),
    }),
  float: <const O extends NumberOptions<number>>(options?: O) =>
    column<number, O, 'float'>('float', options, pick(options, ['min', 'max'])),
  boolean: <const O extends BaseFieldOptions<boolean>>(options?: O) => column<boolean, O, 'boolean'>('boolean', options),
  /** A calendar date, read and written as `"YYYY-MM-DD"` (no time zone to get wrong). */
  date: <const O extends BaseFieldOptions<string>>(options?: O) => column<string, O, 'date'>('date', options),
  /** An instant, read and written as a `Date`, stored in UTC. */
  datetime: <const O extends BaseFieldOptions<Date>>(options?: O) => column<Date, O, 'datetime'>('datetime', options),
  /**
   * JSON data (objects, arrays, strings, finite numbers, booleans). Give the type as
   * `f.json<Tags>()`; a nullable field says so in the type too: `f.json<Tags | null>({ null: true })`.
   * It is optional in `create()` types (the database or the validator rejects a missing required value).
   */
  json: <TValue = unknown>(options?: BaseFieldOptions<TValue>): Field<TValue, false, true, 'json'> =>
    column<TValue, { default: TValue }, 'json'>('json', options as { default: TValue }),
  uuid: <const O extends BaseFieldOptions<string>>(options?: O) => column<string, O, 'uuid'>('uuid', options),
  choice: <const TChoice extends string, const O extends ChoiceOptions<TChoice>>(options: O & ChoiceOptions<TChoice>) =>
    column<TChoice, O, 'choice'>('choice', options, { choices: options.choices }),
  foreignKey: <TTarget extends AnyModel, const O extends ForeignKeyOptions = {}>(target: () => TTarget, options?: O) =>
    relation<TTarget, NullOf<O>, 'foreignKey'>('foreignKey', target, options),
  oneToOne: <TTarget extends AnyModel, const O extends ForeignKeyOptions = {}>(target: () => TTarget, options?: O) =>
    relation<TTarget, NullOf<O>, 'oneToOne'>('oneToOne', target, { ...options, unique: true }),
  manyToMany: <TTarget extends AnyModel>(target: () => TTarget, options?: ManyToManyOptions): ManyToManyField<TTarget> => ({
    config: {
      ...plainConfig,
      kind: 'manyToMany',
      target,
      ...pick(options, ['relatedName', 'through']),
    },
  }),
};

function relation<TTarget extends AnyModel, TNull extends boolean, TKind extends 'foreignKey' | 'oneToOne'>(
  kind: TKind,
  target: () => TTarget,
  options: (ForeignKeyOptions & { unique?: boolean }) | undefined,
): RelationField<TTarget, TNull, TKind> {
  return {
    config: {
      kind,
      null: options?.null ?? false,
      default: undefined,
      unique: options?.unique ?? false,
      index: options?.index ?? true,
      validators: [],
      sensitive: false,
      column: options?.column,
      target,
      onDelete: options?.onDelete ?? 'cascade',
      ...pick(options, ['relatedName']),
    },
  };
}

function pick<T extends object, K extends keyof T>(source: T | undefined, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  if (!source) return out;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
