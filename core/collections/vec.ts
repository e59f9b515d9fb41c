import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { bytesEqual, isBytes, isBytesArray, opOf, own } from './bytes-key.ts';
import type { Bytes, VecCommand, WriteResult } from './commands.ts';
import { badItem, decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'vec/1';
const MIN_CAPACITY = 16;

/** A valid index or length in a command: a non-negative safe integer. */
function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * A growable ring buffer: O(1) at both ends and by index; `insert`/`remove` in the middle
 * move the shorter side. Invariant: `#slots.length` is a power of two ≥ MIN_CAPACITY, the
 * elements sit at `(#head + i) & mask` for `0 ≤ i < #length`, every other slot is undefined.
 */
class Deque {
  #slots: (Bytes | undefined)[] = new Array(MIN_CAPACITY).fill(undefined);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  #slot(i: number): number {
    return (this.#head + i) & (this.#slots.length - 1);
  }

  /** The element at `i`; the caller checks `0 ≤ i < length`. */
  at(i: number): Bytes {
    return this.#slots[this.#slot(i)] as Bytes;
  }

  #put(i: number, v: Bytes): void {
    this.#slots[this.#slot(i)] = v;
  }

  #grow(): void {
    if (this.#length < this.#slots.length) return;
    const slots: (Bytes | undefined)[] = new Array(this.#slots.length * 2).fill(undefined);
    for (let i = 0; i < this.#length; i++) slots[i] = this.at(i);
    this.#slots = slots;
    this.#head = 0;
  }

  pushBack(v: Bytes): void {
    this.#grow();
    this.#length++;
    this.#put(this.#length - 1, v);
  }

  pushFront(v: Bytes): void {
    this.#grow();
    this.#head = (this.#head - 1) & (this.#slots.length - 1);
    this.#length++;
    this.#put(0, v);
  }

  popBack(): Bytes | undefined {
    if (this.#length === 0) return undefined;
    const s = this.#slot(this.#length - 1);
    const v = this.#slots[s];
    this.#slots[s] = undefined;
    this.#length--;
    return v;
  }

  popFront(): Bytes | undefined {
    if (this.#length === 0) return undefined;
    const v = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#slots.length - 1);
    this.#length--;
    return v;
  }

  /** Inserts before index `i` (`0 ≤ i ≤ length`), moving the shorter side. */
  insert(i: number, v: Bytes): void {
    if (i < this.#length - i) {
      this.pushFront(v);
      for (let j = 0; j < i; j++) this.#put(j, this.at(j + 1));
    } else {
      this.pushBack(v);
      for (let j = this.#length - 1; j > i; j--) this.#put(j, this.at(j - 1));
    }
    this.#put(i, v);
  }

  /** Removes and returns the element at `i` (`0 ≤ i < length`), moving the shorter side. */
  remove(i: number): Bytes {
    const taken = this.at(i);
    if (i < this.#length - 1 - i) {
      for (let j = i; j > 0; j--) this.#put(j, this.at(j - 1));
      this.popFront();
    } else {
      for (let j = i; j < this.#length - 1; j++) this.#put(j, this.at(j + 1));
      this.popBack();
    }
    return taken;
  }

  swap(i: number, j: number): void {
    const a = this.at(i);
    this.#put(i, this.at(j));
    this.#put(j, a);
  }

  /** Keeps the first `len` elements (`len ≤ length`). */
  truncate(len: number): void {
    if (len === 0) return this.clear();
    for (let i = len; i < this.#length; i++) this.#slots[this.#slot(i)] = undefined;
    this.#length = len;
  }

  clear(): void {
    this.#slots = new Array(MIN_CAPACITY).fill(undefined);
    this.#head = 0;
    this.#length = 0;
  }

  *values(): IterableIterator<Bytes> {
    for (let i = 0; i < this.#length; i++) yield this.at(i);
  }
}

/**
 * The replicated Vec (mosaik `Vec<T>`), over encoded elements, in a ring buffer (O(1) push
 * and pop at both ends, O(1) index, middle insert/remove O(min(i, length − i))).
 *
 * Indexes in commands are non-negative safe integers; anything else is a malformed command.
 * Out-of-range operations are committed no-ops on every replica alike: `insert(i > length)`
 * gives `{ outOfRange: true }` (mosaik panics in apply), `swap` and `remove` past the end and
 * `truncate(len ≥ length)` do nothing, pops on an empty Vec give `{ taken: null }`.
 *
 * Read methods return the machine's own bytes: callers decode them and must not mutate them.
 */
export class VecMachine implements StateMachine<VecCommand, unknown, unknown> {
  readonly signature: string;
  #items = new Deque();

  constructor(signature: string) {
    this.signature = signature;
  }

  /**
   * Applies one command: pops and `remove` resolve `{ taken }` (the element, or null when
   * there was none), `insert` past the end `{ outOfRange: true }`, the rest undefined. A
   * malformed command changes nothing and gives undefined; `apply` never throws.
   */
  apply(command: VecCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    const items = this.#items;
    switch (opOf(command)) {
      case 'pushBack':
        if (!isBytes(c.v)) return undefined;
        items.pushBack(own(c.v));
        return undefined;
      case 'pushFront':
        if (!isBytes(c.v)) return undefined;
        items.pushFront(own(c.v));
        return undefined;
      case 'insert':
        if (!isIndex(c.i) || !isBytes(c.v)) return undefined;
        if (c.i > items.length) return { outOfRange: true };
        items.insert(c.i, own(c.v));
        return undefined;
      case 'swap':
        if (!isIndex(c.i) || !isIndex(c.j)) return undefined;
        if (c.i < items.length && c.j < items.length) items.swap(c.i, c.j);
        return undefined;
      case 'popBack':
        return { taken: items.popBack() ?? null };
      case 'popFront':
        return { taken: items.popFront() ?? null };
      case 'remove':
        if (!isIndex(c.i)) return undefined;
        return { taken: c.i < items.length ? items.remove(c.i) : null };
      case 'truncate':
        if (!isIndex(c.len)) return undefined;
        if (c.len < items.length) items.truncate(c.len);
        return undefined;
      case 'extend':
        if (!isBytesArray(c.vs)) return undefined;
        for (const v of c.vs) items.pushBack(own(v));
        return undefined;
      case 'clear':
        items.clear();
        return undefined;
      default:
        return undefined;
    }
  }

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The element at `i`, or undefined when `i` is not an index below `length`. */
  get(i: number): Bytes | undefined {
    return Number.isInteger(i) && i >= 0 && i < this.#items.length ? this.#items.at(i) : undefined;
  }

  front(): Bytes | undefined {
    return this.get(0);
  }

  back(): Bytes | undefined {
    return this.get(this.#items.length - 1);
  }

  /** The first index holding exactly these bytes, or undefined (a linear scan). */
  indexOf(v: Bytes): number | undefined {
    const n = this.#items.length;
    for (let i = 0; i < n; i++) if (bytesEqual(this.#items.at(i), v)) return i;
    return undefined;
  }

  includes(v: Bytes): boolean {
    return this.indexOf(v) !== undefined;
  }

  /** The elements, front to back. */
  values(): IterableIterator<Bytes> {
    return this.#items.values();
  }

  /** msgpack of `["vec/1", [v, ...]]`, front to back. */
  snapshot(): Uint8Array {
    return encodeSnapshot(FORMAT, [...this.#items.values()]);
  }

  /** Replaces the whole state. Throws (changing nothing) on bytes that are not a vec snapshot. */
  restore(snapshot: Uint8Array): void {
    const items = decodeSnapshot(FORMAT, snapshot);
    const next = new Deque();
    for (let i = 0; i < items.length; i++) {
      const v = items[i];
      if (!isBytes(v)) badItem(FORMAT, i);
      next.pushBack(own(v));
    }
    this.#items = next;
  }
}
