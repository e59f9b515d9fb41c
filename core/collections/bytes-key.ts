/**
 * Helpers for machines that keep their state over encoded bytes: a string key for a JS
 * `Map` (so a lookup by bytes is O(1)), byte equality, and the shape checks `apply` uses to
 * refuse a malformed command without throwing.
 */

/** Bytes per `String.fromCharCode` call: well under every engine's argument limit. */
const CHUNK = 8192;

/**
 * A `Map` key for `bytes`: one latin1 character (code unit 0–255) per byte. Injective, so two
 * byte strings get the same key exactly when they are equal; V8 stores such strings at one
 * byte per character, so the key costs no more memory than the bytes.
 */
export function bytesKey(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 64) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i] as number);
    return s;
  }
  let s = '';
  for (let i = 0; i < n; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return s;
}

/** The bytes a `bytesKey` string was made from (its inverse). */
export function bytesFromKey(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** Byte-wise equality (not constant-time: these are public values). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True for a `Uint8Array` (what msgpack decodes a `bin` to). */
export function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

/** True for an array whose every element is a `Uint8Array`. */
export function isBytesArray(x: unknown): x is readonly Uint8Array[] {
  if (!Array.isArray(x)) return false;
  for (const b of x) if (!(b instanceof Uint8Array)) return false;
  return true;
}

/** True for bytes or null (the "absent" of a compare-and-swap). */
export function isBytesOrNull(x: unknown): x is Uint8Array | null {
  return x === null || x instanceof Uint8Array;
}

/** A command's `op`, or undefined when `command` is not an object with a string `op`. */
export function opOf(command: unknown): string | undefined {
  if (typeof command !== 'object' || command === null) return undefined;
  const op = (command as { op?: unknown }).op;
  return typeof op === 'string' ? op : undefined;
}

/**
 * A private copy of bytes the machine keeps, as a plain Uint8Array: a decoded command's or
 * snapshot's `bin` is a view into the whole message, which storing would keep alive (and
 * alias); a Node Buffer's `slice` would not even copy.
 */
export function own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
