/** A scheduled event; keep it to cancel the event later. */
export interface QueueEntry<T> {
  readonly atMs: number;
  readonly seq: number;
  readonly item: T;
  /** Position in the heap; -1 once popped or removed. */
  index: number;
}

/**
 * The simulator's agenda: a binary heap of events ordered by (time, sequence). The
 * sequence number breaks ties in insertion order, so two events at the same virtual
 * millisecond always run in the same order, which is what makes a seed reproduce a run.
 * Cancelled events are removed at once (timers are armed and cancelled far more often
 * than they fire; leaving them in would grow the heap with dead entries).
 */
export class EventQueue<T> {
  readonly #heap: QueueEntry<T>[] = [];
  #nextSeq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(atMs: number, item: T): QueueEntry<T> {
    const entry: QueueEntry<T> = { atMs, seq: this.#nextSeq++, item, index: this.#heap.length };
    this.#heap.push(entry);
    this.#up(entry.index);
    return entry;
  }

  /** Time of the next event, or undefined when empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.atMs;
  }

  pop(): QueueEntry<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (!top) return undefined;
    this.#removeAt(0);
    return top;
  }

  /** Removes a pending entry; a no-op when it already ran or was removed. */
  remove(entry: QueueEntry<T>): void {
    if (entry.index < 0) return;
    this.#removeAt(entry.index);
  }

  #removeAt(i: number): void {
    const heap = this.#heap;
    const removed = heap[i] as QueueEntry<T>;
    const last = heap.pop() as QueueEntry<T>;
    removed.index = -1;
    if (last === removed) return;
    heap[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(last.index);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const entry = heap[i] as QueueEntry<T>;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as QueueEntry<T>;
      if (before(parent, entry)) break;
      heap[i] = parent;
      parent.index = i;
      i = parentIndex;
    }
    heap[i] = entry;
    entry.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[i] as QueueEntry<T>;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right] as QueueEntry<T>, heap[left] as QueueEntry<T>)) child = right;
      const c = heap[child] as QueueEntry<T>;
      if (before(entry, c)) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}

function before<T>(a: QueueEntry<T>, b: QueueEntry<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
