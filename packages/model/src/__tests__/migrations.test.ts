import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseTargets } from '@strata/test-utils';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, defineModel, f, getRegistry, isStrataError, setup, type AnyModel } from '..';
import { makeMigrations, migrate, pendingMigrations } from '../migrations.js';

// Two versions of one model, as an app's code before and after a change.
const NoteV1 = defineModel('lab.Note', { fields: { title: f.text({ maxLength: 50 }) } });
const NoteV2 = defineModel('lab.Note', {
  fields: {
    title: f.text({ maxLength: 50 }),
    pinned: f.boolean({ default: false }),
    rating: f.decimal({ precision: 4, scale: 2, default: '1.50' }),
    kind: f.choice({ choices: ['memo', 'todo'], default: 'memo' }),
    revision: f.bigint({ default: 1n }),
  },
});
/** Rows pointing at lab_note, with a cascade, which a SQLite table rebuild must leave alone. */
const commentOn = (note: AnyModel) =>
  defineModel('lab.Comment', { fields: { note: f.foreignKey(() => note, { onDelete: 'cascade' }), body: f.text() } });
const [CommentV1, CommentV2] = [commentOn(NoteV1), commentOn(NoteV2)];

const tempDir = () => mkdtempSync(join(tmpdir(), 'strata-migrations-'));
const sqlFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.sql')).sort() : []);

