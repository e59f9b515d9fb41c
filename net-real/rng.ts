import { webcrypto } from 'node:crypto';
import type { Rng } from '../core/util/rng.ts';

/** getRandomValues fills at most 64 KiB per call. */
const MAX_FILL_BYTES = 65_536;

/** Production randomness: the OS CSPRNG behind the `Rng` interface the machines take. */
export class CryptoRng implements Rng {
  float(): number {
    // 53 random bits, the full precision of a double in [0, 1).
    const [hi, lo] = webcrypto.getRandomValues(new Uint32Array(2)) as unknown as [number, number];
    return ((hi >>> 5) * 67_108_864 + (lo >>> 6)) / 9_007_199_254_740_992;
  }

  u32(): number {
    return (webcrypto.getRandomValues(new Uint32Array(1)) as unknown as [number])[0];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let at = 0; at < n; at += MAX_FILL_BYTES) webcrypto.getRandomValues(out.subarray(at, Math.min(n, at + MAX_FILL_BYTES)));
    return out;
  }
}
