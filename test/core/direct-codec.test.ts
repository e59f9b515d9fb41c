import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.ts';
import { checkDirectCodecs, type Decoded, msgpackCodec } from '../../core/wire/codec.ts';
import { DECLINED } from '../../core/wire/fast-msgpack.ts';
import * as s from '../../core/wire/schema.ts';
import { scenarios } from '../../scenarios/index.ts';

// A codec whose schema is built from the combinators reads and writes messages in place
// (`Schema.read`/`write`); the general path goes through the msgpack value. The two must
// agree on every message: the same bytes out, the same value in, and where the direct path
// takes a body the general path would have taken it too. These tests run both paths on
// every message of whole simulated runs (every protocol, clean and corrupted frames) and
// on generated messages of a schema with every combinator.

/** Counts what the two paths gave; `mismatches` lists where they differ. */
class Comparison {
  encoded = 0;
  encodeDeclined = 0;
  decoded = 0;
  decodeDeclined = 0;
  /** Bodies the direct path declined though the general path decoded them. */
  declinedGood = 0;
  readonly mismatches: string[] = [];

  encodedPair(schema: string, direct: Uint8Array | undefined, general: Uint8Array): void {
    this.encoded++;
    if (direct === undefined) this.encodeDeclined++;
    else if (!sameBytes(direct, general)) this.mismatch(`${schema}: wrote ${hex(direct)}, general path ${hex(general)}`);
  }

  decodedPair(schema: string, body: Uint8Array, direct: unknown, general: Decoded<unknown>): void {
    this.decoded++;
    if (direct === DECLINED) {
      this.decodeDeclined++;
      if (general.ok) this.declinedGood++;
      return;
    }
    if (!general.ok) this.mismatch(`${schema}: read ${hex(body)}, which the general path refuses (${general.error.message})`);
    else if (!deepEqual(direct, general.value)) this.mismatch(`${schema}: read ${hex(body)} differently from the general path`);
  }

  private mismatch(text: string): void {
    if (this.mismatches.length < 5) this.mismatches.push(text);
    else if (this.mismatches.length === 5) this.mismatches.push('...');
  }
}

function compare(): Comparison {
  const c = new Comparison();
  checkDirectCodecs({
    encoded: (schema, direct, general) => c.encodedPair(schema, direct, general),
    decoded: (schema, body, direct, general) => c.decodedPair(schema, body, direct, general),
  });
  return c;
}

afterEach(() => checkDirectCodecs(undefined));

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const hex = (b: Uint8Array) => Buffer.from(b.subarray(0, 48)).toString('hex') + (b.length > 48 ? '…' : '');

