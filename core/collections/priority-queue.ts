import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { bytesEqual, bytesKey, isBytes, isBytesArray, opOf, own } from './bytes-key.ts';
import type { Bytes, Priority, PriorityQueueCommand, WriteResult } from './commands.ts';
import { badItem, decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'depq/1';
/** An `extend` of more entries than this orders its new priorities in one merge (`#pending`). */
const BATCH_MIN_ENTRIES = 32;

/**
 * The order of priorities, the same on every replica: numbers before strings (should a queue
 * ever hold both), numbers by value, strings by UTF-16 code units (JS `<`). NaN is not a
 * priority (a command carrying it is malformed) and -0 is taken as 0, so the order is total.
 */
export function comparePriorities(a: Priority, b: Priority): number {
  if (typeof a === 'number') {
    if (typeof b !== 'number') return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True for a priority a command may carry: a string, or a number that is not NaN. */
export function isPriority(x: unknown): x is Priority {
  return typeof x === 'string' || (typeof x === 'number' && !Number.isNaN(x));
}

/** -0 becomes 0, so equal priorities are the same `Map` key and encode alike. */
function normal(p: Priority): Priority {
  return p === 0 ? 0 : p;
}

interface Entry {
  readonly key: string;
  readonly k: Bytes;
  p: Priority;
  v: Bytes;
  /** The neighbours in its bucket's list (older, newer). */
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * The entries of one priority, oldest first (in the order they entered this priority), as a
 * doubly linked list through the entries: O(1) append, removal and oldest, however many
 * entries came and went (a JS Map would make "the oldest" cost the deleted slots it skips).
 */
interface Bucket {
  readonly p: Priority;
  head: Entry | undefined;
  tail: Entry | undefined;
  size: number;
}

/** Puts `e` last in `bucket`'s list. */
function append(bucket: Bucket, e: Entry): void {
  e.prev = bucket.tail;
  e.next = undefined;
  if (bucket.tail === undefined) bucket.head = e;
  else bucket.tail.next = e;
  bucket.tail = e;
  bucket.size++;
}

/**
 * The replicated double-ended priority queue (mosaik `PriorityQueue<P, K, V, CAP>`): unique
 * encoded keys, each with a priority (number or string, see `comparePriorities`) and an
 * encoded value.
 *
 * Order: ascending priority; within one priority (a bucket), the order in which entries
 * entered it. `insert` of a new key and a move to another priority (upsert, `updatePriority`)
 * put the entry last in its bucket; changing only the value (`insert` at the same priority,
 * `updateValue`, `casValue`) keeps its place. `min()` is the oldest entry of the lowest
 * priority and `max()` the oldest of the highest; `entriesDesc()` walks priorities downwards,
 * each bucket oldest first.
 *
 * Capacity: when an `insert` (or each entry of an `extend`) of a new key makes the size
 * exceed `capacity`, the oldest entry of the lowest priority is evicted — possibly the new
 * one. Moving or updating an existing key never evicts (the size does not change).
 *
 * Cost: key operations O(1) plus O(log d) to find a bucket among d distinct priorities (a
 * sorted array; adding or dropping a bucket splices it). Snapshot and restore are linear.
 *
 * Read methods return the machine's own bytes: callers decode them and must not mutate them.
 */
export class PriorityQueueMachine implements StateMachine<PriorityQueueCommand, unknown, unknown> {
  readonly signature: string;
  /** The most entries kept (Infinity: unbounded). */
  readonly capacity: number;
  #byKey = new Map<string, Entry>();
  #buckets = new Map<Priority, Bucket>();
  /** The distinct priorities present, ascending; one bucket each. */
  #order: Priority[] = [];
  /**
   * While a large `extend` applies: the priorities of buckets it created, not yet in
   * `#order`. Splicing each into the sorted array made one extend of n new priorities cost
   * O(n·d) (200,000 descending priorities: 6 s on every replica); they are sorted and merged
   * in once at the end instead.
   */
  #pending: Set<Priority> | undefined;

  constructor(signature: string, capacity: number = Number.POSITIVE_INFINITY) {
    if (!(capacity === Number.POSITIVE_INFINITY || (Number.isSafeInteger(capacity) && capacity >= 0))) {
      throw new RangeError(`capacity must be a non-negative integer or Infinity, got ${capacity}`);
    }
    this.signature = signature;
    this.capacity = capacity;
  }

  /**
   * Applies one command: `casValue` resolves `{ swapped }`, the rest undefined. Missing keys
   * make `updatePriority`, `updateValue` and `casValue` committed no-ops. `removeRange`
   * removes priorities p with from ≤ p (no `from`: unbounded) and p < to, or p ≤ to when
   * `inclusive` (no `to`: unbounded); a range with from above to removes nothing. A malformed
   * command changes nothing and gives undefined; `apply` never throws.
   */
  apply(command: PriorityQueueCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    switch (opOf(command)) {
      case 'insert':
        if (!isPriority(c.p) || !isBytes(c.k) || !isBytes(c.v)) return undefined;
        this.#insert(normal(c.p), c.k, c.v);
        return undefined;
      case 'extend': {
        const entries = c.entries;
        if (!Array.isArray(entries)) return undefined;
        for (const e of entries) if (!Array.isArray(e) || e.length !== 3 || !isPriority(e[0]) || !isBytes(e[1]) || !isBytes(e[2])) return undefined;
        // Batched only when nothing can be evicted on the way: eviction needs the lowest priority.
        const batched = entries.length > BATCH_MIN_ENTRIES && this.#byKey.size + entries.length <= this.capacity;
        if (batched) this.#pending = new Set();
        for (const [p, k, v] of entries as readonly (readonly [Priority, Bytes, Bytes])[]) this.#insert(normal(p), k, v);
        if (batched) this.#mergePending();
        return undefined;
      }
      case 'updatePriority': {
        if (!isBytes(c.k) || !isPriority(c.p)) return undefined;
        const e = this.#byKey.get(bytesKey(c.k));
        if (e !== undefined) this.#move(e, normal(c.p));
        return undefined;
      }
      case 'updateValue': {
        if (!isBytes(c.k) || !isBytes(c.v)) return undefined;
        const e = this.#byKey.get(bytesKey(c.k));
        if (e !== undefined) e.v = own(c.v);
        return undefined;
      }
      case 'casValue': {
        const { k, expected, next } = c;
        if (!isBytes(k) || !isBytes(expected) || !(next === null || isBytes(next))) return undefined;
        const e = this.#byKey.get(bytesKey(k));
        if (e === undefined || !bytesEqual(e.v, expected)) return { swapped: false };
        if (next === null) this.#remove(e);
        else e.v = own(next);
        return { swapped: true };
      }
      case 'remove':
        if (!isBytesArray(c.keys)) return undefined;
        for (const k of c.keys) {
          const e = this.#byKey.get(bytesKey(k));
          if (e !== undefined) this.#remove(e);
        }
        return undefined;
      case 'removeRange': {
        const { from, to, inclusive } = c;
        if (!(from === null || isPriority(from)) || !(to === null || isPriority(to)) || typeof inclusive !== 'boolean') return undefined;
        this.#removeRange(from === null ? null : normal(from), to === null ? null : normal(to), inclusive);
        return undefined;
      }
      case 'clear':
        this.#clear();
        return undefined;
      default:
        return undefined;
    }
  }

  // ---- state changes -----------------------------------------------------------------

  #insert(p: Priority, k: Bytes, v: Bytes): void {
    const key = bytesKey(k);
    const existing = this.#byKey.get(key);
    if (existing !== undefined) {
      existing.v = own(v);
      this.#move(existing, p);
      return;
    }
    const e: Entry = { key, k: own(k), p, v: own(v), prev: undefined, next: undefined };
    this.#byKey.set(key, e);
    this.#enter(e);
    if (this.#byKey.size > this.capacity) this.#evict();
  }

  /** Moves `e` to priority `p`, last in its new bucket; the same priority keeps its place. */
  #move(e: Entry, p: Priority): void {
    if (e.p === p) return;
    this.#leave(e);
    e.p = p;
    this.#enter(e);
  }

  #remove(e: Entry): void {
    this.#byKey.delete(e.key);
    this.#leave(e);
  }

  /** The oldest entry of the lowest priority goes. */
  #evict(): void {
    const lowest = this.#order[0];
    if (lowest === undefined) return;
    const oldest = this.#buckets.get(lowest)?.head;
    if (oldest !== undefined) this.#remove(oldest);
  }

  /** Puts `e` last in the bucket of `e.p`, creating the bucket when needed. */
  #enter(e: Entry): void {
    let bucket = this.#buckets.get(e.p);
    if (bucket === undefined) {
      bucket = { p: e.p, head: undefined, tail: undefined, size: 0 };
      this.#buckets.set(e.p, bucket);
      if (this.#pending !== undefined) this.#pending.add(e.p);
      else this.#order.splice(this.#lowerBound(e.p), 0, e.p);
    }
    append(bucket, e);
  }

  /** Takes `e` out of its bucket, dropping the bucket when it empties. */
  #leave(e: Entry): void {
    const bucket = this.#buckets.get(e.p);
    if (bucket === undefined) return;
    if (e.prev === undefined) bucket.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) bucket.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = undefined;
    e.next = undefined;
    bucket.size--;
    if (bucket.size === 0) {
      this.#buckets.delete(e.p);
      if (this.#pending?.delete(e.p) !== true) this.#order.splice(this.#lowerBound(e.p), 1);
    }
  }

  /** Merges the batch's new priorities into `#order`: O(d + m log m) for m of them. */
  #mergePending(): void {
    const added = [...(this.#pending ?? [])].sort(comparePriorities);
    this.#pending = undefined;
    if (added.length === 0) return;
    const old = this.#order;
    const merged: Priority[] = new Array(old.length + added.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < old.length && j < added.length)
      merged[k++] = comparePriorities(old[i] as Priority, added[j] as Priority) < 0 ? (old[i++] as Priority) : (added[j++] as Priority);
    while (i < old.length) merged[k++] = old[i++] as Priority;
    while (j < added.length) merged[k++] = added[j++] as Priority;
    this.#order = merged;
  }

  #removeRange(from: Priority | null, to: Priority | null, inclusive: boolean): void {
    const lo = from === null ? 0 : this.#lowerBound(from);
    const hi = to === null ? this.#order.length : inclusive ? this.#upperBound(to) : this.#lowerBound(to);
    if (hi <= lo) return;
    for (const p of this.#order.slice(lo, hi)) {
      const bucket = this.#buckets.get(p);
      if (bucket === undefined) continue;
      for (let e = bucket.head; e !== undefined; e = e.next) this.#byKey.delete(e.key);
      this.#buckets.delete(p);
    }
    this.#order.splice(lo, hi - lo);
  }

  #clear(): void {
    this.#byKey = new Map();
    this.#buckets = new Map();
    this.#order = [];
  }

  /** The first index whose priority is ≥ p. */
  #lowerBound(p: Priority): number {
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePriorities(this.#order[mid] as Priority, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index whose priority is > p. */
  #upperBound(p: Priority): number {
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePriorities(this.#order[mid] as Priority, p) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- reads -------------------------------------------------------------------------

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  get size(): number {
    return this.#byKey.size;
  }

  has(k: Bytes): boolean {
    return this.#byKey.has(bytesKey(k));
  }

  /** The key's priority and value, or undefined. */
  get(k: Bytes): { readonly p: Priority; readonly v: Bytes } | undefined {
    const e = this.#byKey.get(bytesKey(k));
    return e === undefined ? undefined : { p: e.p, v: e.v };
  }

  getPriority(k: Bytes): Priority | undefined {
    return this.#byKey.get(bytesKey(k))?.p;
  }

  /** The oldest entry of the lowest priority, as `[p, k, v]`. */
  min(): [Priority, Bytes, Bytes] | undefined {
    return this.#first(this.#order[0]);
  }

  /** The oldest entry of the highest priority, as `[p, k, v]`. */
  max(): [Priority, Bytes, Bytes] | undefined {
    return this.#first(this.#order[this.#order.length - 1]);
  }

  #first(p: Priority | undefined): [Priority, Bytes, Bytes] | undefined {
    if (p === undefined) return undefined;
    const e = this.#buckets.get(p)?.head;
    return e === undefined ? undefined : [e.p, e.k, e.v];
  }

  minPriority(): Priority | undefined {
    return this.#order[0];
  }

  maxPriority(): Priority | undefined {
    return this.#order[this.#order.length - 1];
  }

  /**
   * `[p, k, v]` by ascending priority, each bucket oldest first. Lazy, one bucket at a time:
   * changes applied while iterating are safe and may or may not be seen.
   */
  *entries(): IterableIterator<[Priority, Bytes, Bytes]> {
    for (const p of [...this.#order]) yield* this.#bucketItems(p);
  }

  /** `[p, k, v]` by descending priority, each bucket oldest first (lazy, as `entries()`). */
  *entriesDesc(): IterableIterator<[Priority, Bytes, Bytes]> {
    const order = [...this.#order];
    for (let i = order.length - 1; i >= 0; i--) yield* this.#bucketItems(order[i] as Priority);
  }

  #bucketItems(p: Priority): [Priority, Bytes, Bytes][] {
    const items: [Priority, Bytes, Bytes][] = [];
    for (let e = this.#buckets.get(p)?.head; e !== undefined; e = e.next) items.push([e.p, e.k, e.v]);
    return items;
  }

  // ---- snapshots ---------------------------------------------------------------------

  /** msgpack of `["depq/1", [[p, k, v], ...]]` in `entries()` order (which rebuilds every bucket's order). */
  snapshot(): Uint8Array {
    return encodeSnapshot(FORMAT, [...this.entries()]);
  }

  /**
   * Replaces the whole state (linear: the items come sorted). Throws (changing nothing) on
   * bytes that are not a depq snapshot: malformed items, a repeated key, priorities out of
   * order. A snapshot holding more than `capacity` entries is trimmed as inserts would be.
   */
  restore(snapshot: Uint8Array): void {
    const items = decodeSnapshot(FORMAT, snapshot);
    const byKey = new Map<string, Entry>();
    const buckets = new Map<Priority, Bucket>();
    const order: Priority[] = [];
    let last: Bucket | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!Array.isArray(item) || item.length !== 3 || !isPriority(item[0]) || !isBytes(item[1]) || !isBytes(item[2])) badItem(FORMAT, i);
      const p = normal(item[0]);
      const key = bytesKey(item[1]);
      if (byKey.has(key)) badItem(FORMAT, i);
      if (last === undefined || last.p !== p) {
        if (last !== undefined && comparePriorities(last.p, p) >= 0) badItem(FORMAT, i);
        last = { p, head: undefined, tail: undefined, size: 0 };
        buckets.set(p, last);
        order.push(p);
      }
      const e: Entry = { key, k: own(item[1]), p, v: own(item[2]), prev: undefined, next: undefined };
      byKey.set(key, e);
      append(last, e);
    }
    this.#byKey = byKey;
    this.#buckets = buckets;
    this.#order = order;
    while (this.#byKey.size > this.capacity) this.#evict();
  }
}
