import { InvalidArgumentError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import { blake3 } from '../util/blake3.ts';
import { bytesToHex, compareBytes, concatBytes, equalBytes, isHex32, tryHexToBytes, utf8 } from '../util/bytes.ts';

/**
 * Digest is a 32-byte intent-addressed identifier: two nodes that name the same thing
 * independently arrive at the same digest. NetworkId, StreamId, GroupId, StoreId and Tag are
 * all digests (aliases below); they differ in what they name, not in shape.
 */
export class Digest {
  static readonly SIZE = 32;
  readonly bytes: Uint8Array;
  #hex: string | undefined;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * From a string: the bytes of a 64-hex string (either case), otherwise blake3 of its UTF-8.
   * From bytes: blake3 of the bytes (use `wrap` to take 32 bytes as they are).
   */
  static from(input: string | Uint8Array): Digest {
    if (typeof input !== 'string' && !(input instanceof Uint8Array))
      throw new InvalidArgumentError(`Digest.from takes a string or bytes, got ${input === null ? 'null' : typeof input}`);
    if (typeof input === 'string') {
      if (isHex32(input)) return new Digest(tryHexToBytes(input) as Uint8Array);
      return new Digest(blake3(utf8(input)));
    }
    return new Digest(blake3(input));
  }

  /** The 32 bytes as they are. Throws a TypeError on any other length. */
  static wrap(bytes: Uint8Array): Digest {
    if (!(bytes instanceof Uint8Array) || bytes.length !== Digest.SIZE) {
      throw new TypeError(`Digest.wrap: expected ${Digest.SIZE} bytes, got ${bytes?.length}`);
    }
    return new Digest(Uint8Array.from(bytes));
  }

  /** Parses 64 hex characters; undefined for anything else. */
  static parseHex(hex: string): Digest | undefined {
    return isHex32(hex) ? new Digest(tryHexToBytes(hex) as Uint8Array) : undefined;
  }

  static zero(): Digest {
    return new Digest(new Uint8Array(Digest.SIZE));
  }

  /** blake3(concat(parts)). */
  static fromParts(...parts: readonly (Digest | Uint8Array | string)[]): Digest {
    return new Digest(blake3(concatBytes(...parts.map(toBytes))));
  }

  /** blake3(self ‖ info). */
  derive(info: string | Uint8Array | Digest): Digest {
    return new Digest(blake3(concatBytes(this.bytes, toBytes(info))));
  }

  /** blake3(self). */
  hashed(): Digest {
    return new Digest(blake3(this.bytes));
  }

  get hex(): string {
    this.#hex ??= bytesToHex(this.bytes);
    return this.#hex;
  }

  /** First 10 hex characters (5 bytes), as mosaik's `Short` display. */
  get short(): string {
    return this.hex.slice(0, 10);
  }

  equals(other: Digest): boolean {
    return equalBytes(this.bytes, other.bytes);
  }

  compare(other: Digest): number {
    return compareBytes(this.bytes, other.bytes);
  }

  toString(): string {
    return this.hex;
  }

  toJSON(): string {
    return this.hex;
  }
}

function toBytes(part: Digest | Uint8Array | string): Uint8Array {
  if (part instanceof Digest) return part.bytes;
  if (typeof part === 'string') return utf8(part);
  assert(part instanceof Uint8Array, 'digest part must be bytes, string or Digest');
  return part;
}

/** Names a network; `Digest.from(name)`. */
export type NetworkId = Digest;
/** Names a stream; `Digest.from(name)`. */
export type StreamId = Digest;
/** Names a consensus group; derived from its key and settings. */
export type GroupId = Digest;
/** Names a replicated collection; `Digest.from(name)`. */
export type StoreId = Digest;
/** A role tag advertised by a peer; `Digest.from(text)`. */
export type Tag = Digest;
