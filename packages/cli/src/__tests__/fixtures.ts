// A tiny app for the CLI tests: a model, migrations in a temp folder, guarded and open states,
// and a way to write it as a module file that `loadApp` and `main` import by path.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authModels } from '@strata/auth';
import { close, defineModel, f, setup } from '@strata/model';
import { makeMigrations, migrate } from '@strata/model/migrations';
import { defineState, type Guard } from '@strata/state/server';
import fastify from 'fastify';
import { afterAll } from 'vitest';
import type { AppDefinition } from '..';

export const Note = defineModel('notes.Note', { fields: { title: f.text({ maxLength: 100 }) } });

const staffOnly: Guard = () => undefined;

/** Every handler guarded or public: what check --deploy accepts. */
export const GuardedNotes = defineState('notes', {
  vars: () => ({ titles: [] as string[] }),
  handlers: (h) => ({
    list: h.event({ public: true, run: () => undefined }),
    add: h.event({ guard: staffOnly, run: (s) => void s.titles.push('new') }),
  }),
});

/** `add` has no guard and `clear` an empty list of guards: anyone may call both. */
export const OpenNotes = defineState('openNotes', {
  vars: () => ({ titles: [] as string[] }),
  handlers: (h) => ({
    list: h.event({ public: true, run: () => undefined }),
    add: h.event((s) => void s.titles.push('new')),
    clear: h.event({ guard: [], run: (s) => void (s.titles = []) }),
  }),
});

/** What varies between the test apps; JSON, so a generated module can pass it on. */
export interface FixtureOptions {
  migrations: string;
  clientDir?: string;
  open?: boolean;
  auth?: boolean;
  seed?: 'notes' | 'throws';
  /** A server answering GET /ping. */
  server?: boolean;
}

export function fixtureApp(options: FixtureOptions): AppDefinition {
  return {
    name: 'notes',
    models: options.auth ? [...authModels, Note] : [Note],
    states: options.open ? [GuardedNotes, OpenNotes] : [GuardedNotes],
    migrations: options.migrations,
    ...(options.clientDir ? { clientDir: options.clientDir } : {}),
    ...(options.seed === 'notes' ? { seed: async () => void (await Note.objects.create({ title: 'Seeded' })) } : {}),
    ...(options.seed === 'throws' ? { seed: async () => { throw new Error('seed exploded'); } } : {}),
    ...(options.server
      ? {
          server: async () => {
            // A test stops the server at once, keep-alive sockets and all.
            const app = fastify({ logger: false, forceCloseConnections: true });
            app.get('/ping', async () => ({ pong: true }));
            return app;
          },
        }
      : {}),
  };
}

const here = fileURLToPath(new URL('.', import.meta.url));

/** Writes `<dir>/app.mjs` exporting `defineApp(fixtureApp(options))`; returns its path. */
export function writeAppModule(dir: string, options: FixtureOptions, file = 'app.mjs'): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    [
      `import { defineApp } from ${JSON.stringify(join(here, '..', 'index.ts'))};`,
      `import { fixtureApp } from ${JSON.stringify(join(here, 'fixtures.ts'))};`,
      `export default defineApp(fixtureApp(${JSON.stringify(options)}));`,
      '',
    ].join('\n'),
  );
  return path;
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
  made.push(dir);
  return dir;
}

/** A migrations folder for `models` (SQLite only), made by makeMigrations. */
export async function migrationsFor(models: AppDefinition['models']): Promise<string> {
  const dir = join(tempDir(), 'migrations');
  await makeMigrations({ models, dir, dialects: ['sqlite'], name: 'initial' });
  return dir;
}

/** Applies the migrations of `dir` to the SQLite file `url`. */
export async function applyMigrations(url: string, models: AppDefinition['models'], dir: string): Promise<void> {
  await setup({ databaseUrl: url, models });
  try {
    await migrate({ dir });
  } finally {
    await close();
  }
}

/** A built client: `<dir>/client/.vite/manifest.json`. */
export function builtClient(): string {
  const clientDir = join(tempDir(), 'client');
  mkdirSync(join(clientDir, '.vite'), { recursive: true });
  writeFileSync(join(clientDir, '.vite', 'manifest.json'), '{}\n');
  return clientDir;
}

/** 64 characters, 40+ distinct: a key check --deploy accepts. */
export const STRONG_KEY = 'q7Vx2Lm9Kd4Rt8Wz1Np6Hs3Jb5Gc0Fy-Ue_Ao9Ti2Pk7Xw4Me1Zr8Qn5Bv3Yl6Ch';

/** The complete production configuration of the README (only the database varies). */
export function productionEnv(databaseUrl: string): Record<string, string> {
  return {
    STRATA_ENV: 'production',
    STRATA_SECRET_KEY: STRONG_KEY,
    DATABASE_URL: databaseUrl,
    STRATA_ALLOWED_HOSTS: 'shop.example,www.shop.example',
    STRATA_ALLOWED_ORIGINS: 'https://shop.example,https://www.shop.example',
    STRATA_SITE_ORIGIN: 'https://shop.example',
  };
}

/** Collects what `main` writes. */
export function output(isTTY = false) {
  let text = '';
  return { isTTY, write: (chunk: string) => void (text += chunk), get text() { return text; } };
}

/** A loopback port free right now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
