import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Error codes are STRATA_<LAYER>_<PROBLEM> string literals; settings such as STRATA_TEST_PG_URL are not codes. */
const root = resolve(import.meta.dirname, '../..');

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === '__tests__') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx)$/.test(name)) out.push(path);
  }
  return out;
}

function codesInSource() {
  const codes = new Set();
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    try {
      statSync(src);
    } catch {
      continue;
    }
    for (const file of sourceFiles(src)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/['"`](STRATA_(?:MODEL|SERIALIZER|STATE|AUTH|SOLID|CLI)_[A-Z0-9_]+)['"`]/g)) codes.add(match[1]);
    }
  }
  return codes;
}

function codesInDoc() {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  return new Set([...doc.matchAll(/^### (STRATA_[A-Z0-9_]+)\s*$/gm)].map((match) => match[1]));
}

describe('docs/errors.md', () => {
  it('documents every error code used in the packages', () => {
    const documented = codesInDoc();
    const missing = [...codesInSource()].filter((code) => !documented.has(code));
    expect(missing).toEqual([]);
  });

  it('lists no code that the packages no longer use', () => {
    const used = codesInSource();
    const stale = [...codesInDoc()].filter((code) => !used.has(code));
    expect(stale).toEqual([]);
  });

  it('finds the model codes (the scan itself works)', () => {
    expect(codesInSource().has('STRATA_MODEL_NOT_READY')).toBe(true);
    expect(codesInDoc().size).toBeGreaterThanOrEqual(13);
  });
});
