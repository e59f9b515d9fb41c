import type { DecodeErrorKind } from '../errors.ts';
import { Digest } from '../identity/digest.ts';
import { PeerId } from '../identity/keys.ts';

/**
 * A schema maps one message type to and from its msgpack value, and checks the decoded value
 * totally: every field present with the right type and bounds, no unknown fields, no unknown
 * variants. Decoding through a schema never lets a malformed value reach a machine.
 */
export interface Schema<T> {
  /** Text for error messages, e.g. `u32` or `struct{id,at}`. */
  readonly describe: string;
  /** Checks and converts a decoded msgpack value; throws `SchemaViolation` (caught by the codec). */
  decode(wire: unknown, path: string): T;
  /** Converts a value to what msgpack encodes. */
  encode(value: T): unknown;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** Internal: thrown inside `decode`, turned into a DecodeError by `core/wire/codec.ts`. */
export class SchemaViolation {
  constructor(
    readonly kind: DecodeErrorKind,
    readonly message: string,
  ) {}
}

/**
 * Whether containers build their children's paths (`a.b[3].c`). The paths only serve error
 * messages, and building them was a string concatenation per field of every message
 * decoded, so `decodeChecked` decodes without them first and again with them only when that
 * fails. Decoding is deterministic, so the second pass fails at the same place.
 */
let tracePaths = true;

/** `schema.decode(wire)` at the root; a violation's message names the path of the bad field. */
export function decodeChecked<T>(schema: Schema<T>, wire: unknown): T {
  tracePaths = false;
  try {
    return schema.decode(wire, '');
  } catch {
    tracePaths = true;
    return schema.decode(wire, '');
  } finally {
    tracePaths = true;
  }
}

const fieldPath = (path: string, key: string): string => (tracePaths ? (path ? `${path}.${key}` : key) : '');
const itemPath = (path: string, index: number): string => (tracePaths ? `${path}[${index}]` : '');

function fail(kind: DecodeErrorKind, path: string, expected: string, got: unknown): never {
  throw new SchemaViolation(kind, `${path || '<root>'}: expected ${expected}, got ${typeOf(got)}`);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (Array.isArray(v)) return `array[${v.length}]`;
  if (typeof v === 'string') return `string[${v.length}]`;
  if (typeof v === 'number') return `number ${v}`;
  return typeof v;
}

function uintBelow(max: number, describe: string): Schema<number> {
  return {
    describe,
    decode(wire, path) {
      if (typeof wire !== 'number' || !Number.isInteger(wire) || wire < 0 || wire > max) {
        fail('invalid', path, describe, wire);
      }
      return wire;
    },
    encode: (v) => v,
  };
}

export const u8 = uintBelow(0xff, 'u8');
export const u16 = uintBelow(0xffff, 'u16');
export const u32 = uintBelow(0xffff_ffff, 'u32');
/** A non-negative safe integer (up to 2^53 - 1): counters, indexes, virtual milliseconds. */
export const uint = uintBelow(Number.MAX_SAFE_INTEGER, 'uint');

/** A safe integer, possibly negative (time offsets). */
export const int: Schema<number> = {
  describe: 'int',
  decode(wire, path) {
    if (typeof wire !== 'number' || !Number.isSafeInteger(wire)) fail('invalid', path, 'int', wire);
    return wire;
  },
  encode: (v) => v,
};

export const bool: Schema<boolean> = {
  describe: 'bool',
  decode(wire, path) {
    if (typeof wire !== 'boolean') fail('invalid', path, 'bool', wire);
    return wire;
  },
  encode: (v) => v,
};

export function str(opts: { maxLength: number }): Schema<string> {
  const describe = `str(<=${opts.maxLength})`;
  return {
    describe,
    decode(wire, path) {
      if (typeof wire !== 'string') fail('invalid', path, describe, wire);
      if (wire.length > opts.maxLength) fail('oversized', path, describe, wire);
      return wire;
    },
    encode: (v) => v,
  };
}

export function bytes(opts: { length: number } | { maxLength: number }): Schema<Uint8Array> {
  const exact = 'length' in opts ? opts.length : undefined;
  const max = 'length' in opts ? opts.length : opts.maxLength;
  const describe = exact !== undefined ? `bytes[${exact}]` : `bytes(<=${max})`;
  return {
    describe,
    decode(wire, path) {
      if (!(wire instanceof Uint8Array)) fail('invalid', path, describe, wire);
      if (exact !== undefined && wire.length !== exact) fail('invalid', path, describe, wire);
      if (wire.length > max) fail('oversized', path, describe, wire);
      return wire;
    },
    encode: (v) => v,
  };
}

const bytes32 = bytes({ length: 32 });

export const digest: Schema<Digest> = {
  describe: 'digest',
  decode: (wire, path) => Digest.wrap(bytes32.decode(wire, path)),
  encode: (v) => v.bytes,
};

export const peerId: Schema<PeerId> = {
  describe: 'peerId',
  decode: (wire, path) => PeerId.fromBytes(bytes32.decode(wire, path)),
  encode: (v) => v.bytes,
};

export function array<T>(item: Schema<T>, opts: { maxLength: number }): Schema<T[]> {
  const describe = `array<${item.describe}>(<=${opts.maxLength})`;
  return {
    describe,
    decode(wire, path) {
      if (!Array.isArray(wire)) fail('invalid', path, describe, wire);
      if (wire.length > opts.maxLength) fail('oversized', path, describe, wire);
      return wire.map((w, i) => item.decode(w, itemPath(path, i)));
    },
    encode: (v) => v.map((x) => item.encode(x)),
  };
}

/** Absent on the wire as `null`. */
export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    describe: `${inner.describe}?`,
    decode: (wire, path) => (wire === null || wire === undefined ? undefined : inner.decode(wire, path)),
    encode: (v) => (v === undefined ? null : inner.encode(v)),
  };
}

