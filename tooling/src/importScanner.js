// A small regex-based import scanner for the layer check. It reads our own
// TypeScript sources well enough to find module specifiers; it is not a parser.

/**
 * @typedef {object} ImportRef
 * @property {string} specifier  the module specifier, e.g. `@strata/state/client` or `./queue.js`
 * @property {boolean} typeOnly  true for `import type …` / `export type … from`, which TypeScript erases
 * @property {number} line       1-based line of the statement
 */

// Clauses hold identifiers, braces, commas, `*` and `as` only. Excluding `=`
// and `(` stops a match from spanning from `export type T = …` into the next
// statement when a file omits semicolons.
const STATIC_FROM = /(?<![\w$.])(import|export)(\s+type)?\s+([\w$\s{},*]*?)\s*from\s*(['"])([^'"\n]+)\4/g;
const SIDE_EFFECT = /(?<![\w$.])import\s*(['"])([^'"\n]+)\1/g;
const DYNAMIC = /(?<![\w$.])import\s*\(\s*(['"])([^'"\n]+)\1\s*[,)]/g;
const REQUIRE = /(?<![\w$.])require\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/**
 * Blank out comments and template-literal text, keeping newlines so line
 * numbers stay right. Plain strings are kept: they hold the specifiers.
 * Template text is blanked so generated code (`\`import … from '…'\``) in a
 * code generator is not mistaken for an import.
 * @param {string} source
 * @returns {string}
 */
export function stripComments(source) {
  let out = '';
  let quote = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    const next = source[i + 1];
    if (quote) {
      const keep = quote !== '`' || ch === '\n' || ch === '`';
      if (ch === '\\') {
        out += keep ? ch + (next ?? '') : '  ';
        i++;
        continue;
      }
      out += keep ? ch : ' ';
      // A quote left open by a regex literal like /'/ ends at the line's end.
      if (ch === quote || (ch === '\n' && quote !== '`')) quote = '';
      continue;
    }
    if (ch === '/' && (next === '/' || next === '*')) {
      const close = next === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2);
      const end = close === -1 ? source.length : next === '/' ? close : close + 2;
      out += source.slice(i, end).replace(/[^\n]/g, ' ');
      i = end - 1;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    out += ch;
  }
  return out;
}

/**
 * List the module specifiers a source file imports, re-exports, requires or
 * loads with `import()`.
 * @param {string} source  file text (TypeScript or JavaScript)
 * @returns {ImportRef[]}
 * @example
 * scanImports("import type { A } from './a.js';\nimport 'b';")
 * // → [{ specifier: './a.js', typeOnly: true, line: 1 }, { specifier: 'b', typeOnly: false, line: 2 }]
 */
export function scanImports(source) {
  const text = stripComments(source);
  /** @type {(ImportRef & { index: number })[]} */
  const found = [];
  const add = (/** @type {string} */ specifier, /** @type {boolean} */ typeOnly, /** @type {number} */ index) =>
    found.push({ specifier, typeOnly, line: lineAt(text, index), index });

  for (const m of text.matchAll(STATIC_FROM)) {
    const clause = (m[3] ?? '').trim();
    // `import type from 'x'` and `import type, { a } from 'x'` bind a default named `type`.
    const typeOnly = Boolean(m[2]) && clause !== '' && !clause.startsWith(',');
    add(/** @type {string} */ (m[5]), typeOnly, m.index);
  }
  for (const m of text.matchAll(SIDE_EFFECT)) add(/** @type {string} */ (m[2]), false, m.index);
  for (const m of text.matchAll(DYNAMIC)) add(/** @type {string} */ (m[2]), isTypePosition(text, m), m.index);
  for (const m of text.matchAll(REQUIRE)) add(/** @type {string} */ (m[2]), false, m.index);

  return found.sort((a, b) => a.index - b.index).map(({ specifier, typeOnly, line }) => ({ specifier, typeOnly, line }));
}

/**
 * `typeof import('x')` and `import('x').Name` in a type annotation are types,
 * not loads; a real dynamic import is awaited or followed by `.then`.
 * @param {string} text
 * @param {RegExpExecArray | RegExpMatchArray} m
 */
function isTypePosition(text, m) {
  const index = m.index ?? 0;
  if (/\btypeof\s*$/.test(text.slice(Math.max(0, index - 20), index))) return true;
  const after = text.slice(index + m[0].length, index + m[0].length + 40);
  const member = /^\s*\.\s*([\w$]+)/.exec(after);
  return member !== null && !['then', 'catch', 'finally'].includes(/** @type {string} */ (member[1]));
}

/** @param {string} text @param {number} index */
function lineAt(text, index) {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
