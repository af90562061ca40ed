/**
 * @strata/state benchmark (first part of issue 5's): bytes on the wire when one row of a
 * 1,000-row keyed list changes, is inserted, moved or removed, against sending the list,
 * and the time to compute and apply the patch.
 */
import { cpus } from 'node:os';
import { diff } from '@strata/state/server';
import { applyPatch } from '@strata/state/client';
import { printTable, time } from './table.js';

const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, name: `Product ${i + 1}`, price: `${(i % 90) + 1}.50`, stock: i % 40 }));
const before = { list: rows };
const full = JSON.stringify(before.list).length;

const cases: [string, { list: typeof rows }][] = [
  ['change one field of one row', { list: rows.map((row) => (row.id === 501 ? { ...row, stock: 99 } : row)) }],
  ['insert one row', { list: [...rows.slice(0, 10), { id: 5000, name: 'New', price: '1.00', stock: 1 }, ...rows.slice(10)] }],
  ['remove one row', { list: rows.filter((row) => row.id !== 300) }],
  ['move one row to the front', { list: [rows[999]!, ...rows.slice(0, 999)] }],
];

const table: (string | number)[][] = [];
for (const [name, after] of cases) {
  const patch = diff(before, after);
  const bytes = JSON.stringify(patch).length;
  const applied = applyPatch(structuredClone(before), patch);
  if (JSON.stringify(applied) !== JSON.stringify(after)) throw new Error(`patch for "${name}" does not reproduce the new state`);
  const diffMs = await time(async () => diff(before, after), 25);
  const applyMs = await time(async () => applyPatch(structuredClone(before), patch), 25);
  table.push([name, bytes, full, `${((bytes / full) * 100).toFixed(2)} %`, diffMs.toFixed(3), applyMs.toFixed(3)]);
}
console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}`);
printTable('@strata/state patches on a 1,000-row keyed list (apply includes a structuredClone of the list)', ['case', 'patch bytes', 'list bytes', 'patch / list', 'diff ms', 'apply ms'], table);
