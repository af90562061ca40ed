import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { index as sqliteIndex, integer as sqliteInteger, sqliteTable, uniqueIndex as sqliteUniqueIndex, check as sqliteCheck } from 'drizzle-orm/sqlite-core';
import { check as pgCheck, index as pgIndex, integer as pgInteger, pgTable, uniqueIndex as pgUniqueIndex, uuid as pgUuid } from 'drizzle-orm/pg-core';
import { f, plainConfig, type FieldConfig, type OnDelete } from '../fields.js';
import { ModelError } from '../errors.js';
import { Model, snakeCase, type FieldMap } from '../model.js';
import type { AnyModel } from '../types.js';
import { columnBuilder, type Dialect } from './columns.js';
import { scaleDecimal } from './validate.js';

/** A column of a compiled model: the row key, the drizzle column and the field rules. */
export interface ColumnInfo {
  key: string;
  name: string;
  config: FieldConfig;
}

export interface ToOneRelation {
  name: string;
  key: string;
  target: AnyModel;
  nullable: boolean;
}
export interface ReverseRelation {
  name: string;
  source: AnyModel;
  /** The to-one field on `source` that points here. */
  field: string;
  unique: boolean;
}
export interface ManyToManyRelation {
  name: string;
  through: AnyModel;
  /** The to-one field on `through` pointing at this model, and the one pointing at `target`. */
  sourceField: string;
  targetField: string;
  target: AnyModel;
}
export interface Referrer {
  source: AnyModel;
  field: string;
  onDelete: OnDelete;
}

/** A model compiled for one dialect: its drizzle table and resolved relations. */
export interface CompiledModel {
  model: AnyModel;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  table: any;
  columns: Map<string, ColumnInfo>;
  toOne: Map<string, ToOneRelation>;
  reverse: Map<string, ReverseRelation>;
  manyToMany: Map<string, ManyToManyRelation>;
  referrers: Referrer[];
  rowPrototype: object;
  /** Row keys whose values are filled by a default when an insert omits them. */
  defaults: [string, unknown][];
}

/** The run-time brand of rows read from the database; never enumerable, so never in JSON. */
export const ROW_MODEL = Symbol.for('strata.model.row');

const pkConfig: FieldConfig = { ...plainConfig, kind: 'integer', column: 'id' };

const autoThrough = new WeakMap<AnyModel, Map<string, AnyModel>>();

/** Adds the automatic join models of many-to-many fields and checks that every target is present. */
export function expandModels(models: readonly AnyModel[]): AnyModel[] {
  const all = [...new Set(models)];
  const names = new Map<string, AnyModel>();
  for (const model of all) {
    const existing = names.get(model.name);
    if (existing && existing !== model) throw new ModelError('STRATA_MODEL_DEFINITION', `Two models are named ${model.name}.`);
    names.set(model.name, model);
  }
  for (const model of [...all]) {
    for (const [name, field] of Object.entries(model.fields as FieldMap)) {
      const config = field.config as FieldConfig;
      if (config.kind !== 'foreignKey' && config.kind !== 'oneToOne' && config.kind !== 'manyToMany') continue;
      const target = config.target!();
      if (!all.includes(target)) {
        throw new ModelError(
          'STRATA_MODEL_UNKNOWN_MODEL',
          `${model.name}.${name} points at ${target?.name ?? 'an undefined model'}, which is not in the models passed to setup(); add it.`,
        );
      }
      if (config.kind === 'manyToMany' && !config.through) all.push(throughModel(model, name, target));
    }
  }
  return all;
}

function throughModel(model: AnyModel, field: string, target: AnyModel): AnyModel {
  let byField = autoThrough.get(model);
  if (!byField) autoThrough.set(model, (byField = new Map()));
  const cached = byField.get(field);
  if (cached) return cached;
  const [from, to] = throughKeys(model, target);
  const through = new Model(
    `${model.name}_${field}`,
    {
      table: `${model.tableName}_${snakeCase(field)}`,
      fields: { [from]: f.foreignKey(() => model), [to]: f.foreignKey(() => target) },
      indexes: [{ fields: [from, to], unique: true }],
    },
    {},
    true,
  );
  byField.set(field, through);
  return through;
}

function throughKeys(model: AnyModel, target: AnyModel): [string, string] {
  const from = lowerFirst(model.label);
  const to = lowerFirst(target.label);
  return from === to ? [`from${model.label}`, `to${target.label}`] : [from, to];
}

const lowerFirst = (value: string) => value.charAt(0).toLowerCase() + value.slice(1);

/** Compiles every model (after {@link expandModels}) to drizzle tables of `dialect`, with relations resolved. */
export function compileModels(models: readonly AnyModel[], dialect: Dialect): Map<AnyModel, CompiledModel> {
  const compiled = new Map<AnyModel, CompiledModel>();
  for (const model of models) compiled.set(model, compileTable(model, dialect, compiled));
  for (const model of models) resolveRelations(model, compiled);
  return compiled;
}

