/** A FIFO async mutex; `locked` is true from the moment someone asks for it until the last release. */
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
}
