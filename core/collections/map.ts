import type { ApplyContext, StateMachine } from '../groups/state-machine.ts';
import { bytesEqual, bytesKey, isBytes, isBytesArray, isBytesOrNull, opOf, own } from './bytes-key.ts';
import type { Bytes, MapCommand, WriteResult } from './commands.ts';
import { badItem, decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';

const FORMAT = 'map/1';

interface Entry {
  readonly k: Bytes;
  v: Bytes;
}

/**
 * The replicated Map (mosaik `Map<K, V>`), over encoded keys and values.
 *
 * Iteration order is the insertion order of keys: updating a key keeps its place; removing
 * it and inserting it again moves it to the end. Every replica applies the same commands in
 * the same order, so every replica iterates alike, and `snapshot()` keeps the order.
 *
 * Read methods return the machine's own bytes: callers decode them and must not mutate them.
 */
export class MapMachine implements StateMachine<MapCommand, unknown, unknown> {
  readonly signature: string;
  #entries = new Map<string, Entry>();

  constructor(signature: string) {
    this.signature = signature;
  }

  /**
   * Applies one command. `cas` resolves `{ swapped }`; the others resolve undefined. A
   * malformed command (unknown op, fields of the wrong type) changes nothing and gives
   * undefined; `apply` never throws.
   */
  apply(command: MapCommand, _ctx?: ApplyContext): WriteResult | undefined {
    const c = command as unknown as Record<string, unknown>;
    switch (opOf(command)) {
      case 'insert':
        if (!isBytes(c.k) || !isBytes(c.v)) return undefined;
        this.#set(c.k, c.v);
        return undefined;
      case 'extend': {
        const entries = c.entries;
        if (!Array.isArray(entries)) return undefined;
        for (const e of entries) if (!Array.isArray(e) || e.length !== 2 || !isBytes(e[0]) || !isBytes(e[1])) return undefined;
        for (const [k, v] of entries as readonly (readonly [Bytes, Bytes])[]) this.#set(k, v);
        return undefined;
      }
      case 'remove':
        if (!isBytesArray(c.keys)) return undefined;
        for (const k of c.keys) this.#entries.delete(bytesKey(k));
        return undefined;
      case 'clear':
        this.#entries.clear();
        return undefined;
      case 'cas': {
        const { k, expected, next } = c;
        if (!isBytes(k) || !isBytesOrNull(expected) || !isBytesOrNull(next)) return undefined;
        const key = bytesKey(k);
        const current = this.#entries.get(key);
        const matches = expected === null ? current === undefined : current !== undefined && bytesEqual(current.v, expected);
        if (!matches) return { swapped: false };
        if (next === null) this.#entries.delete(key);
        else if (current === undefined) this.#entries.set(key, { k: own(k), v: own(next) });
        else current.v = own(next);
        return { swapped: true };
      }
      default:
        return undefined;
    }
  }

  #set(k: Bytes, v: Bytes): void {
    const key = bytesKey(k);
    const current = this.#entries.get(key);
    if (current === undefined) this.#entries.set(key, { k: own(k), v: own(v) });
    else current.v = own(v);
  }

  /** Collections read locally; there is no query. */
  query(_query: unknown): undefined {
    return undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(k: Bytes): Bytes | undefined {
    return this.#entries.get(bytesKey(k))?.v;
  }

  has(k: Bytes): boolean {
    return this.#entries.has(bytesKey(k));
  }

  /** `[key, value]` pairs in insertion order of keys. */
  *entries(): IterableIterator<[Bytes, Bytes]> {
    for (const e of this.#entries.values()) yield [e.k, e.v];
  }

  *keys(): IterableIterator<Bytes> {
    for (const e of this.#entries.values()) yield e.k;
  }

  *values(): IterableIterator<Bytes> {
    for (const e of this.#entries.values()) yield e.v;
  }

  /** msgpack of `["map/1", [[k, v], ...]]` in iteration order. */
  snapshot(): Uint8Array {
    const items: [Bytes, Bytes][] = [];
    for (const e of this.#entries.values()) items.push([e.k, e.v]);
    return encodeSnapshot(FORMAT, items);
  }

  /** Replaces the whole state. Throws (changing nothing) on bytes that are not a map snapshot. */
  restore(snapshot: Uint8Array): void {
    const items = decodeSnapshot(FORMAT, snapshot);
    const entries = new Map<string, Entry>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!Array.isArray(item) || item.length !== 2 || !isBytes(item[0]) || !isBytes(item[1])) badItem(FORMAT, i);
      const key = bytesKey(item[0]);
      if (entries.has(key)) badItem(FORMAT, i);
      entries.set(key, { k: own(item[0]), v: own(item[1]) });
    }
    this.#entries = entries;
  }
}
