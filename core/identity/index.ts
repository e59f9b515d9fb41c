export type { PeerAddr } from './address.ts';
export { formatPeerAddr, parsePeerAddr } from './address.ts';
export type { GroupId, NetworkId, StoreId, StreamId, Tag } from './digest.ts';
export { Digest } from './digest.ts';
export { PeerId, SecretKey } from './keys.ts';
export type { SignatureVerifier } from './verifier.ts';
export { nobleVerifier } from './verifier.ts';
