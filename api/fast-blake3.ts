import { createBLAKE3 } from 'hash-wasm';
import { installBlake3 } from '../core/util/blake3.ts';

// Both drivers hash with WebAssembly blake3 (`hash-wasm`): ~10x faster than the pure-JS
// default on core's short inputs (a signed entry: 1 µs against 10 µs). Imported for its
// effect by api/network.ts, so any process that makes a Network, real or simulated, has it.
// The hasher is created once; each call resets it, and nothing awaits between the reset and
// the digest, so calls never interleave.
const hasher = await createBLAKE3();
installBlake3((data) => {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
});
