import { Decoder, Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECLINED, fastDecode, fastEncode, fastEncoded } from '../../core/wire/fast-msgpack.ts';

// The library configured as core/wire/codec.ts configures it.
const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: false });

function libraryDecode(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: decoder.decode(bytes) };
  } catch {
    return { ok: false };
  }
}

/** Values shaped like what schemas produce, and some that are not (maps, big and odd numbers, text). */
const wireValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.integer({ min: -40, max: 300 }),
    fc.maxSafeInteger(),
    fc.double(),
    fc.constantFrom(0, -0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 10 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

describe('fast msgpack path', () => {
  it('encodes exactly the bytes the library encodes, whenever it does not decline', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const length = fastEncode(value);
        if (length < 0) return;
        expect(Array.from(fastEncoded().subarray(0, length))).toEqual(Array.from(encoder.encode(value)));
      }),
      { numRuns: 3_000 },
    );
  });

  it('covers what the schemas produce: arrays of integers, ASCII, bytes, booleans, nil', () => {
    const value = [3, [0, 300, 70_000, -5, -200, 1_764_000_000_000, -(2 ** 40)], 'hello', new Uint8Array(32).fill(7), true, null, [[], 1.5]];
    expect(fastEncode(value)).toBeGreaterThan(0);
    const bytes = encoder.encode(value);
    expect(fastDecode(bytes)).toEqual(decoder.decode(bytes));
  });

  it('decodes exactly the value the library decodes from what it encodes, whenever it does not decline', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const bytes = encoder.encode(value);
        const fast = fastDecode(bytes);
        if (fast === DECLINED) return;
        expect(fast).toEqual(decoder.decode(bytes));
      }),
      { numRuns: 3_000 },
    );
  });

  it('declines every input the library rejects, and agrees on the rest (arbitrary and mutated bytes)', () => {
    const encoded = wireValue.map((v) => encoder.encode(v));
    const mutated = fc.tuple(encoded, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: -3, max: 3 })).map(([bytes, at, byte, cut]) => {
      const copy = Uint8Array.from(bytes);
      if (copy.length > 0) copy[at % copy.length] = byte;
      return cut < 0 ? copy.subarray(0, Math.max(0, copy.length + cut)) : Uint8Array.from([...copy, ...new Array(cut).fill(0)]);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), mutated), (bytes) => {
        const fast = fastDecode(bytes);
        const library = libraryDecode(bytes);
        if (!library.ok) expect(fast).toBe(DECLINED);
        else if (fast !== DECLINED) expect(fast).toEqual(library.value);
      }),
      { numRuns: 5_000 },
    );
  });

  it('covers plain objects (maps with ASCII keys), as applications send them', () => {
    const value = { op: 'write', v: 12, nested: { list: [1, 'a'], empty: {} }, none: undefined, gone: null };
    const length = fastEncode(value);
    expect(length).toBeGreaterThan(0);
    expect(Array.from(fastEncoded().subarray(0, length))).toEqual(Array.from(encoder.encode(value)));
    const bytes = encoder.encode(value);
    expect(fastDecode(bytes)).toStrictEqual(decoder.decode(bytes));
    const bare = Object.assign(Object.create(null), { a: 1 });
    expect(fastEncode(bare)).toBeGreaterThan(0);
    expect(Array.from(fastEncoded().subarray(0, fastEncode(bare)))).toEqual(Array.from(encoder.encode(bare)));
  });

  it('leaves to the library what only it does: Dates, class instances, number keys, a __proto__ key', () => {
    expect(fastEncode({ at: new Date(0) })).toBe(-1); // a timestamp extension
    class Point {
      x = 1;
    }
    expect(fastEncode(new Point())).toBe(-1);
    expect(fastEncode({ é: 1 })).toBe(-1);
    const numberKey = Uint8Array.of(0x81, 0x01, 0xa1, 0x61); // {1: 'a'}
    expect(fastDecode(numberKey)).toBe(DECLINED);
    expect(decoder.decode(numberKey)).toEqual({ 1: 'a' });
    const proto = Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01);
    expect(fastDecode(proto)).toBe(DECLINED);
    expect(libraryDecode(proto).ok).toBe(false);
  });

  it('declines a call made from inside another (a getter that encodes), leaving the outer one exact', () => {
    let inner = 0;
    const value = {
      a: 1,
      get b() {
        inner = fastEncode([1, 2, 3]);
        return 'x';
      },
    };
    const length = fastEncode(value);
    expect(inner).toBe(-1);
    expect(Array.from(fastEncoded().subarray(0, length))).toEqual(Array.from(encoder.encode(value)));
  });

  it('grows its scratch buffer for large values and keeps the bytes exact', () => {
    const value = [1, new Uint8Array(10_000).map((_, i) => i), Array.from({ length: 2_000 }, (_, i) => i * 37)];
    const length = fastEncode(value);
    expect(Array.from(fastEncoded().subarray(0, length))).toEqual(Array.from(encoder.encode(value)));
  });

  it('decodes byte strings as views into the body, as the library does', () => {
    const body = encoder.encode([1, new Uint8Array([9, 8, 7])]);
    const fast = fastDecode(body) as [number, Uint8Array];
    expect(fast[1].buffer).toBe(body.buffer);
    expect(Array.from(fast[1])).toEqual([9, 8, 7]);
  });

  it('encodes repeated long strings to the library bytes, ASCII or not, past the size of its table', () => {
    const texts = Array.from({ length: 1500 }, (_, i) => `member-${i.toString(16).padStart(8, '0')}-${'z'.repeat(i % 90)}`);
    const nonAscii = ['é'.repeat(20), `${'a'.repeat(30)}€`, `ascii-prefix-then-${'ü'.repeat(3)}`];
    for (let round = 0; round < 3; round++) {
      for (const t of [...texts, ...nonAscii, ...texts.slice(0, 40)]) {
        const value = [t, round, t];
        const n = fastEncode(value);
        if (n < 0) continue; // declined: the library writes it
        expect(fastEncoded().subarray(0, n)).toEqual(encoder.encode(value));
      }
    }
    // The non-ASCII ones are the library's every time (no cached bytes of a failed write).
    for (const t of nonAscii) expect(fastEncode(t)).toBe(-1);
  });

  it('decodes repeated strings to the same string, and never confuses two that share a slot', () => {
    const id = `${'ab'.repeat(32)}.0123456789abcdef`;
    const first = fastDecode(encoder.encode([id, 1])) as [string, number];
    const again = fastDecode(encoder.encode([2, id])) as [number, string];
    expect(again[1]).toBe(first[0]);
    // Many distinct long strings (more than the table has slots), each decoded twice in a
    // row and again later, some differing from another in one character only.
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.stringMatching(/^[ -~]{13,60}$/), fc.stringMatching(/^[ -~]{1,12}$/)), { minLength: 1, maxLength: 600 }), (texts) => {
        // The slot is a hash of the length and the first and last eight bytes: a variant
        // that differs only in between lands in the same slot, and must not be taken for it.
        const middle = (t: string) => Math.floor(t.length / 2);
        const swap = (c: string) => (c === 'x' ? 'y' : 'x');
        const variants = texts.flatMap((t) => [
          t,
          `${t.slice(0, -1)}${swap(t.slice(-1))}`,
          `${t.slice(0, middle(t))}${swap(t[middle(t)] as string)}${t.slice(middle(t) + 1)}`,
        ]);
        for (const t of [...variants, ...variants.reverse()]) expect(fastDecode(encoder.encode(t))).toBe(t);
      }),
      { numRuns: 50 },
    );
  });
});
