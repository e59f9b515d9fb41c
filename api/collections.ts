import { CellMachine } from '../core/collections/cell.ts';
import type {
  CellCommand,
  MapCommand,
  OnceCommand,
  Priority,
  PriorityQueueCommand,
  SetCommand,
  VecCommand,
  WriteResult,
} from '../core/collections/commands.ts';
import { MapMachine } from '../core/collections/map.ts';
import { OnceMachine } from '../core/collections/once.ts';
import { isPriority, PriorityQueueMachine } from '../core/collections/priority-queue.ts';
import { SetMachine } from '../core/collections/set.ts';
import { VecMachine } from '../core/collections/vec.ts';
import { EncodingError, InvalidArgumentError } from '../core/errors.ts';
import type { StateMachine } from '../core/groups/state-machine.ts';
import { Digest, type StoreId } from '../core/identity/digest.ts';
import { checkedDatumCodec, type DatumCodec } from '../core/streams/datum-codec.ts';
import type { TicketValidator } from '../core/tickets/ticket.ts';
import { checkedTimeoutMs } from './deadline.ts';
import { type CallOptions, checkedCallLimits, checkedStorage, type Group, type GroupStorage, type Groups } from './groups.ts';

/** A collection's version: the index of the last command applied to the local copy. */
export type Version = number;

export interface CollectionOptions {
  /** A reader replicates and reads but never votes or writes (a Raft learner). @default false */
  readonly reader?: boolean;
  /** Members must carry tickets every validator accepts (folded into the id). @default [] */
  readonly requireTickets?: readonly TicketValidator[];
  /**
   * Names the key and value types (TypeScript has none at run time): part of the id, so
   * handles that disagree never share a collection. @default 'msgpack'
   */
  readonly typeTag?: string;
  /** Catch-up: a snapshot every this many commands; lagging members get it in chunks. @default 10 000 */
  readonly snapshotEveryEntries?: number;
  /**
   * How a lagging member is sent the snapshot (mosaik's `SyncConfig`): chunks of
   * `chunkBytes` (1 KiB..4 MiB, default 256 KiB), `chunksInFlight` ahead of its
   * acknowledgements (1..64, default 4). The leader's settings count; not part of the id.
   */
  readonly sync?: { readonly chunkBytes?: number; readonly chunksInFlight?: number };
  /**
   * Where this member keeps the collection's Raft state: the node's storage (on disk with a
   * `dataDir`), this process's memory only, or a `GroupStore` of the application's (see the
   * groups' `storage` option). The first handle of a collection on a node decides. @default 'node'
   */
  readonly storage?: GroupStorage;
  /**
   * The deadline of this handle's writes and `when.current()`: past it they fail with
   * TimeoutError, and a write that reached a leader may still be applied (see the groups'
   * `CallOptions.timeoutMs`). An integer from 1 to 2^31 − 1. Per handle. @default none
   */
  readonly timeoutMs?: number;
  /**
   * Writes (and `when.current()` reads) this node may have in flight on the collection at
   * once, and the bytes of those writes: past either, a write fails at once with FullError
   * and is never applied (the groups' `maxPendingCalls` and `maxPendingBytes`). The first
   * handle of a collection on a node decides. @default 65 536 and 64 MiB
   */
  readonly maxPendingCalls?: number;
  readonly maxPendingBytes?: number;
  /** While this node leads the collection's group: the groups' `maxUncommittedBytes`. The first handle decides. @default 128 MiB */
  readonly maxUncommittedBytes?: number;
}

/** What one handle keeps of its options. */
interface HandleSettings {
  readonly reader: boolean;
  readonly timeoutMs: number | undefined;
}

const settingsOf = (options: CollectionOptions): HandleSettings => ({ reader: options.reader === true, timeoutMs: options.timeoutMs });

/**
 * The options every collection takes, checked: InvalidArgumentError for a value of the wrong
 * kind. Every handle's, a second handle's of a collection too: it joins nothing, but a bad
 * option is as wrong there.
 */
