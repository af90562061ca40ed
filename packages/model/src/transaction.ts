import type BetterSqlite3 from 'better-sqlite3';
import { emitChanges, type ChangeEvent } from './changeEvents.js';
import { getRegistry, txStorage, type Registry, type TxContext } from './registry.js';

/**
 * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws.
 * Nested calls use savepoints, so an inner failure can be caught without losing the outer
 * work. Change events are delivered after the outermost commit, never on rollback.
 * On SQLite, transactions are serialised (one writer at a time); on PostgreSQL each runs
 * on its own pooled connection.
 * @example await atomic(async () => { const p = await Product.objects.selectForUpdate().get({ id }); ... });
 */
export async function atomic<T>(fn: () => Promise<T>): Promise<T> {
  const registry = getRegistry();
  const outer = txStorage.getStore();
  if (outer?.registry === registry) return nested(outer, fn);
  const events: ChangeEvent[] = [];
  const result = registry.dialect === 'sqlite' ? await sqliteTransaction(registry, events, fn) : await postgresTransaction(registry, events, fn);
  emitChanges(events);
  return result;
}

/** True inside {@link atomic} for the current registry. */
export function inTransaction(): boolean {
  const tx = txStorage.getStore();
  return tx !== undefined && tx.registry === getRegistry();
}

async function sqliteTransaction<T>(registry: Registry, events: ChangeEvent[], fn: () => Promise<T>): Promise<T> {
  const client = registry.client as BetterSqlite3.Database;
  const release = await registry.writeLock.acquire();
  try {
    client.exec('BEGIN IMMEDIATE');
    try {
      const result = await txStorage.run({ registry, db: registry.db, depth: 1, events }, fn);
      client.exec('COMMIT');
      return result;
    } catch (error) {
      if (client.inTransaction) client.exec('ROLLBACK');
      events.length = 0;
      throw error;
    }
  } finally {
    release();
  }
}

async function postgresTransaction<T>(registry: Registry, events: ChangeEvent[], fn: () => Promise<T>): Promise<T> {
  try {
    return await registry.db.transaction((tx: unknown) => txStorage.run({ registry, db: tx, depth: 1, events }, fn));
  } catch (error) {
    events.length = 0;
    throw error;
  }
}

let savepointSeq = 0;

async function nested<T>(outer: TxContext, fn: () => Promise<T>): Promise<T> {
  const mark = outer.events.length;
  const depth = outer.depth + 1;
  try {
    if (outer.registry.dialect === 'postgres') {
      return await outer.db.transaction((tx: unknown) => txStorage.run({ ...outer, db: tx, depth }, fn));
    }
    const client = outer.registry.client as BetterSqlite3.Database;
    const name = `strata_sp_${(savepointSeq += 1)}`;
    client.exec(`SAVEPOINT ${name}`);
    try {
      const result = await txStorage.run({ ...outer, depth }, fn);
      client.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      client.exec(`ROLLBACK TO ${name}`);
      client.exec(`RELEASE ${name}`);
      throw error;
    }
  } catch (error) {
    outer.events.length = mark;
    throw error;
  }
}
