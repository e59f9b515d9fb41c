import type { PeerId } from '../identity/keys.ts';
import type { Rng } from '../util/rng.ts';

/**
 * An insertion-ordered set of peers, keyed by hex (iroh-gossip's `util::IndexSet`). Iteration
 * order depends on insertion and removal only; randomness comes from the caller's Rng.
 */
export class PeerSet {
  #items: PeerId[] = [];
  readonly #keys = new Set<string>();

  get size(): number {
    return this.#items.length;
  }

  has(peer: PeerId): boolean {
    return this.#keys.has(peer.hex);
  }

  /** By hex key. */
  hasKey(hex: string): boolean {
    return this.#keys.has(hex);
  }

  /** Adds `peer`; false if it was present. */
  add(peer: PeerId): boolean {
    if (this.#keys.has(peer.hex)) return false;
    this.#keys.add(peer.hex);
    this.#items.push(peer);
    return true;
  }

  /** Removes `peer`, keeping the order of the others; false if it was absent. */
  delete(peer: PeerId): boolean {
    if (!this.#keys.delete(peer.hex)) return false;
    this.#items = this.#items.filter((p) => p.hex !== peer.hex);
    return true;
  }

  values(): readonly PeerId[] {
    return this.#items;
  }

  /** A uniformly random member not in `skip` (hex keys); undefined if there is none. */
  pickRandomWithout(rng: Rng, skip: ReadonlySet<string> = EMPTY): PeerId | undefined {
    const candidates = skip.size === 0 ? this.#items : this.#items.filter((p) => !skip.has(p.hex));
    if (candidates.length === 0) return undefined;
    return candidates[Math.floor(rng.float() * candidates.length)];
  }

  /** Up to `n` members not in `skip`, in random order. */
  shuffledWithoutAndCapped(rng: Rng, n: number, skip: ReadonlySet<string> = EMPTY): PeerId[] {
    const out = this.#items.filter((p) => !skip.has(p.hex));
    shuffle(rng, out);
    return out.slice(0, n);
  }

  /** Removes and returns a uniformly random member. */
  removeRandom(rng: Rng): PeerId | undefined {
    const peer = this.pickRandomWithout(rng);
    if (peer) this.delete(peer);
    return peer;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Fisher–Yates in place, drawing from `rng`. */
export function shuffle<T>(rng: Rng, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
}

/**
 * A map whose entries expire (iroh-gossip's `util::TimeBoundCache`). Entries are inserted with
 * a non-decreasing expiry (now + a fixed retention), so insertion order is expiry order and
 * `expireUntil` pops from the front.
 */
export class ExpiringMap<V> {
  readonly #entries = new Map<string, { value: V; expiresAtMs: number }>();

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs });
  }

  /** Drops every entry that expired at or before `nowMs`. */
  expireUntil(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs > nowMs) break;
      this.#entries.delete(key);
    }
  }
}
