import { decode, encode } from '@msgpack/msgpack';

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
  return {
    encode: (value) => encode(value),
    decode: (bytes) => decode(bytes) as T,
  };
}
