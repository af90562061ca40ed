import type { FieldsOf, NullOfRel, PkOf, RowData, Row, ScalarKeys, Sensitive, TargetOf, ToManyKeys, ToOneKeys, ValueOfField } from '@strata/model';
import type { Field } from '@strata/model';
import type { ModelSerializer } from './serializer.js';

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Fields<M> = FieldsOf<M>;

/** Field names a serializer can list: `id`, columns, `<relation>Id` keys and many-to-many names. */
export type FieldName<M> = 'id' | ScalarKeys<Fields<M>> | `${ToOneKeys<Fields<M>>}Id` | ToManyKeys<Fields<M>>;

/** Fields declared `sensitive: true` on the model: never in any output type. */
export type SensitiveKeys<M> = { [K in keyof Fields<M>]: Fields<M>[K] extends Sensitive ? K : never }[keyof Fields<M>] & string;

/** The JSON form of a value: bigints and dates become strings (see the package README's rule). */
export type JsonOf<V> = V extends bigint ? string : V extends Date ? string : V;

/** Anything JSON can carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Caller-supplied context handed to computed fields and validators (request, user, …). */
export type SerializerContext = Record<string, unknown>;

export type AnySerializer = ModelSerializer<any, any, any, any>;
/** A nested serializer: one object per row, or `[S]` for a list. */
export type NestedSpec = AnySerializer | readonly [AnySerializer];

/** A computed field: a function of the (loaded) row and the context, sync or async. */
export type ComputedField<M> = (row: Row<M> & Record<string, any>, context: SerializerContext) => JsonValue | Promise<JsonValue>;

type OutputValue<M, K> = K extends ToManyKeys<Fields<M>>
  ? PkOf<TargetOf<Fields<M>[K]>>[]
  : K extends keyof RowData<M>
    ? JsonOf<RowData<M>[K]>
    : never;

type NestedOutput<M, K, S> = S extends readonly [infer One]
  ? InferOutput<One>[]
  : K extends ToOneKeys<Fields<M>>
    ? NullOfRel<Fields<M>[K]> extends true
      ? InferOutput<S> | null
      : InferOutput<S>
    : InferOutput<S> | null;

/** The output object type of a serializer built from these parts. */
export type OutputOf<M, TListed extends string, TWriteOnly extends string, TComputed, TNested> = Simplify<
  { [K in Exclude<TListed, TWriteOnly | SensitiveKeys<M>>]: OutputValue<M, K> } & {
    [K in keyof TComputed]: TComputed[K];
  } & { [K in keyof TNested]: NestedOutput<M, K, TNested[K]> }
>;

type OptionalName<M, K> = K extends ToManyKeys<Fields<M>>
  ? true
  : K extends `${infer R}Id`
    ? R extends ToOneKeys<Fields<M>>
      ? NullOfRel<Fields<M>[R]>
      : false
    : K extends keyof Fields<M>
      ? Fields<M>[K] extends Field<any, any, true>
        ? true
        : false
      : false;

/** `f.json<T>()` declares T, but input is only checked to be JSON data: the input types say so. */
type IsJson<M, K> = K extends keyof Fields<M> ? (Fields<M>[K] extends Field<any, any, any, 'json'> ? true : false) : false;

type DataValue<M, K> = K extends ToManyKeys<Fields<M>>
  ? PkOf<TargetOf<Fields<M>[K]>>[]
  : IsJson<M, K> extends true
    ? JsonValue
    : K extends keyof RowData<M>
    ? RowData<M>[K]
    : never;

type InputValue<M, K> = IsJson<M, K> extends true
  ? JsonValue
  : K extends keyof Fields<M>
  ? ValueOfField<Fields<M>[K]> extends infer V
    ? V extends bigint
      ? string | number
      : V extends Date
        ? string
        : V
    : never
  : DataValue<M, K>;

type ByOptionality<M, TKeys extends string, TValue extends 'input' | 'data'> = Simplify<
  { [K in TKeys as OptionalName<M, K> extends true ? never : K]: TValue extends 'input' ? InputValue<M, K> : DataValue<M, K> } & {
    [K in TKeys as OptionalName<M, K> extends true ? K : never]?: TValue extends 'input' ? InputValue<M, K> : DataValue<M, K>;
  }
>;

/** What a client sends to create a row (JSON: decimals and bigints as strings, datetimes as ISO strings). */
export type InputOf<M, TWritable extends string> = ByOptionality<M, TWritable, 'input'>;
/** What `parse()` returns: the model's own value types (bigint, Date), ready for `save()`. */
export type DataOf<M, TWritable extends string> = ByOptionality<M, TWritable, 'data'>;

/** The output type of a serializer: `InferOutput<typeof ProductSerializer>`. */
export type InferOutput<S> = S extends ModelSerializer<any, infer O, any, any> ? O : never;
/** The input a client sends to a serializer: `InferInput<typeof ProductSerializer>`. */
export type InferInput<S> = S extends ModelSerializer<any, any, infer I, any> ? I : never;
/** The clean data `parse()` returns. */
export type InferData<S> = S extends ModelSerializer<any, any, any, infer D> ? D : never;
