/** A scheduled event; keep it to cancel the event later. */
export interface QueueEntry<T> {
  readonly atMs: number;
  /** The event; dropped (undefined) once the entry ran or was removed, so it can be freed. */
  readonly item: T | undefined;
  /** True until the entry is popped or removed. */
  readonly pending: boolean;
}

/** The mutable entry behind a QueueEntry; only the queue writes it. */
interface Entry<T> {
  readonly atMs: number;
  item: T | undefined;
  pending: boolean;
  readonly bucket: Bucket<T>;
}

/** Every entry due at one instant, in insertion order. */
interface Bucket<T> {
  readonly atMs: number;
  readonly entries: Entry<T>[];
  /** Entries before it have been popped (or were removed). */
  head: number;
  /** Pending entries (entries from `head` on, less the removed ones). */
  live: number;
}

/** Compact a bucket once this many removed entries sit in it (and they outnumber the live ones). */
const COMPACT_DEAD_ENTRIES = 64;

/**
 * The simulator's agenda, ordered by (time, insertion order). The insertion order breaks
 * ties, so two events at the same virtual millisecond always run in the same order, which
 * is what makes a seed reproduce a run.
 *
 * It is a calendar of buckets, one per distinct instant, plus a binary heap of the
 * instants: many events share a millisecond (a saturated run has hundreds of frames and
 * timers per virtual ms), so a push is usually an append to an existing bucket and a pop a
 * step along one, instead of a heap sift over every pending event. A bucket's entries are
 * in insertion order by construction, which is the tie-break.
 *
 * Cancelled events are removed at once (timers are armed and cancelled far more often
 * than they fire; leaving them would keep dead entries alive): an entry is marked, and a
 * bucket whose entries are all cancelled is dropped with them. Its instant may stay in the
 * heap; it is discarded when it reaches the top.
 */
export class EventQueue<T> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Binary min-heap of instants; may hold instants whose bucket is gone, and repeats. */
  readonly #times: number[] = [];
  /** The bucket at the earliest instant, while known; undefined means "look it up". */
  #front: Bucket<T> | undefined;
  #size = 0;

  /** Pending events. */
  get size(): number {
    return this.#size;
  }

  push(atMs: number, item: T): QueueEntry<T> {
    let bucket = this.#buckets.get(atMs);
    if (bucket === undefined) {
      bucket = { atMs, entries: [], head: 0, live: 0 };
      this.#buckets.set(atMs, bucket);
      this.#pushTime(atMs);
      if (this.#front !== undefined && atMs < this.#front.atMs) this.#front = undefined;
    }
    const entry: Entry<T> = { atMs, item, pending: true, bucket };
    bucket.entries.push(entry);
    bucket.live++;
    this.#size++;
    return entry;
  }

  /** Time of the next event, or undefined when empty. */
  peekTime(): number | undefined {
    return this.#frontBucket()?.atMs;
  }

  pop(): QueueEntry<T> | undefined {
    const bucket = this.#frontBucket();
    if (bucket === undefined) return undefined;
    const entries = bucket.entries;
    let entry = entries[bucket.head++] as Entry<T>;
    while (!entry.pending) entry = entries[bucket.head++] as Entry<T>; // live > 0: one is left
    entry.pending = false;
    this.#size--;
    if (--bucket.live === 0) this.#drop(bucket);
    return entry;
  }

  /** Removes a pending entry; a no-op when it already ran or was removed. */
  remove(queued: QueueEntry<T>): void {
    const entry = queued as Entry<T>;
    if (!entry.pending) return;
    entry.pending = false;
    entry.item = undefined;
    this.#size--;
    const bucket = entry.bucket;
    if (--bucket.live === 0) this.#drop(bucket);
    else if (bucket.entries.length - bucket.head - bucket.live > Math.max(COMPACT_DEAD_ENTRIES, 2 * bucket.live)) this.#compact(bucket);
  }

  /** The bucket at the earliest instant with pending entries. */
  #frontBucket(): Bucket<T> | undefined {
    const front = this.#front;
    if (front !== undefined && front.live > 0) return front;
    const times = this.#times;
    while (times.length > 0) {
      const bucket = this.#buckets.get(times[0] as number);
      if (bucket !== undefined && bucket.live > 0) {
        this.#front = bucket;
        return bucket;
      }
      this.#popTime(); // the bucket is gone, or this is a repeat of an instant already served
    }
    this.#front = undefined;
    return undefined;
  }

  /** A bucket with nothing pending is forgotten with its entries; its instant leaves the heap lazily. */
  #drop(bucket: Bucket<T>): void {
    if (this.#buckets.get(bucket.atMs) === bucket) this.#buckets.delete(bucket.atMs);
    if (this.#front === bucket) this.#front = undefined;
  }

  /** Removes cancelled entries from a bucket that still has pending ones, keeping the order. */
  #compact(bucket: Bucket<T>): void {
    const entries = bucket.entries;
    let to = 0;
    for (let from = bucket.head; from < entries.length; from++) {
      const entry = entries[from] as Entry<T>;
      if (entry.pending) entries[to++] = entry;
    }
    entries.length = to;
    bucket.head = 0;
  }

  #pushTime(atMs: number): void {
    const times = this.#times;
    let i = times.length;
    times.push(atMs);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = times[parent] as number;
      if (p <= atMs) break;
      times[i] = p;
      i = parent;
    }
    times[i] = atMs;
  }

  #popTime(): void {
    const times = this.#times;
    const last = times.pop() as number;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (times[right] as number) < (times[left] as number)) child = right;
      const c = times[child] as number;
      if (last <= c) break;
      times[i] = c;
      i = child;
    }
    times[i] = last;
  }
}
