import { relative } from 'node:path';
import { makeMigrations } from '@strata/model/migrations';
import { models } from './models.js';
import { migrationsDir } from './quickstart.js';

const written = await makeMigrations({ models, dir: migrationsDir, name: process.argv[2] ?? 'auto' });
console.log(written.length ? written.map((m) => `wrote ${relative(process.cwd(), m.file)} (${m.statements} statements)`).join('\n') : 'No changes.');