type Fields = Record<string, Schema<unknown>>;
type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

/** A struct schema; a union embeds its variants' fields after the variant index. */
export interface StructSchema<T> extends Schema<T> {
  readonly fieldCount: number;
  /** An object with every field (undefined), in order: decoded values start as a copy of it. */
  readonly template: Readonly<Record<string, unknown>>;
  /** Decodes the fields from `wire[offset..]` into `out`. */
  decodeFields(wire: readonly unknown[], offset: number, out: Record<string, unknown>, path: string): void;
  /** Appends the encoded fields of `value` to `out`. */
  encodeFields(value: T, out: unknown[]): void;
}

/**
 * A struct travels as a msgpack array of its field values in declared order (positional,
 * like postcard in mosaik): compact, and quick to decode. The array must have exactly one
 * element per field; absent optional fields are `null`. Field order is part of the wire
 * format: a change to it is a new protocol version.
 */
export function struct<F extends Fields>(fields: F): StructSchema<StructOf<F>> {
  const keys = Object.keys(fields);
  const schemas = keys.map((k) => fields[k] as Schema<unknown>);
  const describe = `struct{${keys.join(',')}}`;
  // Decoded values are copies of this one: they get their final shape at once (a spread of
  // an object literal is one allocation in V8) instead of a hidden-class transition per field.
  const template: Record<string, unknown> = {};
  for (const k of keys) template[k] = undefined;
  const decodeFields = (wire: readonly unknown[], offset: number, out: Record<string, unknown>, path: string) => {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      out[k] = (schemas[i] as Schema<unknown>).decode(wire[offset + i], fieldPath(path, k));
    }
  };
  const encodeFields = (value: StructOf<F>, out: unknown[]) => {
    for (let i = 0; i < keys.length; i++) out.push((schemas[i] as Schema<unknown>).encode((value as Record<string, unknown>)[keys[i] as string]));
  };
  return {
    describe,
    fieldCount: keys.length,
    template,
    decodeFields,
    encodeFields,
    decode(wire, path) {
      if (!Array.isArray(wire)) fail('invalid', path, describe, wire);
      if (wire.length !== keys.length) fail('invalid', path, `${describe} (${keys.length} fields)`, wire);
      const out: Record<string, unknown> = { ...template };
      decodeFields(wire, 0, out, path);
      return out as StructOf<F>;
    },
    encode(value) {
      const out: unknown[] = [];
      encodeFields(value, out);
      return out;
    },
  };
}

type Variants = Record<string, StructSchema<object>>;
type UnionOf<V extends Variants, Tag extends string> = {
  [K in keyof V & string]: { [T in Tag]: K } & Infer<V[K]>;
}[keyof V & string];

/**
 * A tagged union. In memory: an object whose `tag` field names the variant. On the wire: a
 * msgpack array `[variant index, ...that variant's fields]`, the index being the variant's
 * position in `variants` (so new variants go at the end). An unknown index is
 * `unknown-variant`.
 */
export function union<Tag extends string, V extends Variants>(tag: Tag, variants: V): Schema<UnionOf<V, Tag>> {
  const names = Object.keys(variants);
  const list = names.map((name) => variants[name] as StructSchema<object>);
  const indexOf = new Map(names.map((name, i) => [name, i]));
  // As for structs: each variant's decoded values are copies of one object with the tag first.
  const templates = names.map((name, i) => ({ [tag]: name, ...(list[i] as StructSchema<object>).template }));
  const describe = `union<${tag}:${names.join('|')}>`;
  return {
    describe,
    decode(wire, path) {
      if (!Array.isArray(wire) || wire.length === 0) fail('invalid', path, describe, wire);
      const index = wire[0];
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) fail('invalid', path, `${describe} variant index`, index);
      const variant = list[index];
      if (!variant) throw new SchemaViolation('unknown-variant', `${path || '<root>'}: unknown variant ${index} of ${describe}`);
      const name = names[index] as string;
      if (wire.length !== 1 + variant.fieldCount)
        fail('invalid', path ? `${path}<${name}>` : `<${name}>`, `${variant.describe} (${variant.fieldCount} fields)`, wire);
      const out: Record<string, unknown> = { ...templates[index] };
      variant.decodeFields(wire, 1, out, path);
      return out as UnionOf<V, Tag>;
    },
    encode(value) {
      const name = (value as Record<string, unknown>)[tag] as string;
      const index = indexOf.get(name);
      if (index === undefined) throw new TypeError(`${describe}: cannot encode unknown variant '${name}'`);
      const out: unknown[] = [index];
      (list[index] as StructSchema<object>).encodeFields(value as object, out);
      return out;
    },
  };
}
