/**
 * Values msgpack would store without their data. `@msgpack/msgpack` writes any object it has
 * no encoding for as a map of its own enumerable properties, so a `Map`, a `Set`, an
 * `ArrayBuffer` or a `RegExp` becomes `{}`: a collection keyed by them would see every such
 * key as the same one, and a datum would arrive empty. The default codecs refuse them
 * instead (EncodingError). Class instances keep their fields (they arrive as plain objects),
 * typed arrays their bytes, and a `Date` its time (msgpack's timestamp), so those pass.
 */
const LOSSY: readonly (abstract new (...args: never[]) => unknown)[] = [
  Map,
  Set,
  WeakMap,
  WeakSet,
  ArrayBuffer,
  RegExp,
  Error,
  Promise,
  Number,
  String,
  Boolean,
];

/** Deeper than this the encoder itself refuses the value (its own depth limit). */
const MAX_DEPTH = 100;

/** A description of the first part of `value` msgpack would lose (`at` is its path), or undefined. */
export function lossyPart(value: unknown, at = 'value', depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (ArrayBuffer.isView(value) || value instanceof Date) return undefined;
  if (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
    return `${at} is of type SharedArrayBuffer, which msgpack would store as {}`;
  for (const kind of LOSSY) if (value instanceof kind) return `${at} is of type ${kind.name}, which msgpack would store as {}`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = lossyPart(value[i], `${at}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = lossyPart((value as Record<string, unknown>)[key], `${at}.${key}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
