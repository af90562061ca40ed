/**
 * Column expressions evaluated by the database, so concurrent writers never
 * lose updates: `Product.objects.filter({ id }).update({ stock: F('stock').minus(1) })`.
 */
export type ArithmeticOp = '+' | '-' | '*' | '/';

/*
 * Expressions are recognised by a symbol brand, never by their shape: data parsed from
 * JSON (a client's input) can imitate any shape but cannot carry a symbol, so it can never
 * be mistaken for SQL to evaluate.
 */
const expressionBrand = Symbol.for('strata.model.expression');

export interface Expression {
  readonly kind: 'expression';
  readonly field: string;
  readonly ops: readonly { op: ArithmeticOp; operand: number | bigint | string }[];
}

/** A reference to a column of the row being updated, with chainable arithmetic. */
export class FieldRef implements Expression {
  readonly kind = 'expression' as const;
  readonly [expressionBrand] = true;
  constructor(
    readonly field: string,
    readonly ops: readonly { op: ArithmeticOp; operand: number | bigint | string }[] = [],
  ) {}

  plus(operand: number | bigint | string): FieldRef {
    return this.with('+', operand);
  }
  minus(operand: number | bigint | string): FieldRef {
    return this.with('-', operand);
  }
  times(operand: number | bigint | string): FieldRef {
    return this.with('*', operand);
  }
  div(operand: number | bigint | string): FieldRef {
    return this.with('/', operand);
  }

  private with(op: ArithmeticOp, operand: number | bigint | string): FieldRef {
    return new FieldRef(this.field, [...this.ops, { op, operand }]);
  }
}

/**
 * Refers to a column in an update, evaluated by the database.
 * @example await Product.objects.filter({ id, stock: { gte: 1 } }).update({ stock: F('stock').minus(1) });
 */
export function F(field: string): FieldRef {
  return new FieldRef(field);
}

/** True only for expressions built with {@link F} (a brand, not a shape: JSON cannot forge it). */
export function isExpression(value: unknown): value is Expression {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[expressionBrand] === true;
}

export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

/** An aggregate over a field (or over rows, for `Count()`), for `aggregate()`. */
export interface Aggregate<TResult = unknown> {
  readonly kind: 'aggregate';
  readonly fn: AggregateFn;
  readonly field: string | undefined;
  readonly distinct: boolean;
  readonly __result?: TResult;
}

const aggregate = <T>(fn: AggregateFn, field: string | undefined, distinct = false): Aggregate<T> => ({
  kind: 'aggregate',
  fn,
  field,
  distinct,
});

/** Number of rows (or of non-null, optionally distinct, values of a field). */
export const Count = (field?: string, options?: { distinct?: boolean }) =>
  aggregate<number>('count', field, options?.distinct ?? false);
/** Sum of a numeric field: a string for decimals, bigint for bigints, number otherwise; null over no rows. */
export const Sum = <T = number | string | bigint>(field: string) => aggregate<T | null>('sum', field);
/** Average of a numeric field, as a number (a float, also for decimals); null over no rows. */
export const Avg = (field: string) => aggregate<number | null>('avg', field);
export const Min = <T = unknown>(field: string) => aggregate<T | null>('min', field);
export const Max = <T = unknown>(field: string) => aggregate<T | null>('max', field);
