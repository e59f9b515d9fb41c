import { createBLAKE3 } from 'hash-wasm';

/**
 * Incremental blake3 for a trace (net-sim/trace.ts). Two implementations, the same digests:
 *
 * - native: `@napi-rs/blake-hash`, the Rust blake3 crate with its SIMD paths, ~7.8 GB/s here;
 * - WebAssembly: `hash-wasm`, portable C without SIMD, ~0.6–0.8 GB/s (about 20 instructions a
 *   byte): 6% of a warm raft-chaos seed's instructions went to it (docs/benchmarks.md).
 *
 * The native one is used where its prebuilt binary loads (an optional dependency: npm
 * installs the one for the platform, where there is one); elsewhere the WebAssembly one.
 * Either way a seed gives the same trace hash (test/sim/trace-hasher.test.ts).
 */
export interface TraceHasher {
  update(bytes: Uint8Array): void;
  /** blake3 of everything so far, as 64 hex characters; updating may go on after it. */
  hex(): string;
}

export type TraceHasherKind = 'native' | 'wasm';

interface NativeBlake3 {
  update(input: Uint8Array): unknown;
  digest(format: 'hex'): string;
}

const native: (new () => NativeBlake3) | undefined = await import('@napi-rs/blake-hash').then(
  (m) => m.Blake3Hasher as new () => NativeBlake3,
  () => undefined, // no prebuilt binary for this platform: the WebAssembly hasher does the job
);

// One WebAssembly instance serves every WebAssembly hasher: each keeps its own saved state
// and loads it around each update.
const wasm = await createBLAKE3();
wasm.init();
const EMPTY_STATE = wasm.save();

class WasmTraceHasher implements TraceHasher {
  #state: Uint8Array = EMPTY_STATE;

  update(bytes: Uint8Array): void {
    wasm.load(this.#state);
    wasm.update(bytes);
    this.#state = wasm.save();
  }

  hex(): string {
    wasm.load(this.#state);
    return wasm.digest('hex');
  }
}

class NativeTraceHasher implements TraceHasher {
  readonly #hasher: NativeBlake3;

  constructor(make: new () => NativeBlake3) {
    this.#hasher = new make();
  }

  update(bytes: Uint8Array): void {
    this.#hasher.update(bytes);
  }

  hex(): string {
    return this.#hasher.digest('hex');
  }
}

/** Which hasher `createTraceHasher()` makes on this machine. */
export const defaultTraceHasherKind: TraceHasherKind = native !== undefined ? 'native' : 'wasm';

/** A fresh hasher; `kind` picks one (for tests: the two must agree), else the fastest here. */
export function createTraceHasher(kind: TraceHasherKind = defaultTraceHasherKind): TraceHasher {
  if (kind === 'wasm') return new WasmTraceHasher();
  if (native === undefined) throw new Error('the native blake3 hasher is not available on this platform');
  return new NativeTraceHasher(native);
}
