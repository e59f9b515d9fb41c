import { base58 } from '@scure/base';
import { PeerId, type SecretKey } from '../../core/identity/keys.ts';

/**
 * libp2p identity encodings, as the QUIC endpoint (libp2p-TLS) speaks them. Our PeerId is
 * the raw ed25519 public key; libp2p wraps the same key in a protobuf and a multihash. The
 * TLS handshake proves the peer holds the key, so converting its libp2p id back gives the
 * authenticated PeerId to compare with the one we dialed.
 */

/** protobuf PublicKey/PrivateKey: field 1 `Type` = 1 (Ed25519), field 2 `Data` (bytes). */
const ED25519_KEY_TYPE = [0x08, 0x01] as const;
const PUBLIC_KEY_PROTO_PREFIX = [...ED25519_KEY_TYPE, 0x12, 0x20] as const; // Data: 32 bytes
const PRIVATE_KEY_PROTO_PREFIX = [...ED25519_KEY_TYPE, 0x12, 0x40] as const; // Data: seed ‖ public key
/** Multihash `identity` (0x00) of the 36-byte public key protobuf: keys this small are inlined. */
const IDENTITY_MULTIHASH_PREFIX = [0x00, 0x24] as const;
const ID_PREFIX = [...IDENTITY_MULTIHASH_PREFIX, ...PUBLIC_KEY_PROTO_PREFIX];

/** The libp2p PrivateKey protobuf the native endpoint takes as its TLS identity. */
export function privateKeyProto(secretKey: SecretKey): Uint8Array {
  const seed = secretKey.exportSeed();
  const out = new Uint8Array(PRIVATE_KEY_PROTO_PREFIX.length + 64);
  out.set(PRIVATE_KEY_PROTO_PREFIX, 0);
  out.set(seed, PRIVATE_KEY_PROTO_PREFIX.length);
  out.set(secretKey.peerId.bytes, PRIVATE_KEY_PROTO_PREFIX.length + 32);
  seed.fill(0);
  return out;
}

/** The libp2p peer id text (`12D3KooW…`) of one of our peers. */
export function toLibp2pPeerId(peer: PeerId): string {
  const bytes = new Uint8Array(ID_PREFIX.length + PeerId.SIZE);
  bytes.set(ID_PREFIX, 0);
  bytes.set(peer.bytes, ID_PREFIX.length);
  return base58.encode(bytes);
}

/**
 * Our PeerId from a libp2p peer id text; undefined for anything that is not the base58btc
 * identity multihash of an Ed25519 key (other key types cannot be mosaik peers).
 */
export function fromLibp2pPeerId(text: string): PeerId | undefined {
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(text);
  } catch {
    return undefined;
  }
  if (bytes.length !== ID_PREFIX.length + PeerId.SIZE) return undefined;
  for (let i = 0; i < ID_PREFIX.length; i++) if (bytes[i] !== ID_PREFIX[i]) return undefined;
  return PeerId.fromBytes(bytes.subarray(ID_PREFIX.length));
}

/** The authenticated remote peer of a connection, from the `/p2p/<id>` part of its multiaddr. */
export function peerFromMultiaddr(multiaddr: string): PeerId | undefined {
  const parts = multiaddr.split('/');
  const at = parts.lastIndexOf('p2p');
  const id = at >= 0 ? parts[at + 1] : undefined;
  return id ? fromLibp2pPeerId(id) : undefined;
}
