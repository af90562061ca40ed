import { close, setup } from '@strata/model';
import { pendingMigrations } from '@strata/model/migrations';
import type { StrataApp } from '../app.js';
import { CliError } from '../errors.js';
import type { Settings } from '../settings.js';

/** Connects the app's database for the length of `fn`, then closes it (also when `fn` throws). */
export async function withDatabase<T>(settings: Settings, app: StrataApp, fn: () => Promise<T>): Promise<T> {
  await setup({ databaseUrl: settings.databaseUrl, models: app.models, debug: settings.debug });
  try {
    return await fn();
  } finally {
    await close();
  }
}

/** Throws `STRATA_CLI_MIGRATIONS_PENDING` when the connected database lacks migrations of the app. */
export async function requireMigrated(app: StrataApp): Promise<void> {
  const pending = await pendingMigrations({ dir: app.migrations });
  if (pending.length) {
    throw new CliError('STRATA_CLI_MIGRATIONS_PENDING', `${countOf(pending.length, 'migration')} ${pending.length === 1 ? 'is' : 'are'} not applied yet (${pending.join(', ')}); run \`strata migrate\` first.`, { problems: pending });
  }
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** `1 migration`, `3 migrations`. */
export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
