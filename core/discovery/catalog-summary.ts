import type { PeerId } from '../identity/keys.ts';
import type { SignedPeerEntry } from './peer-entry.ts';

/** Buckets of a catalog summary: peers fall into one by the first byte of their id. */
export const SUMMARY_BUCKETS = 256;
/** Bytes of a summary on the wire: 8 per bucket. */
export const SUMMARY_BYTES = SUMMARY_BUCKETS * 8;

/** The bucket of a peer: the first byte of its id (ids are uniformly random). */
export function bucketOf(peer: PeerId): number {
  return peer.bytes[0] as number;
}

/**
 * A fingerprint of the set of signed entries a catalog holds, per bucket: the XOR of a
 * 64-bit fingerprint of each entry (the first 8 bytes of its signature, which differs for
 * every signed version). Two catalogs agree on a bucket when they hold the same versions of
 * the same peers there, so a catalog exchange only lists the buckets that differ: in a
 * converged network a few in-flight updates, not the whole catalog.
 *
 * XOR makes it incremental: adding and removing an entry are the same O(1) step.
 */
export class CatalogSummary {
  readonly #sums = new Uint32Array(SUMMARY_BUCKETS * 2);

  /** Adds an entry to, or removes it from, the summary (XOR is its own inverse). */
  toggle(signed: SignedPeerEntry): void {
    const b = bucketOf(signed.entry.peerId) * 2;
    const s = signed.signature;
    this.#sums[b] = (this.#sums[b] as number) ^ (((s[0] as number) << 24) | ((s[1] as number) << 16) | ((s[2] as number) << 8) | (s[3] as number));
    this.#sums[b + 1] = (this.#sums[b + 1] as number) ^ (((s[4] as number) << 24) | ((s[5] as number) << 16) | ((s[6] as number) << 8) | (s[7] as number));
  }

  /** The wire form: 8 bytes per bucket, big-endian. */
  bytes(): Uint8Array {
    const out = new Uint8Array(SUMMARY_BYTES);
    const view = new DataView(out.buffer);
    for (let i = 0; i < this.#sums.length; i++) view.setUint32(i * 4, this.#sums[i] as number);
    return out;
  }

  /** The buckets where `theirs` (a wire summary) differs from ours, ascending. */
  differing(theirs: Uint8Array): number[] {
    const view = new DataView(theirs.buffer, theirs.byteOffset, theirs.byteLength);
    const out: number[] = [];
    for (let b = 0; b < SUMMARY_BUCKETS; b++) {
      if (view.getUint32(b * 8) !== this.#sums[b * 2] || view.getUint32(b * 8 + 4) !== this.#sums[b * 2 + 1]) out.push(b);
    }
    return out;
  }
}
