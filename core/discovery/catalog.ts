import type { NetworkId } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import { assert } from '../util/assert.ts';
import { CatalogSummary } from './catalog-summary.ts';
import { compareVersions, isNewer, type PeerEntry, type PeerEntryVersion, type SignedPeerEntry } from './peer-entry.ts';

/** How long a signed entry lives without a newer version before it is purged: 300 s, as mosaik. */
export const DEFAULT_PURGE_AFTER_MS = 300_000;

/**
 * What `upsertSigned` did with an entry:
 * - `new`: first signed entry for that peer (the caller emits `discovered`);
 * - `updated`: strictly newer than the one held, which it replaced (`updated`);
 * - `rejected`: not newer than the one held (stale or a repeat); nothing changed;
 * - `different-network`: the entry belongs to another network; ignored;
 * - `outdated`: its `version.update` is older than `purgeAfterMs` ago: it would be purged at once; ignored;
 * - `local`: an entry for this node's own id; ignored (only `setLocal` changes it).
 */
export type UpsertOutcome = 'new' | 'updated' | 'rejected' | 'different-network' | 'outdated' | 'local';

export interface CatalogOptions {
  /** This node's own signed entry; it fixes the catalog's network and local id. */
  readonly local: SignedPeerEntry;
  /**
   * Wall-clock ms a signed entry stays without a newer version before it is stale (hidden
   * from reads, refused on upsert, removed by `purge`). Peers re-announce well within it.
   * @defaultValue DEFAULT_PURGE_AFTER_MS (300 000)
   */
  readonly purgeAfterMs?: number;
}

/**
 * What a node knows about the other peers of its network: their signed entries, plus
 * unsigned hints (entries learnt out of band, e.g. from a bootstrap address, good enough to
 * dial until the peer's signed entry arrives). A pure data structure: time is the caller's
 * wall clock (`nowMs`, the clock entry versions are in), and the caller turns outcomes into
 * events (`new` → discovered, `updated` → updated, `purge`/`depart` → departed).
 *
 * Invariants:
 * - every signed entry is for this network and not for the local id;
 * - a peer id has a signed entry or an unsigned hint, never both;
 * - the catalog only holds SignedPeerEntry values, which only verified decodes and
 *   `signPeerEntry` make: it does not check signatures itself.
 *
 * Iteration is deterministic: maps keyed by peer id hex in insertion order, every list
 * returned sorted by peer id (hex order is byte order).
 */
export class Catalog {
  readonly network: NetworkId;
  readonly localId: PeerId;
  readonly purgeAfterMs: number;
  #local: SignedPeerEntry;
  readonly #signed = new Map<string, SignedPeerEntry>();
  readonly #unsigned = new Map<string, PeerEntry>();
  /** Fingerprints of the signed entries held, the local one included (what exchanges compare). */
  readonly summary = new CatalogSummary();

