import { blake3 } from '../util/blake3.ts';
import { concatBytes, utf8 } from '../util/bytes.ts';
import { msgpackCodec } from '../wire/codec.ts';
import { s } from '../wire/index.ts';

/**
 * Every link starts with one exchange before protocol messages flow: the dialer says which
 * protocol and network it wants (`hello`), the acceptor agrees (`welcome`) or closes with
 * UnknownProtocol / DifferentNetwork. Both send a fresh nonce; the link secret is derived
 * from both, so each end knows the other contributed fresh randomness to it.
 *
 * Both also say the largest frame they accept (`maxFrame`, their `maxFrameBytes`): a link
 * carries frames up to the smaller of the two (`LinkInfo.maxFrameBytes`). Without it, a
 * node with a larger limit sent frames its peer refused, and the peer closed the link as a
 * protocol violation, losing what the frame carried, again on every new link.
 */
export const HANDSHAKE_VERSION = 2;

export const handshakeCodec = msgpackCodec(
  s.union('t', {
    hello: s.struct({ v: s.u8, protocol: s.str({ maxLength: 128 }), network: s.digest, nonce: s.bytes({ length: 32 }), maxFrame: s.u32 }),
    welcome: s.struct({ v: s.u8, nonce: s.bytes({ length: 32 }), maxFrame: s.u32 }),
  }),
);

export function linkSecret(protocol: string, dialerNonce: Uint8Array, acceptorNonce: Uint8Array): Uint8Array {
  return blake3(concatBytes(utf8('mosaik.link.secret'), utf8(protocol), dialerNonce, acceptorNonce));
}

/**
 * Bytes a handshake message may take, at most: a transport may refuse a longer first frame
 * before buffering it. A hello is under 400 bytes (its protocol at most 128 characters).
 */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

/** How long a link may take from transport-open to protocol-up. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
