/**
 * A fast path for the msgpack our schemas produce (positional arrays of small integers,
 * ASCII strings, byte strings, booleans and nil) and for the plain objects applications
 * send as datums and commands (maps with ASCII keys). Frames on the hot path are a few bytes
 * (`[0, id]` for a ping), and for them @msgpack/msgpack's per-call set-up (a DataView over
 * every body it decodes, its state stack, its generic dispatch) cost more than the bytes.
 *
 * It is only a fast path: it writes exactly the bytes @msgpack/msgpack's Encoder writes
 * (with `ignoreUndefined: false`) and reads exactly the values its Decoder reads (with
 * `useBigInt64: false`), and for anything else (extensions, class instances,
 * non-ASCII text, other typed arrays, deep nesting, and every malformed, truncated or
 * over-long input) it declines, and the caller uses the library, which then gives the
 * result or the error it always gave. test/core/fast-msgpack.test.ts checks both sides
 * against the library.
 */

/** Returned by `fastDecode` when it declines: the caller decodes with the library. */
export const DECLINED: unique symbol = Symbol('declined');

/** Deeper values are left to the library (which tracks depth without recursion). */
export const MAX_DEPTH = 16;
/** Longer strings are left to the library (its decoder switches to TextDecoder above 200 bytes; member ids are 81). */
const MAX_FAST_STRING_BYTES = 200;

// ---- encoding ------------------------------------------------------------------------

let scratch = new Uint8Array(4096);
let scratchView = new DataView(scratch.buffer);
let at = 0;

/**
 * Encodes `value` into a shared scratch buffer and returns its length in bytes, or -1 when
 * the value is not in the fast subset. The bytes are the first ones of `fastEncoded()`,
 * until the next call. (No view is made: a typed-array view costs ~60 ns.)
 */
export function fastEncode(value: unknown): number {
  // An application's object may have a getter that encodes something itself: the inner call
  // declines (the library copes with that) rather than overwrite the outer one's bytes.
  if (encoding) return -1;
  encoding = true;
  at = 0;
  try {
    return encodeValue(value, 0) ? at : -1;
  } finally {
    encoding = false;
  }
}

let encoding = false;

/** The scratch buffer `fastEncode` wrote into. */
export function fastEncoded(): Uint8Array {
  return scratch;
}

function ensure(bytes: number): void {
  if (at + bytes <= scratch.length) return;
  const grown = new Uint8Array(Math.max(scratch.length * 2, at + bytes));
  grown.set(scratch.subarray(0, at));
  scratch = grown;
  scratchView = new DataView(grown.buffer);
}

function encodeValue(value: unknown, depth: number): boolean {
  if (value === null || value === undefined) {
    writeNil();
    return true;
  }
  switch (typeof value) {
    case 'number':
      return encodeNumber(value);
    case 'boolean':
      ensure(1);
      scratch[at++] = value ? 0xc3 : 0xc2;
      return true;
    case 'string':
      return encodeAscii(value);
    case 'object':
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) return encodeArray(value, depth);
      if (value instanceof Uint8Array) return encodeBytes(value);
      if (isPlainObject(value)) return encodeMap(value as Record<string, unknown>, depth);
      return false; // Dates (an extension), other views, class instances: the library's
    default:
      return false;
  }
}

function encodeNumber(n: number): boolean {
  ensure(9);
  if (Number.isSafeInteger(n)) {
    if (n >= 0) {
      if (n < 0x80) {
        scratch[at++] = n;
      } else if (n < 0x100) {
        scratch[at++] = 0xcc;
        scratch[at++] = n;
      } else if (n < 0x10000) {
        scratch[at++] = 0xcd;
        scratchView.setUint16(at, n);
        at += 2;
      } else if (n < 0x1_0000_0000) {
        scratch[at++] = 0xce;
        scratchView.setUint32(at, n);
        at += 4;
      } else {
        // uint 64, as the library writes it: the high word by truncation, the low by DataView's wrap
        scratch[at++] = 0xcf;
        scratchView.setUint32(at, n / 0x1_0000_0000);
        scratchView.setUint32(at + 4, n);
        at += 8;
      }
    } else if (n >= -0x20) {
      scratch[at++] = 0xe0 | (n + 0x20);
    } else if (n >= -0x80) {
      scratch[at++] = 0xd0;
      scratchView.setInt8(at, n);
      at += 1;
    } else if (n >= -0x8000) {
      scratch[at++] = 0xd1;
      scratchView.setInt16(at, n);
      at += 2;
    } else if (n >= -0x8000_0000) {
      scratch[at++] = 0xd2;
      scratchView.setInt32(at, n);
      at += 4;
    } else {
      scratch[at++] = 0xd3; // int 64, likewise
      scratchView.setUint32(at, Math.floor(n / 0x1_0000_0000));
      scratchView.setUint32(at + 4, n);
      at += 8;
    }
    return true;
  }
  scratch[at++] = 0xcb;
  scratchView.setFloat64(at, n);
  at += 8;
  return true;
}

