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
      return wire.map((w, i) => item.decode(w, `${path}[${i}]`));
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

/** A struct schema; unions use `withTag` to check a variant in place, without copying. */
export interface StructSchema<T> extends Schema<T> {
  /** The same struct, allowing (and carrying through) a union's tag field. */
  withTag(tag: string): Schema<T>;
}

/**
 * A msgpack map with exactly these keys. Unknown keys are rejected: a peer speaking a newer
 * version of a message must use a new protocol id, not sneak fields past an old decoder.
 */
export function struct<F extends Fields>(fields: F): StructSchema<StructOf<F>> {
  return { ...structSchema(fields, undefined), withTag: (tag) => structSchema(fields, tag) };
}

function structSchema<F extends Fields>(fields: F, tag: string | undefined): Schema<StructOf<F>> {
  const keys = Object.keys(fields);
  const describe = `struct{${keys.join(',')}}`;
  return {
    describe,
    decode(wire, path) {
      if (typeof wire !== 'object' || wire === null || Array.isArray(wire) || wire instanceof Uint8Array) {
        fail('invalid', path, describe, wire);
      }
      const record = wire as Record<string, unknown>;
      for (const k in record) {
        if (k !== tag && !Object.hasOwn(fields, k)) fail('invalid', path, `${describe} (unknown field '${k}')`, wire);
      }
      const out: Record<string, unknown> = {};
      if (tag !== undefined) out[tag] = record[tag];
      // Absent optional fields decode from `undefined`.
      for (const k of keys) out[k] = (fields[k] as Schema<unknown>).decode(record[k], path ? `${path}.${k}` : k);
      return out as StructOf<F>;
    },
    encode(value) {
      const out: Record<string, unknown> = {};
      if (tag !== undefined) out[tag] = (value as Record<string, unknown>)[tag];
      for (const k of keys) out[k] = (fields[k] as Schema<unknown>).encode((value as Record<string, unknown>)[k]);
      return out;
    },
  };
}

type Variants = Record<string, StructSchema<object>>;
type UnionOf<V extends Variants, Tag extends string> = {
  [K in keyof V & string]: { [T in Tag]: K } & Infer<V[K]>;
}[keyof V & string];

/**
 * A tagged union: a msgpack map whose `tag` field names the variant; the other fields are
 * that variant's struct. An unknown tag is `unknown-variant`.
 */
export function union<Tag extends string, V extends Variants>(tag: Tag, variants: V): Schema<UnionOf<V, Tag>> {
  const describe = `union<${tag}:${Object.keys(variants).join('|')}>`;
  const tagged = new Map(Object.entries(variants).map(([name, variant]) => [name, variant.withTag(tag)]));
  return {
    describe,
    decode(wire, path) {
      if (typeof wire !== 'object' || wire === null || Array.isArray(wire) || wire instanceof Uint8Array) {
        fail('invalid', path, describe, wire);
      }
      const name = (wire as Record<string, unknown>)[tag];
      if (typeof name !== 'string') fail('invalid', path, `${describe} tag`, name);
      const variant = tagged.get(name);
      if (!variant) throw new SchemaViolation('unknown-variant', `${path || '<root>'}: unknown variant '${name}'`);
      return variant.decode(wire, path) as UnionOf<V, Tag>;
    },
    encode(value) {
      const variant = tagged.get((value as Record<string, unknown>)[tag] as string) as Schema<object>;
      return variant.encode(value as object);
    },
  };
}
