import type { PeerId } from '../core/identity/keys.ts';
import { nobleVerifier, type SignatureVerifier } from '../core/identity/verifier.ts';
import { equalBytes } from '../core/util/bytes.ts';

interface Known {
  readonly signature: Uint8Array;
  readonly peer: Uint8Array;
  readonly message: Uint8Array;
  readonly ok: boolean;
}

/**
 * A verifier that remembers: all the nodes of a simulation check the same signed entries
 * again and again (every node verifies every peer's entry, at every version), and pure-JS
 * ed25519 costs milliseconds per check. Verification is a pure function, so answering a
 * repeat from memory changes no result and no trace. One per simulation.
 *
 * Bounded: every refresh of every node's entry is a new message, so a long run meets them
 * without end; past `maxEntries` the oldest is forgotten (a repeat of it is verified again).
 * Keyed by a number taken from the signature, with the whole signature, peer and message
 * compared on a hit: a hex key of each signature, built a character at a time, cost ~4 KB an
 * entry, and the million entries allowed before came to gigabytes.
 */
export class MemoVerifier implements SignatureVerifier {
  readonly #inner: SignatureVerifier;
  readonly #maxEntries: number;
  /**
   * By the signature's first six bytes; a bucket holds the rare signatures that share them.
   * The Map keeps buckets in order of creation, so its first bucket holds the oldest entry
   * (or, in a bucket shared by later signatures, nearly the oldest): forgetting goes there.
   */
  readonly #known = new Map<number, Known[]>();
  #size = 0;
  hits = 0;
  misses = 0;

  constructor(inner: SignatureVerifier = nobleVerifier, maxEntries = 100_000) {
    this.#inner = inner;
    this.#maxEntries = maxEntries;
  }

  verify(peer: PeerId, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    const key = keyOf(signature);
    const bucket = this.#known.get(key);
    if (bucket !== undefined) {
      for (const k of bucket) {
        if (equalBytes(k.signature, signature) && equalBytes(k.peer, peer.bytes) && equalBytes(k.message, message)) {
          this.hits++;
          return k.ok;
        }
      }
    }
    this.misses++;
    const ok = this.#inner.verify(peer, message, signature);
    if (this.#size >= this.#maxEntries) this.#forgetOldest();
    const known: Known = { signature: Uint8Array.from(signature), peer: peer.bytes, message: Uint8Array.from(message), ok };
    if (bucket === undefined) this.#known.set(key, [known]);
    else bucket.push(known);
    this.#size++;
    return ok;
  }

  /** Entries remembered now (at most `maxEntries`). */
  get size(): number {
    return this.#size;
  }

  #forgetOldest(): void {
    const first = this.#known.entries().next();
    if (first.done === true) return;
    const [key, bucket] = first.value;
    bucket.shift();
    if (bucket.length === 0) this.#known.delete(key);
    this.#size--;
  }
}

/** The first six bytes of a signature as a number: a Map key with no string behind it. */
function keyOf(signature: Uint8Array): number {
  return (
    (signature[0] as number) * 2 ** 40 +
    (signature[1] as number) * 2 ** 32 +
    (signature[2] as number) * 2 ** 24 +
    (signature[3] as number) * 2 ** 16 +
    (signature[4] as number) * 2 ** 8 +
    (signature[5] as number)
  );
}
