/**
 * The production driver: node machines on real QUIC connections, real timers and the OS
 * CSPRNG. Loaded on demand by `Network.create`, so the simulator never loads the native module.
 */

export type { CreateNetworkOptions, QuicOptions } from './options.ts';
export { createRealNode } from './real-node.ts';
