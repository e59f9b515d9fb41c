import type { DecodeErrorKind } from '../errors.ts';
import { Digest } from '../identity/digest.ts';
import { PeerId } from '../identity/keys.ts';
import { compileStruct, compileUnion } from './compile.ts';
import { DECLINED, MAX_DEPTH, readArrayHeader, readNil, readValue, writeArrayHeader, writeNil, writeValue } from './fast-msgpack.ts';

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
  /**
   * The direct path (core/wire/codec.ts), present when the schema and every schema inside
   * it come from this module: reads the value in place from the body being read
   * (core/wire/fast-msgpack.ts), without building the msgpack value first. It returns a
   * value only where `decode` of the msgpack value would return the same one; anything
   * else (unusual encodings, and every bad input) is DECLINED, and the codec then takes the
   * general path, which gives the value or the error. `depth` is the nesting of the value.
   */
  read?(depth: number): T | Declined;
  /** Likewise, writes exactly the bytes `encode` then msgpack would; false when it declines. */
  write?(value: T, depth: number): boolean;
}

export type Declined = typeof DECLINED;

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
    read(depth) {
      const v = readValue(depth);
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : DECLINED;
    },
    write: writeValue,
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
  read(depth) {
    const v = readValue(depth);
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : DECLINED;
  },
  write: writeValue,
};

export const bool: Schema<boolean> = {
  describe: 'bool',
  decode(wire, path) {
    if (typeof wire !== 'boolean') fail('invalid', path, 'bool', wire);
    return wire;
  },
  encode: (v) => v,
  read(depth) {
    const v = readValue(depth);
    return typeof v === 'boolean' ? v : DECLINED;
  },
  write: writeValue,
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
    read(depth) {
      const v = readValue(depth);
      return typeof v === 'string' && v.length <= opts.maxLength ? v : DECLINED;
    },
    write: writeValue,
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
    read(depth) {
      const v = readValue(depth);
      return v instanceof Uint8Array && (exact === undefined || v.length === exact) && v.length <= max ? v : DECLINED;
    },
    write: writeValue,
  };
}

const bytes32 = bytes({ length: 32 });

const readBytes32 = bytes32.read as (depth: number) => Uint8Array | Declined;

export const digest: Schema<Digest> = {
  describe: 'digest',
  decode: (wire, path) => Digest.wrap(bytes32.decode(wire, path)),
  encode: (v) => v.bytes,
  read(depth) {
    const b = readBytes32(depth);
    return b === DECLINED ? b : Digest.wrap(b);
  },
  write: (v, depth) => writeValue(v.bytes, depth),
};

export const peerId: Schema<PeerId> = {
  describe: 'peerId',
  decode: (wire, path) => PeerId.fromBytes(bytes32.decode(wire, path)),
  encode: (v) => v.bytes,
  read(depth) {
    const b = readBytes32(depth);
    return b === DECLINED ? b : PeerId.fromBytes(b);
  },
  write: (v, depth) => writeValue(v.bytes, depth),
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
    ...direct<T[]>(item.read && item.write, () => {
      const readItem = item.read as NonNullable<Schema<T>['read']>;
      const writeItem = item.write as NonNullable<Schema<T>['write']>;
      return {
        read(depth) {
          if (depth >= MAX_DEPTH) return DECLINED;
          const length = readArrayHeader();
          if (length < 0 || length > opts.maxLength) return DECLINED;
          const out: T[] = [];
          for (let i = 0; i < length; i++) {
            const v = readItem(depth + 1);
            if (v === DECLINED) return DECLINED;
            out.push(v);
          }
          return out;
        },
        write(v, depth) {
          if (depth >= MAX_DEPTH || !writeArrayHeader(v.length)) return false;
          for (let i = 0; i < v.length; i++) if (!writeItem(v[i] as T, depth + 1)) return false;
          return true;
        },
      };
    }),
  };
}

/** Absent on the wire as `null`. */
export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    describe: `${inner.describe}?`,
    decode: (wire, path) => (wire === null || wire === undefined ? undefined : inner.decode(wire, path)),
    encode: (v) => (v === undefined ? null : inner.encode(v)),
    ...direct<T | undefined>(inner.read && inner.write, () => {
      const readInner = inner.read as NonNullable<Schema<T>['read']>;
      const writeInner = inner.write as NonNullable<Schema<T>['write']>;
      return {
        read: (depth) => (readNil() ? undefined : readInner(depth)),
        write(v, depth) {
          if (v !== undefined) return writeInner(v, depth);
          writeNil();
          return true;
        },
      };
    }),
  };
}

/**
 * The direct path of a container, when every schema in it has one (`available`); a schema
 * written elsewhere (a custom `decode`) keeps its container on the general path, since it
 * may use a codec of its own, which would start a read or write inside this one.
 */
