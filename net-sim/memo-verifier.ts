import type { PeerId } from '../core/identity/keys.ts';
import { nobleVerifier, type SignatureVerifier } from '../core/identity/verifier.ts';
import { bytesToHex, equalBytes } from '../core/util/bytes.ts';

/**
 * A verifier that remembers: all the nodes of a simulation check the same signed entries
 * again and again (every node verifies every peer's entry, at every version), and pure-JS
 * ed25519 costs milliseconds per check. Verification is a pure function, so answering a
 * repeat from memory changes no result and no trace. One per simulation.
 */
export class MemoVerifier implements SignatureVerifier {
  readonly #inner: SignatureVerifier;
  readonly #maxEntries: number;
  readonly #known = new Map<string, { readonly peer: Uint8Array; readonly message: Uint8Array; readonly ok: boolean }>();
  hits = 0;
  misses = 0;

  constructor(inner: SignatureVerifier = nobleVerifier, maxEntries = 1_000_000) {
    this.#inner = inner;
    this.#maxEntries = maxEntries;
  }

  verify(peer: PeerId, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    const key = bytesToHex(signature);
    const known = this.#known.get(key);
    if (known && equalBytes(known.peer, peer.bytes) && equalBytes(known.message, message)) {
      this.hits++;
      return known.ok;
    }
    this.misses++;
    const ok = this.#inner.verify(peer, message, signature);
    if (this.#known.size >= this.#maxEntries) this.#known.delete(this.#known.keys().next().value as string);
    this.#known.set(key, { peer: peer.bytes, message: Uint8Array.from(message), ok });
    return ok;
  }
}
