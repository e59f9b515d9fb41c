export { Digest } from './digest.ts';
export type { GroupId, NetworkId, StoreId, StreamId, Tag } from './digest.ts';
export { PeerId, SecretKey } from './keys.ts';
export { formatPeerAddr, parsePeerAddr } from './address.ts';
export type { PeerAddr } from './address.ts';
