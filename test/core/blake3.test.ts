import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import fc from 'fast-check';
import 'mosaik'; // installs the drivers' WebAssembly blake3 (api/fast-blake3.ts)
import { describe, expect, it } from 'vitest';
import { blake3, installBlake3 } from '../../core/util/blake3.ts';

describe('core blake3', () => {
  it('gives @noble/hashes answers with the installed WebAssembly implementation, on any input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3_000 }), (data) => {
        expect(blake3(data)).toEqual(nobleBlake3(data));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an implementation that is not blake3, and keeps the one it had', () => {
    const before = blake3(new Uint8Array([1, 2, 3]));
    expect(() => installBlake3(() => new Uint8Array(32))).toThrow(TypeError);
    expect(() => installBlake3((d) => nobleBlake3(d).subarray(0, 16))).toThrow(TypeError);
    // Right except past one chunk (1024 bytes): still refused.
    expect(() => installBlake3((d) => (d.length > 1024 ? new Uint8Array(32) : nobleBlake3(d)))).toThrow(TypeError);
    expect(blake3(new Uint8Array([1, 2, 3]))).toEqual(before);
  });
});
