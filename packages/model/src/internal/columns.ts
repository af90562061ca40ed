import { customType as sqliteCustom } from 'drizzle-orm/sqlite-core';
import {
  bigint as pgBigint,
  boolean as pgBoolean,
  customType as pgCustom,
  date as pgDate,
  doublePrecision,
  integer as pgInteger,
  numeric,
  text as pgText,
  timestamp,
  uuid as pgUuid,
  varchar,
} from 'drizzle-orm/pg-core';
import type { FieldConfig } from '../fields.js';
import { scaleDecimal, unscaleDecimal } from './validate.js';

export type Dialect = 'sqlite' | 'postgres';

/*
 * SQLite columns are custom types so that every value crosses one documented mapping:
 * better-sqlite3 runs with safe integers (exact bigints), so integers arrive as BigInt;
 * decimals are stored as integers scaled by 10^scale (exact, and they sort and sum
 * correctly); datetimes as ISO-8601 UTC text (sortable); booleans as 0/1; JSON as text.
 */
const sqliteText = sqliteCustom<{ data: string; driverData: string }>({ dataType: () => 'text' });
// PostgreSQL's uuid type returns the canonical lower-case form; store (and compare) the same here.
const sqliteUuid = sqliteCustom<{ data: string; driverData: string }>({
  dataType: () => 'text',
  toDriver: (value) => value.toLowerCase(),
});
const sqliteInteger = sqliteCustom<{ data: number; driverData: bigint | number }>({
  dataType: () => 'integer',
  fromDriver: (value) => Number(value),
});
const sqliteBigint = sqliteCustom<{ data: bigint; driverData: bigint | number }>({
  dataType: () => 'integer',
  toDriver: (value) => BigInt(value),
  fromDriver: (value) => BigInt(value),
});
const sqliteReal = sqliteCustom<{ data: number; driverData: number }>({ dataType: () => 'real', fromDriver: Number });
const sqliteBoolean = sqliteCustom<{ data: boolean; driverData: bigint | number }>({
  dataType: () => 'integer',
  toDriver: (value) => (value ? 1 : 0),
  fromDriver: (value) => Number(value) === 1,
});
const sqliteDatetime = sqliteCustom<{ data: Date; driverData: string }>({
  dataType: () => 'text',
  toDriver: (value) => value.toISOString(),
  fromDriver: (value) => new Date(value),
});
const sqliteJson = sqliteCustom<{ data: unknown; driverData: string }>({
  dataType: () => 'text',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => JSON.parse(value),
});
const sqliteDecimal = (scale: number) =>
  sqliteCustom<{ data: string; driverData: bigint | number }>({
    dataType: () => 'integer',
    toDriver: (value) => scaleDecimal(String(value), scale),
    fromDriver: (value) => unscaleDecimal(BigInt(value), scale),
  });

/*
 * node-postgres already decodes jsonb. drizzle's own jsonb column JSON.parses any string it is
 * handed once more, so a stored string "123" would read back as the number 123: decode nothing.
 */
const pgJsonb = pgCustom<{ data: unknown; driverData: unknown }>({
  dataType: () => 'jsonb',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => value,
});

/** A drizzle column builder for `config` in `dialect`, before constraints are applied. */
export function columnBuilder(dialect: Dialect, name: string, config: FieldConfig, pkKind?: 'integer' | 'uuid') {
  const kind = pkKind ?? config.kind;
  return dialect === 'sqlite' ? sqliteColumn(name, kind, config) : pgColumn(name, kind, config);
}

function sqliteColumn(name: string, kind: string, config: FieldConfig) {
  switch (kind) {
    case 'integer':
    case 'foreignKey':
    case 'oneToOne':
      return sqliteInteger(name);
    case 'bigint':
      return sqliteBigint(name);
    case 'decimal':
      return sqliteDecimal(config.scale ?? 2)(name);
    case 'float':
      return sqliteReal(name);
    case 'boolean':
      return sqliteBoolean(name);
    case 'datetime':
      return sqliteDatetime(name);
    case 'json':
      return sqliteJson(name);
    case 'uuid':
      return sqliteUuid(name);
    default:
      return sqliteText(name);
  }
}

function pgColumn(name: string, kind: string, config: FieldConfig) {
  switch (kind) {
    case 'text':
      return config.maxLength ? varchar(name, { length: config.maxLength }) : pgText(name);
    case 'integer':
    case 'foreignKey':
    case 'oneToOne':
      return pgInteger(name);
    case 'bigint':
      return pgBigint(name, { mode: 'bigint' });
    case 'decimal':
      return numeric(name, { precision: config.precision ?? 12, scale: config.scale ?? 2 });
    case 'float':
      return doublePrecision(name);
    case 'boolean':
      return pgBoolean(name);
    case 'date':
      return pgDate(name, { mode: 'string' });
    case 'datetime':
      return timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });
    case 'json':
      return pgJsonb(name);
    case 'uuid':
      return pgUuid(name);
    default:
      return pgText(name);
  }
}
