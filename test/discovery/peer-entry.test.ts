import { decode, encode } from '@msgpack/msgpack';
import { blake3 } from '@noble/hashes/blake3.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSignedPeerEntry,
  encodeSignedPeerEntry,
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES,
  MAX_ENTRY_BYTES,
  MAX_GROUPS,
  MAX_SIGNED_ENTRY_BYTES,
  MAX_STREAMS,
  MAX_TAGS,
  MAX_TICKET_DATA_BYTES,
  MAX_TICKETS,
  PEER_ENTRY_SIGNING_DOMAIN,
  type PeerEntry,
  type PeerEntryInit,
  peerEntry,
  peerEntrySigningMessage,
  type SignedPeerEntry,
  signedPeerEntryCodec,
  signedPeerEntrySchema,
  signPeerEntry,
  type Ticket,
  ticketId,
} from '../../core/discovery/index.ts';
import { DecodeError, InvalidArgumentError, InvalidSignatureError } from '../../core/errors.ts';
import { Digest } from '../../core/identity/digest.ts';
import { concatBytes, utf8 } from '../../core/util/bytes.ts';
import { msgpackCodec } from '../../core/wire/codec.ts';
import * as s from '../../core/wire/schema.ts';
import { digests, entryOf, expectDecodeError, expectErr, expectOk, handSigned, key, NET, richEntry, SEED, signedOf, sortedBytes, wireOf } from './fixtures.ts';

const A = key(1);
const B = key(2);
const V = { start: 1_000, update: 2_000 };

function roundTrip(signed: SignedPeerEntry): SignedPeerEntry {
  return expectOk(decodeSignedPeerEntry(encodeSignedPeerEntry(signed)));
}

function expectSameEntry(actual: PeerEntry, expected: PeerEntry): void {
  expect(wireOf(actual)).toEqual(wireOf(expected));
  expect(actual.network.equals(expected.network)).toBe(true);
  expect(actual.peerId.equals(expected.peerId)).toBe(true);
}

// ---- arbitraries -------------------------------------------------------------------------

const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Digest.wrap(b));
const addressArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 });
const ticketArb: fc.Arbitrary<Ticket> = fc.record({ class: digestArb, data: fc.uint8Array({ maxLength: 48 }) });
const versionArb = fc.record({ start: fc.maxSafeNat(), update: fc.maxSafeNat() });

/** Entry content with duplicates allowed (the canonical form drops them). */
const contentArb = fc.record({
  version: versionArb,
  addresses: fc.array(addressArb, { maxLength: 6 }),
  tags: fc.array(digestArb, { maxLength: 6 }),
  streams: fc.array(digestArb, { maxLength: 4 }),
  groups: fc.array(digestArb, { maxLength: 4 }),
  tickets: fc.array(ticketArb, { maxLength: 4 }),
});
type Content = typeof contentArb extends fc.Arbitrary<infer C> ? C : never;

function withDuplicates<T>(items: readonly T[]): T[] {
  return items.length === 0 ? [] : [...items, items[0] as T];
}

/** The same content, each set permuted (and with a duplicate added). */
function shuffledArb(c: Content): fc.Arbitrary<Content> {
  const perm = <T>(items: readonly T[]) => fc.shuffledSubarray([...items], { minLength: items.length, maxLength: items.length });
  return fc.record({
    version: fc.constant(c.version),
    addresses: perm(withDuplicates(c.addresses)),
    tags: perm(withDuplicates(c.tags)),
    streams: perm(c.streams),
    groups: perm(withDuplicates(c.groups)),
    tickets: perm(withDuplicates(c.tickets)),
  });
}

// ---- the canonical form ----------------------------------------------------------------------

