import { hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { formatPeerAddr, PeerId, parsePeerAddr, SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';

const utf8 = (s: string) => new TextEncoder().encode(s);

// RFC 8032 §7.1, TEST 1.
const RFC_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIGNATURE = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('SecretKey', () => {
  it('fromSeed is deterministic for strings and bytes', () => {
    expect(SecretKey.fromSeed('alice').peerId.hex).toBe(SecretKey.fromSeed('alice').peerId.hex);
    expect(SecretKey.fromSeed('alice').peerId.equals(SecretKey.fromSeed('bob').peerId)).toBe(false);
    const seed = new Uint8Array(32).fill(7);
    const k = SecretKey.fromSeed(seed);
    expect(k.peerId.hex).toBe(SecretKey.fromSeed(Uint8Array.from(seed)).peerId.hex);
    expect(k.exportSeed()).toEqual(seed);
    // The seed is copied in and out.
    seed[0] = 0;
    expect(k.exportSeed()[0]).toBe(7);
    k.exportSeed().fill(1);
    expect(k.exportSeed()[0]).toBe(7);
  });

  it('fromSeed takes 32 bytes as they are and hashes anything else', () => {
    const seed32 = hexToBytes(RFC_SECRET);
    expect(SecretKey.fromSeed(seed32).exportSeed()).toEqual(seed32);
    const seed31 = seed32.subarray(0, 31);
    expect(SecretKey.fromSeed(seed31).exportSeed()).not.toEqual(seed31);
    expect(SecretKey.fromSeed(seed31).exportSeed()).toHaveLength(32);
    // A string seed is hashed, never taken as hex.
    expect(SecretKey.fromSeed(RFC_SECRET).peerId.hex).not.toBe(RFC_PUBLIC);
  });

  it('generate draws its seed from the injected rng', () => {
    const rng = { float: () => 0, u32: () => 0, bytes: (n: number) => new Uint8Array(n).fill(3) };
    expect(SecretKey.generate(rng).exportSeed()).toEqual(new Uint8Array(32).fill(3));
    // Without one (JavaScript callers), a typed error that says what to pass, not a TypeError.
    expect(() => (SecretKey.generate as () => SecretKey)()).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', message: expect.stringContaining('CryptoRng') }),
    );
  });

  it('matches the RFC 8032 test 1 vector', () => {
    const key = SecretKey.fromSeed(hexToBytes(RFC_SECRET));
    expect(key.peerId.hex).toBe(RFC_PUBLIC);
    const sig = key.sign(new Uint8Array(0));
    expect(Buffer.from(sig).toString('hex')).toBe(RFC_SIGNATURE);
    const peer = PeerId.parse(RFC_PUBLIC) as PeerId;
    expect(peer.verify(new Uint8Array(0), hexToBytes(RFC_SIGNATURE))).toBe(true);
    expect(peer.verify(new Uint8Array([0]), hexToBytes(RFC_SIGNATURE))).toBe(false);
  });

  it('toJSON does not leak the seed', () => {
    const key = SecretKey.fromSeed('alice');
    expect(JSON.stringify(key)).toBe(`"SecretKey(${key.peerId.short})"`);
  });
});

describe('PeerId.verify', () => {
  const alice = SecretKey.fromSeed('alice');
  const bob = SecretKey.fromSeed('bob');
  const message = utf8('hello mosaik');
  const sig = alice.sign(message);

  it('accepts a signature over the message by the key', () => {
    expect(sig).toHaveLength(64);
    expect(alice.peerId.verify(message, sig)).toBe(true);
  });

  it('rejects a tampered message', () => {
    const tampered = Uint8Array.from(message);
    tampered[0] = (tampered[0] as number) ^ 1;
    expect(alice.peerId.verify(tampered, sig)).toBe(false);
    expect(alice.peerId.verify(message.subarray(1), sig)).toBe(false);
  });

  it('rejects a tampered signature at every byte', () => {
    for (let i = 0; i < 64; i++) {
      const tampered = Uint8Array.from(sig);
      tampered[i] = (tampered[i] as number) ^ 0x10;
      expect(alice.peerId.verify(message, tampered), `byte ${i}`).toBe(false);
    }
  });

  it('rejects a signature of the wrong length', () => {
    for (const n of [0, 1, 63, 65, 128]) {
      const s = new Uint8Array(n);
      s.set(sig.subarray(0, Math.min(n, 64)));
      expect(alice.peerId.verify(message, s), `${n} bytes`).toBe(false);
    }
    expect(alice.peerId.verify(message, new Uint8Array([...sig, 0]))).toBe(false);
  });

  it("rejects another key's signature and another key", () => {
    expect(alice.peerId.verify(message, bob.sign(message))).toBe(false);
    expect(bob.peerId.verify(message, sig)).toBe(false);
  });

  it('never throws on garbage (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ minLength: 64, maxLength: 64 })), (msg, s) => {
        expect(alice.peerId.verify(msg, s)).toBe(false);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('never throws for garbage public keys', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (pub) => {
        const peer = PeerId.fromBytes(pub);
        expect(typeof peer.verify(message, sig)).toBe('boolean');
        if (!peer.equals(alice.peerId)) expect(peer.verify(message, sig)).toBe(false);
      }),
      { seed: 42, numRuns: 200 },
    );
    // The all-zero and all-ones encodings are not valid points (or are small-order).
    expect(PeerId.fromBytes(new Uint8Array(32)).verify(message, sig)).toBe(false);
    expect(PeerId.fromBytes(new Uint8Array(32).fill(0xff)).verify(message, sig)).toBe(false);
  });
});

