import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createModelSerializer, type InferData, type InputDescription, type ParseResult } from '..';
import { createInputValidator } from '../client.js';
import { ProductSerializer, ProfileSerializer, User, UserSerializer } from './fixtures.js';

const src = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the browser gets: the description after a trip through JSON. */
const wire = (description: InputDescription): InputDescription => JSON.parse(JSON.stringify(description)) as InputDescription;

/** Bare module specifiers `file` loads at run time, following its relative imports (`import type` is erased). */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  const bare = new Set<string>();
  if (seen.has(file)) return bare;
  seen.add(file);
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  for (const [, type, specifier] of text.matchAll(/^\s*(?:import|export)(\s+type\b)?[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
    if (type) continue;
    if (!specifier!.startsWith('.')) bare.add(specifier!);
    else for (const name of runtimeImports(join(dirname(file), specifier!.replace(/\.js$/, '.ts')), seen)) bare.add(name);
  }
  for (const [, specifier] of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm)) bare.add(specifier!);
  return bare;
}

describe('@strata/serializer/client', () => {
  it('exports the input validator and the limits, nothing of the server', async () => {
    expect(Object.keys(await import('../client.js')).sort()).toEqual(['DEFAULT_TEXT_LIMIT', 'JSON_DEPTH_LIMIT', 'JSON_SIZE_LIMIT', 'KEYS_LIMIT', 'createInputValidator']);
  });

  it('loads valibot only: no model, drizzle or Node code in its import graph', () => {
    const seen = new Set<string>();
    expect([...runtimeImports(join(src, 'client.ts'), seen)]).toEqual(['valibot']);
    expect([...seen].map((file) => file.slice(src.length + 1)).sort()).toEqual(['client.ts', 'description.ts', 'inputSchema.ts']);
  });

  it('validates like the server’s first step, from a description sent as JSON', async () => {
    const form = createInputValidator<typeof ProductSerializer>(wire(ProductSerializer.describe()));
    const inputs: [unknown, { partial?: boolean }?][] = [
      [{}],
      [null],
      [[{ name: 'Sencha' }]],
      [{ name: 'Sencha', price: '12.50', stock: 3, status: 'live', releasedOn: '2026-03-01', attributes: { a: ['b'] }, sku: null, categoryId: 4, tags: [1, 2] }],
      [{ name: 5, price: 12.5, stock: '3', status: 'gone', releasedOn: '2026-02-30', sku: 'x', categoryId: 0, tags: 'all' }],
      [{ name: 'Sencha', price: '-1.00', bogus: true, secretNote: 'x' }],
      [{ name: 'Sencha', price: '1.00', id: 9, views: '1', updatedAt: '2026-01-01T00:00:00Z', inStock: true, category: {} }],
      [JSON.parse('{"name":"Sencha","price":"1.00","__proto__":{"polluted":1},"constructor":{}}')],
      [{ name: 'x'.repeat(1_000_000), price: '1'.repeat(1_000_000), attributes: JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) }],
      [{ price: '3.00' }, { partial: true }],
      [{ views: '3' }, { partial: true }],
    ];
    for (const [i, [input, options]] of inputs.entries()) {
      expect(form.parse(input, options), `input ${i}`).toEqual(await ProductSerializer.parse(input, options));
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('describes read-only names, and no sensitive name unless it is write-only', async () => {
    expect(ProductSerializer.describe().readOnly).toEqual(['id', 'views', 'updatedAt', 'inStock', 'category']);
    const Quiet = createModelSerializer(User, { fields: ['id', 'email'], readOnly: ['passwordHash'] });
    expect(JSON.stringify(Quiet.describe())).not.toContain('passwordHash');
    expect(await Quiet.parse({ email: 'a@x.io', passwordHash: 'h' })).toEqual({ ok: false, errors: { passwordHash: ['Unknown field.'] } });
    expect(Object.keys(UserSerializer.describe().fields)).toEqual(['email', 'passwordHash']);
  });

  it('returns the model’s value types, as the server does', async () => {
    const form = createInputValidator<typeof ProfileSerializer>(wire(ProfileSerializer.describe()));
    const input = { userId: 1, nickname: 'neo', karma: '-1000', lastSeen: '2026-11-25T10:00:00Z' };
    const result = form.parse(input);
    expect(result).toEqual({ ok: true, data: { userId: 1, nickname: 'neo', karma: -1000n, lastSeen: new Date('2026-11-25T10:00:00Z') } });
    expect(result).toEqual(await ProfileSerializer.parse(input));
    expectTypeOf(result).toEqualTypeOf<ParseResult<InferData<typeof ProfileSerializer>>>();
  });

  it('leaves server-only rules to the server', async () => {
    const form = createInputValidator<typeof ProfileSerializer>(wire(ProfileSerializer.describe()));
    // The model's validator and the serializer's validators are code: they never reach the browser.
    expect(form.parse({ userId: 1, nickname: 'admin' }).ok).toBe(true);
    expect((await ProfileSerializer.parse({ userId: 1, nickname: 'admin' })).ok).toBe(false);
  });

  it('runs refinements given to it, and exposes the schemas', () => {
    const form = createInputValidator<typeof ProductSerializer>(wire(ProductSerializer.describe()), {
      refine: { name: (s) => v.pipe(s as v.GenericSchema<string>, v.minLength(2, 'Too short.')) as never },
    });
    expect(form.parse({ name: 'a', price: '1.00' })).toEqual({ ok: false, errors: { name: ['Too short.'] } });
    expect(v.safeParse(form.schema, { name: 'ab', price: '1.00' }).success).toBe(true);
    expect(v.safeParse(form.partialSchema, {}).success).toBe(true);
    expect(v.safeParse(form.schema, {}).success).toBe(false);
  });
});
