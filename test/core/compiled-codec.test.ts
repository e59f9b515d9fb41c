import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bondCodec } from '../../core/groups/wire.ts';
import { msgpackCodec } from '../../core/wire/codec.ts';
import { isCompiledPath, withoutCompiledPaths } from '../../core/wire/compile.ts';
import { beginRead, beginWrite, DECLINED, endRead, fastEncoded, writtenLength } from '../../core/wire/fast-msgpack.ts';
import * as s from '../../core/wire/schema.ts';

// Structs and unions read and write through generated straight-line code (core/wire/
// compile.ts). It must be the same function as the generic direct path it replaces: the
// same bytes written or the same refusal, the same value read or the same DECLINED, for
// every message and every corrupted body. (test/core/direct-codec.test.ts compares the
// direct path, now the generated one, with the general path besides.)

/** The same schema twice: with generated paths, and with the generic ones only. */
function both<T>(build: () => s.Schema<T>): { compiled: s.Schema<T>; generic: s.Schema<T> } {
  return { compiled: build(), generic: withoutCompiledPaths(build) };
}

const build = () => {
  const inner = s.struct({ id: s.u32, tag: s.optional(s.str({ maxLength: 40 })), ok: s.bool });
  return s.union('t', {
    empty: s.struct({}),
    numbers: s.struct({ a: s.u8, b: s.u16, c: s.u32, d: s.uint, e: s.int }),
    blobs: s.struct({ raw: s.bytes({ maxLength: 300 }), fixed: s.bytes({ length: 4 }) }),
    nested: s.struct({ items: s.array(inner, { maxLength: 20 }), maybe: s.optional(inner), deep: s.array(s.array(s.u8, { maxLength: 3 }), { maxLength: 3 }) }),
    'odd key': s.struct({ 'with space': s.u8, "quote'd": s.bool, 'dot.ted': s.optional(s.u8) }),
  });
};

const innerValue = fc.record({ id: fc.nat({ max: 0xffff_ffff }), tag: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), ok: fc.boolean() });
/** Well-formed messages, and some that are not (out-of-range numbers, unknown variants, missing fields). */
const message = fc.oneof(
  fc.constant({ t: 'empty' }),
  fc.record({
    t: fc.constant('numbers'),
    a: fc.integer({ min: -1, max: 0x100 }),
    b: fc.nat({ max: 0xffff }),
    c: fc.nat({ max: 0xffff_ffff }),
    d: fc.maxSafeNat(),
    e: fc.maxSafeInteger(),
  }),
  fc.record({ t: fc.constant('blobs'), raw: fc.uint8Array({ maxLength: 300 }), fixed: fc.uint8Array({ minLength: 3, maxLength: 5 }) }),
  fc.record({
    t: fc.constant('nested'),
    items: fc.array(innerValue, { maxLength: 21 }),
    maybe: fc.option(innerValue, { nil: undefined }),
    deep: fc.array(fc.array(fc.nat({ max: 0xff }), { maxLength: 3 }), { maxLength: 3 }),
  }),
  fc.record({
    t: fc.constant('odd key'),
    'with space': fc.nat({ max: 0xff }),
    "quote'd": fc.boolean(),
    'dot.ted': fc.option(fc.nat({ max: 0xff }), { nil: undefined }),
  }),
  fc.record({ t: fc.constantFrom('unknown', 'toString', undefined), a: fc.nat() }),
);

function write<T>(schema: s.Schema<T>, value: T): Uint8Array | undefined {
  beginWrite();
  let ok: boolean;
  try {
    ok = (schema.write as NonNullable<s.Schema<T>['write']>)(value, 0);
  } catch {
    ok = false;
  }
  return ok ? fastEncoded().slice(0, writtenLength()) : undefined;
}

function read<T>(schema: s.Schema<T>, body: Uint8Array): unknown {
  beginRead(body);
  let value: unknown;
  try {
    value = (schema.read as NonNullable<s.Schema<T>['read']>)(0);
  } catch {
    value = DECLINED;
  }
  return endRead() ? value : DECLINED;
}

describe('generated struct and union paths', () => {
  it('are what structs and unions built from the combinators use', () => {
    const { compiled, generic } = both(build);
    expect(isCompiledPath(compiled.read)).toBe(true);
    expect(isCompiledPath(compiled.write)).toBe(true);
    expect(isCompiledPath(generic.read)).toBe(false);
    expect(isCompiledPath(s.struct({ a: s.u8 }).read)).toBe(true);
    // The protocols' own codecs: a Raft message on a bond.
    const raft = { t: 'raft', formation: new Uint8Array(32), msg: { type: 'heartbeat', term: 1, commit: 2, round: 3 } } as const;
    expect(bondCodec.decode(bondCodec.encode(raft as never))).toEqual({ ok: true, value: raft });
  });

  it('write the same bytes and read the same values as the generic paths (generated messages, corrupted bodies)', () => {
    const { compiled, generic } = both(build);
    let written = 0;
    let declined = 0;
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }), fc.nat({ max: 8 }), (m, edits, cut) => {
        const a = write(compiled, m as never);
        const b = write(generic, m as never);
        expect(a).toEqual(b);
        if (a === undefined) return;
        written++;
        expect(read(compiled, a)).toEqual(read(generic, a));
        const bad = Uint8Array.from(a);
        for (const [at, byte] of edits) if (bad.length > 0) bad[at % bad.length] = byte;
        for (const body of [bad, a.subarray(0, Math.max(0, a.length - cut))]) {
          const got = read(compiled, body);
          expect(got).toEqual(read(generic, body));
          if (got === DECLINED) declined++;
        }
      }),
      { numRuns: 3_000 },
    );
    expect(written).toBeGreaterThan(1_500);
    expect(declined).toBeGreaterThan(500);
  });

  it('the comparison fails on paths that differ (a planted bug: two fields swapped)', () => {
    const compiled = s.struct({ a: s.u8, b: s.u8 });
    const generic = withoutCompiledPaths(() => s.struct({ b: s.u8, a: s.u8 }));
    const run = fc.check(
      fc.property(fc.nat({ max: 0xff }), fc.nat({ max: 0xff }), (a, b) => {
        expect(write(compiled, { a, b })).toEqual(write(generic, { a, b }));
      }),
      { numRuns: 200 },
    );
    expect(run.failed).toBe(true);
  });

  it('keep the decoded object shape: the tag first, then the fields in declared order', () => {
    const codec = msgpackCodec(build());
    const back = codec.decode(codec.encode({ t: 'numbers', a: 1, b: 2, c: 3, d: 4, e: -5 } as never));
    expect(back.ok && Object.keys(back.value)).toEqual(['t', 'a', 'b', 'c', 'd', 'e']);
  });

  it('fall back to the generic paths where code generation is not allowed', () => {
    const original = globalThis.Function;
    globalThis.Function = function refused() {
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    let schema: s.Schema<{ a: number }>;
    try {
      schema = s.struct({ a: s.u8 });
    } finally {
      globalThis.Function = original;
    }
    expect(isCompiledPath(schema.read)).toBe(false);
    const codec = msgpackCodec(schema);
    expect(codec.decode(codec.encode({ a: 7 }))).toEqual({ ok: true, value: { a: 7 } });
  });
});