describe('peerEntry: the canonical form', () => {
  it('keeps the network, peer id and version it is given; sets default to empty', () => {
    const e = peerEntry({ network: NET, peerId: B.peerId, version: V });
    expect(e.network.equals(NET) && e.peerId.equals(B.peerId)).toBe(true);
    expect(e.version).toEqual(V);
    expect([e.addresses, e.tags, e.streams, e.groups, e.tickets]).toEqual([[], [], [], [], []]);
  });

  it('sorts digest sets by bytes and drops duplicates', () => {
    const [x, y, z] = [Digest.from('x'), Digest.from('y'), Digest.from('z')];
    const e = entryOf(A, V, { tags: [z, x, y, x, Digest.wrap(z.bytes)] });
    const expected = [x, y, z].sort((a, b) => a.compare(b));
    expect(e.tags.map((d) => d.hex)).toEqual(expected.map((d) => d.hex));
  });

  it('sorts addresses by UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FF61 is EF BD A1 in UTF-8; U+1F600 is F0 9F 98 80. In UTF-16 the emoji (D83D DE00) comes first.
    const halfwidth = '\uff61';
    const emoji = '\u{1f600}';
    expect(emoji < halfwidth).toBe(true);
    expect(entryOf(A, V, { addresses: [emoji, halfwidth, 'b:1', 'a:1', 'b:1'] }).addresses).toEqual(['a:1', 'b:1', halfwidth, emoji]);
  });

  it('sorts tickets by id and keeps one per id', () => {
    const t1 = { class: Digest.from('c'), data: new Uint8Array([1]) };
    const t2 = { class: Digest.from('c'), data: new Uint8Array([2]) };
    const t3 = { class: Digest.from('d'), data: new Uint8Array([1]) };
    const e = entryOf(A, V, { tickets: [t3, t1, t2, { class: Digest.from('c'), data: new Uint8Array([1]) }] });
    expect(e.tickets.map((t) => ticketId(t).hex)).toEqual([t1, t2, t3].map((t) => ticketId(t).hex).sort());
    expect(ticketId(t1).equals(Digest.from('c').derive(new Uint8Array([1])))).toBe(true);
  });

  it('freezes the entry and copies ticket data', () => {
    const data = new Uint8Array([1, 2, 3]);
    const e = entryOf(A, V, { tags: [Digest.from('t')], tickets: [{ class: Digest.from('c'), data }] });
    expect(Object.isFrozen(e) && Object.isFrozen(e.version) && Object.isFrozen(e.tags) && Object.isFrozen(e.tickets)).toBe(true);
    data[0] = 9;
    expect(e.tickets[0]?.data).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('encodes the same content given in any order to the same bytes (property)', () => {
    fc.assert(
      fc.property(
        contentArb.chain((c) => fc.tuple(fc.constant(c), shuffledArb(c))),
        ([c, shuffled]) => {
          const one = encodeSignedPeerEntry(signPeerEntry(entryOf(A, c.version, c), A));
          const two = encodeSignedPeerEntry(signPeerEntry(entryOf(A, shuffled.version, shuffled), A));
          expect(two).toEqual(one);
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('signs canonical bytes even for a hand-built, unsorted PeerEntry', () => {
    const [x, y] = [Digest.from('x'), Digest.from('y')].sort((a, b) => a.compare(b)) as [Digest, Digest];
    const handMade: PeerEntry = { ...entryOf(A, V), tags: [y, x, y] };
    const signed = signPeerEntry(handMade, A);
    expect(signed.entry.tags.map((d) => d.hex)).toEqual([x.hex, y.hex]);
    expect(signed.bytes).toEqual(signPeerEntry(entryOf(A, V, { tags: [x, y] }), A).bytes);
  });

  it.each<[string, Partial<PeerEntryInit>]>([
    ['a negative start', { version: { start: -1, update: 0 } }],
    ['a fractional update', { version: { start: 0, update: 1.5 } }],
    ['an unsafe update', { version: { start: 0, update: 2 ** 53 } }],
    ['an empty address', { addresses: [''] }],
    ['an address over MAX_ADDRESS_LENGTH', { addresses: ['x'.repeat(MAX_ADDRESS_LENGTH + 1)] }],
    ['an address with a lone surrogate', { addresses: ['a\ud800b'] }],
    ['MAX_ADDRESSES + 1 addresses', { addresses: Array.from({ length: MAX_ADDRESSES + 1 }, (_, i) => `sim:${i}`) }],
    ['MAX_TAGS + 1 tags', { tags: digests('t', MAX_TAGS + 1) }],
    ['MAX_STREAMS + 1 streams', { streams: digests('s', MAX_STREAMS + 1) }],
    ['MAX_GROUPS + 1 groups', { groups: digests('g', MAX_GROUPS + 1) }],
    ['MAX_TICKETS + 1 tickets', { tickets: digests('k', MAX_TICKETS + 1).map((c) => ({ class: c, data: new Uint8Array(1) })) }],
    ['ticket data over MAX_TICKET_DATA_BYTES', { tickets: [{ class: Digest.from('c'), data: new Uint8Array(MAX_TICKET_DATA_BYTES + 1) }] }],
  ])('refuses %s with an InvalidArgumentError', (_, extra) => {
    expect(() => entryOf(A, V, extra)).toThrow(InvalidArgumentError);
  });

  it('accepts every list at exactly its bound, and counts after dropping duplicates', () => {
    const e = entryOf(A, V, {
      addresses: [...Array.from({ length: MAX_ADDRESSES }, (_, i) => `sim:${i}`), 'sim:0'],
      tags: [...digests('t', MAX_TAGS), Digest.from('t-0')],
      streams: digests('s', MAX_STREAMS),
      groups: digests('g', MAX_GROUPS),
      tickets: digests('k', MAX_TICKETS).map((c) => ({ class: c, data: new Uint8Array(8) })),
    });
    expect([e.addresses.length, e.tags.length, e.streams.length, e.groups.length, e.tickets.length]).toEqual([
      MAX_ADDRESSES,
      MAX_TAGS,
      MAX_STREAMS,
      MAX_GROUPS,
      MAX_TICKETS,
    ]);
    expectSameEntry(roundTrip(signPeerEntry(e, A)).entry, e);
  });
});

// ---- the codec -----------------------------------------------------------------------------

describe('signed peer entry codec', () => {
  it('round-trips an entry with every field set', () => {
    const signed = signPeerEntry(richEntry(A), A);
    const back = roundTrip(signed);
    expectSameEntry(back.entry, signed.entry);
    expect(back.bytes).toEqual(signed.bytes);
    expect(back.signature).toEqual(signed.signature);
    expect(signedPeerEntryCodec.decode(signedPeerEntryCodec.encode(signed)).ok).toBe(true);
  });

  it('round-trips arbitrary entries (property)', () => {
    fc.assert(
      fc.property(contentArb, (c) => {
        const signed = signPeerEntry(entryOf(A, c.version, c), A);
        const back = roundTrip(signed);
        expectSameEntry(back.entry, signed.entry);
        expect(Object.isFrozen(back) && Object.isFrozen(back.entry) && Object.isFrozen(back.entry.version)).toBe(true);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('lays an entry out positionally: [network, peerId, [start, update], addresses, tags, streams, groups, tickets]', () => {
    const signed = signPeerEntry(richEntry(A), A);
    expect(decode(signed.bytes)).toEqual(wireOf(signed.entry));
    expect(decode(encodeSignedPeerEntry(signed))).toEqual([signed.bytes, signed.signature]);
  });

  it('decoded values do not alias the message buffer', () => {
    const body = encodeSignedPeerEntry(signPeerEntry(richEntry(A), A));
    const back = expectOk(decodeSignedPeerEntry(body));
    const before = { data: Uint8Array.from(back.entry.tickets[0]?.data ?? []), bytes: Uint8Array.from(back.bytes) };
    body.fill(0);
    expect(back.entry.tickets[0]?.data).toEqual(before.data);
    expect(back.bytes).toEqual(before.bytes);
  });

  describe('rejects non-canonical encodings as invalid, even when properly signed', () => {
    const [x, y] = digests('c', 2).sort((a, b) => a.compare(b)) as [Digest, Digest];
    const base = wireOf(entryOf(A, V));
    const withField = (index: number, value: unknown) => base.map((f, i) => (i === index ? value : f));
    const t1 = { class: x, data: new Uint8Array([1]) };
    const t2 = { class: x, data: new Uint8Array([2]) };
    const [lo, hi] = [t1, t2].sort((a, b) => ticketId(a).compare(ticketId(b))) as [Ticket, Ticket];
    const ticketsWire = (...ts: Ticket[]) => ts.map((t) => [t.class.bytes, t.data]);
    const SORTED = /sorted, without duplicates/;
    it.each<[string, unknown, RegExp]>([
      ['unsorted addresses', withField(3, ['b:1', 'a:1']), SORTED],
      ['duplicate addresses', withField(3, ['a:1', 'a:1']), SORTED],
      ['unsorted tags', withField(4, [y.bytes, x.bytes]), SORTED],
      ['duplicate tags', withField(4, [x.bytes, x.bytes]), SORTED],
      ['unsorted streams', withField(5, [y.bytes, x.bytes]), SORTED],
      ['duplicate groups', withField(6, [y.bytes, y.bytes]), SORTED],
      ['tickets not in id order', withField(7, ticketsWire(hi, lo)), SORTED],
      ['duplicate tickets', withField(7, ticketsWire(lo, lo)), SORTED],
      ['an empty address', withField(3, ['']), /not an address/],
      ['an address with a lone surrogate', withField(3, ['a\ud800']), /not an address|canonical/],
    ])('%s', (_, wire, message) => {
      const e = expectDecodeError(decodeSignedPeerEntry(handSigned(wire, A)));
      expect(e.kind).toBe('invalid');
      expect(e.message).toMatch(message);
    });

    it('the same fields in the canonical order decode', () => {
      const wire = withField(
        7,
        [lo, hi].map((t) => [t.class.bytes, t.data]),
      );
      expect(decodeSignedPeerEntry(handSigned(wire, A)).ok).toBe(true);
    });

    it('integers written as floats', () => {
      const e = expectDecodeError(decodeSignedPeerEntry(handSigned(base, A, { integersAsFloats: true })));
      expect(e.kind).toBe('invalid');
      expect(e.message).toMatch(/canonical/);
    });

    it('an envelope with a wider length header than needed', () => {
      const signed = signedOf(A, V);
      const n = signed.bytes.length;
      const bin32 = new Uint8Array([0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
      const body = concatBytes(new Uint8Array([0x92]), bin32, signed.bytes, new Uint8Array([0xc4, 64]), signed.signature);
      expect(decode(body)).toEqual([signed.bytes, signed.signature]);
      expect(expectDecodeError(decodeSignedPeerEntry(body)).kind).toBe('invalid');
    });

    it('trailing bytes after the entry or the envelope', () => {
      const signed = signedOf(A, V);
      const padded = concatBytes(signed.bytes, new Uint8Array([0]));
      expect(expectDecodeError(decodeSignedPeerEntry(encode([padded, A.sign(peerEntrySigningMessage(padded))]))).kind).toBe('malformed');
      expect(expectDecodeError(decodeSignedPeerEntry(concatBytes(encodeSignedPeerEntry(signed), new Uint8Array([0])))).kind).toBe('malformed');
    });
  });
});

// ---- signatures ------------------------------------------------------------------------------

describe('signatures', () => {
  it('refuses to sign another peer’s entry (TypeError: a caller bug)', () => {
    expect(() => signPeerEntry(entryOf(A, V), B)).toThrow(TypeError);
  });

  it('signs blake3(domain ‖ canonical bytes) with the owner’s key', () => {
    const signed = signedOf(A, V);
    expect(peerEntrySigningMessage(signed.bytes)).toEqual(blake3(concatBytes(utf8(PEER_ENTRY_SIGNING_DOMAIN), signed.bytes)));
    expect(A.peerId.verify(peerEntrySigningMessage(signed.bytes), signed.signature)).toBe(true);
    expect(PEER_ENTRY_SIGNING_DOMAIN).toBe('mosaik.discovery.peer-entry.v1');
  });

  it('rejects an entry signed by another key with InvalidSignatureError', () => {
    const bytes = signedOf(A, V).bytes;
    const e = expectErr(decodeSignedPeerEntry(encode([bytes, B.sign(peerEntrySigningMessage(bytes))])));
    expect(e).toBeInstanceOf(InvalidSignatureError);
    expect(e.code).toBe('INVALID_SIGNATURE');
    expect(e.name).toBe('InvalidSignatureError');
  });

  it('rejects a signature made without the domain prefix', () => {
    const bytes = signedOf(A, V).bytes;
    for (const message of [blake3(bytes), bytes]) {
      expect(expectErr(decodeSignedPeerEntry(encode([bytes, A.sign(message)])))).toBeInstanceOf(InvalidSignatureError);
    }
  });

  it('rejects another version of the entry under the original signature', () => {
    const signed = signedOf(A, V);
    const newer = signedOf(A, { ...V, update: V.update + 1 });
    expect(expectErr(decodeSignedPeerEntry(encode([newer.bytes, signed.signature])))).toBeInstanceOf(InvalidSignatureError);
  });

  it('rejects every single-bit flip of a signed entry with a typed error (exhaustive)', () => {
    const body = encodeSignedPeerEntry(signedOf(A, V, { addresses: ['sim:1'], tags: [Digest.from('t')] }));
    const kinds = new Set<string>();
    for (let i = 0; i < body.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Uint8Array.from(body);
        tampered[i] = (tampered[i] as number) ^ (1 << bit);
        const e = expectErr(decodeSignedPeerEntry(tampered));
        kinds.add(e instanceof DecodeError ? e.kind : e.code);
      }
    }
    // Both kinds of failure occur: bit flips in the signature or in a digest fail the
    // signature; flips in headers break the structure.
    expect(kinds.has('INVALID_SIGNATURE')).toBe(true);
    expect([...kinds].some((k) => k !== 'INVALID_SIGNATURE')).toBe(true);
  });

  it('rejects any byte replaced by any other value, at any position (property)', () => {
    const body = encodeSignedPeerEntry(signPeerEntry(richEntry(A), A));
    fc.assert(
      fc.property(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const tampered = Uint8Array.from(body);
        tampered[i] = (tampered[i] as number) ^ x;
        expectErr(decodeSignedPeerEntry(tampered));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('rejects every truncation with a typed error', () => {
    const body = encodeSignedPeerEntry(signPeerEntry(richEntry(A), A));
    for (let n = 0; n < body.length; n++) expectErr(decodeSignedPeerEntry(body.subarray(0, n)));
    expect(expectDecodeError(decodeSignedPeerEntry(body.subarray(0, body.length - 1))).kind).toBe('truncated');
  });
});

// ---- totality --------------------------------------------------------------------------------

describe('decode is total', () => {
  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expectErr(decodeSignedPeerEntry(bytes));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('never throws on arbitrary msgpack values, bare or as the entry of an envelope (property)', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 33 }), fc.jsonValue()), { maxLength: 9 }),
    );
    fc.assert(
      fc.property(value, fc.uint8Array({ minLength: 64, maxLength: 64 }), (v, sig) => {
        expectErr(decodeSignedPeerEntry(encode(v)));
        expectErr(decodeSignedPeerEntry(encode([encode(v), sig])));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('never throws when each field of a valid entry is replaced by an arbitrary value (property)', () => {
    const base = wireOf(richEntry(A));
    const value = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 40 }), fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }));
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), value, (i, v) => {
        const wire = base.map((f, j) => (j === i ? v : f));
        // Signed by the right key, so a failure is about the structure (or a changed peer id).
        const r = decodeSignedPeerEntry(handSigned(wire, A));
        if (r.ok) expect(encode(wire)).toEqual(r.value.bytes);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

// ---- bounds ----------------------------------------------------------------------------------

describe('bounds on the wire', () => {
  const base = wireOf(entryOf(A, V));
  const withField = (index: number, value: unknown) => base.map((f, i) => (i === index ? value : f));
  const addresses = (n: number) => Array.from({ length: n }, (_, i) => `sim:${String(i).padStart(3, '0')}`);
  const tickets = (n: number, dataBytes = 1) =>
    digests('k', n)
      .map((c) => ({ class: c, data: new Uint8Array(dataBytes) }))
      .sort((a, b) => ticketId(a).compare(ticketId(b)))
      .map((t) => [t.class.bytes, t.data]);

  it.each<[string, number, unknown, unknown]>([
    ['addresses', 3, addresses(MAX_ADDRESSES), addresses(MAX_ADDRESSES + 1)],
    ['address length', 3, ['x'.repeat(MAX_ADDRESS_LENGTH)], ['x'.repeat(MAX_ADDRESS_LENGTH + 1)]],
    ['tags', 4, sortedBytes(digests('t', MAX_TAGS)), sortedBytes(digests('t', MAX_TAGS + 1))],
    ['streams', 5, sortedBytes(digests('s', MAX_STREAMS)), sortedBytes(digests('s', MAX_STREAMS + 1))],
    ['groups', 6, sortedBytes(digests('g', MAX_GROUPS)), sortedBytes(digests('g', MAX_GROUPS + 1))],
    ['tickets', 7, tickets(MAX_TICKETS), tickets(MAX_TICKETS + 1)],
    ['ticket data', 7, tickets(1, MAX_TICKET_DATA_BYTES), tickets(1, MAX_TICKET_DATA_BYTES + 1)],
  ])('%s: the bound decodes, one more is oversized', (_, index, atBound, overBound) => {
    expect(decodeSignedPeerEntry(handSigned(withField(index, atBound), A)).ok).toBe(true);
    expect(expectDecodeError(decodeSignedPeerEntry(handSigned(withField(index, overBound), A))).kind).toBe('oversized');
  });

  /** An entry whose encoding is `extra` bytes longer than MAX_ENTRY_BYTES (3 full tickets and one sized to fit). */
  function entryOfSize(extra: number): PeerEntry {
    const make = (lastBytes: number) =>
      entryOf(A, V, {
        tickets: digests('big', 4).map((c, i) => ({ class: c, data: new Uint8Array(i < 3 ? MAX_TICKET_DATA_BYTES : lastBytes) })),
      });
    const probe = signPeerEntry(make(1_000), A).bytes.length;
    return make(1_000 + MAX_ENTRY_BYTES - probe + extra);
  }

  it('an entry of exactly MAX_SIGNED_ENTRY_BYTES signed signs, encodes to that size and decodes', () => {
    const signed = signPeerEntry(entryOfSize(0), A);
    expect(signed.bytes.length).toBe(MAX_ENTRY_BYTES);
    const body = encodeSignedPeerEntry(signed);
    expect(body.length).toBe(MAX_SIGNED_ENTRY_BYTES);
    expectSameEntry(expectOk(decodeSignedPeerEntry(body)).entry, signed.entry);
  });

  it('one byte more is refused when signing (InvalidArgumentError) and when decoding (oversized)', () => {
    const entry = entryOfSize(1);
    expect(() => signPeerEntry(entry, A)).toThrow(InvalidArgumentError);
    const body = handSigned(wireOf(entry), A);
    expect(body.length).toBe(MAX_SIGNED_ENTRY_BYTES + 1);
    expect(expectDecodeError(decodeSignedPeerEntry(body)).kind).toBe('oversized');
  });

  it('an oversized body is refused before it is parsed', () => {
    expect(expectDecodeError(decodeSignedPeerEntry(new Uint8Array(MAX_SIGNED_ENTRY_BYTES + 1))).kind).toBe('oversized');
  });
});

// ---- as a field of a larger message -----------------------------------------------------------

describe('signedPeerEntrySchema inside a message', () => {
  const snapshotCodec = msgpackCodec(s.struct({ entries: s.array(signedPeerEntrySchema, { maxLength: 16 }) }));

  it('round-trips a list of signed entries', () => {
    const entries = [signPeerEntry(richEntry(A), A), signedOf(B, V)];
    const r = snapshotCodec.decode(snapshotCodec.encode({ entries }));
    if (!r.ok) throw r.error;
    expect(r.value.entries.map((e) => e.bytes)).toEqual(entries.map((e) => e.bytes));
    expect(r.value.entries.map((e) => e.signature)).toEqual(entries.map((e) => e.signature));
  });

  it('one badly signed entry fails the whole message with a DecodeError naming the signature', () => {
    const good = signedOf(A, V);
    const bytes = signedOf(B, V).bytes;
    const forged: SignedPeerEntry = { entry: good.entry, bytes, signature: A.sign(peerEntrySigningMessage(bytes)) };
    const r = snapshotCodec.decode(snapshotCodec.encode({ entries: [good, forged] }));
    if (r.ok) throw new Error('expected a decode error');
    expect(r.error.kind).toBe('invalid');
    expect(r.error.message).toMatch(/entries\[1\].*signature/);
  });

  it('a non-canonical entry inside fails the message', () => {
    const [x, y] = digests('c', 2).sort((a, b) => a.compare(b)) as [Digest, Digest];
    const wire = wireOf(entryOf(A, V)).map((f, i) => (i === 4 ? [y.bytes, x.bytes] : f));
    const [bytes, signature] = decode(handSigned(wire, A)) as [Uint8Array, Uint8Array];
    const r = snapshotCodec.decode(encode([[[bytes, signature]]]));
    if (r.ok) throw new Error('expected a decode error');
    expect(r.error.kind).toBe('invalid');
  });
});
