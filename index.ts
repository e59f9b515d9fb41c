/**
 * mosaik: the production entry point. `Network.create` starts a node on a real QUIC
 * network; `mosaik/sim` gives the same `Network` inside the deterministic simulator.
 */
export { Network } from './api/network.ts';
export type { PingOptions } from './api/network.ts';
export {
  ClosedError,
  ConnectError,
  DecodeError,
  Digest,
  InvalidArgumentError,
  LinkClosedError,
  MosaikError,
  NodeDownError,
  OversizedError,
  PeerId,
  SecretKey,
  TimeoutError,
  CloseCode,
  closeCodeName,
  formatPeerAddr,
  parsePeerAddr,
} from './core/index.ts';
export type { GroupId, NetworkId, PeerAddr, PingResult, StoreId, StreamId, Tag } from './core/index.ts';
