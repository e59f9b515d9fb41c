import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';

/** blake3 with the default 32-byte output: every hash `core/` takes. */
export type Blake3 = (data: Uint8Array) => Uint8Array;

let implementation: Blake3 = (data) => nobleBlake3(data);

/**
 * blake3(data), 32 bytes. Pure JS (`@noble/hashes`) unless a driver installed a faster
 * implementation of the same function (`installBlake3`): the answers are the same either
 * way, so the choice never changes a result or a trace.
 */
export function blake3(data: Uint8Array): Uint8Array {
  return implementation(data);
}

/**
 * Replaces the implementation, for speed (the drivers install WebAssembly blake3, ~10x
 * faster on the short inputs core hashes: signed entries, gossip ids, proofs). The candidate
 * must agree with `@noble/hashes` on inputs across blake3's chunk and block boundaries, or
 * it is refused with a TypeError and the current implementation stays.
 */
export function installBlake3(candidate: Blake3): void {
  for (const length of [0, 1, 3, 63, 64, 65, 1023, 1024, 1025, 2049, 5000]) {
    const input = new Uint8Array(length);
    for (let i = 0; i < length; i++) input[i] = (i * 31 + 7) & 0xff;
    const want = nobleBlake3(input);
    const got = candidate(input);
    if (!(got instanceof Uint8Array) || got.length !== 32 || got.some((b, i) => b !== want[i])) {
      throw new TypeError(`installBlake3: the candidate's hash of ${length} bytes differs from blake3`);
    }
  }
  implementation = candidate;
}
