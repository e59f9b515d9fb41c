/**
 * A map from integer ids to values for ids handed out in increasing order and mostly let
 * go soon after: requests in flight, pings awaiting their pong.
 *
 * Why not a `Map`: a `Map` whose keys keep changing rebuilds its hash table every few
 * inserts, and V8 leaves each replaced table pointing at its successor. Once a table has
 * been promoted to the old generation, that pointer keeps the next table (and every value
 * in it) alive through the next scavenge, so it is promoted too, and so on: the tables of
 * every busy map, and what they hold, were two thirds of what a saturated ping-mesh
 * promoted, and half of what each scavenge copied.
 *
 * This keeps the ids of a sliding window in a ring of slots that is reused, not
 * reallocated: `set`, `get` and `delete` touch one slot. An id left behind by the window
 * (a request that waits while thousands of others come and go) moves to a small `Map` on
 * the side, so the ring stays as small as the ids in flight. Iteration is in increasing id
 * order, which for ids handed out in increasing order is insertion order, as with a `Map`.
 */
export class IdWindowMap<V> {
  /** The ring: the value of id `i` (base <= i < base + capacity) is at `i & mask`. */
  #slots: (V | undefined)[];
  #mask: number;
  /** The lowest id the ring may hold; ids below it are in `#behind`. */
  #base = 0;
  /** One past the highest id in the ring (`#base` when the ring is empty). */
  #top = 0;
  /** Values in the ring. */
  #inRing = 0;
  /** Ids the window left behind while they still had a value (rare). */
  readonly #behind = new Map<number, V>();

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#slots = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#inRing + this.#behind.size;
  }

  get(id: number): V | undefined {
    const offset = id - this.#base;
    if (offset >= 0) return offset <= this.#mask && Number.isInteger(id) ? this.#slots[id & this.#mask] : undefined;
    return this.#behind.size > 0 ? this.#behind.get(id) : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets the value of a non-negative integer id; `undefined` values are not kept (use `delete`). */
  set(id: number, value: V): this {
    if (!(Number.isSafeInteger(id) && id >= 0)) throw new RangeError(`IdWindowMap ids are non-negative integers, got ${id}`);
    if (value === undefined) {
      this.delete(id);
      return this;
    }
    if (this.#inRing === 0 && this.#behind.size === 0) {
      // Empty: the window starts at this id.
      this.#base = this.#top = id;
    } else if (id < this.#base) {
      this.#behind.set(id, value);
      return this;
    }
    if (id - this.#base > this.#mask) this.#makeRoom(id);
    const at = id & this.#mask;
    if (this.#slots[at] === undefined) this.#inRing++;
    this.#slots[at] = value;
    if (id >= this.#top) this.#top = id + 1;
    return this;
  }

  delete(id: number): boolean {
    const offset = id - this.#base;
    if (offset < 0) return this.#behind.delete(id);
    if (offset > this.#mask || !Number.isInteger(id)) return false;
    const at = id & this.#mask;
    if (this.#slots[at] === undefined) return false;
    this.#slots[at] = undefined;
    this.#inRing--;
    // Keep the window tight: move its start past the ids already gone.
    if (this.#inRing === 0) this.#base = this.#top;
    else if (id === this.#base) {
      while (this.#slots[this.#base & this.#mask] === undefined) this.#base++;
    }
    return true;
  }

  clear(): void {
    if (this.#inRing > 0) this.#slots.fill(undefined);
    this.#inRing = 0;
    this.#base = this.#top;
    this.#behind.clear();
  }

  /** Entries in increasing id order. */
  *entries(): IterableIterator<[number, V]> {
    if (this.#behind.size > 0) {
      for (const id of [...this.#behind.keys()].sort((a, b) => a - b)) yield [id, this.#behind.get(id) as V];
    }
    for (let id = this.#base; id < this.#top; id++) {
      const value = this.#slots[id & this.#mask];
      if (value !== undefined) yield [id, value];
    }
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }

  /**
   * `id` lies past the window's end. Grows the ring when it is at least a quarter full and
   * the id is near; otherwise moves the window up to `id`, setting aside the values it
   * leaves behind.
   */
  #makeRoom(id: number): void {
    const capacity = this.#mask + 1;
    if (this.#inRing * 4 >= capacity && id - this.#base < 2 * capacity) {
      this.#resize(capacity * 2);
      return;
    }
    const newBase = id - this.#mask;
    const end = Math.min(this.#top, newBase);
    for (let left = this.#base; left < end; left++) {
      const at = left & this.#mask;
      const value = this.#slots[at];
      if (value === undefined) continue;
      this.#behind.set(left, value);
      this.#slots[at] = undefined;
      this.#inRing--;
    }
    this.#base = newBase;
    if (this.#top < newBase) this.#top = newBase;
    if (this.#inRing > 0) {
      while (this.#slots[this.#base & this.#mask] === undefined) this.#base++;
    }
  }

  #resize(capacity: number): void {
    const slots = new Array<V | undefined>(capacity).fill(undefined);
    const mask = capacity - 1;
    for (let id = this.#base; id < this.#top; id++) {
      const value = this.#slots[id & this.#mask];
      if (value !== undefined) slots[id & mask] = value;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}