function encodeAscii(text: string): boolean {
  const length = text.length;
  if (length > MAX_FAST_STRING_BYTES) return false;
  if (length >= SHORT_STRING_BYTES) return encodeLongAscii(text);
  return writeAscii(text);
}

/**
 * The msgpack bytes of long ASCII strings written lately. They are mostly ids (command
 * origins, member ids), written thousands of times a run: copying the bytes is a quarter of
 * the cost of writing the characters one by one (~200 ns for a 95-character member id). A
 * string that is not ASCII is not kept. Only the speed depends on what is kept.
 */
const encodedLong = new Map<string, Uint8Array>();
const ENCODED_LONG_MAX = 1024;

function encodeLongAscii(text: string): boolean {
  let bytes = encodedLong.get(text);
  if (bytes === undefined) {
    const start = at;
    if (!writeAscii(text)) return false;
    bytes = scratch.slice(start, at);
    if (encodedLong.size >= ENCODED_LONG_MAX) encodedLong.clear();
    encodedLong.set(text, bytes);
    return true;
  }
  ensure(bytes.length);
  scratch.set(bytes, at);
  at += bytes.length;
  return true;
}

function writeAscii(text: string): boolean {
  const length = text.length;
  ensure(2 + length);
  const start = at;
  if (length < 32) {
    scratch[at++] = 0xa0 + length;
  } else {
    scratch[at++] = 0xd9;
    scratch[at++] = length;
  }
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      at = start;
      return false; // UTF-8 beyond ASCII: the library's
    }
    scratch[at++] = c;
  }
  return true;
}

function encodeArray(items: readonly unknown[], depth: number): boolean {
  const length = items.length;
  if (!writeArrayHeader(length)) return false;
  for (let i = 0; i < length; i++) if (!encodeValue(items[i], depth + 1)) return false;
  return true;
}

/** An object the library writes as a map of its own keys, for sure: no class, no extension. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A map, as the library writes a plain object: its `Object.keys` in order, each an ASCII string here. */
function encodeMap(object: Record<string, unknown>, depth: number): boolean {
  const keys = Object.keys(object);
  const size = keys.length;
  if (!writeHeader(size, 0x80, 0xde)) return false;
  for (let i = 0; i < size; i++) {
    const key = keys[i] as string;
    if (!encodeAscii(key) || !encodeValue(object[key], depth + 1)) return false;
  }
  return true;
}

function encodeBytes(bytes: Uint8Array): boolean {
  const length = bytes.length;
  ensure(5 + length);
  if (length < 0x100) {
    scratch[at++] = 0xc4;
    scratch[at++] = length;
  } else if (length < 0x10000) {
    scratch[at++] = 0xc5;
    scratchView.setUint16(at, length);
    at += 2;
  } else {
    scratch[at++] = 0xc6;
    scratchView.setUint32(at, length);
    at += 4;
  }
  scratch.set(bytes, at);
  at += length;
  return true;
}

// ---- decoding ------------------------------------------------------------------------

// Reading a body through a DataView of its own is what costs; floats go through this one.
const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

let input: Uint8Array = floatBytes;
let pos = 0;
let end = 0;

/** Decodes one whole msgpack value, or returns DECLINED (unsupported, malformed, truncated, or bytes left over). */
export function fastDecode(bytes: Uint8Array): unknown {
  input = bytes;
  pos = 0;
  end = bytes.length;
  const value = decodeValue(0);
  input = floatBytes; // hold no reference to the body
  return pos === end ? value : DECLINED;
}

