import { DECLINED, MAX_DEPTH, readArrayHeader, readValue, writeArrayHeader, writeValue } from './fast-msgpack.ts';

/**
 * Straight-line direct paths for structs and unions (core/wire/schema.ts), generated once
 * per schema with `new Function`.
 *
 * Why: the generic paths read every struct through one piece of code, which copies a
 * template object and stores each field by a computed key, and write it by loading each
 * field by a computed key. Shared by every message type, those sites see dozens of object
 * shapes, and V8 runs them through its slowest (megamorphic) lookups: 7–10% of the
 * instructions of a warm raft-chaos seed went there (docs/benchmarks.md, Groups). Generated
 * code builds each struct as an object literal and names each field, so every site sees
 * one shape, and calls each field's reader directly, where V8 can inline it.
 *
 * What: the same function as the generic path, byte for byte and value for value
 * (test/core/compiled-codec.test.ts compares the two on generated and corrupted messages,
 * and the trace hashes of raft-chaos, raft-membership and collections-chaos runs stayed the
 * same). Nothing here depends on the input beyond what the generic path reads, so it is as
 * deterministic as that path.
 *
 * Where code generation is not allowed (a Content-Security-Policy without `unsafe-eval`),
 * `new Function` throws; the schema then keeps its generic path, and nothing else changes.
 * So does a field name that cannot safely be a literal's key (`__proto__`).
 */

type Read = (depth: number) => unknown;
type Write = (value: unknown, depth: number) => boolean;

export interface CompiledPath {
  readonly read: Read;
  readonly write: Write;
}

/** A union variant: its name (the tag's value) and its fields. */
export interface VariantFields {
  readonly name: string;
  readonly keys: readonly string[];
  readonly readers: readonly Read[];
  readonly writers: readonly Write[];
}

let enabled = true;

/** For tests: builds schemas with generic paths only while `fn` runs (the reference to compare against). */
export function withoutCompiledPaths<T>(fn: () => T): T {
  const was = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = was;
  }
}

const RUNTIME = { DECLINED, MAX_DEPTH, readArrayHeader, readValue, writeArrayHeader, writeValue };
const RUNTIME_NAMES = Object.keys(RUNTIME);

/** A struct as a msgpack array of its fields in order (schema.ts `struct`). */
export function compileStruct(keys: readonly string[], readers: readonly Read[], writers: readonly Write[]): CompiledPath | undefined {
  if (!safeKeys(keys)) return undefined;
  const n = keys.length;
  const body = `
    function read(depth) {
      if (depth >= MAX_DEPTH || readArrayHeader() !== ${n}) return DECLINED;
      const d = depth + 1;
      ${readFieldsCode(keys, 'r')}
      return { ${keys.map((k, i) => `${JSON.stringify(k)}: v${i}`).join(', ')} };
    }
    function write(value, depth) {
      if (depth >= MAX_DEPTH || !writeArrayHeader(${n})) return false;
      const d = depth + 1;
      return ${writeFieldsCode(keys, 'w')};
    }
    return { read, write };`;
  const args: Record<string, unknown> = {};
  nameFields(args, readers, writers, 'r', 'w');
  return generate(body, args);
}

/**
 * A tagged union as `[variant index, ...fields]` (schema.ts `union`): the decoded object has
 * the tag first, then the variant's fields.
 */
export function compileUnion(tag: string, variants: readonly VariantFields[]): CompiledPath | undefined {
  if (!safeKeys([tag]) || variants.some((v) => !safeKeys(v.keys) || v.keys.includes(tag))) return undefined;
  const args: Record<string, unknown> = {};
  for (const [index, v] of variants.entries()) nameFields(args, v.readers, v.writers, `r${index}_`, `w${index}_`);
  const reads = variants.map((v, index) => {
    const prefix = `r${index}_`;
    const fields = v.keys.map((k, i) => `, ${JSON.stringify(k)}: v${i}`).join('');
    return `
      case ${index}: {
        if (length !== ${1 + v.keys.length}) return DECLINED;
        ${readFieldsCode(v.keys, prefix)}
        return { ${JSON.stringify(tag)}: ${JSON.stringify(v.name)}${fields} };
      }`;
  });
  const writes = variants.map((v, index) => {
    const prefix = `w${index}_`;
    const fields = v.keys.length === 0 ? '' : ` && ${writeFieldsCode(v.keys, prefix)}`;
    return `
      case ${JSON.stringify(v.name)}:
        return writeArrayHeader(${1 + v.keys.length}) && writeValue(${index}, d)${fields};`;
  });
  const body = `
    function read(depth) {
      if (depth >= MAX_DEPTH) return DECLINED;
      const length = readArrayHeader();
      if (length < 1) return DECLINED;
      const d = depth + 1;
      const index = readValue(d);
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return DECLINED;
      switch (index) {${reads.join('')}
        default:
          return DECLINED;
      }
    }
    function write(value, depth) {
      if (depth >= MAX_DEPTH) return false;
      const d = depth + 1;
      switch (value[${JSON.stringify(tag)}]) {${writes.join('')}
        default:
          return false; // an unknown variant: the general path throws the encoding error
      }
    }
    return { read, write };`;
  return generate(body, args);
}

/** `const vI = <prefix>I(d); if (vI === DECLINED) return DECLINED;` for each field. */
function readFieldsCode(keys: readonly string[], prefix: string): string {
  return keys.map((_, i) => `const v${i} = ${prefix}${i}(d); if (v${i} === DECLINED) return DECLINED;`).join('\n      ');
}

/** `<prefix>0(value.a, d) && <prefix>1(value.b, d) && ...` (`true` for no fields). */
function writeFieldsCode(keys: readonly string[], prefix: string): string {
  return keys.length === 0 ? 'true' : keys.map((k, i) => `${prefix}${i}(value[${JSON.stringify(k)}], d)`).join(' && ');
}

/** Adds each reader to `args` as `<readPrefix>I` and each writer as `<writePrefix>I`: the names the generated code calls them by. */
function nameFields(args: Record<string, unknown>, readers: readonly Read[], writers: readonly Write[], readPrefix: string, writePrefix: string): void {
  readers.forEach((r, i) => {
    args[`${readPrefix}${i}`] = r;
  });
  writers.forEach((w, i) => {
    args[`${writePrefix}${i}`] = w;
  });
}

const generated = new WeakSet<object>();

/** Whether `fn` is a generated read or write (for tests: which path a schema took). */
export function isCompiledPath(fn: unknown): boolean {
  return typeof fn === 'function' && generated.has(fn);
}

function generate(body: string, args: Record<string, unknown>): CompiledPath | undefined {
  if (!enabled) return undefined;
  const names = [...RUNTIME_NAMES, ...Object.keys(args)];
  let make: (...values: unknown[]) => CompiledPath;
  try {
    make = new Function(...names, `'use strict';${body}`) as typeof make;
  } catch {
    return undefined; // code generation is not allowed here: keep the generic path
  }
  const path = make(...Object.values(RUNTIME), ...Object.values(args));
  generated.add(path.read);
  generated.add(path.write);
  return path;
}

/** Keys that mean the same as a literal's key as they do as a computed one. */
function safeKeys(keys: readonly string[]): boolean {
  return keys.every((k) => k !== '__proto__');
}
