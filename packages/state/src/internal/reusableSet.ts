/**
 * A small insertion-ordered set (the vars or the states one event touched), emptied after
 * every event without allocating. A `Set`'s `clear()` allocates a new table each time; each
 * tab keeps that table for the seconds until its next event, so across thousands of tabs
 * the collector promotes a stream of them to the old generation. Lookups scan: for a few
 * items only. Read it with `size` and `at(i)`.
 */
export class ReusableSet<T> {
  // Four slots to start with: an empty array's first write reserves seventeen.
  private readonly items: T[] = new Array<T>(4);
  size = 0;

  has(item: T): boolean {
    for (let i = 0; i < this.size; i++) if (this.items[i] === item) return true;
    return false;
  }

  add(item: T): void {
    if (!this.has(item)) this.items[this.size++] = item;
  }

  at(index: number): T {
    return this.items[index]!;
  }

  /** Empties the set; the slots are kept (and overwritten by the next adds). */
  clear(): void {
    this.size = 0;
  }
}
