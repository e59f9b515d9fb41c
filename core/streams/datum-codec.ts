import { Decoder, Encoder } from '@msgpack/msgpack';
import { EncodingError, InvalidArgumentError } from '../errors.ts';
import { DECLINED, fastDecode, fastEncode, fastEncoded } from '../wire/fast-msgpack.ts';
import { lossyPart } from '../wire/msgpack-lossy.ts';

/**
 * How a stream's datums become bytes and back (mosaik `Datum`). The default is msgpack;
 * pass your own for another format. `decode` may throw on bytes it does not accept: the
 * consumer's `recv` then rejects with a DecodeError.
 */
export interface DatumCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** msgpack, the default (mosaik uses postcard; msgpack is this port's wire format throughout). */
export function msgpackDatumCodec<T>(): DatumCodec<T> {
  // One encoder and decoder per codec: the library's `encode`/`decode` functions build an
  // Encoder (and its scratch buffer) on every call, which cost more than a small datum's
  // bytes. The values applications send most (numbers, ASCII text, bytes, arrays, plain
  // objects) take core/wire/fast-msgpack.ts's path first, which writes and reads exactly
  // the library's bytes and values and declines the rest to it. `encode` returns a copy,
  // never a view of a scratch buffer; both paths recover if a call ever re-enters them.
  const encoder = new Encoder();
  const decoder = new Decoder();
  return {
    encode(value) {
      const length = fastEncode(value);
      if (length >= 0) return fastEncoded().slice(0, length);
      // The fast path takes only plain data; what it declines may hold what msgpack drops.
      const lossy = lossyPart(value);
      if (lossy !== undefined) throw new Error(lossy);
      return encoder.encode(value);
    },
    decode(bytes) {
      const value = fastDecode(bytes);
      return (value === DECLINED ? decoder.decode(bytes) : value) as T;
    },
  };
}

/**
 * The codec a handle uses: `codec` (msgpack when not given; InvalidArgumentError unless it
 * has `encode` and `decode` functions), with every encoding failure
 * as an `EncodingError` (the codec's own error as its `cause`), raised at the caller before
 * anything is sent. A custom `encode` that returns something other than bytes is one too.
 */
export function checkedDatumCodec<T>(codec: DatumCodec<T> | undefined): DatumCodec<T> {
  // Refused where it is given: a codec without `decode` would first fail on a datum from the network.
  if (codec !== undefined && (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function'))
    throw new InvalidArgumentError('a codec needs encode and decode functions');
  const inner = codec ?? msgpackDatumCodec<T>();
  return {
    encode(value) {
      let bytes: unknown;
      try {
        bytes = inner.encode(value);
      } catch (e) {
        throw new EncodingError(`value does not encode: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (!(bytes instanceof Uint8Array)) throw new EncodingError(`codec.encode returned ${bytes === null ? 'null' : typeof bytes}, not a Uint8Array`);
      return bytes;
    },
    decode: (bytes) => inner.decode(bytes),
  };
}