/** Same prototype, same own keys in the same order, equal values (bytes by content); `Object.is` for the rest. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Uint8Array) return sameBytes(a, b as Uint8Array);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

// A schema with every combinator, nested.
const inner = s.struct({ id: s.u32, tag: s.optional(s.str({ maxLength: 40 })), ok: s.bool });
const everything = s.union('t', {
  empty: s.struct({}),
  numbers: s.struct({ a: s.u8, b: s.u16, c: s.u32, d: s.uint, e: s.int }),
  blobs: s.struct({ raw: s.bytes({ maxLength: 300 }), fixed: s.bytes({ length: 4 }), digest: s.digest, peer: s.peerId }),
  nested: s.struct({ items: s.array(inner, { maxLength: 20 }), maybe: s.optional(inner), deep: s.array(s.array(s.u8, { maxLength: 3 }), { maxLength: 3 }) }),
});
const codec = msgpackCodec(everything);

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const innerValue = fc.record({ id: fc.nat({ max: 0xffff_ffff }), tag: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), ok: fc.boolean() });
const message = fc.oneof(
  fc.constant({ t: 'empty' as const }),
  fc.record({
    t: fc.constant('numbers' as const),
    a: fc.nat({ max: 0xff }),
    b: fc.nat({ max: 0xffff }),
    c: fc.nat({ max: 0xffff_ffff }),
    d: fc.maxSafeNat(),
    e: fc.maxSafeInteger(),
  }),
  fc.record({
    t: fc.constant('blobs' as const),
    raw: fc.uint8Array({ maxLength: 300 }),
    fixed: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    digest: bytes32.map((b) => s.digest.decode(b, '')),
    peer: bytes32.map((b) => s.peerId.decode(b, '')),
  }),
  fc.record({
    t: fc.constant('nested' as const),
    items: fc.array(innerValue, { maxLength: 20 }),
    maybe: fc.option(innerValue, { nil: undefined }),
    deep: fc.array(fc.array(fc.nat({ max: 0xff }), { maxLength: 3 }), { maxLength: 3 }),
  }),
);

/** A body changed as a faulty peer might change it. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(body: Uint8Array, m: Mutation): Uint8Array {
  const out = Uint8Array.from(body);
  const at = body.length === 0 ? 0 : ('at' in m ? m.at : 0) % body.length;
  switch (m.kind) {
    case 'flip':
      if (out.length > 0) out[at] = (out[at] as number) ^ (1 << m.bit);
      return out;
    case 'set':
      if (out.length > 0) out[at] = m.byte;
      return out;
    case 'cut':
      return out.subarray(0, at);
    case 'grow':
      return Uint8Array.from([...out, ...m.extra]);
  }
}

describe('direct codec path', () => {
  it('is taken by schemas built from the combinators, and not by ones with a decode of their own', () => {
    expect(everything.read).toBeTypeOf('function');
    const custom: s.Schema<number> = { describe: 'custom', decode: (w) => w as number, encode: (v) => v };
    expect(s.struct({ a: s.u8, b: custom }).read).toBeUndefined();
    expect(s.array(custom, { maxLength: 1 }).write).toBeUndefined();
    expect(s.optional(custom).read).toBeUndefined();
  });

  it('writes the bytes and reads the values of the general path (generated messages, and corrupted bodies)', () => {
    const c = compare();
    fc.assert(
      fc.property(message, fc.array(mutation, { maxLength: 3 }), (m, mutations) => {
        const body = codec.encode(m as never);
        const back = codec.decode(body);
        expect(back.ok && back.value).toEqual(m); // fast-check's records have no prototype: toEqual
        let bad = body;
        for (const mu of mutations) bad = mutate(bad, mu);
        codec.decode(bad); // the comparison sees both paths' results
      }),
      { numRuns: 3_000 },
    );
    expect(c.mismatches).toEqual([]);
    expect(c.encodeDeclined).toBeLessThan(c.encoded / 2); // non-ASCII text is the general path's
    expect(c.decoded).toBeGreaterThan(5_000);
    expect(c.decodeDeclined).toBeGreaterThan(100); // the corrupted ones
  });

  it('declines what the general path must judge: non-ASCII text, unknown variants, bytes left over', () => {
    const c = compare();
    const text = codec.encode({ t: 'nested', items: [{ id: 1, tag: 'é', ok: true }], maybe: undefined, deep: [] } as never);
    expect(c.encodeDeclined).toBe(1);
    expect(codec.decode(text).ok).toBe(true);
    expect(c.declinedGood).toBe(1);
    const unknown = codec.decode(Uint8Array.of(0x91, 9));
    expect(unknown.ok || unknown.error).toBeInstanceOf(DecodeError);
    expect(!unknown.ok && unknown.error.kind).toBe('unknown-variant');
    const trailing = codec.decode(Uint8Array.of(0x91, 0, 0));
    expect(trailing.ok).toBe(false);
    expect(c.mismatches).toEqual([]);
  });

  it('the comparison catches a direct path that reads differently (a planted bug)', () => {
    // A u8 whose direct reader accepts 256 and above, which the general path refuses.
    const lax: s.Schema<number> = { ...s.u8, read: s.u16.read };
    const planted = msgpackCodec(s.struct({ a: lax }));
    const c = compare();
    planted.decode(msgpackCodec(s.struct({ a: s.u16 })).encode({ a: 300 }));
    expect(c.mismatches).toHaveLength(1);
    // A u8 whose direct reader is off by one: both paths take the body, with different values.
    const readU8 = s.u8.read as (depth: number) => number | s.Declined;
    const off: s.Schema<number> = { ...s.u8, read: (depth) => ((v) => (v === DECLINED ? v : v + 1))(readU8(depth)) };
    msgpackCodec(s.struct({ a: off })).decode(msgpackCodec(s.struct({ a: s.u8 })).encode({ a: 5 }));
    expect(c.mismatches).toHaveLength(2);
    expect(c.mismatches[1]).toMatch(/differently/);
  });

  // Every message of whole runs, through both paths: every protocol's schemas, real values.
  const runs: [scenario: string, seed: number, corruptFrames?: number][] = [
    ['ping-mesh', 1],
    ['discovery-converge', 1],
    ['streams-churn', 3],
    ['raft-chaos', 1],
    ['collections-catchup', 1],
    ['tickets-attack', 1],
    ['raft-chaos', 2, 0.05],
    ['collections-chaos', 1, 0.02],
  ];
  for (const [name, seed, corruptFrames] of runs) {
    it(`agrees on every message of ${name} seed ${seed}${corruptFrames ? ` with ${corruptFrames * 100}% of frames corrupted` : ''}`, async () => {
      const scenario = scenarios.get(name);
      if (!scenario) throw new Error(`no scenario ${name}`);
      const c = compare();
      const result = await scenario.run({ seed, ...(corruptFrames ? { corruptFrames } : {}) });
      checkDirectCodecs(undefined);
      expect(c.mismatches).toEqual([]);
      expect(c.encoded).toBeGreaterThan(100);
      expect(c.decoded).toBeGreaterThan(100);
      // Every message our nodes write is in the direct path's reach: none is left to the general one.
      expect(c.encodeDeclined).toBe(0);
      if (!corruptFrames) {
        expect(result.ok).toBe(true);
        expect(c.declinedGood).toBe(0);
      } else {
        expect(c.decodeDeclined).toBeGreaterThan(0);
      }
    }, 120_000);
  }
});
