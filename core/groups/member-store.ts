import { StorageError } from '../errors.ts';
import type { GroupId } from '../identity/digest.ts';
import type { NodeContext } from '../node/subsystem.ts';
import type { Entry, HardState, Ready, Snapshot } from '../raft/types.ts';
import { AssertionError, assert } from '../util/assert.ts';
import { type Decoded, type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import * as s from '../wire/schema.ts';
import type { Formation } from './formation.ts';
import { peerOfMember } from './member-id.ts';
import { DURABLE_PARTS, type DurablePart, GroupStorageKeys } from './storage-keys.ts';
import { confStateSchema, entryCodec, memberIdSchema, snapshotMetaCodec } from './wire.ts';

/**
 * Where a member keeps what Raft must not forget (term, vote, log, snapshot, member id).
 * - `node`: in the node's storage, durable when the node has one (`Network.create({ dataDir })`);
 * - `memory`: in this process only, whatever the node has: a restart brings the member back
 *   as a new one that catches up from the others (docs/groups.md, "Member ids"), and no
 *   write of this group waits for a sync. For groups whose state the others hold anyway;
 * - `external`: on a store the application brings (the API's `GroupStore`). The member
 *   starts from what the store held when the group was joined (`loaded`, keys relative to
 *   the group: `member`, `hs`, `e/12`, ...); its writes go out as persists under
 *   `externalStorePrefix`, which the driver hands to that store, and what depends on them
 *   waits until the store says they are durable.
 */
export type GroupStorage = 'node' | 'memory' | { readonly kind: 'external'; readonly loaded: ReadonlyMap<string, Uint8Array> };

const DURABLE = {
  hardState: msgpackCodec(s.struct({ term: s.uint, vote: s.optional(memberIdSchema), commit: s.uint })),
  formation: msgpackCodec(s.struct({ id: s.bytes({ length: 32 }), formedAtMs: s.uint, conf: s.optional(confStateSchema) })),
  /** What versions before the first configuration in the formation stored. */
  formationV1: msgpackCodec(s.struct({ id: s.bytes({ length: 32 }), formedAtMs: s.uint })),
  snapshot: msgpackCodec(s.struct({ meta: s.bytes({ maxLength: 1 << 20 }), data: s.bytes({ maxLength: 1 << 30 }) })),
};

function setOrDelete(map: Map<string, Uint8Array>, key: string, value: Uint8Array | null): void {
  if (value === null) map.delete(key);
  else map.set(key, value);
}

/** A stored formation, in this version's form or an earlier one's (which has no first configuration). */
function decodeStoredFormation(bytes: Uint8Array): Decoded<Formation> {
  const now = DURABLE.formation.decode(bytes);
  if (now.ok) return { ok: true, value: { id: now.value.id.slice(), formedAtMs: now.value.formedAtMs, conf: now.value.conf } };
  const v1 = DURABLE.formationV1.decode(bytes);
  return v1.ok ? { ok: true, value: { id: v1.value.id.slice(), formedAtMs: v1.value.formedAtMs, conf: undefined } } : now;
}

/** What a member finds in its storage when it starts. */
export interface Restored {
  readonly formation: Formation | undefined;
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  /** The log after the snapshot (or from index 1), as far as it runs without a gap. */
  readonly entries: Entry[];
}

/**
 * One member's durable state in one group: its parts (`DurablePart`) and its log entries,
 * kept in the node's storage or in memory (`GroupStorage`). It writes what each Raft Ready
 * asks for, and deletes entries that truncation or a snapshot made obsolete, so storage
 * holds exactly the log since the last snapshot.
 */
export class MemberStore {
  readonly #group: GroupId;
  /**
   * `node`: read from and written to the node's storage; `memory`: kept here only;
   * `external`: kept here, and written through to the application's store.
   */
  readonly #kind: 'node' | 'memory' | 'external';
  /** Keys into the node's storage, or of the writes that go to the external store. */
  readonly #keys: GroupStorageKeys;
  /** This member's state for `memory` and external storage (lives as long as this store). */
  readonly #volatile: Map<string, Uint8Array>;
  /** Persisted log range, so truncation and compaction know which keys to delete. */
  #persistedFirst = 1;
  #persistedLast = 0;

  constructor(group: GroupId, storage: GroupStorage) {
    this.#group = group;
    this.#kind = typeof storage === 'object' ? 'external' : storage;
    this.#keys = new GroupStorageKeys(group.hex, this.#kind === 'external');
    this.#volatile = typeof storage === 'object' ? new Map(storage.loaded) : new Map();
  }

  put(ctx: NodeContext, part: DurablePart, value: Uint8Array | null, options?: { readonly lazy?: boolean }): void {
    if (this.#kind !== 'node') setOrDelete(this.#volatile, part, value);
    if (this.#kind !== 'memory') ctx.persist(this.#keys.part(ctx, part), value, options);
  }

  get(ctx: NodeContext, part: DurablePart): Uint8Array | undefined {
    return this.#kind === 'node' ? ctx.stored(this.#keys.part(ctx, part)) : this.#volatile.get(part);
  }

  #putEntry(ctx: NodeContext, index: number, value: Uint8Array | null): void {
    if (this.#kind !== 'node') setOrDelete(this.#volatile, `e/${index}`, value);
    if (this.#kind === 'memory') return;
    ctx.persist(this.#keys.entry(ctx, index), value);
    if (value === null) this.#keys.forgetEntry(index);
  }

  #getEntry(ctx: NodeContext, index: number): Uint8Array | undefined {
    if (this.#kind !== 'node') return this.#volatile.get(`e/${index}`);
    const bytes = ctx.stored(this.#keys.entry(ctx, index));
    if (bytes === undefined) this.#keys.forgetEntry(index); // the probe past the last entry
    return bytes;
  }

  /**
   * An external store that holds the state of another peer's member (a store shared by
   * mistake, or a node that came back with a new identity) must not be taken as ours: a
   * member id is its peer's, and the log and votes are the member's. Everything the store
   * held is deleted, and the member starts afresh (a new member id, `#loadMember`).
   */
  claim(ctx: NodeContext, selfPeer: string): void {
    if (this.#kind !== 'external') return;
    const member = this.#volatile.get('member');
    if (member === undefined || peerOfMember(new TextDecoder().decode(member)) === selfPeer) return;
    for (const key of this.#volatile.keys()) ctx.persist(this.#keys.other(ctx, key), null);
    this.#volatile.clear();
  }

  /**
   * With `memory` or an external store, whatever a life of this member on `node` storage
   * left in the node's storage is deleted first: it would come back, stale, the next time
   * the group is joined with `node` storage (a vote this life gave, in a term it reached,
   * would be missing).
   */
  forgetNodeStorage(ctx: NodeContext): void {
    if (this.#kind === 'node') return;
    const keys = new GroupStorageKeys(this.#group.hex); // for this clean-up only: the node keeps none of this member's keys
    const snap = ctx.stored(keys.part(ctx, 'snap'));
    const hs = ctx.stored(keys.part(ctx, 'hs'));
    if (ctx.stored(keys.part(ctx, 'member')) === undefined && snap === undefined && hs === undefined) return;
    for (const part of DURABLE_PARTS) ctx.persist(keys.part(ctx, part), null);
    // Entries from 1 (or the snapshot's index) up, for as long as they run.
    let first = 1;
    if (snap !== undefined) {
      const sd = DURABLE.snapshot.decode(snap);
      const meta = sd.ok ? snapshotMetaCodec.decode(sd.value.meta) : undefined;
      if (meta?.ok) first = meta.value.index + 1;
    }
    for (let i = first; ctx.stored(keys.entry(ctx, i)) !== undefined; i++) ctx.persist(keys.entry(ctx, i), null);
  }

  /** Reads back the formation, hard state, snapshot and log. */
  restore(ctx: NodeContext): Restored {
    // What we stored we must be able to read back: a piece that does not decode would be
    // silently forgotten (a vote, a commit index), the amnesia member ids exist to keep
    // out. It is a bug, and stops here.
    const load = <T>(part: DurablePart | number, codec: Pick<MessageCodec<T>, 'decode'>): T | undefined => {
      const bytes = typeof part === 'number' ? this.#getEntry(ctx, part) : this.get(ctx, part);
      if (bytes === undefined) return undefined;
      const d = codec.decode(bytes);
      // An application's store may hand back anything: that is bad input, not our bug.
      if (!d.ok && this.#kind === 'external')
        throw new StorageError(
          'corrupted',
          `group ${this.#group.short}: the store's ${typeof part === 'number' ? `e/${part}` : part} does not decode: ${d.error.message}`,
        );
      if (!d.ok)
        throw new AssertionError(`group ${this.#group.short}: stored ${typeof part === 'number' ? `entry ${part}` : part} does not decode: ${d.error.message}`);
      return d.value;
    };
    const formation = load('formation', { decode: decodeStoredFormation });
    const hardState: HardState | undefined = load('hs', DURABLE.hardState);
    let snapshot: Snapshot | undefined;
    const sd = load('snap', DURABLE.snapshot);
    if (sd !== undefined) {
      const meta = snapshotMetaCodec.decode(sd.meta);
      if (!meta.ok && this.#kind === 'external')
        throw new StorageError('corrupted', `group ${this.#group.short}: the store's snap does not decode: ${meta.error.message}`);
      assert(meta.ok, 'stored snapshot metadata does not decode');
      snapshot = { meta: meta.value, data: sd.data.slice() };
    }
    const entries: Entry[] = [];
    const first = (snapshot?.meta.index ?? 0) + 1;
    for (let i = first; ; i++) {
      const e = load(i, entryCodec);
      if (e === undefined) break;
      entries.push(e);
    }
    this.#persistedFirst = first;
    this.#persistedLast = first + entries.length - 1;
    return { formation, hardState, snapshot, entries };
  }

  /** Writes what a Ready asks to be made durable (before its messages go out). */
  persistReady(ctx: NodeContext, r: Ready): void {
    // Encoded bytes are ours to keep (codec.ts): a copy of its own above 64 bytes would cost
    // V8 a buffer off its heap, ~1 µs each, twice per entry.
    if (r.hardState) this.put(ctx, 'hs', DURABLE.hardState.encode(r.hardState), { lazy: !r.hardStateMustSync });
    if (r.snapshot) {
      const snap = r.snapshot.snapshot;
      this.put(ctx, 'snap', DURABLE.snapshot.encode({ meta: snapshotMetaCodec.encode(snap.meta as never), data: snap.data }));
      for (let i = this.#persistedFirst; i <= Math.min(snap.meta.index, this.#persistedLast); i++) this.#putEntry(ctx, i, null);
      this.#persistedFirst = Math.max(this.#persistedFirst, snap.meta.index + 1);
      this.#persistedLast = Math.max(this.#persistedLast, snap.meta.index);
    }
    if (r.log) {
      const { from, entries } = r.log;
      for (const e of entries) this.#putEntry(ctx, e.index, entryCodec.encode(e));
      const end = from + entries.length - 1;
      for (let i = Math.max(end + 1, this.#persistedFirst); i <= this.#persistedLast; i++) this.#putEntry(ctx, i, null);
      this.#persistedLast = Math.max(end, this.#persistedFirst - 1);
    }
  }

  saveFormation(ctx: NodeContext, f: Formation): void {
    const conf = f.conf && { voters: [...f.conf.voters], learners: [...f.conf.learners] };
    this.put(ctx, 'formation', DURABLE.formation.encode({ id: f.id, formedAtMs: f.formedAtMs, conf }));
  }

  /** Our formation lost: its log, hard state, snapshot and formation go (the member id and origin count stay). */
  wipe(ctx: NodeContext): void {
    for (let i = this.#persistedFirst; i <= this.#persistedLast; i++) this.#putEntry(ctx, i, null);
    this.put(ctx, 'hs', null);
    this.put(ctx, 'snap', null);
    this.put(ctx, 'formation', null);
    this.#persistedFirst = 1;
    this.#persistedLast = 0;
  }
}
