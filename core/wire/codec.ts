import { Decoder, Encoder } from '@msgpack/msgpack';
import { DecodeError, type DecodeErrorKind, OversizedError } from '../errors.ts';
import { DECLINED, fastDecode, fastEncode, fastEncoded } from './fast-msgpack.ts';
import { decodeChecked, type Schema, SchemaViolation } from './schema.ts';

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

/** Turns messages of one protocol into frame bodies (msgpack) and back, totally. */
export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  /** Never throws: every failure is a DecodeError. */
  decode(body: Uint8Array): Decoded<T>;
}

/** Default largest frame body: 8 MiB, as mosaik's CLI. Configurable per node. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

const SLAB_BYTES = 64 * 1024;
/** Slabs for bodies above a quarter of `SLAB_BYTES` (stream datums, snapshot chunks, entry batches). */
const LARGE_SLAB_BYTES = 1024 * 1024;

/**
 * Hands out encoded bodies as views into large shared buffers. A small Uint8Array of its
 * own lives on V8's heap, and the first time anything asks for its `.buffer` (the msgpack
 * decoder does, for a DataView) V8 must move it off-heap: that cost more than decoding
 * the message. Views into a 64 KiB slab never pay it. Bodies of 16–256 KiB share 1 MiB
 * slabs: a fresh ArrayBuffer per body made the garbage collector the largest cost of a
 * 16 KiB-datum stream. Memory is reclaimed with the last view into a slab; bodies above
 * 256 KiB get buffers of their own.
 */
class BodySlab {
  #slab = new Uint8Array(SLAB_BYTES);
  #used = 0;
  #large: Uint8Array | undefined;
  #largeUsed = 0;

  /** Copies the first `length` bytes of `bytes`. */
  copy(bytes: Uint8Array, length = bytes.length): Uint8Array {
    if (length > SLAB_BYTES / 4) return this.#copyLarge(bytes, length);
    if (this.#used + length > SLAB_BYTES) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
    }
    const out = this.#slab.subarray(this.#used, this.#used + length);
    // A few bytes are copied by hand: `set` is a builtin call, and needs a view of the exact length.
    if (length <= 32) for (let i = 0; i < length; i++) out[i] = bytes[i] as number;
    else out.set(length === bytes.length ? bytes : bytes.subarray(0, length));
    this.#used += length;
    return out;
  }

  #copyLarge(bytes: Uint8Array, length: number): Uint8Array {
    if (length > LARGE_SLAB_BYTES / 4) return bytes.slice(0, length);
    if (this.#large === undefined || this.#largeUsed + length > LARGE_SLAB_BYTES) {
      this.#large = new Uint8Array(LARGE_SLAB_BYTES);
      this.#largeUsed = 0;
    }
    const out = this.#large.subarray(this.#largeUsed, this.#largeUsed + length);
    out.set(length === bytes.length ? bytes : bytes.subarray(0, length));
    this.#largeUsed += length;
    return out;
  }
}

// One of each for every codec of the process: msgpack's Encoder and Decoder keep scratch
// buffers, reused call after call (nothing they keep between calls affects a result; a
// nested call, which never happens here, would make the library use a clone). One shared
// set rather than one per codec: every simulated node makes its own discovery codecs, and
// a 64 KiB slab plus the library's buffers for each cost a thousand-node simulation
// hundreds of megabytes of zeroed memory before the first frame.
const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: false });
const slab = new BodySlab();

export function msgpackCodec<T>(schema: Schema<T>): MessageCodec<T> {
  return {
    encode(message) {
      const wire = schema.encode(message);
      // The fast path writes the library's bytes for what it covers; the library does the rest.
      const length = fastEncode(wire);
      return length >= 0 ? slab.copy(fastEncoded(), length) : slab.copy(encoder.encodeSharedRef(wire));
    },
    decode(body) {
      // The fast path reads the library's values for what it covers, and declines anything
      // else (including every malformed input), which the library then decodes or rejects.
      let wire = fastDecode(body);
      if (wire === DECLINED) {
        try {
          wire = decoder.decode(body);
        } catch (e) {
          return { ok: false, error: new DecodeError(msgpackErrorKind(e), errorMessage(e)) };
        }
      }
      try {
        return { ok: true, value: decodeChecked(schema, wire) };
      } catch (e) {
        const violation = schemaViolationOf(e);
        return { ok: false, error: new DecodeError(violation.kind, violation.message) };
      }
    },
  };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** How a msgpack decoder failure reads as a decode-error kind: running out of bytes is a truncation. */
export function msgpackErrorKind(e: unknown): 'truncated' | 'malformed' {
  return /insufficient data|out of bounds|Offset is outside/i.test(errorMessage(e)) ? 'truncated' : 'malformed';
}

/**
 * A schema's complaint as a kind and message. Value constructors (Digest.wrap,
 * PeerId.fromBytes) throw TypeError or RangeError on bad input; anything else is a bug and
 * is rethrown.
 */
export function schemaViolationOf(e: unknown): { readonly kind: DecodeErrorKind; readonly message: string } {
  if (e instanceof SchemaViolation) return e;
  if (e instanceof TypeError || e instanceof RangeError) return { kind: 'invalid', message: e.message };
  throw e;
}

/** Checks an encoded body against the frame limit before it is sent. */
export function checkFrameSize(body: Uint8Array, maxFrameBytes: number): OversizedError | undefined {
  return body.length > maxFrameBytes ? new OversizedError(body.length, maxFrameBytes) : undefined;
}
