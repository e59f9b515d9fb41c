import type { PeerId } from './keys.ts';

/**
 * Checks ed25519 signatures for the machines. Verification is a pure function, so a driver
 * may supply a faster implementation without changing any result: production uses the
 * platform's native ed25519 (about 16x faster than pure JS here), and the simulator
 * memoizes across all its nodes, which verify the same signed entries over and over.
 */
export interface SignatureVerifier {
  /** True when `signature` is `peer`'s ed25519 signature over `message`; never throws. */
  verify(peer: PeerId, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Pure-JS verification (`@noble/curves`): correct everywhere, and the slowest. */
export const nobleVerifier: SignatureVerifier = {
  verify: (peer, message, signature) => peer.verify(message, signature),
};
