import type { AnyField, Field, ManyToManyField, RelationField } from './fields.js';
import type { Model } from './model.js';
import type { Expression } from './expressions.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModel = Model<string, any, any, any>;

/** The brand that marks a row read from the database (type level; a symbol at run time). */
export declare const rowBrand: unique symbol;
/** A row as read from the database: plain data, branded with its model's name. */
export type Branded<TName extends string> = { readonly [rowBrand]: TName };

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type FieldsOf<M> = M extends Model<string, infer F, any, any> ? F : never;
export type PkOf<M> = M extends Model<string, any, infer P, any> ? P : never;
export type NameOf<M> = M extends Model<infer N, any, any, any> ? N : never;

export type ValueOfField<F> = F extends Field<infer V, infer N, any> ? V | (N extends true ? null : never) : never;
export type TargetOf<F> = F extends RelationField<infer T, any, any> ? T : F extends ManyToManyField<infer T> ? T : never;
export type NullOfRel<F> = F extends RelationField<any, infer N, any> ? N : false;

export type ScalarKeys<TFields> = {
  [K in keyof TFields]: TFields[K] extends Field<any, any, any, 'foreignKey' | 'oneToOne' | 'manyToMany'> ? never : K;
}[keyof TFields] & string;
export type ToOneKeys<TFields> = {
  [K in keyof TFields]: TFields[K] extends Field<any, any, any, 'foreignKey' | 'oneToOne'> ? K : never;
}[keyof TFields] & string;
export type ToManyKeys<TFields> = {
  [K in keyof TFields]: TFields[K] extends ManyToManyField<any> ? K : never;
}[keyof TFields] & string;

/** The plain data of a row of `M` (without relations), branded. */
export type Row<M> = RowData<M> & Branded<NameOf<M>>;

/** The data of a row: primary key, columns, and `<relation>Id` keys for to-one relations. */
export type RowData<M> = Simplify<
  { id: PkOf<M> } & { [K in ScalarKeys<FieldsOf<M>>]: ValueOfField<FieldsOf<M>[K]> } & {
    [K in ToOneKeys<FieldsOf<M>> as `${K}Id`]: PkOf<TargetOf<FieldsOf<M>[K]>> | (NullOfRel<FieldsOf<M>[K]> extends true ? null : never);
  }
>;

type OptionalScalar<TFields> = {
  [K in ScalarKeys<TFields>]: TFields[K] extends Field<any, any, true> ? K : never;
}[ScalarKeys<TFields>];
type RequiredScalar<TFields> = Exclude<ScalarKeys<TFields>, OptionalScalar<TFields>>;

/** What `create()` accepts: required columns, optional columns, and relations by row or primary key. */
export type InsertData<M> = Simplify<
  { id?: PkOf<M> } & { [K in RequiredScalar<FieldsOf<M>>]: ValueOfField<FieldsOf<M>[K]> } & {
    [K in OptionalScalar<FieldsOf<M>>]?: ValueOfField<FieldsOf<M>[K]>;
  } & { [K in ToOneKeys<FieldsOf<M>> as `${K}Id`]?: PkOf<TargetOf<FieldsOf<M>[K]>> | null } & {
    [K in ToOneKeys<FieldsOf<M>>]?: { id: PkOf<TargetOf<FieldsOf<M>[K]>> } | PkOf<TargetOf<FieldsOf<M>[K]>> | null;
  }
>;

/** What `update()` accepts: any column, as a value or a column expression (`F('stock').minus(1)`). */
export type UpdateData<M> = {
  [K in ScalarKeys<FieldsOf<M>>]?: ValueOfField<FieldsOf<M>[K]> | Expression;
} & { [K in ToOneKeys<FieldsOf<M>> as `${K}Id`]?: PkOf<TargetOf<FieldsOf<M>[K]>> | null };

/**
 * Lookups available on a value of type `V`. `ne` is the complement of `eq` (a NULL column matches
 * it), as `exclude()` is of `filter()`. `contains`, `startsWith` and `endsWith` are case-sensitive
 * on both databases; `icontains` and `iexact` are not. Pattern characters (`%`, `_`, `\`) match literally.
 */
