import type BetterSqlite3 from 'better-sqlite3';
import { emitChanges, type ChangeEvent } from './changeEvents.js';
import { currentTx, getRegistry, txStorage, type Registry, type TxContext } from './registry.js';
import { Mutex } from './internal/mutex.js';
import { translateError } from './internal/integrity.js';

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
  const outer = currentTx(registry);
  if (outer) return nested(outer, fn);
  const events: ChangeEvent[] = [];
  const result = registry.dialect === 'sqlite' ? await sqliteTransaction(registry, events, fn) : await postgresTransaction(registry, events, fn);
  emitChanges(events);
  return result;
}

/** True inside {@link atomic} for the current registry. */
export function inTransaction(): boolean {
  // Outside any atomic() this is false even before setup().
  return txStorage.getStore() !== undefined && currentTx(getRegistry()) !== undefined;
}

function context(registry: Registry, db: unknown, events: ChangeEvent[], parent?: TxContext): TxContext {
  return { registry, db, events, depth: (parent?.depth ?? 0) + 1, open: true, parent, children: new Mutex() };
}

/**
 * Runs `fn` in the transaction context `tx`, which closes when `fn` settles and every
 * nested atomic() started in it has finished: a savepoint must never outlive (or be
 * committed by) the transaction it was opened in, even when `fn` did not await it.
 */
async function runIn<T>(tx: TxContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await txStorage.run(tx, fn);
  } finally {
    (await tx.children.acquire())();
    tx.open = false;
  }
}

async function sqliteTransaction<T>(
  registry: Registry,
  events: ChangeEvent[],
  fn: () => Promise<T>,
  options: { foreignKeysOff?: boolean } = {},
): Promise<T> {
  const client = registry.client as BetterSqlite3.Database;
  const release = await registry.writeLock.acquire();
  // The pragma only takes effect outside a transaction; holding the lock, nobody else runs meanwhile.
  if (options.foreignKeysOff) client.pragma('foreign_keys = OFF');
  try {
    client.exec('BEGIN IMMEDIATE');
    try {
      const result = await runIn(context(registry, registry.db, events), fn);
      if (options.foreignKeysOff && (client.pragma('foreign_key_check') as unknown[]).length > 0) {
        throw new Error('it leaves rows whose foreign keys point at no row.');
      }
      client.exec('COMMIT');
      return result;
    } catch (error) {
      if (client.inTransaction) client.exec('ROLLBACK');
      events.length = 0;
      // COMMIT runs outside registry.run: a database locked past the busy timeout is translated here.
      throw translateError(error, registry);
    }
  } finally {
    if (options.foreignKeysOff) client.pragma('foreign_keys = ON');
    release();
  }
}

/**
 * @internal A top-level SQLite transaction with foreign key enforcement off, checked before
 * commit: for migrations that rebuild tables (DROP TABLE would otherwise run ON DELETE actions).
 */
export async function atomicWithoutForeignKeys<T>(fn: () => Promise<T>): Promise<T> {
  const registry = getRegistry();
  if (registry.dialect !== 'sqlite' || currentTx(registry)) return atomic(fn);
  const events: ChangeEvent[] = [];
  const result = await sqliteTransaction(registry, events, fn, { foreignKeysOff: true });
  emitChanges(events);
  return result;
}

async function postgresTransaction<T>(registry: Registry, events: ChangeEvent[], fn: () => Promise<T>): Promise<T> {
  try {
    return await registry.db.transaction((tx: unknown) => runIn(context(registry, tx, events), fn));
  } catch (error) {
    events.length = 0;
    // BEGIN and COMMIT run outside registry.run: a lost connection there is translated here.
    throw translateError(error, registry);
  }
}

let savepointSeq = 0;

/**
 * A savepoint inside `outer`. Sibling blocks run one at a time: savepoints nest, so two open
 * at once (`Promise.all` of atomic() calls, or of getOrCreate()) would release or roll back
 * each other's work.
 */
async function nested<T>(outer: TxContext, fn: () => Promise<T>): Promise<T> {
  const release = await outer.children.acquire();
  try {
    return await savepoint(outer, fn);
  } finally {
    release();
  }
}

async function savepoint<T>(outer: TxContext, fn: () => Promise<T>): Promise<T> {
  const mark = outer.events.length;
  try {
    if (outer.registry.dialect === 'postgres') {
      return await outer.db.transaction((tx: unknown) => runIn(context(outer.registry, tx, outer.events, outer), fn));
    }
    const client = outer.registry.client as BetterSqlite3.Database;
    const name = `strata_sp_${(savepointSeq += 1)}`;
    client.exec(`SAVEPOINT ${name}`);
    try {
      const result = await runIn(context(outer.registry, outer.db, outer.events, outer), fn);
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
