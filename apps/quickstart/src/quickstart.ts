import { fileURLToPath } from 'node:url';
import { atomic, close, setup, Sum } from '@strata/model';
import { migrate } from '@strata/model/migrations';
import { Category, Product, models } from './models.js';

export const migrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));

/** Connects, migrates, seeds once, and returns what the example prints. */
export async function runQuickstart(databaseUrl: string): Promise<string[]> {
  await setup({ databaseUrl, models });
  try {
    const applied = await migrate({ dir: migrationsDir });
    if ((await Product.objects.count()) === 0) await seed();
    const lines = applied.map((name) => `applied migration ${name}`);
    const tea = await Product.objects.inStock().filter({ category: { name: 'Tea' } }).selectRelated('category').orderBy('-price');
    for (const product of tea) lines.push(`${product.category.name.padEnd(8)} ${product.name.padEnd(20)} ${product.price.padStart(7)}  stock ${product.stock}`);
    const { value } = await Product.objects.aggregate({ value: Sum<string>('price') });
    lines.push(`catalog value: ${value}`);
    return lines;
  } finally {
    await close();
  }
}

async function seed(): Promise<void> {
  await atomic(async () => {
    const tea = await Category.objects.create({ name: 'Tea' });
    const cups = await Category.objects.create({ name: 'Cups' });
    await Product.objects.bulkCreate([
      { name: 'Sencha', price: '12.50', stock: 40, category: tea },
      { name: 'Gyokuro', price: '31.00', stock: 5, category: tea },
      { name: 'Matcha (sold out)', price: '24.90', stock: 0, category: tea },
      { name: 'Yunomi', price: '18.00', stock: 12, category: cups },
    ]);
  });
}
