import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { bytesKey, isBytes, isBytesArray, opOf, own } from './bytes-key.ts';
import type { Bytes, SetCommand, WriteResult } from './commands.ts';
import { badItem, decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'set/1';

/**
 * The replicated Set (mosaik `Set<T>`), over encoded elements: two elements are the same when
 * their encodings are.
 *
 * Iteration order is insertion order: inserting an element already there changes nothing
 * (it keeps its place); removing it and inserting it again moves it to the end. Every replica
 * applies the same commands in the same order, so every replica iterates alike, and
 * `snapshot()` keeps the order.
 *
 * Read methods return the machine's own bytes: callers decode them and must not mutate them.
 */
export class SetMachine implements StateMachine<SetCommand, unknown, unknown> {
  readonly signature: string;
  #items = new Map<string, Bytes>();

  constructor(signature: string) {
    this.signature = signature;
  }

  /** Applies one command (all resolve undefined). A malformed command changes nothing; `apply` never throws. */
  apply(command: SetCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    switch (opOf(command)) {
      case 'insert':
        if (!isBytes(c.v)) return undefined;
        this.#add(c.v);
        return undefined;
      case 'extend':
        if (!isBytesArray(c.vs)) return undefined;
        for (const v of c.vs) this.#add(v);
        return undefined;
      case 'remove':
        if (!isBytesArray(c.vs)) return undefined;
        for (const v of c.vs) this.#items.delete(bytesKey(v));
        return undefined;
      case 'clear':
        this.#items.clear();
        return undefined;
      default:
        return undefined;
    }
  }

  #add(v: Bytes): void {
    const key = bytesKey(v);
    if (!this.#items.has(key)) this.#items.set(key, own(v));
  }

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  get size(): number {
    return this.#items.size;
  }

  has(v: Bytes): boolean {
    return this.#items.has(bytesKey(v));
  }

  /** The elements in insertion order. */
  values(): IterableIterator<Bytes> {
    return this.#items.values();
  }

  /** Whether every element of this set is in `other` (true for the empty set). */
  isSubsetOf(other: SetMachine): boolean {
    if (this.#items.size > other.#items.size) return false;
    for (const key of this.#items.keys()) if (!other.#items.has(key)) return false;
    return true;
  }

  /** msgpack of `["set/1", [v, ...]]` in iteration order. */
  snapshot(): Uint8Array {
    return encodeSnapshot(FORMAT, [...this.#items.values()]);
  }

  /** Replaces the whole state. Throws (changing nothing) on bytes that are not a set snapshot. */
  restore(snapshot: Uint8Array): void {
    const items = decodeSnapshot(FORMAT, snapshot);
    const next = new Map<string, Bytes>();
    for (let i = 0; i < items.length; i++) {
      const v = items[i];
      if (!isBytes(v)) badItem(FORMAT, i);
      const key = bytesKey(v);
      if (next.has(key)) badItem(FORMAT, i);
      next.set(key, own(v));
    }
    this.#items = next;
  }
}
