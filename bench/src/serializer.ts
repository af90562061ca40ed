/**
 * @strata/serializer benchmark: toJSON of 10,000 rows (one nested, one computed field)
 * against a hand-written mapping function, and parse() of 10,000 inputs against the raw
 * valibot schema a careful developer would write by hand. Both baselines run in the same process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { close, defineModel, f, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { createModelSerializer } from '@strata/serializer';
import { printTable, time } from './table.js';

const Category = defineModel('bench.Category', { fields: { name: f.text({ maxLength: 60 }) } });
const Product = defineModel('bench.Product', {
  fields: {
    name: f.text({ maxLength: 100 }),
    price: f.decimal({ precision: 10, scale: 2, min: '0.00' }),
    stock: f.integer({ default: 0, min: 0 }),
    updatedAt: f.datetime({ default: () => new Date() }),
    category: f.foreignKey(() => Category, { relatedName: 'products' }),
  },
});

const CategorySerializer = createModelSerializer(Category, { fields: ['id', 'name'] });
const ProductSerializer = createModelSerializer(Product, {
  fields: ['id', 'name', 'price', 'stock', 'updatedAt', 'categoryId'],
  readOnly: ['updatedAt'],
  computed: { inStock: (row) => row.stock > 0 },
  nested: { category: CategorySerializer },
});

/** What a developer writes by hand for the same JSON. */
function handWritten(rows: Awaited<ReturnType<typeof loadRows>>) {
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    price: row.price,
    stock: row.stock,
    updatedAt: row.updatedAt.toISOString(),
    categoryId: row.categoryId,
    inStock: row.stock > 0,
    category: { id: row.category.id, name: row.category.name },
  }));
}

/** The valibot schema a developer writes by hand for the same input rules. */
const rawSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(100)),
  price: v.pipe(v.string(), v.regex(/^-?\d+(\.\d+)?$/), v.check((s) => (s.split('.')[1]?.length ?? 0) <= 2)),
  stock: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  categoryId: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
});

const loadRows = () => Product.objects.selectRelated('category').orderBy('id').fetch();

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-serializer-'));
try {
  await setup({ databaseUrl: `sqlite:${join(dir, 'bench.sqlite')}`, models: [Category, Product], debug: false });
  await createSchema();
  const categories = await Category.objects.bulkCreate(Array.from({ length: 20 }, (_, i) => ({ name: `Category ${i}` })));
  await Product.objects.bulkCreate(
    Array.from({ length: 10_000 }, (_, i) => ({ name: `Product ${i}`, price: `${i % 90}.${String(i % 100).padStart(2, '0')}`, stock: i % 7, category: categories[i % 20]! })),
  );
  const rows = await loadRows();
  const strataJson = await ProductSerializer.toJSON(rows);
  if (JSON.stringify(strataJson) !== JSON.stringify(handWritten(rows))) throw new Error('the serializer and the hand-written mapping disagree');

  const inputs = Array.from({ length: 10_000 }, (_, i) => ({ name: `Product ${i}`, price: `${i % 90}.50`, stock: i % 7, categoryId: (i % 20) + 1 }));
  for (const input of inputs.slice(0, 100)) {
    const [ours, raw] = [await ProductSerializer.parse(input), v.safeParse(rawSchema, input)];
    if (!ours.ok || !raw.success) throw new Error('a benchmark input is invalid');
  }

  const serialize = await time(() => ProductSerializer.toJSON(rows), 15);
  const mapping = await time(async () => handWritten(rows), 15);
  const parse = await time(async () => {
    for (const input of inputs) await ProductSerializer.parse(input);
  }, 15);
  const valibot = await time(async () => {
    for (const input of inputs) v.safeParse(rawSchema, input);
  }, 15);
  const parseSync = await time(async () => {
    for (const input of inputs) ProductSerializer.parseSync(input);
  }, 15);
  // parse() is async (validators may query the database): the same schema awaited per input
  // is the baseline for what an async API costs by itself.
  const valibotAwaited = await time(async () => {
    for (const input of inputs) await v.safeParse(rawSchema, input);
  }, 15);
  await close();

  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}`);
  printTable('@strata/serializer benchmark (median of runs, 10,000 items)', ['case', 'variant', 'median ms', '× baseline'], [
    ['toJSON: 10,000 rows, 1 nested + 1 computed', 'strata', serialize.toFixed(2), (serialize / mapping).toFixed(2)],
    ['', 'hand-written mapping', mapping.toFixed(2), '1.00'],
    ['validate 10,000 inputs', 'strata parse() (async)', parse.toFixed(2), `${(parse / valibot).toFixed(2)} (${(parse / valibotAwaited).toFixed(2)} of awaited)`],
    ['', 'strata parseSync()', parseSync.toFixed(2), (parseSync / valibot).toFixed(2)],
    ['', 'raw valibot safeParse', valibot.toFixed(2), '1.00'],
    ['', 'raw valibot, awaited per input', valibotAwaited.toFixed(2), (valibotAwaited / valibot).toFixed(2)],
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
