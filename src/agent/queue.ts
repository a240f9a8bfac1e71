// FIFO of calls waiting for a worker. Pure: no timers, no clock; the pool passes `now` and
// decides what an expired entry means. Bounded by `maxQueue` so overload fails fast.

export interface Queued<T> {
  item: T;
  enqueuedAt: number;
}

export class CallQueue<T> {
  private entries: Queued<T>[] = [];

  constructor(private maxQueue: number) {}

  /** A reloaded config's `maxQueue`: calls already waiting stay (only new ones see the new bound). */
  setCapacity(maxQueue: number): void {
    this.maxQueue = maxQueue;
  }

  get depth(): number {
    return this.entries.length;
  }

  /** Adds an item; false when the queue is full. */
  push(item: T, now: number): boolean {
    if (this.entries.length >= this.maxQueue) return false;
    this.entries.push({ item, enqueuedAt: now });
    return true;
  }

  /**
   * Puts an item back at position `index` (0 = next out) whatever `maxQueue` says: a call the
   * pool had already accepted, whose worker died before it started, keeps its place in line.
   */
  insert(index: number, item: T, now: number): void {
    this.entries.splice(Math.min(index, this.entries.length), 0, { item, enqueuedAt: now });
  }

  /** Removes and returns the oldest item accepted by `fits` (affinity-aware pop). */
  popFirst(fits: (item: T) => boolean): T | undefined {
    const i = this.entries.findIndex((e) => fits(e.item));
    if (i < 0) return undefined;
    return this.entries.splice(i, 1)[0]!.item;
  }

  remove(item: T): boolean {
    const i = this.entries.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  /** Removes and returns everything. */
  clear(): T[] {
    const all = this.entries.map((e) => e.item);
    this.entries = [];
    return all;
  }
}
