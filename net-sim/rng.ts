import seedrandom from 'seedrandom';
import type { Rng } from '../core/util/rng.ts';

/**
 * Independent random streams from one seed: each consumer (the network, each node, the
 * fault schedule, the workload) draws from its own stream, named by a label, so adding a
 * draw in one place does not shift every other stream.
 */
export function rngStream(seed: number, label: string): Rng {
  const prng = seedrandom(`mosaik/${seed}/${label}`);
  return {
    float: () => prng.quick(),
    u32: () => prng.int32() >>> 0,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        let word = prng.int32() >>> 0;
        for (let j = i; j < Math.min(n, i + 4); j++) {
          out[j] = word & 0xff;
          word >>>= 8;
        }
      }
      return out;
    },
  };
}