function decodeValue(depth: number): unknown {
  if (pos >= end) return DECLINED;
  const head = input[pos++] as number;
  if (head < 0x80) return head;
  if (head >= 0xe0) return head - 0x100;
  if (head >= 0x90 && head < 0xa0) return decodeArray(head - 0x90, depth);
  if (head >= 0x80 && head < 0x90) return decodeMap(head - 0x80, depth);
  if (head >= 0xa0 && head < 0xc0) return decodeAscii(head - 0xa0);
  switch (head) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return pos + 1 <= end ? decodeBytes(input[pos++] as number) : DECLINED;
    case 0xc5:
      return pos + 2 <= end ? decodeBytes(readUint(2)) : DECLINED;
    case 0xc6:
      return pos + 4 <= end ? decodeBytes(readUint(4)) : DECLINED;
    case 0xca:
      return pos + 4 <= end ? readFloat(4) : DECLINED;
    case 0xcb:
      return pos + 8 <= end ? readFloat(8) : DECLINED;
    case 0xcc:
      return pos + 1 <= end ? (input[pos++] as number) : DECLINED;
    case 0xcd:
      return pos + 2 <= end ? readUint(2) : DECLINED;
    case 0xce:
      return pos + 4 <= end ? readUint(4) : DECLINED;
    case 0xd0:
      return pos + 1 <= end ? ((input[pos++] as number) << 24) >> 24 : DECLINED;
    case 0xd1:
      return pos + 2 <= end ? (readUint(2) << 16) >> 16 : DECLINED;
    case 0xd2:
      return pos + 4 <= end ? readUint(4) | 0 : DECLINED;
    case 0xcf: // uint 64 and int 64 as the library reads them (useBigInt64: false): high * 2^32 + low
      return pos + 8 <= end ? readUint(4) * 0x1_0000_0000 + readUint(4) : DECLINED;
    case 0xd3:
      return pos + 8 <= end ? (readUint(4) | 0) * 0x1_0000_0000 + readUint(4) : DECLINED;
    case 0xd9:
      return pos + 1 <= end ? decodeAscii(input[pos++] as number) : DECLINED;
    case 0xdc:
      return pos + 2 <= end ? decodeArray(readUint(2), depth) : DECLINED;
    case 0xde:
      return pos + 2 <= end ? decodeMap(readUint(2), depth) : DECLINED;
    default:
      return DECLINED; // map 32, extensions, long strings, 0xc1
  }
}

/** A big-endian unsigned integer of 2 or 4 bytes (the caller checked they are there). */
function readUint(size: 2 | 4): number {
  const b = input;
  const p = pos;
  pos += size;
  if (size === 2) return ((b[p] as number) << 8) | (b[p + 1] as number);
  return (b[p] as number) * 0x100_0000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
}

function readFloat(size: 4 | 8): number {
  for (let i = 0; i < size; i++) floatBytes[i] = input[pos + i] as number;
  pos += size;
  return size === 4 ? floatView.getFloat32(0) : floatView.getFloat64(0);
}

function decodeArray(length: number, depth: number): unknown {
  if (depth >= MAX_DEPTH || length > end - pos) return DECLINED; // every item takes a byte at least
  const out: unknown[] = [];
  for (let i = 0; i < length; i++) {
    const item = decodeValue(depth + 1);
    if (item === DECLINED) return DECLINED;
    out.push(item);
  }
  return out;
}

/**
 * A map as the library reads it: a plain object, each key assigned in turn. Only ASCII
 * string keys here; number keys, and `__proto__` (which the library refuses), are its.
 */
function decodeMap(length: number, depth: number): unknown {
  if (depth >= MAX_DEPTH || 2 * length > end - pos) return DECLINED; // a key and a value take two bytes at least
  const out: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    const key = decodeValue(depth + 1);
    if (typeof key !== 'string' || key === '__proto__') return DECLINED;
    const value = decodeValue(depth + 1);
    if (value === DECLINED) return DECLINED;
    out[key] = value;
  }
  return out;
}

/**
 * Strings this long or longer are decoded in one call: built a character at a time, V8
 * makes a chain of cons strings past 12 characters, which the first hash or comparison (a
 * Map lookup by member id) has to flatten: ~3 µs for an 81-character id, against ~0.8 µs.
 */
const SHORT_STRING_BYTES = 13;
const asciiDecoder = new TextDecoder();

/**
 * The strings decoded last, by a hash of their bytes. Most are ids (member ids, command
 * origins: 17 distinct ones make 9,000 decodes of a raft-chaos seed), map keys and tags
 * (`op`, `write`: 21,000 more). A hit hands back the string decoded before: no decoder call
 * (~0.8 µs for an id), no string built a character at a time, and a string whose hash V8
 * has already computed, for the Map lookup or comparison that usually follows. Only the
 * identity of equal strings changes, which nothing can observe.
 */
const INTERNED_SLOTS = 512;
const internedText: string[] = new Array(INTERNED_SLOTS).fill('');
/** The bytes of each slot's string: comparing bytes to bytes is a few instructions a byte, `charCodeAt` several times that. */
const internedBytes: Uint8Array[] = new Array(INTERNED_SLOTS).fill(new Uint8Array(0));

function decodeAscii(length: number): unknown {
  if (length > MAX_FAST_STRING_BYTES || pos + length > end) return DECLINED;
  // Apart, so that this function, on every value's path, stays small.
  return length >= SHORT_STRING_BYTES ? decodeLongAscii(length) : decodeShortAscii(length);
}

/** A string shorter than `SHORT_STRING_BYTES`: its slot is a hash of all its bytes. */
function decodeShortAscii(length: number): unknown {
  const src = input;
  const from = pos;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  for (let i = from; i < from + length; i++) hash = Math.imul(hash ^ (src[i] as number), 0x01000193);
  return internedOrDecoded(hash, length);
}

