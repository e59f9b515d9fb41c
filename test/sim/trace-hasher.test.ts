import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTraceHasher, defaultTraceHasherKind } from '../../net-sim/trace-hasher.ts';

// blake3 of the empty input and of "abc" (the BLAKE3 reference test vectors).
const EMPTY = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';

describe('trace hashers', () => {
  it('uses the native blake3 where it loads (it does on the platforms CI runs on)', () => {
    if (process.platform === 'linux' && process.arch === 'x64') expect(defaultTraceHasherKind).toBe('native');
  });

  it.each(['wasm', defaultTraceHasherKind] as const)('%s: gives blake3, and goes on after a digest', (kind) => {
    const h = createTraceHasher(kind);
    expect(h.hex()).toBe(EMPTY);
    h.update(new TextEncoder().encode('ab'));
    h.update(new TextEncoder().encode('xcx').subarray(1, 2));
    expect(h.hex()).toBe(ABC);
    expect(h.hex()).toBe(ABC);
  });

  it('the native and the WebAssembly hasher agree on any sequence of updates and digests', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.boolean()), { maxLength: 20 }), (steps) => {
        const a = createTraceHasher('wasm');
        const b = createTraceHasher(defaultTraceHasherKind);
        for (const [bytes, digest] of steps) {
          a.update(bytes);
          b.update(bytes);
          if (digest) expect(b.hex()).toBe(a.hex());
        }
        expect(b.hex()).toBe(a.hex());
      }),
    );
  });
});
