import { ed25519 } from '@noble/curves/ed25519.js';
import { InvalidArgumentError } from '../errors.ts';
import { blake3 } from '../util/blake3.ts';
import { bytesToHex, compareBytes, equalBytes, isHex32, tryHexToBytes, utf8 } from '../util/bytes.ts';
import type { Rng } from '../util/rng.ts';

/** A peer's identity: its ed25519 public key (32 bytes); text form is lowercase hex. */
export class PeerId {
  static readonly SIZE = 32;
  readonly bytes: Uint8Array;
  readonly hex: string;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.hex = bytesToHex(bytes);
  }

  /** Wraps 32 public-key bytes. Throws a TypeError on any other length. */
  static fromBytes(bytes: Uint8Array): PeerId {
    if (!(bytes instanceof Uint8Array) || bytes.length !== PeerId.SIZE) {
      throw new TypeError(`PeerId: expected ${PeerId.SIZE} bytes, got ${bytes?.length}`);
    }
    return new PeerId(Uint8Array.from(bytes));
  }

  /** Parses 64 hex characters; undefined for anything else. */
  static parse(hex: string): PeerId | undefined {
    return isHex32(hex) ? new PeerId(tryHexToBytes(hex.toLowerCase()) as Uint8Array) : undefined;
  }

  get short(): string {
    return this.hex.slice(0, 10);
  }

  equals(other: PeerId): boolean {
    return equalBytes(this.bytes, other.bytes);
  }

  compare(other: PeerId): number {
    return compareBytes(this.bytes, other.bytes);
  }

  /** Verifies a 64-byte ed25519 signature by this peer over `message`; never throws. */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    try {
      return ed25519.verify(signature, message, this.bytes);
    } catch {
      return false;
    }
  }

  toString(): string {
    return this.hex;
  }

  toJSON(): string {
    return this.hex;
  }
}

/** An ed25519 secret key (the 32-byte seed). */
/**
 * Makes ed25519 signatures from a key's 32-byte seed. Signatures are deterministic (RFC 8032),
 * so every correct signer gives the same bytes: a driver may plug in the platform's, which is
 * much faster than pure JS, without changing any result or trace.
 */
export interface Ed25519Signer {
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /** The 32-byte public key of `seed`, if this signer derives it faster than pure JS does. */
  publicKey?(seed: Uint8Array): Uint8Array;
}

export class SecretKey {
  readonly #seed: Uint8Array;
  readonly #signer: Ed25519Signer | undefined;
  readonly peerId: PeerId;

  private constructor(seed: Uint8Array, signer?: Ed25519Signer, peerId?: PeerId) {
    this.#seed = seed;
    this.#signer = signer;
    this.peerId = peerId ?? PeerId.fromBytes(signer?.publicKey?.(seed) ?? ed25519.getPublicKey(seed));
  }

  /** The same key, signing through `signer` (see Ed25519Signer). */
  withSigner(signer: Ed25519Signer): SecretKey {
    return new SecretKey(this.#seed, signer, this.peerId);
  }

  /**
   * A fresh key. `core/` has no entropy of its own, so the caller passes an Rng (the
   * simulator's seeded one, or the production driver's CSPRNG-backed one). With a `signer`,
   * the key signs (and derives its public key) through it.
   */
  static generate(rng: Rng, signer?: Ed25519Signer): SecretKey {
    // JavaScript callers (and API.md's `generate()`) may pass nothing: say what to pass.
    if (typeof rng?.bytes !== 'function') {
      throw new InvalidArgumentError('SecretKey.generate(rng) needs an Rng: new CryptoRng() (from mosaik) in production, or SecretKey.fromSeed(...)');
    }
    return new SecretKey(rng.bytes(32), signer);
  }

  /** Deterministic key: 32 bytes as they are; a string or other bytes are hashed with blake3. */
  static fromSeed(seed: string | Uint8Array): SecretKey {
    if (typeof seed !== 'string' && !(seed instanceof Uint8Array))
      throw new InvalidArgumentError(`SecretKey.fromSeed takes a string or bytes, got ${seed === null ? 'null' : typeof seed}`);
    if (typeof seed === 'string') return new SecretKey(blake3(utf8(seed)));
    return new SecretKey(seed.length === 32 ? Uint8Array.from(seed) : blake3(seed));
  }

  /** The 32-byte seed. Handle with care: whoever holds it is this peer. */
  exportSeed(): Uint8Array {
    return Uint8Array.from(this.#seed);
  }

  sign(message: Uint8Array): Uint8Array {
    return this.#signer ? this.#signer.sign(this.#seed, message) : ed25519.sign(message, this.#seed);
  }

  toJSON(): string {
    return `SecretKey(${this.peerId.short})`;
  }
}