describe('makeMigrations', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a first migration and a snapshot per dialect', async () => {
    const written = await makeMigrations({ models: [NoteV1], dir });
    expect(written.map((m) => [m.dialect, m.file.slice(dir.length + 1), m.statements])).toEqual([
      ['sqlite', join('sqlite', '0001_auto.sql'), 1],
      ['postgres', join('postgres', '0001_auto.sql'), 1],
    ]);
    for (const dialect of ['sqlite', 'postgres']) {
      expect(readdirSync(join(dir, dialect)).sort()).toEqual(['0001_auto.sql', 'snapshot.json']);
      expect(() => JSON.parse(readFileSync(join(dir, dialect, 'snapshot.json'), 'utf8'))).not.toThrow();
    }
    expect(readFileSync(join(dir, 'sqlite', '0001_auto.sql'), 'utf8')).toMatch(/^CREATE TABLE `lab_note`/);
    const postgres = readFileSync(join(dir, 'postgres', '0001_auto.sql'), 'utf8');
    expect(postgres).toMatch(/^CREATE TABLE "lab_note"/);
    expect(postgres).not.toContain('"public".');
  });

  it('writes nothing when the models did not change', async () => {
    const snapshot = readFileSync(join(dir, 'sqlite', 'snapshot.json'), 'utf8');
    expect(await makeMigrations({ models: [NoteV1], dir })).toEqual([]);
    expect(sqlFiles(join(dir, 'sqlite'))).toEqual(['0001_auto.sql']);
    expect(readFileSync(join(dir, 'sqlite', 'snapshot.json'), 'utf8')).toBe(snapshot);
  });

  it('writes the next number with an ALTER when a field is added', async () => {
    const NotePinned = defineModel('lab.Note', { fields: { title: f.text({ maxLength: 50 }), pinned: f.boolean({ default: false }) } });
    const written = await makeMigrations({ models: [NotePinned], dir, name: 'add pinned' });
    expect(written.map((m) => m.file.slice(dir.length + 1))).toEqual([
      join('sqlite', '0002_add_pinned.sql'),
      join('postgres', '0002_add_pinned.sql'),
    ]);
    for (const dialect of ['sqlite', 'postgres']) {
      const text = readFileSync(join(dir, dialect, '0002_add_pinned.sql'), 'utf8');
      expect(text).toMatch(/ALTER TABLE [`"]lab_note[`"] ADD (COLUMN )?[`"]pinned[`"]/);
      expect(text).not.toMatch(/CREATE TABLE/);
    }
    expect(await makeMigrations({ models: [NotePinned], dir })).toEqual([]);
  });

  it('numbers a new migration after the highest existing one, so it sorts last', async () => {
    const gaps = tempDir();
    await makeMigrations({ models: [NoteV1], dir: gaps, dialects: ['sqlite'] });
    renameSync(join(gaps, 'sqlite', '0001_auto.sql'), join(gaps, 'sqlite', '0003_initial.sql'));
    const NotePinned = defineModel('lab.Note', { fields: { title: f.text({ maxLength: 50 }), pinned: f.boolean({ default: false }) } });
    await makeMigrations({ models: [NotePinned], dir: gaps, dialects: ['sqlite'] });
    expect(sqlFiles(join(gaps, 'sqlite'))).toEqual(['0003_initial.sql', '0004_auto.sql']);
    rmSync(gaps, { recursive: true, force: true });
  });

  it('generates only the dialects asked for', async () => {
    const only = tempDir();
    expect((await makeMigrations({ models: [NoteV1], dir: only, dialects: ['postgres'] })).map((m) => m.dialect)).toEqual(['postgres']);
    expect(existsSync(join(only, 'sqlite'))).toBe(false);
    rmSync(only, { recursive: true, force: true });
  });
});

interface Target {
  dialect: 'sqlite' | 'postgres';
  connect(models: AnyModel[]): Promise<void>;
  dispose(): Promise<void>;
}

/** A database that keeps its contents across setup()/close(), as an app's does across restarts. */
const targets: Target[] = databaseTargets().map((target) => {
  let where: { databaseUrl: string; schema?: string } | undefined;
  return {
    dialect: target.name,
    async connect(models) {
      where ??= await target.prepare();
      await setup({ ...where, models, debug: false });
    },
    dispose: () => target.dispose(),
  };
});

async function rows(query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const registry = getRegistry();
  return registry.dialect === 'sqlite' ? registry.db.all(query) : (await registry.db.execute(query)).rows;
}

async function tableExists(name: string): Promise<boolean> {
  const found = getRegistry().dialect === 'sqlite'
    ? await rows(sql`select name from sqlite_master where type = 'table' and name = ${name}`)
    : await rows(sql`select table_name from information_schema.tables where table_schema = current_schema() and table_name = ${name}`);
  return found.length === 1;
}

describe.each(targets)('migrate ($dialect)', (target) => {
  const dir = tempDir();
  const folder = join(dir, target.dialect);
  afterAll(async () => {
    await close();
    await target.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists pending migrations, applies them in order and records them', async () => {
    await makeMigrations({ models: [NoteV1, CommentV1], dir, dialects: [target.dialect] });
    await target.connect([NoteV1, CommentV1]);
    expect(await pendingMigrations({ dir })).toEqual(['0001_auto.sql']);
    const progress: string[] = [];
    expect(await migrate({ dir, onProgress: (name) => progress.push(name) })).toEqual(['0001_auto.sql']);
    expect(progress).toEqual(['0001_auto.sql']);
    expect(await pendingMigrations({ dir })).toEqual([]);
    expect(await migrate({ dir })).toEqual([]);
    const note = await NoteV1.objects.create({ title: 'written before the change' });
    await CommentV1.objects.create({ note, body: 'still here' });
  });

  it('applies an added field to a table that has rows, filling its defaults', async () => {
    await makeMigrations({ models: [NoteV2, CommentV2], dir, dialects: [target.dialect], name: 'note_fields' });
    await close();
    await target.connect([NoteV2, CommentV2]);
    expect(await pendingMigrations({ dir })).toEqual(['0002_note_fields.sql']);
    expect(await migrate({ dir })).toEqual(['0002_note_fields.sql']);
    const [old] = await NoteV2.objects.filter({ title: 'written before the change' });
    expect({ ...old }).toEqual({ id: old!.id, title: 'written before the change', pinned: false, rating: '1.50', kind: 'memo', revision: 1n });
    expect((await CommentV2.objects.filter({ noteId: old!.id })).map((c) => c.body)).toEqual(['still here']);
    const fresh = await NoteV2.objects.create({ title: 'new', rating: '9.99' });
    expect((await NoteV2.objects.get({ id: fresh.id })).rating).toBe('9.99');
    const applied = await rows(sql`select name from strata_migrations order by name`);
    expect(applied.map((row) => row.name)).toEqual(['0001_auto.sql', '0002_note_fields.sql']);
  });

  it('rolls back a broken migration entirely and leaves it pending', async () => {
    writeFileSync(
      join(folder, '0003_broken.sql'),
      'CREATE TABLE lab_partial (id integer);\n--> statement-breakpoint\nCREATE TABLE lab_broken (id integer,);\n',
    );
    const error = await migrate({ dir }).catch((e: unknown) => e);
    expect(isStrataError(error, 'STRATA_MODEL_MIGRATION')).toBe(true);
    expect((error as Error).message).toContain('0003_broken.sql');
    expect(await tableExists('lab_partial')).toBe(false);
    expect(await tableExists('lab_note')).toBe(true);
    expect(await pendingMigrations({ dir })).toEqual(['0003_broken.sql']);
    expect((await rows(sql`select name from strata_migrations`)).map((row) => row.name)).not.toContain('0003_broken.sql');
  });

  it('applies each migration once when several workers migrate at the same time', async () => {
    rmSync(join(folder, '0003_broken.sql'));
    writeFileSync(join(folder, '0004_race.sql'), 'CREATE TABLE lab_race (id integer);\n');
    const results = await Promise.all([migrate({ dir }), migrate({ dir }), migrate({ dir })]);
    expect(results.flat()).toEqual(['0004_race.sql']);
    expect(await tableExists('lab_race')).toBe(true);
    expect(await pendingMigrations({ dir })).toEqual([]);
  });
});
