/**
 * The input description of a serializer: plain JSON saying, per writable field, what a
 * valid value is. The server derives it from the model; the browser builds the same valibot
 * schema from it (`@strata/serializer/client`) without loading any model or database code.
 */

// Type-only: nothing of the model layer reaches the browser bundle.
import type { FieldKind } from '@strata/model';

/** What one writable field accepts. */
export interface FieldDescription {
  /** A column kind of the model, or a relation's key(s): `key` (`categoryId`), `keys` (a many-to-many list). */
  kind: Exclude<FieldKind, 'foreignKey' | 'oneToOne' | 'manyToMany'> | 'key' | 'keys';
  /** May be omitted when creating (it has a default, or is nullable). */
  optional: boolean;
  nullable: boolean;
  maxLength?: number;
  minLength?: number;
  /** Bounds; decimals and bigints as strings so the description stays JSON. */
  min?: number | string;
  max?: number | string;
  precision?: number;
  scale?: number;
  choices?: readonly string[];
  /** For keys: the primary key type of the related model. */
  keyKind?: 'integer' | 'uuid';
}

/** The writable fields of a serializer, for building its input schema anywhere. */
export interface InputDescription {
  /** The model's name, e.g. `shop.Product`. */
  model: string;
  fields: Record<string, FieldDescription>;
  /** Output-only names (`id`, read-only, computed and nested fields): refused in input as read-only, not unknown. */
  readOnly?: string[];
}

/** Longest text accepted for a field whose model sets no `maxLength` (characters). */
export const DEFAULT_TEXT_LIMIT = 65_535;
/** Deepest nesting accepted in a JSON field value. */
export const JSON_DEPTH_LIMIT = 32;
/** Largest JSON field value accepted, in characters of its JSON text. */
export const JSON_SIZE_LIMIT = 1_000_000;
/** Most keys accepted in one many-to-many list. */
export const KEYS_LIMIT = 10_000;
