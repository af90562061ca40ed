/** A FIFO async mutex; `idle()` resolves when nobody holds it. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  get locked(): boolean {
    return this.holders > 0;
  }

  /** Waits for the lock; returns its release function. */
  async acquire(): Promise<() => void> {
    this.holders += 1;
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return () => {
      this.holders -= 1;
      release();
    };
  }

  /** Resolves once every current holder and waiter has released. */
  async idle(): Promise<void> {
    while (this.holders > 0) await this.tail;
  }
}
