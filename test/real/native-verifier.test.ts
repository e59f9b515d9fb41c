import fc from 'fast-check';
import { SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { nobleVerifier } from '../../core/identity/verifier.ts';
import { NativeVerifier } from '../../net-real/native-verifier.ts';
import { MemoVerifier } from '../../net-sim/memo-verifier.ts';

// Every verifier must agree with the pure-JS one on every input: a driver may make checks
// faster, never different.
const keys = ['a', 'b', 'c'].map((s) => SecretKey.fromSeed(s));
type Case = { signer: number; claimed: number; message: Uint8Array; flip: number | undefined };
const cases = fc.record({
  signer: fc.integer({ min: 0, max: 2 }),
  claimed: fc.integer({ min: 0, max: 2 }),
  message: fc.uint8Array({ maxLength: 64 }),
  flip: fc.option(fc.integer({ min: 0, max: 64 * 8 - 1 }), { nil: undefined }),
});

function signatureOf(c: Case): Uint8Array {
  const signature = (keys[c.signer] as SecretKey).sign(c.message);
  if (c.flip !== undefined) signature[c.flip >> 3] = (signature[c.flip >> 3] as number) ^ (1 << (c.flip & 7));
  return signature;
}

describe('signature verifiers', () => {
  it('the native verifier agrees with the pure-JS one (property)', () => {
    const native = new NativeVerifier();
    fc.assert(
      fc.property(cases, (c) => {
        const peer = (keys[c.claimed] as SecretKey).peerId;
        const signature = signatureOf(c);
        expect(native.verify(peer, c.message, signature)).toBe(nobleVerifier.verify(peer, c.message, signature));
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it('the memoizing verifier agrees, and answers repeats from memory', () => {
    const memo = new MemoVerifier();
    fc.assert(
      fc.property(cases, (c) => {
        const peer = (keys[c.claimed] as SecretKey).peerId;
        const signature = signatureOf(c);
        const expected = nobleVerifier.verify(peer, c.message, signature);
        expect(memo.verify(peer, c.message, signature)).toBe(expected);
        expect(memo.verify(peer, c.message, signature)).toBe(expected);
        // The same signature claimed for another message is checked afresh.
        expect(memo.verify(peer, Uint8Array.of(...c.message, 1), signature)).toBe(false);
      }),
      { seed: 42, numRuns: 150 },
    );
    expect(memo.hits).toBeGreaterThanOrEqual(150);
  });

  it("the memoizing verifier stays within its bound, and a signature that shares a cached one's first bytes is checked afresh", () => {
    const memo = new MemoVerifier(nobleVerifier, 50);
    const key = keys[0] as SecretKey;
    const messages = Array.from({ length: 200 }, (_, i) => Uint8Array.of(i & 255, i >> 8));
    for (const m of messages) expect(memo.verify(key.peerId, m, key.sign(m))).toBe(true);
    expect(memo.size).toBe(50);
    // The oldest were forgotten (verified again, still true); the newest answer from memory.
    const hits = memo.hits;
    expect(memo.verify(key.peerId, messages[199] as Uint8Array, key.sign(messages[199] as Uint8Array))).toBe(true);
    expect(memo.hits).toBe(hits + 1);
    expect(memo.verify(key.peerId, messages[0] as Uint8Array, key.sign(messages[0] as Uint8Array))).toBe(true);
    expect(memo.hits).toBe(hits + 1);
    // Same first six bytes (the memo's key), another tail: forged, and not taken from memory.
    const good = key.sign(messages[199] as Uint8Array);
    const forged = Uint8Array.from(good);
    forged[63] = (forged[63] as number) ^ 1;
    expect(memo.verify(key.peerId, messages[199] as Uint8Array, forged)).toBe(false);
  });

  it('both reject malformed signatures without throwing', () => {
    const peer = (keys[0] as SecretKey).peerId;
    for (const verifier of [new NativeVerifier(), new MemoVerifier()]) {
      expect(verifier.verify(peer, new Uint8Array(3), new Uint8Array(63))).toBe(false);
      expect(verifier.verify(peer, new Uint8Array(3), new Uint8Array(64))).toBe(false);
    }
  });
});
