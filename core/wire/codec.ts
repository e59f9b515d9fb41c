import { Decoder, Encoder } from '@msgpack/msgpack';
import { DecodeError, OversizedError } from '../errors.ts';
import { type Schema, SchemaViolation } from './schema.ts';

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

/** Turns messages of one protocol into frame bodies (msgpack) and back, totally. */
export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  /** Never throws: every failure is a DecodeError. */
  decode(body: Uint8Array): Decoded<T>;
}

/** Default largest frame body: 8 MiB, as mosaik's CLI. Configurable per node. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

// Reused instances: msgpack's Encoder/Decoder keep scratch buffers, which makes a large
// difference on the hot path; they carry no state between calls that affects results.
const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: false });

export function msgpackCodec<T>(schema: Schema<T>): MessageCodec<T> {
  return {
    encode: (message) => encoder.encode(schema.encode(message)),
    decode(body) {
      let wire: unknown;
      try {
        wire = decoder.decode(body);
      } catch (e) {
        return { ok: false, error: classifyMsgpackError(e) };
      }
      try {
        return { ok: true, value: schema.decode(wire, '') };
      } catch (e) {
        if (e instanceof SchemaViolation) return { ok: false, error: new DecodeError(e.kind, e.message) };
        // Value constructors (Digest.wrap, PeerId.fromBytes) throw TypeError on bad input.
        if (e instanceof TypeError || e instanceof RangeError) return { ok: false, error: new DecodeError('invalid', e.message) };
        throw e;
      }
    },
  };
}

function classifyMsgpackError(e: unknown): DecodeError {
  const message = e instanceof Error ? e.message : String(e);
  if (/insufficient data|out of bounds|Offset is outside/i.test(message)) return new DecodeError('truncated', message);
  return new DecodeError('malformed', message);
}

/** Checks an encoded body against the frame limit before it is sent. */
export function checkFrameSize(body: Uint8Array, maxFrameBytes: number): OversizedError | undefined {
  return body.length > maxFrameBytes ? new OversizedError(body.length, maxFrameBytes) : undefined;
}
