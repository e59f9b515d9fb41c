import { Decoder, Encoder } from '@msgpack/msgpack';

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
  // bytes. `encode` returns a copy, never a view of the scratch buffer; both recover if a
  // call ever re-enters them.
  const encoder = new Encoder();
  const decoder = new Decoder();
  return {
    encode: (value) => encoder.encode(value),
    decode: (bytes) => decoder.decode(bytes) as T,
  };
}