function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${String(options)}`);
  const o = options as CollectionOptions;
  if (o.reader !== undefined && typeof o.reader !== 'boolean') throw new InvalidArgumentError(`reader must be a boolean, got ${String(o.reader)}`);
  if (o.typeTag !== undefined && (typeof o.typeTag !== 'string' || o.typeTag.length === 0))
    throw new InvalidArgumentError(`typeTag must be a non-empty string, got ${typeof o.typeTag}`);
  if (o.sync !== undefined && (typeof o.sync !== 'object' || o.sync === null)) throw new InvalidArgumentError(`sync must be an object, got ${String(o.sync)}`);
  checkedTimeoutMs(o.timeoutMs);
  checkedStorage(o.storage);
  checkedCallLimits(o);
}

export interface KeyedOptions<K, V> extends CollectionOptions {
  readonly keyCodec?: DatumCodec<K>;
  readonly valueCodec?: DatumCodec<V>;
}

export interface ValueOptions<T> extends CollectionOptions {
  readonly codec?: DatumCodec<T>;
}

type Kind = 'map' | 'vec' | 'set' | 'cell' | 'once' | 'priority-queue';

interface Opened<M> {
  readonly group: Group<unknown, unknown, unknown>;
  readonly machine: M;
  /** Leaves the group and forgets it, so that opening the collection again joins anew. */
  readonly leave: () => Promise<void>;
}

/**
 * Replicated collections (mosaik `collections`): each one is a Raft group whose state
 * machine is the collection. Writers are voters; readers are learners. Writes resolve with
 * the version (log index) after commit and local apply; reads are local, monotonic and
 * possibly stale (`when.reaches(v)` gives read-your-writes across nodes). See
 * docs/collections.md.
 */
export class Collections {
  readonly #groups: Groups;
  /** One group per collection per node: a second handle shares the first one's machine (mosaik's second handle never updates, §6.9). */
  readonly #opened = new Map<string, Opened<unknown>>();

  /** @internal */
  constructor(groups: Groups) {
    this.#groups = groups;
  }

  map<K, V>(name: string | StoreId, options: KeyedOptions<K, V> & { readonly reader: true }): MapReader<K, V>;
  map<K, V>(name: string | StoreId, options?: KeyedOptions<K, V>): MapHandle<K, V>;
  map<K, V>(name: string | StoreId, options: KeyedOptions<K, V> = {}): MapHandle<K, V> {
    checkOptions(options);
    const [keys, values] = [checkedDatumCodec<K>(options.keyCodec), checkedDatumCodec<V>(options.valueCodec)]; // before the group is joined
    const o = this.#open(name, 'map', options, '', (sig) => new MapMachine(sig));
    return new MapHandle(o, keys, values, settingsOf(options));
  }

  vec<T>(name: string | StoreId, options: ValueOptions<T> & { readonly reader: true }): VecReader<T>;
  vec<T>(name: string | StoreId, options?: ValueOptions<T>): VecHandle<T>;
  vec<T>(name: string | StoreId, options: ValueOptions<T> = {}): VecHandle<T> {
    checkOptions(options);
    const codec = checkedDatumCodec<T>(options.codec); // before the group is joined
    const o = this.#open(name, 'vec', options, '', (sig) => new VecMachine(sig));
    return new VecHandle(o, codec, settingsOf(options));
  }

  set<T>(name: string | StoreId, options: ValueOptions<T> & { readonly reader: true }): SetReader<T>;
  set<T>(name: string | StoreId, options?: ValueOptions<T>): SetHandle<T>;
  set<T>(name: string | StoreId, options: ValueOptions<T> = {}): SetHandle<T> {
    checkOptions(options);
    const codec = checkedDatumCodec<T>(options.codec); // before the group is joined
    const o = this.#open(name, 'set', options, '', (sig) => new SetMachine(sig));
    return new SetHandle(o, codec, settingsOf(options));
  }

  cell<T>(name: string | StoreId, options: ValueOptions<T> & { readonly reader: true }): CellReader<T>;
  cell<T>(name: string | StoreId, options?: ValueOptions<T>): CellHandle<T>;
  cell<T>(name: string | StoreId, options: ValueOptions<T> = {}): CellHandle<T> {
    checkOptions(options);
    const codec = checkedDatumCodec<T>(options.codec); // before the group is joined
    const o = this.#open(name, 'cell', options, '', (sig) => new CellMachine(sig));
    return new CellHandle(o, codec, settingsOf(options));
  }

  once<T>(name: string | StoreId, options: ValueOptions<T> & { readonly reader: true }): OnceReader<T>;
  once<T>(name: string | StoreId, options?: ValueOptions<T>): OnceHandle<T>;
  once<T>(name: string | StoreId, options: ValueOptions<T> = {}): OnceHandle<T> {
    checkOptions(options);
    const codec = checkedDatumCodec<T>(options.codec); // before the group is joined
    const o = this.#open(name, 'once', options, '', (sig) => new OnceMachine(sig));
    return new OnceHandle(o, codec, settingsOf(options));
  }

  priorityQueue<P extends Priority, K, V>(
    name: string | StoreId,
    options: KeyedOptions<K, V> & { readonly capacity?: number; readonly reader: true },
  ): PriorityQueueReader<P, K, V>;
  priorityQueue<P extends Priority, K, V>(name: string | StoreId, options?: KeyedOptions<K, V> & { readonly capacity?: number }): PriorityQueueHandle<P, K, V>;
  priorityQueue<P extends Priority, K, V>(
    name: string | StoreId,
    options: KeyedOptions<K, V> & { readonly capacity?: number } = {},
  ): PriorityQueueHandle<P, K, V> {
    checkOptions(options);
    const capacity = options.capacity ?? Number.POSITIVE_INFINITY;
    if (!(capacity === Number.POSITIVE_INFINITY || (Number.isSafeInteger(capacity) && capacity >= 1)))
      throw new InvalidArgumentError(`capacity must be an integer >= 1 (or Infinity), got ${String(capacity)}`);
    const [keys, values] = [checkedDatumCodec<K>(options.keyCodec), checkedDatumCodec<V>(options.valueCodec)]; // before the group is joined
    const o = this.#open(name, 'priority-queue', options, `/cap=${capacity}`, (sig) => new PriorityQueueMachine(sig, capacity));
    return new PriorityQueueHandle(o, keys, values, settingsOf(options));
  }

  #open<M extends StateMachine>(name: string | StoreId, kind: Kind, options: CollectionOptions, extra: string, make: (signature: string) => M): Opened<M> {
    // Consensus settings and tickets are checked by `idOf` below, for a second handle too.
    if (typeof name !== 'string' && !(name instanceof Digest))
      throw new InvalidArgumentError(`a collection's name is a string or a StoreId, got ${typeof name}`);
    const store = typeof name === 'string' ? Digest.from(name) : name;
    const signature = `mosaik_collections_${kind}/${store.hex}/${options.typeTag ?? 'msgpack'}${extra}`;
    const machine = make(signature);
    const consensus = {
      ...(options.snapshotEveryEntries !== undefined && { snapshotEveryEntries: options.snapshotEveryEntries }),
      ...(options.sync?.chunkBytes !== undefined && { snapshotChunkBytes: options.sync.chunkBytes }),
      ...(options.sync?.chunksInFlight !== undefined && { snapshotChunksInFlight: options.sync.chunksInFlight }),
    };
    const key = store.derive('mosaik-collections');
    const probe = this.#groups.idOf({ key, machine, consensus, requireTickets: options.requireTickets ?? [] });
    const existing = this.#opened.get(probe.hex);
    if (existing !== undefined) return existing as Opened<M>;
    const group = this.#groups.join({
      key,
      machine,
      consensus,
      leadership: options.reader === true ? 'observer' : 'normal',
      requireTickets: options.requireTickets ?? [],
      ...(options.storage !== undefined && { storage: options.storage }),
      ...(options.maxPendingCalls !== undefined && { maxPendingCalls: options.maxPendingCalls }),
      ...(options.maxPendingBytes !== undefined && { maxPendingBytes: options.maxPendingBytes }),
      ...(options.maxUncommittedBytes !== undefined && { maxUncommittedBytes: options.maxUncommittedBytes }),
    }) as Group<unknown, unknown, unknown>;
    const opened: Opened<M> = {
      group,
      machine,
      leave: async () => {
        if (this.#opened.get(probe.hex) === opened) this.#opened.delete(probe.hex);
        await group.leave();
      },
    };
    this.#opened.set(probe.hex, opened);
    return opened;
  }
}

