import { ModelError } from '../errors.js';
import type { QuerySet } from '../queryset.js';
import type { AnyModel, Where } from '../types.js';

/** The pages of `QuerySet.iterate()`: see its JSDoc for the paging rules. */
export async function* iterateInChunks<M extends AnyModel, R>(qs: QuerySet<M, R>, size: number): AsyncGenerator<R> {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ModelError('STRATA_MODEL_INVALID_QUERY', `iterate() takes a chunkSize of at least 1, got ${String(size)}.`);
  }
  const byKey = (qs.state.order ?? qs.model.ordering).length === 0;
  // A slice bounds the whole iteration: the first page starts at its offset, and the pages
  // together stop at its limit.
  let remaining = qs.state.limit ?? Infinity;
  let offset = qs.state.offset ?? 0;
  let after: unknown;
  while (remaining > 0) {
    const limit = Math.min(size, remaining);
    // totalOrder: ORDER BY the ordering then `id`, or `id` alone when there is no ordering.
    const page =
      byKey && after !== undefined
        ? qs.with({ limit, offset: undefined, totalOrder: true }).filter({ id: { gt: after } } as Where<M>)
        : qs.with({ limit, offset, totalOrder: true });
    const rows = await page.fetch();
    for (const row of rows) yield row;
    if (rows.length < limit) return;
    remaining -= rows.length;
    offset += rows.length;
    after = (rows[rows.length - 1] as { id: unknown }).id;
  }
}
