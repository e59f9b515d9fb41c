import { decode, encode } from '@msgpack/msgpack';
import { isBytes, own } from './bytes-key.ts';

/**
 * The snapshot format every collection machine shares: msgpack of `[format, items]`, where
 * `format` names the machine and the format's version (`"map/1"`) and `items` is the state in
 * iteration order (mosaik's snapshot items: Map `[k, v]`, Vec/Set/Cell/Once `v`, depq
 * `[p, k, v]`). The same state always encodes to the same bytes, so replicas can compare
 * snapshots byte for byte.
 */
export function encodeSnapshot(format: string, items: readonly unknown[]): Uint8Array {
  return encode([format, items]);
}

/**
 * The items of a snapshot of `format`. Throws on bytes that are not one: a snapshot comes from
 * this machine type's own `snapshot()`, so a bad one is a corrupt store or a bug, not input.
 */
export function decodeSnapshot(format: string, bytes: Uint8Array): readonly unknown[] {
  let decoded: unknown;
  try {
    decoded = decode(bytes);
  } catch (e) {
    throw new Error(`${format} snapshot does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== format || !Array.isArray(decoded[1])) {
    throw new Error(`not a ${format} snapshot`);
  }
  return decoded[1] as readonly unknown[];
}

/** Throws the error `decodeSnapshot` would for an item that is not what `format` holds. */
export function badItem(format: string, index: number): never {
  throw new Error(`${format} snapshot: item ${index} is malformed`);
}

/** The 0–1 items of a Cell/Once snapshot: the value, or undefined. Throws like `decodeSnapshot`. */
export function decodeOptionalSnapshot(format: string, bytes: Uint8Array): Uint8Array | undefined {
  const items = decodeSnapshot(format, bytes);
  if (items.length > 1) badItem(format, 1);
  if (items.length === 0) return undefined;
  const v = items[0];
  if (!isBytes(v)) badItem(format, 0);
  return own(v);
}
