import type { SQL } from 'drizzle-orm';
import type { AnyField, FieldConfig } from './fields.js';
import { ModelError, type FieldErrors } from './errors.js';
import { QuerySet } from './queryset.js';
import { validateData, type ValidationResult } from './internal/validate.js';
import type { AnyModel, InsertData, Row } from './types.js';

export type FieldMap = Record<string, AnyField>;

/** A scope: a function of a queryset (and arguments) returning a narrower queryset. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ScopeMap = Record<string, (qs: any, ...args: any[]) => any>;

/** An index over one or more fields. */
export interface IndexDefinition<TField extends string = string> {
  fields: readonly TField[];
  unique?: boolean;
  /** Default: `<table>_<columns>_idx` (or `_unique`). */
  name?: string;
}

/** A check constraint: SQL over the compiled drizzle columns. */
export interface CheckDefinition {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sql: (columns: Record<string, any>) => SQL;
}

export interface ModelOptions<TFields extends FieldMap, TPk extends 'integer' | 'uuid'> {
  fields: TFields;
  /** Table name (default: the model name in snake_case, `shop.OrderItem` → `shop_order_item`). */
  table?: string;
  /** Auto primary key `id`: an auto-incrementing integer (default) or a random UUID. */
  primaryKey?: TPk;
  indexes?: readonly IndexDefinition<Extract<keyof TFields, string>>[];
  checks?: readonly CheckDefinition[];
  /** Default ordering of querysets, e.g. `['-createdAt']`. */
  ordering?: readonly string[];
}

/**
 * A model: a table's fields, constraints and relations, written once for SQLite and PostgreSQL.
 * Querying goes through `Model.objects`. Defining a model never touches the database.
 */
export class Model<TName extends string, TFields extends FieldMap, TPk extends number | string, TScopes extends ScopeMap = {}> {
  readonly name: TName;
  readonly label: string;
  readonly tableName: string;
  readonly fields: TFields;
  readonly primaryKey: 'integer' | 'uuid';
  readonly indexes: readonly IndexDefinition[];
  readonly checks: readonly CheckDefinition[];
  readonly ordering: readonly string[];
  readonly scopes: TScopes;
  /** Set by the registry for automatically created many-to-many join models. */
  readonly autoCreated: boolean;
  /** Set once `objects` is read: the model's queryset class, scope methods included, exists from then on. */
  #queried = false;

  /** @internal */
  constructor(name: TName, options: ModelOptions<TFields, 'integer' | 'uuid'>, scopes: TScopes, autoCreated = false) {
    this.name = name;
    this.label = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    this.tableName = options.table ?? snakeCase(name.replace('.', '_'));
    this.fields = options.fields;
    this.primaryKey = options.primaryKey ?? 'integer';
    this.indexes = options.indexes ?? [];
    this.checks = options.checks ?? [];
    this.ordering = options.ordering ?? [];
    this.scopes = scopes;
    this.autoCreated = autoCreated;
  }

  /** The default manager: a fresh queryset over every row, with this model's scopes. */
  get objects(): QuerySet<this, Row<this>> & BoundScopes<TScopes, this, Row<this>> {
    this.#queried = true;
    return QuerySet.forModel(this);
  }

  /**
   * Adds scopes, callable on the manager and on every queryset of the model. Call it where the
   * model is defined: once `objects` has been read, it throws `STRATA_MODEL_DEFINITION`.
   * @example const Product = defineModel(...).withScopes({ inStock: (qs) => qs.filter({ stock: { gt: 0 } }) });
   *          await Product.objects.inStock().orderBy('name');
   */
  withScopes<TNew extends Record<string, (qs: QuerySet<Model<TName, TFields, TPk, {}>, Row<Model<TName, TFields, TPk, {}>>>, ...args: any[]) => any>>(
    scopes: TNew,
  ): Model<TName, TFields, TPk, TScopes & TNew> {
    if (this.#queried) {
      // The queryset class of a model, scope methods included, is built once, on first use.
      throw new ModelError(
        'STRATA_MODEL_DEFINITION',
        `withScopes() on ${this.name} after its querysets were used: define scopes where the model is defined.`,
      );
    }
    for (const key of Object.keys(scopes)) {
      if (key in QuerySet.prototype) {
        throw new ModelError('STRATA_MODEL_DEFINITION', `Scope "${key}" on ${this.name} would hide the queryset method of that name; rename it.`);
      }
    }
    Object.assign(this.scopes, scopes);
    return this as unknown as Model<TName, TFields, TPk, TScopes & TNew>;
  }

  /**
   * Checks data against the field rules (types, null, lengths, ranges, choices, validators)
   * without touching the database. `partial` checks only the keys present.
   */
  validate(data: Record<string, unknown>, options: { partial?: boolean } = {}): ValidationResult<InsertData<this>> {
    return validateData(this, data, options.partial ?? false) as ValidationResult<InsertData<this>>;
  }

  /** Field configs by name (internal use by the layers above). */
  fieldConfig(name: string): FieldConfig | undefined {
    return this.fields[name]?.config;
  }

  toString(): string {
    return `Model(${this.name})`;
  }
}

/** Scope methods bound to a queryset: `(qs, ...args) => qs2` becomes `(...args) => qs2`. */
export type BoundScopes<TScopes, M extends AnyModel, R> = {
  [K in keyof TScopes]: TScopes[K] extends (qs: any, ...args: infer A) => any
    ? (...args: A) => QuerySet<M, R> & BoundScopes<TScopes, M, R>
    : never;
};

/**
 * Defines a model. Importing the module that calls this never touches the database;
 * `setup({ databaseUrl, models })` connects and registers.
 * @example
 * export const Product = defineModel('shop.Product', {
 *   fields: { name: f.text({ maxLength: 200 }), stock: f.integer({ default: 0, min: 0 }) },
 * });
 */
export function defineModel<TName extends string, TFields extends FieldMap, TPkKind extends 'integer' | 'uuid' = 'integer'>(
  name: TName,
  options: ModelOptions<TFields, TPkKind>,
): Model<TName, TFields, TPkKind extends 'uuid' ? string : number, {}> {
  if (!/^[A-Za-z][\w]*(\.[A-Za-z][\w]*)?$/.test(name)) {
    throw new ModelError('STRATA_MODEL_DEFINITION', `Model name "${name}" must look like "app.Model" (letters, digits, underscores).`);
  }
  for (const key of Object.keys(options.fields)) {
    if (key === 'id' || !/^[A-Za-z][A-Za-z0-9]*$/.test(key) || key.endsWith('Id')) {
      throw new ModelError(
        'STRATA_MODEL_DEFINITION',
        `Field "${key}" on ${name}: names are camelCase letters and digits, not "id" and not ending in "Id" (those are generated).`,
      );
    }
  }
  return new Model(name, options, {});
}

export function snakeCase(value: string): string {
  return value
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

export type { ValidationResult, FieldErrors };
