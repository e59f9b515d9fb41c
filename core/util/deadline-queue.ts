/**
 * (deadline, id) pairs, earliest deadline first, ties by smaller id. Requests that share
 * one timeout arrive in deadline order, so a pair that does not precede the last one
 * appended goes to a FIFO (constant time); only out-of-order pairs (a shorter timeout
 * than the one before) go to a heap. The head is the smaller of the two heads.
 */
export class DeadlineQueue {
  readonly #fifoAt: number[] = [];
  readonly #fifoId: number[] = [];
  #fifoHead = 0;
  readonly #heap = new DeadlineHeap();

  get size(): number {
    return this.#fifoAt.length - this.#fifoHead + this.#heap.size;
  }

  peekAt(): number | undefined {
    return this.#fromHeap() ? this.#heap.peekAt() : this.#fifoAt[this.#fifoHead];
  }

  /** The id at the head; call only when not empty. */
  peekId(): number {
    return this.#fromHeap() ? this.#heap.peekId() : (this.#fifoId[this.#fifoHead] as number);
  }

  push(atMs: number, id: number): void {
    const n = this.#fifoAt.length;
    if (n > this.#fifoHead) {
      if (precedes(atMs, id, this.#fifoAt[n - 1] as number, this.#fifoId[n - 1] as number)) {
        this.#heap.push(atMs, id);
        return;
      }
    }
    this.#fifoAt.push(atMs);
    this.#fifoId.push(id);
  }

  /** Removes the head (no-op when empty). */
  pop(): void {
    if (this.#fromHeap()) {
      this.#heap.pop();
      return;
    }
    if (this.#fifoHead >= this.#fifoAt.length) return;
    this.#fifoHead++;
    if (this.#fifoHead === this.#fifoAt.length) {
      this.#fifoAt.length = 0;
      this.#fifoId.length = 0;
      this.#fifoHead = 0;
    } else if (this.#fifoHead >= 1024 && this.#fifoHead * 2 >= this.#fifoAt.length) {
      // Drop the consumed prefix now and then, so a queue that never empties stays bounded.
      this.#fifoAt.splice(0, this.#fifoHead);
      this.#fifoId.splice(0, this.#fifoHead);
      this.#fifoHead = 0;
    }
  }

  clear(): void {
    this.#fifoAt.length = 0;
    this.#fifoId.length = 0;
    this.#fifoHead = 0;
    this.#heap.clear();
  }

  /** True when the heap holds the head: it is not empty and its head precedes the FIFO's. */
  #fromHeap(): boolean {
    const heapAt = this.#heap.peekAt();
    if (heapAt === undefined) return false;
    if (this.#fifoHead >= this.#fifoAt.length) return true;
    return precedes(heapAt, this.#heap.peekId(), this.#fifoAt[this.#fifoHead] as number, this.#fifoId[this.#fifoHead] as number);
  }
}

/**
 * A min-heap of (deadline, id) pairs, earliest deadline first, ties by smaller id, so the
 * order never depends on insertion history. It lets a machine keep one timer for many
 * deadlines: the timer sits at the head's deadline; entries whose work finished early are
 * left in place and skipped when they surface (lazy deletion), which costs less than
 * arming and cancelling a timer per request.
 *
 * Two parallel number arrays, no object per entry.
 */
export class DeadlineHeap {
  readonly #at: number[] = [];
  readonly #id: number[] = [];

  get size(): number {
    return this.#at.length;
  }

  /** The earliest deadline, or undefined when empty. */
  peekAt(): number | undefined {
    return this.#at[0];
  }

  /** The id at the head; call only when not empty. */
  peekId(): number {
    return this.#id[0] as number;
  }

  push(atMs: number, id: number): void {
    const at = this.#at;
    const ids = this.#id;
    let i = at.length;
    at.push(atMs);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pAt = at[parent] as number;
      const pId = ids[parent] as number;
      if (precedes(pAt, pId, atMs, id)) break;
      at[i] = pAt;
      ids[i] = pId;
      i = parent;
    }
    at[i] = atMs;
    ids[i] = id;
  }

  /** Removes the head (no-op when empty). */
  pop(): void {
    const at = this.#at;
    const ids = this.#id;
    const lastAt = at.pop();
    const lastId = ids.pop();
    const n = at.length;
    if (n === 0 || lastAt === undefined || lastId === undefined) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && precedes(at[right] as number, ids[right] as number, at[left] as number, ids[left] as number)) child = right;
      const cAt = at[child] as number;
      const cId = ids[child] as number;
      if (precedes(lastAt, lastId, cAt, cId)) break;
      at[i] = cAt;
      ids[i] = cId;
      i = child;
    }
    at[i] = lastAt;
    ids[i] = lastId;
  }

  clear(): void {
    this.#at.length = 0;
    this.#id.length = 0;
  }
}

/** Whether (aAt, aId) comes before (bAt, bId): earlier deadline, then smaller id. */
function precedes(aAt: number, aId: number, bAt: number, bId: number): boolean {
  return aAt < bAt || (aAt === bAt && aId < bId);
}
