/**
 * The commands of each replicated collection, as they sit in the group's log. Keys, values
 * and elements travel **encoded** (the collection's codec, msgpack by default), as mosaik's
 * `Encoded<T>`: replicas compare and order bytes, never decoded values, so every replica
 * decides the same way whatever the value's type. Priorities (PriorityQueue) travel as
 * themselves: they are numbers or strings, compared natively.
 *
 * Every command is deterministic; each machine's `apply` returns a small result the writer's
 * call resolves with (see each type).
 */
export type Bytes = Uint8Array;

export type MapCommand =
  | { readonly op: 'insert'; readonly k: Bytes; readonly v: Bytes }
  | { readonly op: 'extend'; readonly entries: readonly (readonly [Bytes, Bytes])[] }
  | { readonly op: 'remove'; readonly keys: readonly Bytes[] }
  | { readonly op: 'clear' }
  /**
   * Compare-and-swap on encoded bytes. `expected` null: the key must be absent; `next` null:
   * remove the key. Applied whether or not it swaps (a committed no-op when it does not).
   */
  | { readonly op: 'cas'; readonly k: Bytes; readonly expected: Bytes | null; readonly next: Bytes | null };

export type VecCommand =
  | { readonly op: 'pushBack'; readonly v: Bytes }
  | { readonly op: 'pushFront'; readonly v: Bytes }
  /** `i` > length: a no-op that returns `{ outOfRange: true }` (mosaik panics on every replica). */
  | { readonly op: 'insert'; readonly i: number; readonly v: Bytes }
  /** Out of range: a no-op. */
  | { readonly op: 'swap'; readonly i: number; readonly j: number }
  | { readonly op: 'popBack' }
  | { readonly op: 'popFront' }
  /** Out of range: a no-op. */
  | { readonly op: 'remove'; readonly i: number }
  /** Keeps the first `len` elements (no-op when already shorter). */
  | { readonly op: 'truncate'; readonly len: number }
  | { readonly op: 'extend'; readonly vs: readonly Bytes[] }
  | { readonly op: 'clear' };

export type SetCommand =
  | { readonly op: 'insert'; readonly v: Bytes }
  | { readonly op: 'extend'; readonly vs: readonly Bytes[] }
  | { readonly op: 'remove'; readonly vs: readonly Bytes[] }
  | { readonly op: 'clear' };

export type CellCommand =
  | { readonly op: 'write'; readonly v: Bytes }
  | { readonly op: 'clear' }
  | { readonly op: 'cas'; readonly expected: Bytes | null; readonly next: Bytes | null };

export type OnceCommand = { readonly op: 'write'; readonly v: Bytes };

export type Priority = number | string;

export type PriorityQueueCommand =
  /** Upsert: an existing key moves to the new priority. */
  | { readonly op: 'insert'; readonly p: Priority; readonly k: Bytes; readonly v: Bytes }
  | { readonly op: 'extend'; readonly entries: readonly (readonly [Priority, Bytes, Bytes])[] }
  /** Missing key: a committed no-op. */
  | { readonly op: 'updatePriority'; readonly k: Bytes; readonly p: Priority }
  /** Missing key: a committed no-op. */
  | { readonly op: 'updateValue'; readonly k: Bytes; readonly v: Bytes }
  /** Keeps the priority; `next` null removes the key. */
  | { readonly op: 'casValue'; readonly k: Bytes; readonly expected: Bytes; readonly next: Bytes | null }
  | { readonly op: 'remove'; readonly keys: readonly Bytes[] }
  /** Removes every entry whose priority is in the range (bounds optional; `inclusive` is for `to`, `from` is always inclusive). */
  | { readonly op: 'removeRange'; readonly from: Priority | null; readonly to: Priority | null; readonly inclusive: boolean }
  | { readonly op: 'clear' };

/** What a write resolves with besides its version. */
export interface WriteResult {
  /** `cas` / `casValue`: whether it swapped. Once `write`: whether this write set the value. */
  readonly swapped?: boolean;
  /** Vec `insert` past the end: nothing changed. */
  readonly outOfRange?: boolean;
  /** Vec `popBack` / `popFront`, Vec `remove`: the element taken, if any (encoded). */
  readonly taken?: Bytes | null;
}
