import type { SerializerContext } from '../types.js';

type RowRecord = Record<string, unknown>;

/** One row's serializer, compiled from a plan. */
export type RowSerializer = (row: RowRecord, context: SerializerContext, pending: Promise<void>[]) => RowRecord;

/** What the compiled code calls back into (kept out of the generated text). */
export interface RowHelpers {
  /** Per field: a converter or undefined (value kept as is). */
  converts: (((value: any) => unknown) | undefined)[];
  computed: ((row: RowRecord, context: SerializerContext) => unknown)[];
  /** Checks a computed value is JSON data; throws naming the field otherwise. */
  checkJson: (index: number, value: unknown) => unknown;
  /** Per nested entry: the nested row serializer. */
  nested: RowSerializer[];
  /** Throws the right error for a field (or nested relation) missing from the row. */
  missingField: (index: number) => never;
  missingRelation: (index: number) => never;
  notARow: (row: unknown) => never;
}

/**
 * Compiles a row serializer to straight-line code: one object literal per row with a
 * fixed shape, the way a hand-written mapping looks. Keys are model field names (checked
 * identifiers) and are embedded with JSON.stringify; no value ever becomes code.
 */
export function compileRow(fieldKeys: readonly string[], computedKeys: readonly string[], nested: readonly { key: string; many: boolean }[], helpers: RowHelpers): RowSerializer {
  const q = JSON.stringify;
  const lines: string[] = ['if (typeof row !== "object" || row === null) h.notARow(row);'];
  fieldKeys.forEach((key, i) => {
    lines.push(`const f${i} = row[${q(key)}];`, `if (f${i} === undefined) h.missingField(${i});`);
  });
  const props = [
    ...fieldKeys.map((key, i) => `${q(key)}: f${i} === null || c[${i}] === undefined ? f${i} : c[${i}](f${i})`),
    ...computedKeys.map((key) => `${q(key)}: undefined`),
    ...nested.map(({ key }) => `${q(key)}: undefined`),
  ];
  lines.push(`const out = { ${props.join(', ')} };`);
  computedKeys.forEach((key, i) => {
    lines.push(
      `{ const v = h.computed[${i}](row, context);`,
      `  if (v !== null && typeof v === "object" && typeof v.then === "function") pending.push(Promise.resolve(v).then((r) => { out[${q(key)}] = h.checkJson(${i}, r); }));`,
      `  else out[${q(key)}] = h.checkJson(${i}, v); }`,
    );
  });
  nested.forEach(({ key, many }, i) => {
    lines.push(
      `{ const v = row[${q(key)}];`,
      `  if (v === undefined) h.missingRelation(${i});`,
      many
        ? `  out[${q(key)}] = v === null ? [] : v.map((item) => h.nested[${i}](item, context, pending)); }`
        : `  out[${q(key)}] = v === null ? null : h.nested[${i}](v, context, pending); }`,
    );
  });
  lines.push('return out;');
  const factory = new Function('h', 'c', `return function serializeRow(row, context, pending) {\n${lines.join('\n')}\n};`);
  return factory(helpers, helpers.converts) as RowSerializer;
}
