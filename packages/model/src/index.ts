/**
 * @strata/model — models, managers, lazy typed querysets, relations, transactions and
 * change events, on SQLite (embedded default) and PostgreSQL. Migrations live in
 * `@strata/model/migrations`.
 */
export { f } from './fields.js';
export type {
  BaseFieldOptions,
  ChoiceOptions,
  DecimalOptions,
  Field,
  FieldConfig,
  FieldKind,
  ForeignKeyOptions,
  ManyToManyField,
  ManyToManyOptions,
  NumberOptions,
  OnDelete,
  RelationField,
  Sensitive,
  TextOptions,
  Validator,
} from './fields.js';
export { defineModel, Model } from './model.js';
export type { BoundScopes, CheckDefinition, FieldMap, IndexDefinition, ModelOptions, ScopeMap } from './model.js';
export { QuerySet } from './queryset.js';
export type { QS } from './queryset.js';
export type { Combinators, Condition } from './conditions.js';
export { RelatedSet } from './relatedSet.js';
export { F, FieldRef, Count, Sum, Avg, Min, Max, isExpression } from './expressions.js';
export type { Aggregate, Expression } from './expressions.js';
export { setup, close, getRegistry, Registry } from './registry.js';
export type { SetupOptions } from './registry.js';
export { atomic, inTransaction } from './transaction.js';
export { onChange } from './changeEvents.js';
export type { ChangeEvent, ChangeListener } from './changeEvents.js';
export { runInQueryScope } from './queryScope.js';
export type { QueryReport, QueryScopeOptions } from './queryScope.js';
export { isModelRow, modelOfRow } from './rows.js';
export { isJsonValue } from './internal/validate.js';
export {
  StrataError,
  ModelError,
  NotFoundError,
  MultipleFoundError,
  ValidationError,
  IntegrityError,
  ProtectedError,
  isStrataError,
  modelErrorCodes,
} from './errors.js';
export type { ConstraintKind, FieldErrors, ModelErrorCode } from './errors.js';
export type { DeleteResult, InsertOptions } from './internal/write.js';
export type { ValidationResult } from './internal/validate.js';
export type {
  AnyModel,
  Branded,
  FieldPath,
  FieldsOf,
  NameOf,
  NullOfRel,
  PkOf,
  ScalarKeys,
  TargetOf,
  ToManyKeys,
  ToOneKeys,
  ValueOfField,
  InsertData,
  Lookups,
  OrderTerm,
  Prefetched,
  Row,
  RowData,
  RowWith,
  ToOnePath,
  UpdateData,
  Where,
} from './types.js';