type Common = 'version' | 'when' | 'isReader' | 'leave';
/** A reader of a Map: local reads and conditions, no write methods. */
export type MapReader<K, V> = Pick<MapHandle<K, V>, Common | 'size' | 'get' | 'has' | 'entries' | 'keys' | 'values' | typeof Symbol.iterator>;
export type VecReader<T> = Pick<VecHandle<T>, Common | 'length' | 'get' | 'front' | 'back' | 'indexOf' | 'includes' | 'values' | typeof Symbol.iterator>;
export type SetReader<T> = Pick<SetHandle<T>, Common | 'size' | 'has' | 'isSubsetOf' | 'values' | typeof Symbol.iterator>;
export type CellReader<T> = Pick<CellHandle<T>, Common | 'read'>;
export type OnceReader<T> = Pick<OnceHandle<T>, Common | 'read' | 'awaitValue'>;
export type PriorityQueueReader<P extends Priority, K, V> = Pick<
  PriorityQueueHandle<P, K, V>,
  Common | 'size' | 'capacity' | 'has' | 'get' | 'getPriority' | 'min' | 'max' | 'entries' | 'entriesDesc'
>;

/** What every collection handle has: its version and conditions. */
abstract class CollectionHandle<M> {
  protected readonly group: Group<unknown, unknown, unknown>;
  /** @internal */
  readonly machine: M;
  /** A reader: write methods reject (the reader types omit them). */
  readonly isReader: boolean;
  readonly #call: CallOptions;

