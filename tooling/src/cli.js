#!/usr/bin/env node
// strata-layer-check [dir]: check the workspace that holds dir (default: the current folder).
import fs from 'node:fs';
import path from 'node:path';
import { checkWorkspace, listWorkspacePackages } from './layerCheck.js';

/** The nearest folder at or above `start` holding pnpm-workspace.yaml, else `start`. */
function findWorkspaceRoot(/** @type {string} */ start) {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

const root = findWorkspaceRoot(path.resolve(process.argv[2] ?? process.cwd()));
const violations = await checkWorkspace(root);
const packageCount = listWorkspacePackages(root).length;
for (const v of violations) {
  console.log(`[${v.rule}] ${v.package}${v.file ? ` (${v.file})` : ''}: ${v.message}`);
}
console.log(`layer check: ${packageCount} packages, ${violations.length} violations`);
process.exitCode = violations.length === 0 ? 0 : 1;
