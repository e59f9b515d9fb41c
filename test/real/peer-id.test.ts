import { base58 } from '@scure/base';
import { PeerId, SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { fromLibp2pPeerId, peerFromMultiaddr, privateKeyProto, toLibp2pPeerId } from '../../net-real/quic/peer-id.ts';

// The libp2p id the native QUIC endpoint reported for the ed25519 key with seed 0x01 × 32
// (read from `remoteMultiaddr()` of a connection to it), so this checks our encoding against
// libp2p's, not against itself.
const SEED_01 = new Uint8Array(32).fill(1);
const SEED_01_LIBP2P_ID = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5';

describe('libp2p peer ids', () => {
  const key = SecretKey.fromSeed(SEED_01);

  it('decodes the id libp2p-TLS reports into our PeerId', () => {
    const peer = fromLibp2pPeerId(SEED_01_LIBP2P_ID);
    expect(peer?.equals(key.peerId)).toBe(true);
  });

  it('encodes our PeerId as libp2p does', () => {
    expect(toLibp2pPeerId(key.peerId)).toBe(SEED_01_LIBP2P_ID);
  });

  it('round-trips any key', () => {
    for (const seed of ['a', 'b', 'mosaik', 'another seed']) {
      const peer = SecretKey.fromSeed(seed).peerId;
      const text = toLibp2pPeerId(peer);
      expect(text.startsWith('12D3KooW')).toBe(true);
      expect(fromLibp2pPeerId(text)?.equals(peer)).toBe(true);
    }
  });

  it('takes the peer from a QUIC multiaddr', () => {
    const peer = peerFromMultiaddr(`/ip4/127.0.0.1/udp/4433/quic-v1/p2p/${SEED_01_LIBP2P_ID}`);
    expect(peer?.hex).toBe(key.peerId.hex);
    expect(peerFromMultiaddr('/ip4/127.0.0.1/udp/4433/quic-v1')).toBeUndefined();
  });

  it('rejects what is not an ed25519 identity multihash', () => {
    expect(fromLibp2pPeerId('')).toBeUndefined();
    expect(fromLibp2pPeerId('not base58 0OIl')).toBeUndefined();
    // An RSA-style sha256 multihash id (Qm…) is a valid libp2p id but not a mosaik peer.
    expect(fromLibp2pPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBeUndefined();
    // Right shape, wrong key type byte.
    const bytes = new Uint8Array([0x00, 0x24, 0x08, 0x02, 0x12, 0x20, ...new Uint8Array(32)]);
    expect(fromLibp2pPeerId(base58.encode(bytes))).toBeUndefined();
  });

  it('builds the private key protobuf: type Ed25519, seed ‖ public key', () => {
    const proto = privateKeyProto(key);
    expect([...proto.subarray(0, 4)]).toEqual([0x08, 0x01, 0x12, 0x40]);
    expect(proto.subarray(4, 36)).toEqual(SEED_01);
    expect(PeerId.fromBytes(proto.subarray(36)).equals(key.peerId)).toBe(true);
  });
});