function compileTable(model: AnyModel, dialect: Dialect, all: Map<AnyModel, CompiledModel>): CompiledModel {
  const columns = new Map<string, ColumnInfo>();
  const toOne = new Map<string, ToOneRelation>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const builders: Record<string, any> = { id: primaryKey(model, dialect) };
  columns.set('id', { key: 'id', name: 'id', config: { ...pkConfig, kind: model.primaryKey } });
  const defaults: [string, unknown][] = model.primaryKey === 'uuid' ? [['id', randomUUID]] : [];

  for (const [name, field] of Object.entries(model.fields as FieldMap)) {
    const config = field.config as FieldConfig;
    if (config.kind === 'manyToMany') continue;
    if (config.kind === 'decimal') checkPrecision(model, name, config);
    const isRelation = config.kind === 'foreignKey' || config.kind === 'oneToOne';
    const key = isRelation ? `${name}Id` : name;
    const column = config.column ?? (isRelation ? `${snakeCase(name)}_id` : snakeCase(name));
    const target = isRelation ? config.target!() : undefined;
    let builder = columnBuilder(dialect, column, config, target?.primaryKey === 'uuid' ? 'uuid' : undefined);
    if (!config.null) builder = builder.notNull();
    if (config.unique) builder = builder.unique(`${model.tableName}_${column}_unique`);
    if (config.default !== undefined) {
      defaults.push([key, config.default]);
      const fallback = sqlDefault(dialect, config);
      if (fallback !== undefined) builder = builder.default(fallback as never);
    }
    if (target) {
      const onDelete = config.onDelete === 'setNull' ? 'set null' : config.onDelete === 'cascade' ? 'cascade' : 'restrict';
      builder = builder.references(() => all.get(target)!.table.id, { onDelete });
      toOne.set(name, { name, key, target, nullable: config.null });
    }
    builders[key] = builder;
    columns.set(key, { key, name: column, config });
  }

  const extras = (table: Record<string, unknown>) => constraints(model, dialect, table, columns);
  const table = dialect === 'sqlite' ? sqliteTable(model.tableName, builders, extras) : pgTable(model.tableName, builders, extras);
  if (dialect === 'sqlite' && model.primaryKey === 'integer') {
    // Safe integers make better-sqlite3 return every integer as a BigInt; the primary key is a number.
    (table as unknown as { id: { mapFromDriverValue: (v: unknown) => unknown } }).id.mapFromDriverValue = Number;
  }
  const rowPrototype = Object.defineProperty({}, ROW_MODEL, { value: model, enumerable: false });
  return { model, table, columns, toOne, reverse: new Map(), manyToMany: new Map(), referrers: [], rowPrototype, defaults };
}

/** The most decimal digits SQLite's storage (an integer scaled by 10^scale, see columns.ts) holds exactly. */
const MAX_DECIMAL_PRECISION = 18;

/** Refused on both dialects alike, so that a model means the same on every database. */
function checkPrecision(model: AnyModel, name: string, config: FieldConfig): void {
  const precision = config.precision ?? 12;
  if (precision <= MAX_DECIMAL_PRECISION) return;
  throw new ModelError(
    'STRATA_MODEL_DEFINITION',
    `${model.name}.${name}: decimal precision ${precision} is above ${MAX_DECIMAL_PRECISION}, the most digits a 64-bit integer holds exactly (how SQLite stores decimals); use at most ${MAX_DECIMAL_PRECISION}.`,
  );
}

function primaryKey(model: AnyModel, dialect: Dialect) {
  if (model.primaryKey === 'uuid') {
    return dialect === 'sqlite' ? columnBuilder(dialect, 'id', { ...pkConfig, kind: 'uuid' }).primaryKey() : pgUuid('id').primaryKey();
  }
  return dialect === 'sqlite'
    ? sqliteInteger('id').primaryKey({ autoIncrement: true })
    : pgInteger('id').primaryKey().generatedByDefaultAsIdentity();
}

/**
 * The column's SQL DEFAULT, which fills existing rows when a migration adds a NOT NULL field
 * (inserts through the model fill defaults themselves). Function defaults have none.
 */
function sqlDefault(dialect: Dialect, config: FieldConfig): unknown {
  const value = config.default;
  // A JSON value is no SQL literal (a string default would be stored unquoted, or refused by
  // jsonb); inserts fill JSON defaults themselves.
  if (config.kind === 'json') return undefined;
  if (config.kind === 'decimal' && dialect === 'sqlite') {
    // Stored scaled (see columns.ts), so the default must be too: '1.50' is 150.
    return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? sql.raw(String(scaleDecimal(value, config.scale ?? 2))) : undefined;
  }
  // Stored lower-case, as columns.ts writes UUIDs and PostgreSQL's uuid type returns them.
  if (config.kind === 'uuid' && typeof value === 'string') return value.toLowerCase();
  if (typeof value === 'bigint') return sql.raw(value.toString());
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}

