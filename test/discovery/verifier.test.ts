import { describe, expect, it } from 'vitest';
import { decodeSignedPeerEntry, encodeSignedPeerEntry, signedPeerEntrySchemaWith } from '../../core/discovery/index.ts';
import { InvalidSignatureError } from '../../core/errors.ts';
import type { SignatureVerifier } from '../../core/identity/verifier.ts';
import { msgpackCodec } from '../../core/wire/codec.ts';
import { key, signedOf } from './fixtures.ts';

// Decoding checks signatures through the verifier it is given (the node's): this is what
// lets production use native ed25519 and the simulator memoize. These verifiers lie on
// purpose, to show the decoder asks them rather than checking by itself.
const acceptAll: SignatureVerifier = { verify: () => true };
const rejectAll: SignatureVerifier = { verify: () => false };

describe('peer entry decoding with an injected verifier', () => {
  const signed = signedOf(key(1), { start: 1, update: 2 });
  const body = encodeSignedPeerEntry(signed);
  const forged = Uint8Array.from(body);
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1; // the last signature byte

  it('asks the verifier it is given', () => {
    expect(decodeSignedPeerEntry(body).ok).toBe(true);
    const rejected = decodeSignedPeerEntry(body, rejectAll);
    expect(rejected.ok === false && rejected.error).toBeInstanceOf(InvalidSignatureError);
    expect(decodeSignedPeerEntry(forged).ok).toBe(false);
    expect(decodeSignedPeerEntry(forged, acceptAll).ok).toBe(true);
  });

  it('inside larger messages too', () => {
    const strict = msgpackCodec(signedPeerEntrySchemaWith(rejectAll));
    const lax = msgpackCodec(signedPeerEntrySchemaWith(acceptAll));
    const wire = strict.encode(signed);
    expect(strict.decode(wire).ok).toBe(false);
    expect(lax.decode(wire).ok).toBe(true);
  });
});