  readonly #leave: () => Promise<void>;

  constructor(opened: Opened<M>, settings: HandleSettings) {
    this.group = opened.group;
    this.machine = opened.machine;
    this.#leave = opened.leave;
    this.isReader = settings.reader;
    this.#call = settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs };
  }

  /** The version of the local copy (the last applied log index). */
  get version(): Version {
    return this.group.committed;
  }

  /**
   * Stops hosting the collection on this node: leaves its group (as `Group.leave`: a voter
   * stays until the configuration without it commits) and ends every handle of it on this
   * node, whose later calls fail with `GroupClosedError`. The copy is no longer updated.
   * Opening the collection again joins anew and catches up. Resolves once left.
   */
  leave(): Promise<void> {
    return this.#leave();
  }

  readonly when = {
    /** Resolves when a leader is known (writes can go through). */
    online: (): Promise<void> => this.group.when.online(),
    /** Resolves at the next change of the version. */
    updated: (): Promise<void> => this.group.when.committed().reaches(this.group.committed + 1),
    /** Resolves when the local copy has applied version `v` (read-your-writes across nodes). */
    reaches: (v: Version): Promise<void> => this.group.when.committed().reaches(v),
    /**
     * Resolves, with the local version, once the local copy holds every write committed
     * before the call: the leader confirms its commit index with a heartbeat round
     * (ReadIndex) and this copy applies up to it. Local reads made right after are
     * linearizable. Fails with OfflineError while no leader is known.
     */
    current: async (): Promise<Version> => (await this.group.query(undefined, 'strong', this.#call)).at,
  };

  /**
   * A stored value decoded from a copy of its bytes. Decoders may hand back views into their
   * input (msgpack's binary values are): a read that returned the machine's own bytes would
   * let the application change this replica alone, and every snapshot taken from it.
   */
  protected decoded<T>(codec: DatumCodec<T>, bytes: Uint8Array): T {
    try {
      return codec.decode(bytes.slice());
    } catch (e) {
      throw new EncodingError(`a stored value does not decode with this handle's codec: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  protected async submit(command: unknown): Promise<{ version: Version; result: WriteResult | undefined }> {
    if (this.isReader) throw new InvalidArgumentError('this handle is a reader: it cannot write');
    const { index, result } = await this.group.execute(command, this.#call);
    return { version: index, result: result as WriteResult | undefined };
  }
}

/** A priority a queue can order: a string, or a number that is not NaN (core/collections/priority-queue.ts). */
function checkPriority<P>(priority: P): P {
  if (!isPriority(priority)) throw new InvalidArgumentError(`a priority is a string or a number other than NaN, got ${String(priority)}`);
  return priority;
}

function encodeAll<T>(codec: DatumCodec<T>, values: Iterable<T>): Uint8Array[] {
  return listOf(values, 'values').map((v) => codec.encode(v));
}

/** An iterable's items (InvalidArgumentError for something else). */
function listOf<T>(items: Iterable<T>, what: string): T[] {
  if (typeof (items as Partial<Iterable<T>> | null)?.[Symbol.iterator] !== 'function')
    throw new InvalidArgumentError(`${what} must be iterable, got ${String(items)}`);
  return [...items];
}

/** A `[key, value]` or `[priority, key, value]` item of an `extend`. */
function tupleOf<T extends readonly unknown[]>(item: T, length: number): T {
  if (!Array.isArray(item) || item.length !== length) throw new InvalidArgumentError(`each entry must be an array of ${length} items, got ${String(item)}`);
  return item;
}

/** A Vec index: an integer >= 0 (past the end is the log's to decide). */
function checkIndex(i: number): void {
  if (!Number.isSafeInteger(i) || i < 0) throw new InvalidArgumentError(`an index is an integer >= 0, got ${String(i)}`);
}

export class MapHandle<K, V> extends CollectionHandle<MapMachine> {
  readonly #k: DatumCodec<K>;
  readonly #v: DatumCodec<V>;
  constructor(opened: Opened<MapMachine>, k: DatumCodec<K>, v: DatumCodec<V>, settings: HandleSettings) {
    super(opened, settings);
    this.#k = k;
    this.#v = v;
  }
  get size(): number {
    return this.machine.size;
  }
  get(key: K): V | undefined {
    const v = this.machine.get(this.#k.encode(key));
    return v === undefined ? undefined : this.decoded(this.#v, v);
  }
  has(key: K): boolean {
    return this.machine.has(this.#k.encode(key));
  }
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.machine.entries()) yield [this.decoded(this.#k, k), this.decoded(this.#v, v)];
  }
  *keys(): IterableIterator<K> {
    for (const k of this.machine.keys()) yield this.decoded(this.#k, k);
  }
  *values(): IterableIterator<V> {
    for (const v of this.machine.values()) yield this.decoded(this.#v, v);
  }
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
  async insert(key: K, value: V): Promise<Version> {
    return (await this.submit({ op: 'insert', k: this.#k.encode(key), v: this.#v.encode(value) } satisfies MapCommand)).version;
  }
  async extend(entries: Iterable<readonly [K, V]>): Promise<Version> {
    const list = listOf(entries, 'entries').map((entry) => {
      const [k, v] = tupleOf(entry, 2);
      return [this.#k.encode(k), this.#v.encode(v)] as const;
    });
    if (list.length === 0) return this.version;
    return (await this.submit({ op: 'extend', entries: list } satisfies MapCommand)).version;
  }
  remove(key: K): Promise<Version> {
    return this.removeMany([key]);
  }
  async removeMany(keys: Iterable<K>): Promise<Version> {
    const list = encodeAll(this.#k, keys);
    if (list.length === 0) return this.version;
    return (await this.submit({ op: 'remove', keys: list } satisfies MapCommand)).version;
  }
  async clear(): Promise<Version> {
    return (await this.submit({ op: 'clear' } satisfies MapCommand)).version;
  }
  /** Sets `key` to `next` (undefined: removes it) if its value is `expected` (undefined: absent), comparing encoded bytes. */
  async compareExchange(key: K, expected?: V, next?: V): Promise<{ version: Version; swapped: boolean }> {
    const r = await this.submit({
      op: 'cas',
      k: this.#k.encode(key),
      expected: expected === undefined ? null : this.#v.encode(expected),
      next: next === undefined ? null : this.#v.encode(next),
    } satisfies MapCommand);
    return { version: r.version, swapped: r.result?.swapped === true };
  }
}

export class VecHandle<T> extends CollectionHandle<VecMachine> {
  readonly #c: DatumCodec<T>;
  constructor(opened: Opened<VecMachine>, c: DatumCodec<T>, settings: HandleSettings) {
    super(opened, settings);
    this.#c = c;
  }
  #dec(b: Uint8Array | undefined): T | undefined {
    return b === undefined ? undefined : this.decoded(this.#c, b);
  }
  get length(): number {
    return this.machine.length;
  }
  get(i: number): T | undefined {
    return this.#dec(this.machine.get(i));
  }
  front(): T | undefined {
    return this.#dec(this.machine.front());
  }
  back(): T | undefined {
    return this.#dec(this.machine.back());
  }
  indexOf(value: T): number | undefined {
    return this.machine.indexOf(this.#c.encode(value));
  }
  includes(value: T): boolean {
    return this.machine.includes(this.#c.encode(value));
  }
  *values(): IterableIterator<T> {
    for (const v of this.machine.values()) yield this.decoded(this.#c, v);
  }
  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
  async pushBack(value: T): Promise<Version> {
    return (await this.submit({ op: 'pushBack', v: this.#c.encode(value) } satisfies VecCommand)).version;
  }
  async pushFront(value: T): Promise<Version> {
    return (await this.submit({ op: 'pushFront', v: this.#c.encode(value) } satisfies VecCommand)).version;
  }
  /** Inserts at `i` (0 ≤ i ≤ length); past the end rejects with InvalidArgumentError and changes nothing. */
  async insert(i: number, value: T): Promise<Version> {
    if (!Number.isInteger(i) || i < 0 || i > this.length) throw new InvalidArgumentError(`index ${i} is out of range for length ${this.length}`);
    const r = await this.submit({ op: 'insert', i, v: this.#c.encode(value) } satisfies VecCommand);
    // Our copy may have been stale: the log decides, on every replica alike.
    if (r.result?.outOfRange) throw new InvalidArgumentError(`index ${i} was out of range when the insert applied (version ${r.version})`);
    return r.version;
  }
  /** Swaps the elements at `i` and `j`; an index past the end changes nothing. */
  async swap(i: number, j: number): Promise<Version> {
    checkIndex(i);
    checkIndex(j);
    return (await this.submit({ op: 'swap', i, j } satisfies VecCommand)).version;
  }
  async popBack(): Promise<{ version: Version; value: T | undefined }> {
    const r = await this.submit({ op: 'popBack' } satisfies VecCommand);
    return { version: r.version, value: this.#dec(r.result?.taken ?? undefined) };
  }
  async popFront(): Promise<{ version: Version; value: T | undefined }> {
    const r = await this.submit({ op: 'popFront' } satisfies VecCommand);
    return { version: r.version, value: this.#dec(r.result?.taken ?? undefined) };
  }
  /** Removes the element at `i`, shifting the rest; an index past the end changes nothing. */
  async remove(i: number): Promise<Version> {
    checkIndex(i);
    return (await this.submit({ op: 'remove', i } satisfies VecCommand)).version;
  }
  async truncate(len: number): Promise<Version> {
    if (!Number.isInteger(len) || len < 0) throw new InvalidArgumentError(`length must be a non-negative integer, got ${len}`);
    return (await this.submit({ op: 'truncate', len } satisfies VecCommand)).version;
  }
  async extend(values: Iterable<T>): Promise<Version> {
    const vs = encodeAll(this.#c, values);
    if (vs.length === 0) return this.version;
    return (await this.submit({ op: 'extend', vs } satisfies VecCommand)).version;
  }
  async clear(): Promise<Version> {
    return (await this.submit({ op: 'clear' } satisfies VecCommand)).version;
  }
}

export class SetHandle<T> extends CollectionHandle<SetMachine> {
  readonly #c: DatumCodec<T>;
  constructor(opened: Opened<SetMachine>, c: DatumCodec<T>, settings: HandleSettings) {
    super(opened, settings);
    this.#c = c;
  }
  get size(): number {
    return this.machine.size;
  }
  has(value: T): boolean {
    return this.machine.has(this.#c.encode(value));
  }
  isSubsetOf(other: SetReader<T>): boolean {
    if (!(other instanceof SetHandle)) throw new InvalidArgumentError('isSubsetOf takes another Set handle');
    return this.machine.isSubsetOf((other as SetHandle<T>).machine);
  }
  *values(): IterableIterator<T> {
    for (const v of this.machine.values()) yield this.decoded(this.#c, v);
  }
  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
  async insert(value: T): Promise<Version> {
    return (await this.submit({ op: 'insert', v: this.#c.encode(value) } satisfies SetCommand)).version;
  }
  async extend(values: Iterable<T>): Promise<Version> {
    const vs = encodeAll(this.#c, values);
    if (vs.length === 0) return this.version;
    return (await this.submit({ op: 'extend', vs } satisfies SetCommand)).version;
  }
  remove(value: T): Promise<Version> {
    return this.removeMany([value]);
  }
  async removeMany(values: Iterable<T>): Promise<Version> {
    const vs = encodeAll(this.#c, values);
    if (vs.length === 0) return this.version;
    return (await this.submit({ op: 'remove', vs } satisfies SetCommand)).version;
  }
  async clear(): Promise<Version> {
    return (await this.submit({ op: 'clear' } satisfies SetCommand)).version;
  }
}

export class CellHandle<T> extends CollectionHandle<CellMachine> {
  readonly #c: DatumCodec<T>;
  constructor(opened: Opened<CellMachine>, c: DatumCodec<T>, settings: HandleSettings) {
    super(opened, settings);
    this.#c = c;
  }
  read(): T | undefined {
    const b = this.machine.read();
    return b === undefined ? undefined : this.decoded(this.#c, b);
  }
  async write(value: T): Promise<Version> {
    return (await this.submit({ op: 'write', v: this.#c.encode(value) } satisfies CellCommand)).version;
  }
  async clear(): Promise<Version> {
    return (await this.submit({ op: 'clear' } satisfies CellCommand)).version;
  }
  async compareExchange(expected?: T, next?: T): Promise<{ version: Version; swapped: boolean }> {
    const r = await this.submit({
      op: 'cas',
      expected: expected === undefined ? null : this.#c.encode(expected),
      next: next === undefined ? null : this.#c.encode(next),
    } satisfies CellCommand);
    return { version: r.version, swapped: r.result?.swapped === true };
  }
}

export class OnceHandle<T> extends CollectionHandle<OnceMachine> {
  readonly #c: DatumCodec<T>;
  constructor(opened: Opened<OnceMachine>, c: DatumCodec<T>, settings: HandleSettings) {
    super(opened, settings);
    this.#c = c;
  }
  read(): T | undefined {
    const b = this.machine.read();
    return b === undefined ? undefined : this.decoded(this.#c, b);
  }
  /** The first committed write wins everywhere; later ones commit but change nothing (`set` false). */
  async write(value: T): Promise<{ version: Version; set: boolean }> {
    const r = await this.submit({ op: 'write', v: this.#c.encode(value) } satisfies OnceCommand);
    return { version: r.version, set: r.result?.swapped === true };
  }
  /** Resolves with the value once one is committed and applied here. */
  async awaitValue(): Promise<T> {
    // Whether a value is set is the machine's to say: a codec may decode one to undefined.
    while (this.machine.read() === undefined) await this.when.updated();
    return this.read() as T;
  }
}

export class PriorityQueueHandle<P extends Priority, K, V> extends CollectionHandle<PriorityQueueMachine> {
  readonly #k: DatumCodec<K>;
  readonly #v: DatumCodec<V>;
  constructor(opened: Opened<PriorityQueueMachine>, k: DatumCodec<K>, v: DatumCodec<V>, settings: HandleSettings) {
    super(opened, settings);
    this.#k = k;
    this.#v = v;
  }
  #entry(e: readonly [Priority, Uint8Array, Uint8Array] | undefined): [P, K, V] | undefined {
    return e === undefined ? undefined : [e[0] as P, this.decoded(this.#k, e[1]), this.decoded(this.#v, e[2])];
  }
  get size(): number {
    return this.machine.size;
  }
  get capacity(): number {
    return this.machine.capacity;
  }
  has(key: K): boolean {
    return this.machine.get(this.#k.encode(key)) !== undefined;
  }
  get(key: K): V | undefined {
    const e = this.machine.get(this.#k.encode(key));
    return e === undefined ? undefined : this.decoded(this.#v, e.v);
  }
  getPriority(key: K): P | undefined {
    return this.machine.getPriority(this.#k.encode(key)) as P | undefined;
  }
  min(): [P, K, V] | undefined {
    return this.#entry(this.machine.min());
  }
  max(): [P, K, V] | undefined {
    return this.#entry(this.machine.max());
  }
  *entries(): IterableIterator<[P, K, V]> {
    for (const e of this.machine.entries()) yield this.#entry(e) as [P, K, V];
  }
  *entriesDesc(): IterableIterator<[P, K, V]> {
    for (const e of this.machine.entriesDesc()) yield this.#entry(e) as [P, K, V];
  }
  async insert(priority: P, key: K, value: V): Promise<Version> {
    checkPriority(priority);
    return (await this.submit({ op: 'insert', p: priority, k: this.#k.encode(key), v: this.#v.encode(value) } satisfies PriorityQueueCommand)).version;
  }
  async extend(entries: Iterable<readonly [P, K, V]>): Promise<Version> {
    const list = listOf(entries, 'entries').map((entry) => {
      const [p, k, v] = tupleOf(entry, 3);
      return [checkPriority(p), this.#k.encode(k), this.#v.encode(v)] as const;
    });
    if (list.length === 0) return this.version;
    return (await this.submit({ op: 'extend', entries: list } satisfies PriorityQueueCommand)).version;
  }
  async updatePriority(key: K, priority: P): Promise<Version> {
    checkPriority(priority);
    return (await this.submit({ op: 'updatePriority', k: this.#k.encode(key), p: priority } satisfies PriorityQueueCommand)).version;
  }
  async updateValue(key: K, value: V): Promise<Version> {
    return (await this.submit({ op: 'updateValue', k: this.#k.encode(key), v: this.#v.encode(value) } satisfies PriorityQueueCommand)).version;
  }
  async compareExchangeValue(key: K, expected: V, next: V | undefined): Promise<{ version: Version; swapped: boolean }> {
    const r = await this.submit({
      op: 'casValue',
      k: this.#k.encode(key),
      expected: this.#v.encode(expected),
      next: next === undefined ? null : this.#v.encode(next),
    } satisfies PriorityQueueCommand);
    return { version: r.version, swapped: r.result?.swapped === true };
  }
  remove(key: K): Promise<Version> {
    return this.removeKeys([key]);
  }
  async removeKeys(keys: Iterable<K>): Promise<Version> {
    const list = encodeAll(this.#k, keys);
    if (list.length === 0) return this.version;
    return (await this.submit({ op: 'remove', keys: list } satisfies PriorityQueueCommand)).version;
  }
  /** Removes priorities in [from, to] (`inclusive`, default) or [from, to); a missing bound is open. */
  async removeRange(range: { from?: P; to?: P; inclusive?: boolean } = {}): Promise<Version> {
    // Not an object would read as "no bounds": the whole queue.
    if (typeof range !== 'object' || range === null) throw new InvalidArgumentError(`a range is an object { from?, to?, inclusive? }, got ${String(range)}`);
    if (range.inclusive !== undefined && typeof range.inclusive !== 'boolean')
      throw new InvalidArgumentError(`inclusive must be a boolean, got ${String(range.inclusive)}`);
    if (range.from !== undefined) checkPriority(range.from);
    if (range.to !== undefined) checkPriority(range.to);
    return (
      await this.submit({
        op: 'removeRange',
        from: range.from ?? null,
        to: range.to ?? null,
        inclusive: range.inclusive ?? true,
      } satisfies PriorityQueueCommand)
    ).version;
  }
  async clear(): Promise<Version> {
    return (await this.submit({ op: 'clear' } satisfies PriorityQueueCommand)).version;
  }
}
