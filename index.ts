/**
 * mosaik: the production entry point. `Network.create` starts a node on a real QUIC
 * network; `mosaik/sim` gives the same `Network` inside the deterministic simulator.
 */

export type { PingOptions } from './api/network.ts';
export { Network } from './api/network.ts';
export type { GroupId, NetworkId, PeerAddr, PingResult, Rng, StoreId, StreamId, Tag } from './core/index.ts';
export {
  CloseCode,
  ClosedError,
  ConnectError,
  closeCodeName,
  DecodeError,
  Digest,
  formatPeerAddr,
  InvalidArgumentError,
  LinkClosedError,
  MosaikError,
  NodeDownError,
  OversizedError,
  PeerId,
  parsePeerAddr,
  SecretKey,
  TimeoutError,
} from './core/index.ts';
export type { CreateNetworkOptions, QuicOptions } from './net-real/options.ts';
/** The OS CSPRNG as an `Rng`: `SecretKey.generate(new CryptoRng())` makes a fresh random key. */
export { CryptoRng } from './net-real/rng.ts';
