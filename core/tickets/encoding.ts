/**
 * Small, total text encodings the ticket formats need: base64 (standard and URL-safe),
 * strict UTF-8 decoding and fixed-width integers. Decoders return undefined on any input
 * that is not in canonical form; they never throw.
 */

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function table(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const STD_TABLE = table(STD);
const URL_TABLE = table(URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += alphabet[(n >> 18) & 63] + (alphabet[(n >> 12) & 63] as string) + (alphabet[(n >> 6) & 63] as string) + (alphabet[n & 63] as string);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += (alphabet[(n >> 18) & 63] as string) + (alphabet[(n >> 12) & 63] as string) + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += (alphabet[(n >> 18) & 63] as string) + (alphabet[(n >> 12) & 63] as string) + (alphabet[(n >> 6) & 63] as string) + (pad ? '=' : '');
  }
  return out;
}

/** Decodes unpadded base64 over `t`; rejects stray characters and non-zero trailing bits. */
function decode(text: string, t: Int16Array): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (t[c] as number) : -1;
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Canonical form: the bits left over after the last whole byte must be zero.
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

/** base64url without padding (RFC 7515 §2). */
export function base64UrlEncode(bytes: Uint8Array): string {
  return encode(bytes, URL, false);
}

/** Strict base64url without padding; undefined for anything else. */
export function base64UrlDecode(text: string): Uint8Array | undefined {
  return decode(text, URL_TABLE);
}

/** Standard base64 with padding (PEM bodies). */
export function base64Encode(bytes: Uint8Array): string {
  return encode(bytes, STD, true);
}

/** Standard base64 with optional `=` padding (which must be correct); undefined for anything else. */
export function base64Decode(text: string): Uint8Array | undefined {
  let body = text;
  if (body.length % 4 === 0 && body.endsWith('==')) body = body.slice(0, -2);
  else if (body.length % 4 === 0 && body.endsWith('=')) body = body.slice(0, -1);
  if (body.includes('=')) return undefined;
  return decode(body, STD_TABLE);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8; undefined for invalid sequences. */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Parses JSON text into a plain object; undefined for invalid JSON or a non-object value. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A non-negative safe integer as 8 little-endian bytes. */
export function u64le(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}
