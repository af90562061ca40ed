import { defineModel, f } from '@strata/model';
import { describe, expect, it } from 'vitest';
import { assertClientValue } from '../server.js';

const Product = defineModel('shop.Product', { fields: { name: f.text() } });

describe('assertClientValue', () => {
  it('accepts JSON data, deep and shared', () => {
    const shared = { a: 1 };
    expect(() => assertClientValue('Cart', 'items', { list: [shared, shared], n: 1.5, s: 'x', b: false, z: null })).not.toThrow();
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => assertClientValue('Cart', 'deep', deep)).not.toThrow();
  });

  it('refuses what is not JSON, naming the state, the var and the place, and saying to serialize first', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, RegExp][] = [
      [new Date(0), /Cart\.value holds a Date.*serialize it first \(date\.toISOString\(\)\)/],
      [{ when: new Map() }, /Cart\.value\.when holds a Map/],
      [[1, () => 1], /Cart\.value\[1\] holds a function/],
      [{ big: 1n }, /holds a bigint/],
      [{ n: Number.NaN }, /holds NaN/],
      [cyclic, /Cart\.value\.self holds a cycle/],
      [new (class Socket {})(), /holds a Socket/],
      [undefined, /holds undefined/],
    ];
    for (const [value, message] of cases) {
      expect(() => assertClientValue('Cart', 'value', value)).toThrow(message);
    }
  });

  it('refuses a model row and points at the serializer', () => {
    const row = Object.assign(Object.create(Object.defineProperty({}, Symbol.for('strata.model.row'), { value: Product })), { id: 1, name: 'x' });
    expect(() => assertClientValue('Catalog', 'product', { product: row })).toThrow(
      expect.objectContaining({ code: 'STRATA_STATE_NOT_JSON', message: expect.stringMatching(/Catalog\.product\.product holds a shop\.Product row.*serializer/) }),
    );
  });
});