export type Lookups<V> = {
  eq?: V;
  ne?: V;
  gt?: V;
  gte?: V;
  lt?: V;
  lte?: V;
  in?: readonly V[];
  range?: readonly [V, V];
  isNull?: boolean;
} & (V extends string
  ? { contains?: string; icontains?: string; startsWith?: string; endsWith?: string; iexact?: string }
  : unknown);

type Plain<V> = Exclude<V, null>;

/** A filter over the fields of `M`, and across its forward relations. */
export type Where<M> = {
  id?: PkOf<M> | Lookups<PkOf<M>>;
} & { [K in ScalarKeys<FieldsOf<M>>]?: ValueOfField<FieldsOf<M>[K]> | Lookups<Plain<ValueOfField<FieldsOf<M>[K]>>> } & {
  [K in ToOneKeys<FieldsOf<M>> as `${K}Id`]?: PkOf<TargetOf<FieldsOf<M>[K]>> | null | Lookups<PkOf<TargetOf<FieldsOf<M>[K]>>>;
} & {
  [K in ToOneKeys<FieldsOf<M>>]?: PkOf<TargetOf<FieldsOf<M>[K]>> | null | Where<TargetOf<FieldsOf<M>[K]>>;
} & { [K in ToManyKeys<FieldsOf<M>>]?: Where<TargetOf<FieldsOf<M>[K]>> };

type Prev = [never, 0, 1, 2];
/** Dotted paths to columns, through forward to-one relations (three levels deep). */
export type FieldPath<M, D extends number = 3> = [D] extends [never]
  ? never
  :
      | 'id'
      | ScalarKeys<FieldsOf<M>>
      | `${ToOneKeys<FieldsOf<M>>}Id`
      | { [K in ToOneKeys<FieldsOf<M>>]: `${K}.${FieldPath<TargetOf<FieldsOf<M>[K]>, Prev[D]>}` }[ToOneKeys<FieldsOf<M>>];

/** An ordering term: a field path, `-` first for descending. */
export type OrderTerm<M> = FieldPath<M> | `-${FieldPath<M>}`;

/** Dotted paths of forward to-one relations, for `selectRelated`. */
export type ToOnePath<M, D extends number = 3> = [D] extends [never]
  ? never
  : { [K in ToOneKeys<FieldsOf<M>>]: K | `${K}.${ToOnePath<TargetOf<FieldsOf<M>[K]>, Prev[D]>}` }[ToOneKeys<FieldsOf<M>>];

type Head<P> = P extends `${infer H}.${string}` ? H : P;
type Tail<P, H extends string> = P extends `${H}.${infer T}` ? T : never;

/** The row of `M` with the relations named by the dotted paths `P` loaded. */
export type RowWith<M, P extends string> = [P] extends [never] ? Row<M> : Row<M> & Related<M, P>;
type Related<M, P extends string> = {
  [K in Head<P> & ToOneKeys<FieldsOf<M>>]:
    | RowWith<TargetOf<FieldsOf<M>[K]>, Tail<P, K>>
    | (NullOfRel<FieldsOf<M>[K]> extends true ? null : never);
};

/**
 * What `prefetch()` adds for each name: rows for a forward many-to-many, a row (or null) for a
 * forward to-one. Reverse relations are declared on the other model, so they are `unknown` here
 * (a list for a foreign key, a row or null for a one-to-one); the queryset form types them.
 */
export type Prefetched<M, P extends string> = {
  [K in Head<P>]: K extends ToManyKeys<FieldsOf<M>>
    ? Row<TargetOf<FieldsOf<M>[K]>>[]
    : K extends ToOneKeys<FieldsOf<M>>
      ? Row<TargetOf<FieldsOf<M>[K]>> | (NullOfRel<FieldsOf<M>[K]> extends true ? null : never)
      : unknown;
};

export type { AnyField };
