import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_PREFIX_BYTES, Trace, TraceKind, writeNumber } from '../../net-sim/trace.ts';

// The trace hash is what replay by seed compares: two runs that differ anywhere must hash
// differently. Records are hashed in a compact, prefix-free form (net-sim/trace.ts), so
// this checks that distinct record sequences never feed blake3 the same bytes, at the
// boundaries of every width of the compact numbers too.

type Rec = readonly [kind: number, at: number, a: number, b: number, c: number, d: number, bytes: readonly number[]];

function hashOf(records: readonly Rec[]): string {
  const trace = new Trace({ keepLines: false });
  for (const [kind, at, a, b, c, d, bytes] of records) trace.record(at, kind as TraceKind, a, b, c, d, bytes.length > 0 ? Uint8Array.from(bytes) : undefined);
  return trace.hash;
}

const edges = [0, 1, 239, 240, 241, 0xffff, 0x10000, 0xffff_ffff, 2 ** 32, 2 ** 53 - 1, -1, -240, 0.5, 1e-9, Number.MAX_VALUE];
const number = fc.oneof(fc.constantFrom(...edges), fc.integer({ min: -5, max: 70_000 }), fc.double({ noNaN: true }));
const record: fc.Arbitrary<Rec> = fc.tuple(
  fc.constantFrom(...Object.values(TraceKind)),
  fc.constantFrom(0, 1, 240, 0x10000, 1.5),
  number,
  number,
  number,
  number,
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }),
);
/** Records with increasing times: a trace's times never go down. */
const run = fc.array(record, { maxLength: 6 }).map((rs) => {
  let at = 0;
  return rs.map(([kind, dt, ...rest]): Rec => {
    at += dt;
    return [kind, at, ...rest];
  });
});
const key = (rs: readonly Rec[]) => JSON.stringify(rs.map((r) => r.map((x) => (Object.is(x, -0) ? 0 : x))));

/** The compact numbers' reader, written from the format's description: what the trace feeds blake3 can be read back. */
function readNumbers(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let at = 0; at < bytes.length; ) {
    const tag = bytes[at] as number;
    if (tag < 240) {
      out.push(tag);
      at += 1;
    } else if (tag === 240) {
      out.push(view.getUint16(at + 1));
      at += 3;
    } else if (tag === 241) {
      out.push(view.getUint32(at + 1));
      at += 5;
    } else if (tag === 242) {
      out.push(view.getFloat64(at + 1));
      at += 9;
    } else throw new Error(`no compact number starts with ${tag}`);
  }
  return out;
}

describe('compact numbers', () => {
  it('read back as written, so the record form is one-to-one', () => {
    fc.assert(
      fc.property(fc.array(number, { maxLength: 12 }), (numbers) => {
        const buffer = new Uint8Array(12 * 9);
        const view = new DataView(buffer.buffer);
        let at = 0;
        for (const n of numbers) at = writeNumber(buffer, view, at, n);
        expect(readNumbers(buffer.subarray(0, at))).toEqual(numbers.map((n) => (Object.is(n, -0) ? 0 : n)));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('Trace', () => {
  it('distinct record sequences hash differently', () => {
    fc.assert(
      fc.property(run, run, (x, y) => {
        fc.pre(key(x) !== key(y));
        expect(hashOf(x)).not.toBe(hashOf(y));
      }),
      { numRuns: 2_000 },
    );
  });

  it('one number per width boundary moves the hash', () => {
    const hashes = edges.map((n) => hashOf([[TraceKind.deliver, 0, n, 0, 0, 0, []]]));
    expect(new Set(hashes).size).toBe(edges.length);
    // The same number in another field is another record.
    expect(hashOf([[TraceKind.deliver, 0, 300, 0, 0, 0, []]])).not.toBe(hashOf([[TraceKind.deliver, 0, 0, 300, 0, 0, []]]));
  });

  it('hashes bytes of any length, across the buffer boundary', () => {
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    const t1 = new Trace({ keepLines: false });
    const t2 = new Trace({ keepLines: false });
    for (let i = 0; i < 3; i++) t1.record(i, TraceKind.deliver, i, 0, 0, 0, big);
    for (let i = 0; i < 3; i++) t2.record(i, TraceKind.deliver, i, 0, 0, 0, big.slice());
    expect(t1.hash).toBe(t2.hash);
    const t3 = new Trace({ keepLines: false });
    big[199_999] = (big[199_999] as number) ^ 1;
    for (let i = 0; i < 3; i++) t3.record(i, TraceKind.deliver, i, 0, 0, 0, big);
    expect(t3.hash).not.toBe(t1.hash);
  });

  it('an id in an event is hashed by its first bytes', () => {
    const id = (last: number, first = 7) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? first : i === 31 ? last : i));
    const eventHash = (bytes: Uint8Array) => {
      const t = new Trace({ keepLines: false });
      t.record(5, TraceKind.event, 1, 3, 42, 0, bytes, undefined, ID_PREFIX_BYTES);
      return t.hash;
    };
    expect(eventHash(id(1))).toBe(eventHash(id(2)));
    expect(eventHash(id(1, 8))).not.toBe(eventHash(id(1)));
  });
});