/**
 * A string of `SHORT_STRING_BYTES` or more: its slot is a hash of the length and sixteen of
 * the bytes (ids differ early or late, and this is a third of the cost of hashing them all).
 */
function decodeLongAscii(length: number): unknown {
  const src = input;
  const from = pos;
  const last = from + length - 8;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  for (let i = 0; i < 8; i++) {
    hash = Math.imul(hash ^ (src[from + i] as number), 0x01000193);
    hash = Math.imul(hash ^ (src[last + i] as number), 0x01000193);
  }
  return internedOrDecoded(hash, length);
}

/** The string of the `length` bytes at `pos`: the one in the slot of `hash` if its bytes are these (every byte compared), else decoded and put there. */
function internedOrDecoded(hash: number, length: number): unknown {
  const src = input;
  const from = pos;
  const slot = (hash ^ (hash >>> 16)) & (INTERNED_SLOTS - 1);
  const known = internedBytes[slot] as Uint8Array;
  if (known.length === length && sameBytes(known, src, from)) {
    pos += length; // the interned bytes are ASCII, so these are
    return internedText[slot];
  }
  for (let i = from; i < from + length; i++) if ((src[i] as number) >= 0x80) return DECLINED; // UTF-8 beyond ASCII (or invalid): the library's
  pos += length;
  const bytes = src.slice(from, from + length);
  let text = '';
  if (length >= SHORT_STRING_BYTES) text = asciiDecoder.decode(bytes);
  else for (let i = 0; i < length; i++) text += String.fromCharCode(bytes[i] as number);
  internedBytes[slot] = bytes;
  internedText[slot] = text;
  return text;
}

/** Whether `bytes` are `src`'s bytes at `from`. */
function sameBytes(bytes: Uint8Array, src: Uint8Array, from: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== src[from + i]) return false;
  return true;
}

function decodeBytes(length: number): unknown {
  if (pos + length > end) return DECLINED;
  const out = input.subarray(pos, pos + length); // a view, as the library returns
  pos += length;
  return out;
}

// ---- reading and writing in place, for schemas (core/wire/schema.ts) -------------------
//
// A schema that knows its own shape reads its value straight from the body and writes it
// straight into the scratch buffer, without the intermediate msgpack value (an array per
// struct) that `fastEncode`/`fastDecode` go through. These are the pieces it is made of;
// they share the state above, so a read or a write must not start another one before it
// ends (schemas built from the combinators never do).

/** Starts a write into the scratch buffer (`fastEncoded()`); `writtenLength()` says how far it got. */
export function beginWrite(): void {
  at = 0;
}

export function writtenLength(): number {
  return at;
}

/** Writes any value in the fast subset, as `fastEncode` would inside an array at `depth`; false when it declines. */
export function writeValue(value: unknown, depth: number): boolean {
  return encodeValue(value, depth);
}

/** The header of an array of `length` items; false (and nothing written) above 65,535 items, which the library writes. */
export function writeArrayHeader(length: number): boolean {
  return writeHeader(length, 0x90, 0xdc);
}

/** A container's header: `fix` + length below 16, else `tag16` and a u16; false from 65,536 (32-bit forms are the library's). */
function writeHeader(length: number, fix: number, tag16: number): boolean {
  ensure(3);
  if (length < 16) {
    scratch[at++] = fix + length;
  } else if (length < 0x10000) {
    scratch[at++] = tag16;
    scratchView.setUint16(at, length);
    at += 2;
  } else {
    return false;
  }
  return true;
}

export function writeNil(): void {
  ensure(1);
  scratch[at++] = 0xc0;
}

/** Starts a read of `bytes`; `endRead()` says whether it was read to its last byte. */
export function beginRead(bytes: Uint8Array): void {
  input = bytes;
  pos = 0;
  end = bytes.length;
}

export function endRead(): boolean {
  const whole = pos === end;
  input = floatBytes; // hold no reference to the body
  return whole;
}

/** Reads one value as `fastDecode` would inside an array at `depth`, or DECLINED. */
export function readValue(depth: number): unknown {
  return decodeValue(depth);
}

/**
 * Reads an array header and returns its length, or -1 for anything else and for a length
 * the remaining bytes cannot hold (every item takes a byte at least).
 */
export function readArrayHeader(): number {
  if (pos >= end) return -1;
  const head = input[pos++] as number;
  let length: number;
  if (head >= 0x90 && head < 0xa0) length = head - 0x90;
  else if (head === 0xdc && pos + 2 <= end) length = readUint(2);
  else return -1;
  return length > end - pos ? -1 : length;
}

/** Reads a nil if one comes next (an absent optional field). */
export function readNil(): boolean {
  if (pos < end && input[pos] === 0xc0) {
    pos++;
    return true;
  }
  return false;
}
