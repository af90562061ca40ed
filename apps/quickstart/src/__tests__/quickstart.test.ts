import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runQuickstart } from '../quickstart.js';

describe('quickstart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-quickstart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates, seeds once and prints the in-stock tea by price', async () => {
    const url = `sqlite:${join(dir, 'db.sqlite')}`;
    const first = await runQuickstart(url);
    expect(first[0]).toMatch(/^applied migration 0001_/);
    expect(first.filter((line) => line.startsWith('Tea'))).toEqual([
      expect.stringMatching(/Gyokuro\s+31\.00\s+stock 5/),
      expect.stringMatching(/Sencha\s+12\.50\s+stock 40/),
    ]);
    expect(first.at(-1)).toBe('catalog value: 86.40');
    const second = await runQuickstart(url);
    expect(second.some((line) => line.startsWith('applied'))).toBe(false);
    expect(second.at(-1)).toBe('catalog value: 86.40');
  });
});