describe('PeerId', () => {
  const hex = SecretKey.fromSeed('alice').peerId.hex;

  it('parses 64 hex characters, normalising to lowercase', () => {
    expect(PeerId.parse(hex)?.hex).toBe(hex);
    expect(PeerId.parse(hex.toUpperCase())?.hex).toBe(hex);
    expect(PeerId.parse(hex)?.equals(SecretKey.fromSeed('alice').peerId)).toBe(true);
  });

  it('rejects anything else', () => {
    for (const bad of ['', hex.slice(1), `${hex}0`, `${hex.slice(0, 63)}g`, ` ${hex.slice(1)}`, `0x${hex.slice(2)}`, 'alice']) {
      expect(PeerId.parse(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('fromBytes requires 32 bytes', () => {
    for (const n of [0, 31, 33]) expect(() => PeerId.fromBytes(new Uint8Array(n))).toThrow(TypeError);
    expect(PeerId.fromBytes(new Uint8Array(32)).hex).toBe('0'.repeat(64));
  });

  it('orders by bytes and prints a short form', () => {
    const zero = PeerId.fromBytes(new Uint8Array(32));
    const peer = PeerId.parse(hex) as PeerId;
    expect(zero.compare(peer)).toBeLessThan(0);
    expect(peer.compare(zero)).toBeGreaterThan(0);
    expect(peer.compare(PeerId.parse(hex) as PeerId)).toBe(0);
    expect(peer.short).toBe(hex.slice(0, 10));
    expect(JSON.stringify(peer)).toBe(`"${hex}"`);
  });
});

describe('PeerAddr', () => {
  const peer = SecretKey.fromSeed('alice').peerId;

  it('round-trips through its text form', () => {
    for (const location of ['127.0.0.1:4433', 'sim:3', '[::1]:9000', 'relay@host:1', 'x']) {
      const text = formatPeerAddr({ peer, location });
      expect(text).toBe(`${peer.hex}@${location}`);
      const parsed = parsePeerAddr(text);
      expect(parsed?.peer.equals(peer)).toBe(true);
      expect(parsed?.location).toBe(location);
      expect(formatPeerAddr(parsed as NonNullable<typeof parsed>)).toBe(text);
    }
  });

  it('round-trips arbitrary locations (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (location) => {
        const parsed = parsePeerAddr(formatPeerAddr({ peer, location }));
        expect(parsed?.location).toBe(location);
        expect(parsed?.peer.hex).toBe(peer.hex);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('accepts an uppercase peer id and prints it lowercase', () => {
    const parsed = parsePeerAddr(`${peer.hex.toUpperCase()}@sim:1`);
    expect(parsed && formatPeerAddr(parsed)).toBe(`${peer.hex}@sim:1`);
  });

  it('rejects malformed addresses', () => {
    const bad = [
      '',
      '@',
      peer.hex,
      `${peer.hex}@`,
      `@${peer.hex}`,
      `${peer.hex.slice(1)}@sim:1`,
      `${peer.hex}0@sim:1`,
      `${peer.hex.slice(0, 63)}z@sim:1`,
      `sim:1@${peer.hex}`,
      ` ${peer.hex}@sim:1`,
      `${peer.hex} @sim:1`,
      'alice@sim:1',
    ];
    for (const text of bad) expect(parsePeerAddr(text), JSON.stringify(text)).toBeUndefined();
  });

  it('never throws on arbitrary text (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.string({ maxLength: 10 }).map((rest) => `${peer.hex.toUpperCase()}${rest}`),
        ),
        (text) => {
          const parsed = parsePeerAddr(text);
          if (parsed) expect(formatPeerAddr(parsed)).toBe(text.slice(0, 64).toLowerCase() + text.slice(64));
          else expect(text.length <= 65 || text[64] !== '@' || !/^[0-9a-fA-F]{64}/.test(text)).toBe(true);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });
});