function constraints(model: AnyModel, dialect: Dialect, table: Record<string, unknown>, columns: Map<string, ColumnInfo>) {
  const index = dialect === 'sqlite' ? sqliteIndex : pgIndex;
  const unique = dialect === 'sqlite' ? sqliteUniqueIndex : pgUniqueIndex;
  const check = dialect === 'sqlite' ? sqliteCheck : pgCheck;
  const out: unknown[] = [];
  const columnOf = (field: string) => {
    const key = columns.has(field) ? field : `${field}Id`;
    const info = columns.get(key);
    if (!info) throw new ModelError('STRATA_MODEL_DEFINITION', `Index on ${model.name} names unknown field "${field}".`);
    return { info, column: table[key] };
  };
  for (const info of columns.values()) {
    if (info.key !== 'id' && !info.config.unique && info.config.index) {
      out.push(index(`${model.tableName}_${info.name}_idx`).on(table[info.key] as never));
    }
    if (info.config.choices) {
      // Check constraints are DDL: their literals are inlined (quoted), never bound.
      const list = info.config.choices.map((choice) => `'${choice.replace(/'/g, "''")}'`).join(', ');
      out.push(check(`${model.tableName}_${info.name}_choices`, sql`${table[info.key]} in (${sql.raw(list)})`));
    }
  }
  for (const definition of model.indexes) {
    const cols = definition.fields.map((field) => columnOf(field));
    const name = definition.name ?? `${model.tableName}_${cols.map((c) => c.info.name).join('_')}_${definition.unique ? 'unique' : 'idx'}`;
    const builder = (definition.unique ? unique : index)(name);
    out.push(builder.on(...(cols.map((c) => c.column) as [never, ...never[]])));
  }
  for (const definition of model.checks) out.push(check(`${model.tableName}_${definition.name}`, definition.sql(table)));
  return out as never;
}

function resolveRelations(model: AnyModel, compiled: Map<AnyModel, CompiledModel>): void {
  const own = compiled.get(model)!;
  for (const relation of own.toOne.values()) {
    const config = model.fields[relation.name]!.config as FieldConfig;
    const target = compiled.get(relation.target)!;
    const reverseName =
      config.relatedName ?? (config.kind === 'oneToOne' ? lowerFirst(model.label) : `${lowerFirst(model.label)}Set`);
    if (config.onDelete === 'setNull' && !config.null) {
      throw new ModelError('STRATA_MODEL_DEFINITION', `${model.name}.${relation.name} uses onDelete 'setNull' but is not { null: true }.`);
    }
    target.referrers.push({ source: model, field: relation.name, onDelete: config.onDelete ?? 'cascade' });
    if (model.autoCreated) continue;
    addName(target, reverseName, `reverse accessor of ${model.name}.${relation.name}`);
    target.reverse.set(reverseName, { name: reverseName, source: model, field: relation.name, unique: config.kind === 'oneToOne' });
  }
  for (const [name, field] of Object.entries(model.fields as FieldMap)) {
    const config = field.config as FieldConfig;
    if (config.kind !== 'manyToMany') continue;
    const targetModel = config.target!();
    const through = config.through?.() ?? autoThrough.get(model)!.get(name)!;
    const [sourceField, targetField] = throughFields(model, targetModel, through, compiled);
    own.manyToMany.set(name, { name, through, sourceField, targetField, target: targetModel });
    const reverseName = config.relatedName ?? `${lowerFirst(model.label)}Set`;
    const target = compiled.get(targetModel)!;
    addName(target, reverseName, `reverse accessor of ${model.name}.${name}`);
    target.manyToMany.set(reverseName, { name: reverseName, through, sourceField: targetField, targetField: sourceField, target: model });
  }
}

function throughFields(model: AnyModel, target: AnyModel, through: AnyModel, compiled: Map<AnyModel, CompiledModel>): [string, string] {
  const relations = [...(compiled.get(through)?.toOne.values() ?? [])];
  const source = relations.find((r) => r.target === model);
  const other = relations.find((r) => r.target === target && r !== source);
  if (!source || !other) {
    throw new ModelError('STRATA_MODEL_DEFINITION', `Through model ${through.name} needs foreign keys to ${model.name} and ${target.name}.`);
  }
  return [source.name, other.name];
}

function addName(target: CompiledModel, name: string, what: string): void {
  if (target.columns.has(name) || target.toOne.has(name) || target.reverse.has(name) || target.manyToMany.has(name) || name in target.model.fields) {
    throw new ModelError('STRATA_MODEL_DEFINITION', `${target.model.name} already has "${name}"; give the ${what} another relatedName.`);
  }
}