function direct<T>(available: unknown, make: () => Pick<Schema<T>, 'read' | 'write'>): Pick<Schema<T>, 'read' | 'write'> {
  return available ? make() : {};
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
  /** The direct path's `decodeFields`: reads the fields in place into `out`; false when it declines. */
  readFields?(out: Record<string, unknown>, depth: number): boolean;
  /** The direct path's `encodeFields`: writes the fields in place; false when it declines. */
  writeFields?(value: T, depth: number): boolean;
  /** With the direct path: the field names and each field's reader and writer, in order (a union compiles its variants from them). */
  readonly directFields?: DirectFields;
}

interface DirectFields {
  readonly keys: readonly string[];
  readonly readers: readonly NonNullable<Schema<unknown>['read']>[];
  readonly writers: readonly NonNullable<Schema<unknown>['write']>[];
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
    ...directStruct<StructOf<F>>(keys, schemas, template),
  };
}

/** A struct's direct path (see `Schema.read`), when each of its fields has one. */
function directStruct<T>(
  keys: readonly string[],
  schemas: readonly Schema<unknown>[],
  template: Readonly<Record<string, unknown>>,
): Pick<StructSchema<T>, 'read' | 'write' | 'readFields' | 'writeFields' | 'directFields'> {
  if (!schemas.every((f) => f.read && f.write)) return {};
  const readers = schemas.map((f) => f.read as NonNullable<Schema<unknown>['read']>);
  const writers = schemas.map((f) => f.write as NonNullable<Schema<unknown>['write']>);
  const directFields = { keys, readers, writers };
  const count = keys.length;
  const readFields = (out: Record<string, unknown>, depth: number): boolean => {
    for (let i = 0; i < count; i++) {
      const v = (readers[i] as (depth: number) => unknown)(depth);
      if (v === DECLINED) return false;
      out[keys[i] as string] = v;
    }
    return true;
  };
  const writeFields = (value: T, depth: number): boolean => {
    for (let i = 0; i < count; i++) {
      if (!(writers[i] as (v: unknown, depth: number) => boolean)((value as Record<string, unknown>)[keys[i] as string], depth)) return false;
    }
    return true;
  };
  const compiled = compileStruct(keys, readers, writers);
  if (compiled !== undefined) return { readFields, writeFields, directFields, read: compiled.read as (depth: number) => T | Declined, write: compiled.write };
  return {
    readFields,
    writeFields,
    directFields,
    read(depth) {
      if (depth >= MAX_DEPTH || readArrayHeader() !== count) return DECLINED;
      const out: Record<string, unknown> = { ...template };
      return readFields(out, depth + 1) ? (out as T) : DECLINED;
    },
    write(value, depth) {
      return depth < MAX_DEPTH && writeArrayHeader(count) && writeFields(value, depth + 1);
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
    ...directUnion<UnionOf<V, Tag>>(tag, names, list, indexOf, templates),
  };
}

/** A union's direct path (see `Schema.read`), when each of its variants has one. */
function directUnion<T>(
  tag: string,
  names: readonly string[],
  list: readonly StructSchema<object>[],
  indexOf: ReadonlyMap<string, number>,
  templates: readonly Record<string, unknown>[],
): Pick<Schema<T>, 'read' | 'write'> {
  if (!list.every((v) => v.readFields && v.writeFields && v.directFields)) return {};
  const compiled = compileUnion(
    tag,
    list.map((v, i) => ({ name: names[i] as string, ...(v.directFields as DirectFields) })),
  );
  if (compiled !== undefined) return { read: compiled.read as (depth: number) => T | Declined, write: compiled.write };
  return {
    read(depth) {
      if (depth >= MAX_DEPTH) return DECLINED;
      const length = readArrayHeader();
      if (length < 1) return DECLINED;
      const index = readValue(depth + 1);
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return DECLINED;
      const variant = list[index];
      if (variant === undefined || length !== 1 + variant.fieldCount) return DECLINED;
      const out: Record<string, unknown> = { ...templates[index] };
      return (variant.readFields as NonNullable<StructSchema<object>['readFields']>)(out, depth + 1) ? (out as T) : DECLINED;
    },
    write(value, depth) {
      const index = indexOf.get((value as Record<string, unknown>)[tag] as string);
      // An unknown variant: the general path throws the encoding error.
      if (index === undefined || depth >= MAX_DEPTH) return false;
      const variant = list[index] as StructSchema<object>;
      return (
        writeArrayHeader(1 + variant.fieldCount) &&
        writeValue(index, depth + 1) &&
        (variant.writeFields as NonNullable<StructSchema<object>['writeFields']>)(value as object, depth + 1)
      );
    },
  };
}
