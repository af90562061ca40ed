import { and, eq, sql } from 'drizzle-orm';
import { ModelError } from './errors.js';
import { getRegistry } from './registry.js';
import { modelOfRow } from './rows.js';
import { atomic } from './transaction.js';
import type { AnyModel } from './types.js';
import { batchSql, makeRow } from './internal/select.js';
import { isKey } from './internal/validate.js';
import { unknownField } from './internal/where.js';

type Key = number | string;
const keyOf = (item: unknown): unknown => (typeof item === 'object' && item !== null ? (item as { id: unknown }).id : item);

/** True for a row or a primary key of `model`; a row read through another model is neither, whatever its id. */
function isRowOrKeyOf(model: AnyModel, item: unknown): boolean {
  const rowModel = modelOfRow(item);
  return (rowModel === undefined || rowModel === model) && isKey(model, keyOf(item));
}

/** A refused owner or target, as an error message names it. */
function describe(item: unknown): string {
  const rowModel = modelOfRow(item);
  return rowModel ? `a row of ${rowModel.name}` : String(keyOf(item));
}

/**
 * The many-to-many set of one row, e.g. a product's tags:
 * `await Product.objects.related(product, 'tags').add(tea, green)`.
 * Changes emit `created`/`deleted` events on the through model (as `delete()` does).
 */
export class RelatedSet {
  constructor(
    private readonly model: AnyModel,
    private readonly owner: { id: unknown } | Key,
    private readonly name: string,
  ) {}

  private relation() {
    const registry = getRegistry();
    const meta = registry.meta(this.model);
    const relation = meta.manyToMany.get(this.name);
    if (!relation) throw unknownField(this.model, this.name);
    const through = registry.meta(relation.through).table;
    if (!isRowOrKeyOf(this.model, this.owner)) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `related() on ${this.model.name} needs a saved row or a primary key of it, got ${describe(this.owner)}.`);
    }
    const ownerId = keyOf(this.owner) as Key;
    return {
      registry,
      relation,
      through,
      ownerKey: `${relation.sourceField}Id`,
      targetKey: `${relation.targetField}Id`,
      ownerId,
    };
  }

  /** Target keys, checked like writes: a key of the wrong type is refused, never coerced. */
  private targetKeys(target: AnyModel, targets: ({ id: unknown } | Key)[]): Key[] {
    const bad = targets.findIndex((item) => !isRowOrKeyOf(target, item));
    if (bad >= 0) {
      throw new ModelError('STRATA_MODEL_INVALID_QUERY', `${this.name} of ${this.model.name} takes rows or primary keys of ${target.name}, got ${describe(targets[bad])}.`);
    }
    return targets.map((item) => keyOf(item) as Key);
  }

  /** Adds targets (rows or primary keys); ones already present are left as they are. */
  async add(...targets: ({ id: unknown } | Key)[]): Promise<void> {
    const { registry, relation, through, ownerKey, targetKey, ownerId } = this.relation();
    if (targets.length === 0) return;
    const values = [...new Set(this.targetKeys(relation.target, targets))].map((id) => ({ [ownerKey]: ownerId, [targetKey]: id }));
    const added: { id: Key }[] = await registry.run((db) => db.insert(through).values(values).onConflictDoNothing().returning({ id: through.id }));
    registry.changed({ type: 'created', model: relation.through.name, pks: added.map((row) => row.id) });
  }

  /** Removes targets from the set (the target rows themselves stay). */
  async remove(...targets: ({ id: unknown } | Key)[]): Promise<void> {
    const { registry, relation, through, ownerKey, targetKey, ownerId } = this.relation();
    if (targets.length === 0) return;
    const keys = this.targetKeys(relation.target, targets);
    const removed: { id: Key }[] = await registry.run((db) =>
      db
        .delete(through)
        .where(and(batchSql(registry, through[ownerKey], [ownerId]), batchSql(registry, through[targetKey], keys)))
        .returning({ id: through.id }),
    );
    registry.changed({ type: 'deleted', model: relation.through.name, pks: removed.map((row) => row.id) });
  }

  /** Makes the set exactly `targets`, in one transaction. */
  async set(targets: ({ id: unknown } | Key)[]): Promise<void> {
    await atomic(async () => {
      await this.clear();
      await this.add(...targets);
    });
  }

  /** Empties the set. */
  async clear(): Promise<void> {
    const { registry, relation, through, ownerKey, ownerId } = this.relation();
    const removed: { id: Key }[] = await registry.run((db) =>
      db.delete(through).where(batchSql(registry, through[ownerKey], [ownerId])).returning({ id: through.id }),
    );
    registry.changed({ type: 'deleted', model: relation.through.name, pks: removed.map((row) => row.id) });
  }

  /** The target rows, ordered by primary key. */
  async all(): Promise<Record<string, unknown>[]> {
    const { registry, relation, through, ownerKey, targetKey, ownerId } = this.relation();
    const target = registry.meta(relation.target);
    const records: Record<string, unknown>[] = await registry.run((db) =>
      db
        .select()
        .from(target.table)
        // eq() binds the owner through the column's mapping (an upper-case UUID is stored lower-case).
        .where(sql`${target.table.id} in (select ${through[targetKey]} from ${through} where ${eq(through[ownerKey], ownerId)})`)
        .orderBy(target.table.id),
    );
    return records.map((record) => makeRow(target, record));
  }
}

