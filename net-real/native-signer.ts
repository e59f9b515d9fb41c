import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import type { Ed25519Signer } from '../core/identity/keys.ts';

/** PKCS#8 DER header of an Ed25519 private key (RFC 8410); the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/**
 * ed25519 signing through the platform (OpenSSL): tens of microseconds a signature against
 * about a millisecond in pure JS here, and the same bytes (signatures are deterministic).
 * Private keys are imported once per seed and kept while the seed is alive.
 */
export class NativeSigner implements Ed25519Signer {
  readonly #keys = new WeakMap<Uint8Array, KeyObject>();

  sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.#key(seed)));
  }

  publicKey(seed: Uint8Array): Uint8Array {
    // An SPKI DER ends with the 32 bytes of the key (RFC 8410).
    const spki = createPublicKey(this.#key(seed)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(spki.subarray(spki.length - 32));
  }

  #key(seed: Uint8Array): KeyObject {
    let key = this.#keys.get(seed);
    if (!key) {
      const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
      der.set(PKCS8_ED25519_PREFIX);
      der.set(seed, PKCS8_ED25519_PREFIX.length);
      key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
      this.#keys.set(seed, key);
    }
    return key;
  }
}
