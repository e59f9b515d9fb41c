import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { CloseCode, closeCodeName, DecodeError, Digest, OversizedError, SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';
import type { DecodeErrorKind } from '../../core/errors.ts';
import { HANDSHAKE_VERSION, handshakeCodec } from '../../core/node/link-handshake.ts';
import { pingCodec } from '../../core/ping/ping.ts';
import { checkFrameSize, type Decoded, type MessageCodec, msgpackCodec } from '../../core/wire/codec.ts';
import { Protocols, protocolId } from '../../core/wire/protocol.ts';
import * as s from '../../core/wire/schema.ts';

const KINDS: readonly DecodeErrorKind[] = ['truncated', 'malformed', 'unknown-variant', 'oversized', 'invalid'];
const SEED = 42;

function decodeErr<T>(codec: MessageCodec<T>, body: Uint8Array): DecodeError {
  const r = codec.decode(body);
  if (r.ok) throw new Error(`expected a decode error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

// The wire format is positional (structs are arrays of their fields; a union is
// `[variant index, ...fields]`). The cases below are easier to read written as objects, so
// `positional` turns an object-shaped case into what a peer would send: fields in schema
// order, missing ones left out, unknown ones appended, an unknown variant name as an
// out-of-range index, and anything else (a wrong tag type, a non-object) passed as it is.
type Fields = readonly (readonly [string, Shape?])[];
type Shape = { struct: Fields } | { array: Shape } | { union: { tag: string; variants: Record<string, Fields> } };

function positional(value: unknown, shape: Shape | undefined): unknown {
  if (!shape) return value;
  if ('array' in shape) return Array.isArray(value) ? value.map((v) => positional(v, shape.array)) : value;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return value;
  const record = value as Record<string, unknown>;
  if ('struct' in shape) return fieldsOf(record, shape.struct, [], undefined);
  const { tag, variants } = shape.union;
  const name = record[tag];
  const known = typeof name === 'string' && Object.hasOwn(variants, name);
  const index = known ? Object.keys(variants).indexOf(name) : typeof name === 'string' ? 1000 : name === undefined ? null : String(name);
  return fieldsOf(record, known ? (variants[name] as Fields) : [], [index], tag);
}

function fieldsOf(record: Record<string, unknown>, fields: Fields, out: unknown[], tag: string | undefined): unknown[] {
  for (const [k, sub] of fields) if (Object.hasOwn(record, k)) out.push(positional(record[k], sub));
  for (const k of Object.keys(record)) if (k !== tag && !fields.some(([f]) => f === k)) out.push(record[k]);
  return out;
}

const PING_SHAPE: Shape = { union: { tag: 't', variants: { ping: [['id']], pong: [['id']] } } };
const HANDSHAKE_SHAPE: Shape = {
  union: { tag: 't', variants: { hello: [['v'], ['protocol'], ['network'], ['nonce'], ['maxFrame']], welcome: [['v'], ['nonce'], ['maxFrame']] } },
};
const shapes = new Map<MessageCodec<never>, Shape>();

function wireBytes<T>(codec: MessageCodec<T>, wire: unknown): Uint8Array {
  return encode(positional(wire, shapes.get(codec as MessageCodec<never>)));
}

function kindOf<T>(codec: MessageCodec<T>, wire: unknown): DecodeErrorKind {
  return decodeErr(codec, wireBytes(codec, wire)).kind;
}

function ok<T>(r: Decoded<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.message}`);
  return r.value;
}

const nonce = new Uint8Array(32).fill(9);
const network = Digest.from('net');
const maxFrame = 8 * 1024 * 1024;
const hello = { t: 'hello', v: HANDSHAKE_VERSION, protocol: Protocols.ping, network, nonce, maxFrame } as const;
const welcome = { t: 'welcome', v: HANDSHAKE_VERSION, nonce, maxFrame } as const;
// What `hello` looks like on the wire (digests travel as their 32 bytes).
const helloWire = { t: 'hello', v: 2, protocol: '/mosaik/ping/1', network: network.bytes, nonce, maxFrame };
shapes.set(pingCodec as MessageCodec<never>, PING_SHAPE);
shapes.set(handshakeCodec as MessageCodec<never>, HANDSHAKE_SHAPE);

describe('ping codec', () => {
  it('round-trips both variants', () => {
    for (const m of [
      { t: 'ping', id: 0 },
      { t: 'ping', id: 1 },
      { t: 'pong', id: 2 ** 32 },
      { t: 'pong', id: Number.MAX_SAFE_INTEGER },
    ] as const) {
      expect(ok(pingCodec.decode(pingCodec.encode(m)))).toEqual(m);
    }
  });

  it('round-trips any uint id (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('ping' as const, 'pong' as const), fc.maxSafeNat(), (t, id) => {
        expect(ok(pingCodec.decode(pingCodec.encode({ t, id })))).toEqual({ t, id });
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('reports every truncation of a valid body as truncated', () => {
    const body = pingCodec.encode({ t: 'pong', id: 123456789 });
    for (let n = 0; n < body.length; n++) {
      const e = decodeErr(pingCodec, body.subarray(0, n));
      expect(e.kind, `${n} bytes`).toBe('truncated');
    }
  });

  it('reports trailing bytes and reserved type bytes as malformed', () => {
    expect(decodeErr(pingCodec, new Uint8Array([...pingCodec.encode({ t: 'ping', id: 1 }), 0])).kind).toBe('malformed');
    expect(decodeErr(pingCodec, new Uint8Array([0xc1])).kind).toBe('malformed');
    // A map key that is neither a string nor a number.
    expect(decodeErr(pingCodec, new Uint8Array([0x81, 0x90, 0x01])).kind).toBe('malformed');
    // `__proto__` as a key must not reach an object.
    expect(decodeErr(pingCodec, encode(JSON.parse('{"t":"ping","id":1,"__proto__":1}'))).kind).toBe('malformed');
    // A timestamp extension with an impossible size.
    expect(decodeErr(pingCodec, new Uint8Array([0xd5, 0xff, 0x00, 0x00])).kind).toBe('malformed');
  });

  it('reports an unknown tag as unknown-variant', () => {
    expect(kindOf(pingCodec, { t: 'pang', id: 1 })).toBe('unknown-variant');
    expect(kindOf(pingCodec, { t: '', id: 1 })).toBe('unknown-variant');
    expect(kindOf(pingCodec, { t: '__proto__', id: 1 })).toBe('unknown-variant');
    expect(kindOf(pingCodec, { t: 'constructor', id: 1 })).toBe('unknown-variant');
    expect(kindOf(pingCodec, { t: 'toString' })).toBe('unknown-variant');
  });

  it.each([
    ['a string id', { t: 'ping', id: '1' }],
    ['a bool id', { t: 'ping', id: true }],
    ['a null id', { t: 'ping', id: null }],
    ['a bytes id', { t: 'ping', id: new Uint8Array([1]) }],
    ['a negative id', { t: 'ping', id: -1 }],
    ['a fractional id', { t: 'pong', id: 1.5 }],
    ['a NaN id', { t: 'pong', id: Number.NaN }],
    ['an infinite id', { t: 'pong', id: Number.POSITIVE_INFINITY }],
    ['an id above 2^53', { t: 'pong', id: 2 ** 53 }],
    ['a missing id', { t: 'ping' }],
    ['an extra field', { t: 'ping', id: 1, x: 2 }],
    ['an extra field named like a prototype member', { t: 'ping', id: 1, constructor: 1 }],
    ['a missing tag', { id: 1 }],
    ['a numeric tag', { t: 1, id: 1 }],
    ['a root array with a name for a tag', ['ping', 1]],
    ['a root number', 7],
    ['a root string', 'ping'],
    ['a root nil', null],
    ['root bytes', new Uint8Array(4)],
    ['a root map with numeric keys', { 1: 2 }],
  ])('reports %s as invalid', (_label, wire) => {
    expect(kindOf(pingCodec, wire)).toBe('invalid');
  });

  it('reports a map (where the positional array belongs) as invalid', () => {
    expect(decodeErr(pingCodec, encode({ t: 'ping', id: 1 })).kind).toBe('invalid');
    expect(decodeErr(pingCodec, encode({ 0: 0, 1: 1 })).kind).toBe('invalid');
  });

  it('reports 64-bit ids outside the safe range as invalid', () => {
    expect(decodeErr(pingCodec, encode([0, 2n ** 64n - 1n], { useBigInt64: true })).kind).toBe('invalid');
    expect(decodeErr(pingCodec, encode([0, -(2n ** 63n)], { useBigInt64: true })).kind).toBe('invalid');
  });

  it('errors close the link with ProtocolViolation', () => {
    const e = decodeErr(pingCodec, new Uint8Array([0xc1]));
    expect(e).toBeInstanceOf(DecodeError);
    expect(e.closeCode).toBe(CloseCode.ProtocolViolation);
    expect(e.code).toBe('DECODE');
    expect(e.name).toBe('DecodeError');
    expect(e.message.startsWith('malformed: ')).toBe(true);
  });
});

describe('link handshake codec', () => {
  it('round-trips hello and welcome', () => {
    const h = ok(handshakeCodec.decode(handshakeCodec.encode(hello)));
    expect(h).toMatchObject({ t: 'hello', v: 2, protocol: '/mosaik/ping/1', nonce, maxFrame });
    expect(h.t === 'hello' && h.network.equals(network)).toBe(true);
    expect(h.t === 'hello' && h.network).toBeInstanceOf(Digest);
    expect(ok(handshakeCodec.decode(handshakeCodec.encode(welcome)))).toEqual(welcome);
    expect(ok(handshakeCodec.decode(wireBytes(handshakeCodec, helloWire)))).toMatchObject({ t: 'hello', protocol: '/mosaik/ping/1' });
  });

  it('reports every truncation of a valid hello as truncated', () => {
    const body = handshakeCodec.encode(hello);
    for (let n = 0; n < body.length; n++) expect(decodeErr(handshakeCodec, body.subarray(0, n)).kind, `${n} bytes`).toBe('truncated');
  });

  it('reports an unknown tag as unknown-variant', () => {
    expect(kindOf(handshakeCodec, { ...helloWire, t: 'helo' })).toBe('unknown-variant');
    expect(kindOf(handshakeCodec, { t: 'goodbye' })).toBe('unknown-variant');
  });

  it.each([
    ['a 31-byte network', { ...helloWire, network: new Uint8Array(31) }],
    ['a 33-byte network', { ...helloWire, network: new Uint8Array(33) }],
    ['a string network', { ...helloWire, network: network.hex }],
    ['a 31-byte nonce', { ...helloWire, nonce: new Uint8Array(31) }],
    ['an empty nonce in welcome', { ...welcome, nonce: new Uint8Array(0) }],
    ['a version above u8', { ...helloWire, v: 256 }],
    ['a negative version', { ...helloWire, v: -1 }],
    ['a string version', { ...helloWire, v: '1' }],
    ['a bytes protocol', { ...helloWire, protocol: new Uint8Array(3) }],
    ['a missing network', { t: 'hello', v: 1, protocol: 'p', nonce }],
    ['a missing nonce', { t: 'welcome', v: 1 }],
    ['a hello field in welcome', { ...welcome, protocol: 'p' }],
    ['an extra field', { ...helloWire, extra: 0 }],
  ])('reports %s as invalid', (_label, wire) => {
    expect(kindOf(handshakeCodec, wire)).toBe('invalid');
  });

  it('reports a protocol name over 128 characters as oversized', () => {
    expect(ok(handshakeCodec.decode(wireBytes(handshakeCodec, { ...helloWire, protocol: 'x'.repeat(128) }))).t).toBe('hello');
    expect(kindOf(handshakeCodec, { ...helloWire, protocol: 'x'.repeat(129) })).toBe('oversized');
  });
});

describe('schema', () => {
  const item = s.struct({ k: s.str({ maxLength: 4 }), n: s.u16 });
  const schema = s.struct({
    a: s.u8,
    b: s.u16,
    c: s.u32,
    d: s.uint,
    e: s.int,
    f: s.bool,
    g: s.str({ maxLength: 8 }),
    h: s.bytes({ maxLength: 4 }),
    i: s.bytes({ length: 2 }),
    j: s.digest,
    k: s.peerId,
    l: s.array(item, { maxLength: 3 }),
    m: s.optional(s.u8),
    n: s.union('kind', { x: s.struct({}), y: s.struct({ z: s.bool }) }),
  });
  const everything = msgpackCodec(schema);
  const ITEM: Shape = { struct: [['k'], ['n']] };
  shapes.set(everything as MessageCodec<never>, {
    struct: [
      ['a'],
      ['b'],
      ['c'],
      ['d'],
      ['e'],
      ['f'],
      ['g'],
      ['h'],
      ['i'],
      ['j'],
      ['k'],
      ['l', { array: ITEM }],
      ['m'],
      ['n', { union: { tag: 'kind', variants: { x: [], y: [['z']] } } }],
    ],
  });
  const peer = SecretKey.fromSeed('p').peerId;
  const value: s.Infer<typeof schema> = {
    a: 255,
    b: 65535,
    c: 2 ** 32 - 1,
    d: Number.MAX_SAFE_INTEGER,
    e: -Number.MAX_SAFE_INTEGER,
    f: false,
    g: 'eightchr',
    h: new Uint8Array([1, 2, 3, 4]),
    i: new Uint8Array([5, 6]),
    j: network,
    k: peer,
    l: [
      { k: 'a', n: 1 },
      { k: 'bcde', n: 2 },
    ],
    m: undefined,
    n: { kind: 'y', z: true },
  };
  const wire = () => ({ ...value, j: network.bytes, k: peer.bytes, l: value.l.map((x) => ({ ...x })), m: null, n: { kind: 'y', z: true } });

  it('round-trips a value using every schema', () => {
    const back = ok(everything.decode(everything.encode(value)));
    expect(back).toEqual(value);
    expect(back.j.equals(network)).toBe(true);
    expect(back.k.equals(peer)).toBe(true);
    expect(ok(everything.decode(everything.encode({ ...value, m: 7, n: { kind: 'x' } })))).toMatchObject({ m: 7, n: { kind: 'x' } });
  });

  it('decodes an absent optional field (nil on the wire) as undefined; leaving it out is invalid', () => {
    expect(ok(everything.decode(wireBytes(everything, wire()))).m).toBeUndefined();
    const { m: _m, ...rest } = wire();
    expect(kindOf(everything, rest)).toBe('invalid');
  });

  it.each([
    ['u8 above 255', { a: 256 }],
    ['u16 above 65535', { b: 65536 }],
    ['u32 above 2^32-1', { c: 2 ** 32 }],
    ['uint above 2^53-1', { d: 2 ** 53 }],
    ['int beyond the safe range', { e: -(2 ** 53) }],
    ['int fractional', { e: 0.5 }],
    ['bool as a number', { f: 0 }],
    ['exact bytes too short', { i: new Uint8Array(1) }],
    ['exact bytes too long', { i: new Uint8Array(3) }],
    ['a 31-byte digest', { j: new Uint8Array(31) }],
    ['a 31-byte peer id', { k: new Uint8Array(31) }],
    ['an array of the wrong item', { l: [{ k: 'a', n: -1 }] }],
    ['an array item with an extra field', { l: [{ k: 'a', n: 1, o: 1 }] }],
    ['a map instead of an array', { l: { 0: { k: 'a', n: 1 } } }],
    ['a wrong optional', { m: 'x' }],
    ['a nested variant with a missing field', { n: { kind: 'y' } }],
  ])('reports %s as invalid', (_label, patch) => {
    expect(kindOf(everything, { ...wire(), ...patch })).toBe('invalid');
  });

  it.each([
    ['a string over its limit', { g: 'ninechars' }],
    ['bytes over their limit', { h: new Uint8Array(5) }],
    [
      'an array over its limit',
      {
        l: [
          { k: 'a', n: 1 },
          { k: 'a', n: 1 },
          { k: 'a', n: 1 },
          { k: 'a', n: 1 },
        ],
      },
    ],
    ['a nested string over its limit', { l: [{ k: 'abcde', n: 1 }] }],
  ])('reports %s as oversized', (_label, patch) => {
    expect(kindOf(everything, { ...wire(), ...patch })).toBe('oversized');
  });

  it('says how big an oversized value was', () => {
    expect(decodeErr(everything, wireBytes(everything, { ...wire(), g: 'ninechars' })).message).toBe('oversized: g: expected str(<=8), got string[9]');
    expect(decodeErr(everything, wireBytes(everything, { ...wire(), h: new Uint8Array(5) })).message).toBe('oversized: h: expected bytes(<=4), got bytes[5]');
    expect(decodeErr(everything, wireBytes(everything, { ...wire(), l: [1, 2, 3, 4] })).message).toContain('got array[4]');
  });

  it('reports an unknown nested variant as unknown-variant', () => {
    expect(kindOf(everything, { ...wire(), n: { kind: 'w' } })).toBe('unknown-variant');
  });

  it('names the path of the offending field', () => {
    expect(
      decodeErr(
        everything,
        wireBytes(everything, {
          ...wire(),
          l: [
            { k: 'a', n: 1 },
            { k: 'a', n: 'x' },
          ],
        }),
      ).message,
    ).toContain('l[1].n');
    expect(decodeErr(everything, wireBytes(everything, { ...wire(), n: { kind: 'y', z: 1 } })).message).toContain('n.z');
  });

  it('round-trips arbitrary values (property)', () => {
    const arb = fc.record({
      a: fc.integer({ min: 0, max: 255 }),
      b: fc.integer({ min: 0, max: 65535 }),
      c: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      d: fc.maxSafeNat(),
      e: fc.maxSafeInteger(),
      f: fc.boolean(),
      g: fc.string({ maxLength: 8 }),
      h: fc.uint8Array({ maxLength: 4 }),
      i: fc.uint8Array({ minLength: 2, maxLength: 2 }),
      j: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Digest.wrap(b)),
      k: fc.constant(peer),
      l: fc.array(fc.record({ k: fc.string({ maxLength: 4 }), n: fc.integer({ min: 0, max: 65535 }) }), { maxLength: 3 }),
      m: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
      n: fc.oneof(
        fc.constant({ kind: 'x' as const }),
        fc.boolean().map((z) => ({ kind: 'y' as const, z })),
      ),
    });
    fc.assert(
      fc.property(arb, (v) => {
        const back = ok(everything.decode(everything.encode(v)));
        // -0 travels as 0; everything else exactly.
        expect(back).toEqual({ ...v, e: v.e === 0 ? 0 : v.e });
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('decode totality', () => {
  type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'truncate'; to: number } | { kind: 'append'; bytes: Uint8Array };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), to: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );
  function mutate(body: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
    let out = Uint8Array.from(body);
    for (const m of mutations) {
      if (m.kind === 'flip' && out.length > 0) {
        const i = m.at % out.length;
        out[i] = (out[i] as number) ^ (1 << m.bit);
      } else if (m.kind === 'truncate') {
        out = out.subarray(0, m.to % (out.length + 1));
      } else if (m.kind === 'append') {
        out = new Uint8Array([...out, ...m.bytes]);
      }
    }
    return out;
  }
  const pingMessage = fc.record({ t: fc.constantFrom('ping' as const, 'pong' as const), id: fc.maxSafeNat() });
  const handshakeMessage = fc.oneof(
    fc.record({
      t: fc.constant('hello' as const),
      v: fc.integer({ min: 0, max: 255 }),
      protocol: fc.string({ maxLength: 128 }),
      network: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Digest.wrap(b)),
      nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      maxFrame: fc.nat({ max: 2 ** 32 - 1 }),
    }),
    fc.record({
      t: fc.constant('welcome' as const),
      v: fc.integer({ min: 0, max: 255 }),
      nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      maxFrame: fc.nat({ max: 2 ** 32 - 1 }),
    }),
  );
  const validBody = fc.oneof(
    pingMessage.map((m) => pingCodec.encode(m)),
    handshakeMessage.map((m) => handshakeCodec.encode(m)),
  );
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.tuple(validBody, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms)),
  );

  function checkTotal<T>(codec: MessageCodec<T>, bytes: Uint8Array): void {
    let r: Decoded<T>;
    try {
      r = codec.decode(bytes);
    } catch (e) {
      throw new Error(`decode threw on ${Buffer.from(bytes).toString('hex')}: ${String(e)}`);
    }
    if (r.ok) {
      // Whatever decodes must survive another round trip unchanged.
      expect(ok(codec.decode(codec.encode(r.value)))).toEqual(r.value);
      return;
    }
    expect(r.error).toBeInstanceOf(DecodeError);
    expect(KINDS).toContain(r.error.kind);
    expect(r.error.closeCode).toBe(400);
  }

  it('never throws for any bytes, and fails only with a DecodeError (property)', () => {
    fc.assert(
      fc.property(body, (bytes) => {
        checkTotal(pingCodec, bytes);
        checkTotal(handshakeCodec, bytes);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('never throws for hostile lengths and deep nesting', () => {
    const cases = [
      [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32-1 items
      [0xdf, 0xff, 0xff, 0xff, 0xff], // map32
      [0xdb, 0xff, 0xff, 0xff, 0xff], // str32
      [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
      [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32
      new Array(100_000).fill(0x91), // 100k nested one-item arrays, unterminated
      [...new Array(100_000).fill(0x91), 0x00], // ... terminated
      [...new Array(100_000).fill(0x81), 0x00], // nested maps with key 0, unterminated
    ];
    for (const c of cases) {
      checkTotal(pingCodec, new Uint8Array(c));
      checkTotal(handshakeCodec, new Uint8Array(c));
      expect(pingCodec.decode(new Uint8Array(c)).ok).toBe(false);
    }
  });
});

describe('frame size and ids', () => {
  it('checkFrameSize allows the limit and rejects one byte more', () => {
    expect(checkFrameSize(new Uint8Array(10), 10)).toBeUndefined();
    const e = checkFrameSize(new Uint8Array(11), 10);
    expect(e).toBeInstanceOf(OversizedError);
    expect(e).toMatchObject({ code: 'OVERSIZED', sizeBytes: 11, maxBytes: 10 });
  });

  it('protocolId accepts versioned mosaik ids only', () => {
    expect(protocolId('/mosaik/ping/1')).toBe('/mosaik/ping/1');
    expect(protocolId('/mosaik/groups/raft-log/2.1')).toBe('/mosaik/groups/raft-log/2.1');
    for (const bad of ['', '/mosaik/ping', 'mosaik/ping/1', '/mosaik/Ping/1', '/other/ping/1', '/mosaik/ping/1/', '/mosaik/ping/v1']) {
      expect(() => protocolId(bad), bad).toThrow(TypeError);
    }
  });

  it('closeCodeName names known codes and marks unknown ones', () => {
    expect(closeCodeName(CloseCode.ProtocolViolation)).toBe('ProtocolViolation');
    expect(closeCodeName(101)).toBe('DifferentNetwork');
    expect(closeCodeName(12345)).toBe('Unknown(12345)');
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.values(CloseCode).length);
  });
});
