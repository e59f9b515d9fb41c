/** Something in flight that arrives at `atMs`; `next` links it into its queue (the queue writes it). */
export interface Arrival {
  readonly atMs: number;
  next: Arrival | undefined;
}

/**
 * What is in flight on one link direction, ordered by arrival time; items that arrive at
 * the same time stay in the order they were queued. Only the stress mode queues out of
 * order, so an insert is almost always an append.
 *
 * The queue is linked through its items, and a link direction extends it rather than
 * holding one: a 50-node mesh has thousands of directions, each touched once per frame and
 * cold by then, and an array with its backing store was two more cache misses a frame.
 * An item is in at most one queue at a time.
 */
export class ArrivalQueue<T extends Arrival> {
  /** The next to arrive. */
  head: T | undefined;
  /** The last to arrive, where an item in order is appended. */
  tail: T | undefined;

  /** Queues `item` after everything that arrives at or before its time. */
  insert(item: T): void {
    item.next = undefined;
    const tail = this.tail;
    if (tail === undefined) {
      this.head = this.tail = item;
      return;
    }
    if (tail.atMs <= item.atMs) {
      tail.next = item;
      this.tail = item;
      return;
    }
    const head = this.head as T;
    if (head.atMs > item.atMs) {
      item.next = head;
      this.head = item;
      return;
    }
    let at: Arrival = head;
    while (at.next !== undefined && at.next.atMs <= item.atMs) at = at.next;
    item.next = at.next; // never undefined here: the tail arrives after the item
    at.next = item;
  }

  /** Removes and returns the head. */
  shift(): T | undefined {
    const item = this.head;
    if (item === undefined) return undefined;
    this.head = item.next as T | undefined;
    if (this.head === undefined) this.tail = undefined;
    item.next = undefined;
    return item;
  }

  /** Drops everything in flight. */
  clear(): void {
    this.head = this.tail = undefined;
  }
}
