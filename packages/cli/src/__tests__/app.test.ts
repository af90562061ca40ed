import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isStrataError } from '@strata/model';
import { describe, expect, it } from 'vitest';
import { CliError, defineApp, isStrataApp, loadApp } from '..';
import { fixtureApp, GuardedNotes, Note, tempDir, writeAppModule } from './fixtures.js';

async function loadError(path: string): Promise<CliError> {
  const error = await loadApp(path).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof CliError)) throw new Error(`expected a CliError, got ${String(error)}`);
  expect(isStrataError(error, 'STRATA_CLI_APP')).toBe(true);
  return error;
}

describe('defineApp', () => {
  it('returns the app frozen, with states defaulting to none', () => {
    const app = defineApp({ name: 'notes', models: [Note], migrations: '/srv/notes/migrations' });
    expect(app).toMatchObject({ name: 'notes', models: [Note], states: [], migrations: '/srv/notes/migrations', seed: undefined, clientDir: undefined });
    expect(Object.isFrozen(app)).toBe(true);
    expect(Object.isFrozen(app.models)).toBe(true);
    expect(isStrataApp(app)).toBe(true);
    expect(isStrataApp({ name: 'notes', models: [Note], states: [], migrations: '/srv/notes/migrations' })).toBe(false);
  });

  it('names everything wrong with a definition', () => {
    const bad = { name: '', models: [{}], states: [{ name: 'x' }], migrations: 'migrations', seed: 'no', clientDir: 'dist/client' };
    expect(() => defineApp(bad as never)).toThrow(
      'defineApp(): name must be a non-empty string; models must be an array of models made by defineModel(); states must be an array of states made by defineState() or defineModelState(); migrations must be an absolute folder path; seed must be an async function; clientDir must be an absolute folder path.',
    );
  });
});

describe('loadApp', () => {
  it('imports the default export of a built module', async () => {
    const dir = tempDir();
    const app = await loadApp(writeAppModule(dir, { migrations: join(dir, 'migrations') }));
    expect(app.name).toBe('notes');
    expect(app.models).toEqual([Note]);
    expect(app.states).toEqual([GuardedNotes]);
    expect(fixtureApp({ migrations: dir }).states).toEqual([GuardedNotes]);
  });

  it('says the module does not exist, naming the path', async () => {
    const path = join(tempDir(), 'dist', 'app.js');
    const error = await loadError(path);
    expect(error.message).toContain(`The app module ${path} does not exist`);
    expect(error.message).toContain('--app <path>');
  });

  it('says the module failed to load, with the cause', async () => {
    const path = join(tempDir(), 'app.mjs');
    writeFileSync(path, "throw new Error('database password missing');\n");
    const error = await loadError(path);
    expect(error.message).toBe(`The app module ${path} failed to load: database password missing`);
    expect((error.cause as Error).message).toBe('database password missing');
  });

  it('says when there is no default export, or it was not made by defineApp', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'named.mjs'), 'export const app = {};\n');
    expect((await loadError(join(dir, 'named.mjs'))).message).toContain('has no default export; end it with `export default defineApp({ … })`');
    writeFileSync(join(dir, 'plain.mjs'), "export default { name: 'notes', models: [], migrations: '/x' };\n");
    expect((await loadError(join(dir, 'plain.mjs'))).message).toBe(`The default export of ${join(dir, 'plain.mjs')} was not made by defineApp(); export \`defineApp({ … })\` from @strata/cli.`);
  });

  it('re-checks a branded app (another copy of defineApp, or one changed after)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'forged.mjs'), "export default { [Symbol.for('strata.app')]: true, name: 'x', models: 'none', migrations: 'rel' };\n");
    const error = await loadError(join(dir, 'forged.mjs'));
    expect(error.problems).toEqual(['models must be an array of models made by defineModel()', 'migrations must be an absolute folder path']);
  });
});
