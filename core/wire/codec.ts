import { Decoder, Encoder } from '@msgpack/msgpack';
import { DecodeError, type DecodeErrorKind, OversizedError } from '../errors.ts';
import { beginRead, beginWrite, DECLINED, endRead, fastDecode, fastEncode, fastEncoded, writtenLength } from './fast-msgpack.ts';
import { decodeChecked, type Schema, SchemaViolation } from './schema.ts';

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

/** Turns messages of one protocol into frame bodies (msgpack) and back, totally. */
export interface MessageCodec<T> {
  /**
   * The bytes are the caller's to keep: nothing writes to them again. They are a view into
   * a shared slab (below), which stays alive while any view into it does.
   */
  encode(message: T): Uint8Array;
  /** Never throws: every failure is a DecodeError. */
  decode(body: Uint8Array): Decoded<T>;
}

/** Default largest frame body: 8 MiB, as mosaik's CLI. Configurable per node. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * The smallest `maxFrameBytes` a node takes: a signed peer entry may take 64 KiB
 * (`MAX_SIGNED_ENTRY_BYTES`), and the frames that carry one add to it. A frame of at most
 * this many bytes is one every node accepts, whatever its setting.
 */
export const MIN_MAX_FRAME_BYTES = 128 * 1024;

/**
 * The most bytes a frame of a node with this `maxFrameBytes` carries, for what an
 * application hands over (a stream datum, a group's commands). The wire's byte fields are
 * bounded by the default frame size, so a larger setting does not raise it.
 */
export function frameCapacity(maxFrameBytes: number): number {
  return Math.min(maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
}

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

/**
 * A codec of one schema. A schema built wholly from core/wire/schema.ts's combinators has a
 * direct path (`Schema.read`/`write`), which reads a message in place from its body and
 * writes it straight into the encoder's buffer; otherwise, and whenever the direct path
 * declines, the general path converts the message to its msgpack value and encodes that,
 * or decodes the body to its msgpack value and checks that. Both give the same bytes and
 * the same values (test/core/direct-codec.test.ts runs every message of several scenarios
 * through both); the direct path skips the intermediate arrays and the second walk
 * (−3.3% instructions per simulated ping, −22% memory allocated: docs/benchmarks.md).
 */
export function msgpackCodec<T>(schema: Schema<T>): MessageCodec<T> {
  const read = schema.read;
  const write = schema.write;
  const general: MessageCodec<T> = {
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
  if (read === undefined || write === undefined) return general;
  const directEncode = (message: T): Uint8Array | undefined => {
    beginWrite();
    let written: boolean;
    try {
      written = write(message, 0);
    } catch {
      written = false; // a malformed message: the general path throws what it always threw
    }
    return written ? slab.copy(fastEncoded(), writtenLength()) : undefined;
  };
  const directDecode = (body: Uint8Array): T | typeof DECLINED => {
    beginRead(body);
    let value: T | typeof DECLINED;
    try {
      value = read(0);
    } catch {
      value = DECLINED; // a value constructor refused the bytes: the general path says why
    }
    return endRead() ? value : DECLINED; // or bytes were left over
  };
  return {
    encode(message) {
      const body = directEncode(message);
      if (directCheck !== undefined) directCheck.encoded(schema.describe, body, general.encode(message));
      return body ?? general.encode(message);
    },
    decode(body) {
      const value = directDecode(body);
      if (directCheck !== undefined) directCheck.decoded(schema.describe, body, value, general.decode(body));
      return value === DECLINED ? general.decode(body) : { ok: true, value };
    },
  };
}

/** For tests: sees what the direct and the general path of every codec give for each message (below). */
export interface DirectCodecCheck {
  /** `direct` is undefined when the direct path declined. */
  encoded(schema: string, direct: Uint8Array | undefined, general: Uint8Array): void;
  /** `direct` is DECLINED when the direct path declined. */
  decoded(schema: string, body: Uint8Array, direct: unknown, general: Decoded<unknown>): void;
}

let directCheck: DirectCodecCheck | undefined;

/**
 * For tests: from now on every codec with a direct path also runs the general path on each
 * message and hands both results to `check` (undefined: stop). test/core/direct-codec.test.ts
 * compares them over whole simulated runs.
 */
export function checkDirectCodecs(check: DirectCodecCheck | undefined): void {
  directCheck = check;
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
