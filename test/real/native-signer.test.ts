import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecretKey } from '../../core/identity/keys.ts';
import { nobleVerifier } from '../../core/identity/verifier.ts';
import { NativeSigner } from '../../net-real/native-signer.ts';

describe.each(['jwk', 'der'] as const)('the platform ed25519 signer, keys imported as %s', (keyImport) => {
  it('makes exactly the pure-JS signatures, for any key and message (property)', () => {
    const signer = new NativeSigner({ keyImport });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
        const key = SecretKey.fromSeed(seed);
        const fast = key.withSigner(signer);
        expect(fast.peerId.equals(key.peerId)).toBe(true);
        const signature = fast.sign(message);
        expect(signature).toEqual(key.sign(message));
        expect(nobleVerifier.verify(key.peerId, message, signature)).toBe(true);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('derives exactly the pure-JS public key, for any seed (property)', () => {
    const signer = new NativeSigner({ keyImport });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        expect(signer.publicKey(seed)).toEqual(ed25519.getPublicKey(seed));
      }),
      { seed: 43, numRuns: 100 },
    );
  });
});