  constructor(options: CatalogOptions) {
    const purgeAfterMs = options.purgeAfterMs ?? DEFAULT_PURGE_AFTER_MS;
    assert(Number.isSafeInteger(purgeAfterMs) && purgeAfterMs > 0, `Catalog: purgeAfterMs must be a positive integer, got ${purgeAfterMs}`);
    this.purgeAfterMs = purgeAfterMs;
    this.#local = options.local;
    this.network = options.local.entry.network;
    this.localId = options.local.entry.peerId;
    this.summary.toggle(this.#local);
  }

  // ---- writes --------------------------------------------------------------------------

  /**
   * Offers a verified signed entry. Checked in order: its network (`different-network`),
   * its id against the local one (`local`), its age (`outdated` when
   * `version.update < nowMs − purgeAfterMs`), then its version against the one held (`new`,
   * `updated` when strictly newer, `rejected` otherwise). A `new` entry replaces any unsigned
   * hint for the same peer.
   */
  upsertSigned(signed: SignedPeerEntry, nowMs: number): UpsertOutcome {
    const { entry } = signed;
    if (!entry.network.equals(this.network)) return 'different-network';
    if (entry.peerId.equals(this.localId)) return 'local';
    if (this.#isStale(entry, nowMs)) return 'outdated';
    const key = entry.peerId.hex;
    this.#unsigned.delete(key);
    const held = this.#signed.get(key);
    if (held === undefined) {
      this.#signed.set(key, signed);
      this.summary.toggle(signed);
      return 'new';
    }
    if (!isNewer(entry.version, held.entry.version)) return 'rejected';
    this.#signed.set(key, signed);
    this.summary.toggle(held);
    this.summary.toggle(signed);
    return 'updated';
  }

  /**
   * Adds or replaces an unsigned hint. Refused (false) for the local id, another network,
   * or a peer that has a signed entry (stale or not). Hints are local only: never synced,
   * never purged, never in an event.
   */
  insertUnsigned(entry: PeerEntry): boolean {
    if (!entry.network.equals(this.network) || entry.peerId.equals(this.localId)) return false;
    const key = entry.peerId.hex;
    if (this.#signed.has(key)) return false;
    this.#unsigned.set(key, entry);
    return true;
  }

  /** Removes an unsigned hint; true if there was one. */
  removeUnsigned(peerId: PeerId): boolean {
    return this.#unsigned.delete(peerId.hex);
  }

  /** Replaces this node's own entry: it must be for the same peer and network, and strictly newer. */
  setLocal(signed: SignedPeerEntry): void {
    const { entry } = signed;
    assert(entry.peerId.equals(this.localId), `Catalog.setLocal: entry of ${entry.peerId.short}, local peer is ${this.localId.short}`);
    assert(entry.network.equals(this.network), 'Catalog.setLocal: entry for another network');
    assert(isNewer(entry.version, this.#local.entry.version), 'Catalog.setLocal: the new local entry must be strictly newer');
    this.summary.toggle(this.#local);
    this.#local = signed;
    this.summary.toggle(signed);
  }

  /**
   * Removes the signed entries not refreshed within `purgeAfterMs` (stale at `nowMs`) and
   * returns their ids, sorted; the caller emits `departed` for each. Unsigned hints stay.
   */
  purge(nowMs: number): PeerId[] {
    const gone: PeerId[] = [];
    for (const [key, signed] of this.#signed) {
      if (this.#isStale(signed.entry, nowMs)) {
        this.#signed.delete(key);
        this.summary.toggle(signed);
        gone.push(signed.entry.peerId);
      }
    }
    return gone.sort(byId);
  }

  /**
   * The earliest wall-clock ms at which `purge` removes something (the first integer ms at
   * which the oldest signed entry is stale: `update + purgeAfterMs + 1`), or undefined when
   * there are no signed entries: the time for the one purge timer a machine keeps.
   */
  nextPurgeAtMs(): number | undefined {
    let oldest: number | undefined;
    for (const signed of this.#signed.values()) {
      const update = signed.entry.version.update;
      if (oldest === undefined || update < oldest) oldest = update;
    }
    return oldest === undefined ? undefined : oldest + this.purgeAfterMs + 1;
  }

  /**
   * A graceful departure: removes the peer's signed entry if one is held and `lastVersion`
   * is at least its version (an older departure is from an earlier life of the peer, and
   * the newer entry stands). True if it removed one; the caller then emits `departed`.
   * Unsigned hints are not touched (they are the local operator's).
   */
  depart(peerId: PeerId, lastVersion: PeerEntryVersion): boolean {
    const key = peerId.hex;
    const held = this.#signed.get(key);
    if (held === undefined || compareVersions(lastVersion, held.entry.version) < 0) return false;
    this.#signed.delete(key);
    this.summary.toggle(held);
    return true;
  }

  // ---- reads ---------------------------------------------------------------------------

  /** This node's own signed entry. */
  me(): SignedPeerEntry {
    return this.#local;
  }

  /** The peers to use: signed entries that are not stale, then unsigned hints, each sorted by id; never the local one. */
  peers(nowMs: number): PeerEntry[] {
    return [...this.signedPeers(nowMs).map((signed) => signed.entry), ...this.unsignedPeers()];
  }

  /** The signed entries that are not stale at `nowMs`, sorted by id. */
  signedPeers(nowMs: number): SignedPeerEntry[] {
    const out: SignedPeerEntry[] = [];
    for (const signed of this.#signed.values()) if (!this.#isStale(signed.entry, nowMs)) out.push(signed);
    return out.sort((a, b) => byId(a.entry.peerId, b.entry.peerId));
  }

  /** The unsigned hints, sorted by id. */
  unsignedPeers(): PeerEntry[] {
    return [...this.#unsigned.values()].sort((a, b) => byId(a.peerId, b.peerId));
  }

  /** A peer's entry as `peers` would list it (signed and not stale, or a hint); never the local one. */
  get(peerId: PeerId, nowMs: number): PeerEntry | undefined {
    const key = peerId.hex;
    const signed = this.#signed.get(key);
    if (signed !== undefined) return this.#isStale(signed.entry, nowMs) ? undefined : signed.entry;
    return this.#unsigned.get(key);
  }

  /** A peer's signed, fresh entry: what tickets are checked against (never an unsigned hint, never the local one). */
  signedEntry(peerId: PeerId, nowMs: number): PeerEntry | undefined {
    const signed = this.#signed.get(peerId.hex);
    return signed === undefined || this.#isStale(signed.entry, nowMs) ? undefined : signed.entry;
  }

  /**
   * What a catalog sync sends: the local entry first, then every signed entry held, sorted
   * by id (stale ones too, until purged: the receiver refuses them as `outdated`). Never
   * unsigned hints.
   */
  signedSnapshot(): SignedPeerEntry[] {
    const others = [...this.#signed.values()].sort((a, b) => byId(a.entry.peerId, b.entry.peerId));
    return [this.#local, ...others];
  }

  /** Like `signedSnapshot`, unsorted and without copying: for exchanges, where order does not matter. */
  *signedUnordered(): IterableIterator<SignedPeerEntry> {
    yield this.#local;
    yield* this.#signed.values();
  }

  /** The signed entry held for a peer (stale or not), or the local one; by peer id hex. */
  signedByHex(hex: string): SignedPeerEntry | undefined {
    return hex === this.localId.hex ? this.#local : this.#signed.get(hex);
  }

  /** Entries held for other peers, signed (stale or not) and unsigned; the local entry is not counted. */
  get size(): number {
    return this.#signed.size + this.#unsigned.size;
  }

  #isStale(entry: PeerEntry, nowMs: number): boolean {
    return entry.version.update < nowMs - this.purgeAfterMs;
  }
}

/** Peer id order; lowercase hex sorts as the bytes do. */
function byId(a: PeerId, b: PeerId): number {
  return a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0;
}
