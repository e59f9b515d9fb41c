import { Decoder, Encoder } from '@msgpack/msgpack';
import { DecodeError, type DecodeErrorKind, InvalidArgumentError, InvalidSignatureError } from '../errors.ts';
import type { Digest, GroupId, NetworkId, StreamId, Tag } from '../identity/digest.ts';
import type { PeerId, SecretKey } from '../identity/keys.ts';
import { nobleVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import { assert } from '../util/assert.ts';
import { blake3 } from '../util/blake3.ts';
import { compareBytes, concatBytes, equalBytes, utf8 } from '../util/bytes.ts';
import { msgpackErrorKind, schemaViolationOf } from '../wire/codec.ts';
import * as s from '../wire/schema.ts';

/**
 * A peer entry is what a node says about itself to the rest of the network: who it is, where
 * it can be reached, and what it offers (tags, streams, groups, tickets). Its owner signs it;
 * everyone else stores, gossips and syncs it as it is, and takes the newest version.
 *
 * Every entry has exactly one encoding (the canonical form below), so "the bytes that were
 * signed" is well defined and decoding can verify a signature without guessing how the
 * signer ordered its sets.
 */

// ---- bounds ------------------------------------------------------------------------------

// Every node gossips, syncs and stores every other node's entry, so one entry's size is paid
// N times over: these bounds keep a buggy or hostile peer from inflating every catalog, and
// make the largest entry (and so the largest sync message) computable. They are generous for
// honest use.

/** Transport locations per entry: a host has a few interfaces (v4/v6) and maybe a relay. */
export const MAX_ADDRESSES = 16;
/** UTF-16 code units per address: a 253-character DNS name plus a port fits. */
export const MAX_ADDRESS_LENGTH = 256;
/** Role tags per entry: roles are few ("beacon", "matcher"); tags are not a key-value store. */
export const MAX_TAGS = 64;
/** Streams a peer produces. */
export const MAX_STREAMS = 256;
/** Groups a peer is a member of. */
export const MAX_GROUPS = 256;
/** Tickets per entry: one or two per validator class in practice. */
export const MAX_TICKETS = 16;
/** Bytes of one ticket's data: a JWT is well under 2 KiB; a compressed TDX quote ticket fits. */
export const MAX_TICKET_DATA_BYTES = 16 * 1024;
/**
 * Bytes of one encoded signed entry (`encodeSignedPeerEntry`), checked when signing and
 * decoding. The per-list bounds above allow more than this in total (16 full tickets are
 * 256 KiB); this cap is what keeps an entry small enough to hold a thousand of in memory.
 */
export const MAX_SIGNED_ENTRY_BYTES = 64 * 1024;
/**
 * What a signed entry adds around the entry's bytes: a 2-array header (1), the entry's bin16
 * header (3; bin8 for entries under 256 bytes is smaller), the signature's bin8 header (2)
 * and the signature (64).
 */
const SIGNED_ENVELOPE_BYTES = 1 + 3 + 2 + 64;
/** The largest entry encoding that still fits MAX_SIGNED_ENTRY_BYTES once signed. */
export const MAX_ENTRY_BYTES = MAX_SIGNED_ENTRY_BYTES - SIGNED_ENVELOPE_BYTES;

// ---- types -------------------------------------------------------------------------------

/** A credential a peer carries for others to check (tickets are carried, not validated, here). */
export interface Ticket {
  /** Which validator understands `data`, e.g. `Digest.from('mosaik.tickets.jwt.v1')`. */
  readonly class: Digest;
  readonly data: Uint8Array;
}

/** `ticket.class.derive(ticket.data)`: names one ticket; an entry holds each id once. */
export function ticketId(ticket: Ticket): Digest {
  return ticket.class.derive(ticket.data);
}

/**
 * When an entry was made, in wall-clock ms: `start` when its node started (fixed for the
 * node's lifetime), `update` when its content last changed or was re-announced. Ordered
 * lexicographically on (start, update), so a restarted node's entries beat its old ones.
 * Both are non-negative safe integers.
 */
export interface PeerEntryVersion {
  readonly start: number;
  readonly update: number;
}

/**
 * A peer entry in canonical form (build one with `peerEntry`): digests sorted by bytes,
 * addresses by UTF-8 bytes, tickets by id, each without duplicates. Frozen.
 */
export interface PeerEntry {
  readonly network: NetworkId;
  readonly peerId: PeerId;
  readonly version: PeerEntryVersion;
  /** Transport locations, e.g. `127.0.0.1:4433` or `sim:3`. */
  readonly addresses: readonly string[];
  readonly tags: readonly Tag[];
  readonly streams: readonly StreamId[];
  readonly groups: readonly GroupId[];
  readonly tickets: readonly Ticket[];
}

/** What `peerEntry` takes: sets in any order, with or without duplicates. */
export interface PeerEntryInit {
  readonly network: NetworkId;
  readonly peerId: PeerId;
  readonly version: PeerEntryVersion;
  readonly addresses?: Iterable<string>;
  readonly tags?: Iterable<Tag>;
  readonly streams?: Iterable<StreamId>;
  readonly groups?: Iterable<GroupId>;
  readonly tickets?: Iterable<Ticket>;
}

/**
 * An entry with its owner's signature. `bytes` is the entry's canonical encoding, the bytes
 * the signature covers (kept so the entry is never re-encoded to be sent or checked). Only
 * `signPeerEntry` and the decoders make these, so holding one means the signature verified.
 */
export interface SignedPeerEntry {
  readonly entry: PeerEntry;
  /** Ed25519 by `entry.peerId` over `peerEntrySigningMessage(bytes)`, 64 bytes. */
  readonly signature: Uint8Array;
  readonly bytes: Uint8Array;
}

// ---- the canonical form --------------------------------------------------------------------

/**
 * Builds the canonical form of an entry from sets in any order: sorted, duplicates dropped,
 * ticket data copied, everything frozen. Throws an InvalidArgumentError when a bound is
 * exceeded or a value cannot travel (a negative or fractional version, an empty address or
 * one that is not well-formed UTF-16).
 */
export function peerEntry(init: PeerEntryInit): PeerEntry {
  checkVersion(init.version);
  const addresses = canonicalSet(init.addresses ?? [], utf8);
  for (const a of addresses) {
    if (!isTransportableAddress(a)) {
      throw new InvalidArgumentError(`peer entry: address ${JSON.stringify(a)} must be 1..${MAX_ADDRESS_LENGTH} characters of well-formed text`);
    }
  }
  const tickets = canonicalSet(init.tickets ?? [], (t) => ticketId(t).bytes).map((t) => {
    if (t.data.length > MAX_TICKET_DATA_BYTES) {
      throw new InvalidArgumentError(`peer entry: ticket data of ${t.data.length} bytes exceeds ${MAX_TICKET_DATA_BYTES}`);
    }
    return Object.freeze({ class: t.class, data: Uint8Array.from(t.data) });
  });
  const entry: PeerEntry = {
    network: init.network,
    peerId: init.peerId,
    version: Object.freeze({ start: init.version.start, update: init.version.update }),
    addresses: checkCount('addresses', addresses, MAX_ADDRESSES),
    tags: checkCount('tags', canonicalSet(init.tags ?? [], digestBytes), MAX_TAGS),
    streams: checkCount('streams', canonicalSet(init.streams ?? [], digestBytes), MAX_STREAMS),
    groups: checkCount('groups', canonicalSet(init.groups ?? [], digestBytes), MAX_GROUPS),
    tickets: checkCount('tickets', tickets, MAX_TICKETS),
  };
  return Object.freeze(entry);
}

function digestBytes(d: Digest): Uint8Array {
  return d.bytes;
}

/** Sorts by `key` bytes and keeps the first of each run of equal keys. */
function canonicalSet<T>(items: Iterable<T>, key: (item: T) => Uint8Array): T[] {
  const keyed = [...items].map((item) => ({ item, key: key(item) }));
  keyed.sort((a, b) => compareBytes(a.key, b.key));
  const out: T[] = [];
  let previous: Uint8Array | undefined;
  for (const { item, key: k } of keyed) {
    if (previous === undefined || !equalBytes(previous, k)) out.push(item);
    previous = k;
  }
  return out;
}

function checkCount<T>(what: string, items: T[], max: number): readonly T[] {
  if (items.length > max) throw new InvalidArgumentError(`peer entry: ${items.length} ${what} exceed the limit of ${max}`);
  return Object.freeze(items);
}

function checkVersion(v: PeerEntryVersion): void {
  for (const n of [v.start, v.update]) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidArgumentError(`peer entry: version fields must be non-negative safe integers (wall-clock ms), got ${n}`);
    }
  }
}

/** A lone surrogate would not survive UTF-8 and back, so the entry would not re-encode to its bytes. */
const LONE_SURROGATE = /\p{Cs}/u;

function isTransportableAddress(a: string): boolean {
  return a.length > 0 && a.length <= MAX_ADDRESS_LENGTH && !LONE_SURROGATE.test(a);
}

// ---- versions ----------------------------------------------------------------------------

/** The version of a node's first entry: both fields at `nowMs` (wall-clock ms). */
export function initialVersion(nowMs: number): PeerEntryVersion {
  if (!(Number.isFinite(nowMs) && nowMs >= 0)) assert(false, `initialVersion: bad wall clock ${nowMs}`);
  const ms = Math.floor(nowMs);
  return { start: ms, update: ms };
}

/**
 * The version after a change: `update` becomes `max(update, nowMs) + 1`, `start` stays. It
 * grows by at least 1 even when the wall clock went backwards, so every change is newer than
 * the last one the node signed. `nowMs` is wall-clock ms (fractions are dropped).
 */
export function incrementVersion(v: PeerEntryVersion, nowMs: number): PeerEntryVersion {
  if (!Number.isFinite(nowMs)) assert(false, `incrementVersion: bad wall clock ${nowMs}`);
  const update = Math.max(v.update, Math.floor(nowMs)) + 1;
  if (!Number.isSafeInteger(update)) assert(false, `incrementVersion: update ${update} is not a safe integer`);
  return { start: v.start, update };
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`; lexicographic on (start, update). */
export function compareVersions(a: PeerEntryVersion, b: PeerEntryVersion): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.update !== b.update) return a.update < b.update ? -1 : 1;
  return 0;
}

/** True when `a` is strictly newer than `b`. */
export function isNewer(a: PeerEntryVersion, b: PeerEntryVersion): boolean {
  return compareVersions(a, b) > 0;
}

// ---- the wire ------------------------------------------------------------------------------

/**
 * A set on the wire: a msgpack array whose items are in strictly ascending order of `key`
 * bytes. Unsorted or repeated items are `invalid`: accepting them would give one entry
 * several encodings.
 */
function sortedSet<T>(item: s.Schema<T>, maxLength: number, key: (item: T) => Uint8Array): s.Schema<readonly T[]> {
  const list = s.array(item, { maxLength });
  return {
    describe: `set<${item.describe}>(<=${maxLength})`,
    decode(wire, path) {
      const items = list.decode(wire, path);
      let previous: Uint8Array | undefined;
      for (let i = 0; i < items.length; i++) {
        const k = key(items[i] as T);
        if (previous !== undefined && compareBytes(previous, k) >= 0) {
          throw new s.SchemaViolation('invalid', `${path}[${i}]: not above the item before it (sets are sorted, without duplicates)`);
        }
        previous = k;
      }
      return Object.freeze(items);
    },
    encode: (v) => list.encode(v as T[]),
  };
}

const addressSchema: s.Schema<string> = {
  describe: 'address',
  decode(wire, path) {
    const a = s.str({ maxLength: MAX_ADDRESS_LENGTH }).decode(wire, path);
    if (!isTransportableAddress(a)) throw new s.SchemaViolation('invalid', `${path}: not an address`);
    return a;
  },
  encode: (v) => v,
};

const ticketData = s.bytes({ maxLength: MAX_TICKET_DATA_BYTES });
const ticketFields = s.struct({ class: s.digest, data: ticketData });
const ticketSchema: s.Schema<Ticket> = {
  describe: 'ticket',
  decode(wire, path) {
    const t = ticketFields.decode(wire, path);
    // The msgpack decoder hands out views into the message; an entry outlives its message.
    return Object.freeze({ class: t.class, data: Uint8Array.from(t.data) });
  },
  encode: (v) => ticketFields.encode(v),
};

/** An entry, positionally: `[network, peerId, [start, update], addresses, tags, streams, groups, tickets]`. */
const entrySchema = s.struct({
  network: s.digest,
  peerId: s.peerId,
  version: s.struct({ start: s.uint, update: s.uint }),
  addresses: sortedSet(addressSchema, MAX_ADDRESSES, utf8),
  tags: sortedSet(s.digest, MAX_TAGS, digestBytes),
  streams: sortedSet(s.digest, MAX_STREAMS, digestBytes),
  groups: sortedSet(s.digest, MAX_GROUPS, digestBytes),
  tickets: sortedSet(ticketSchema, MAX_TICKETS, (t) => ticketId(t).bytes),
});

/** A signed entry: `[entry bytes, signature]`. The entry travels as the exact bytes that were signed. */
const envelopeSchema = s.struct({ entry: s.bytes({ maxLength: MAX_ENTRY_BYTES }), signature: s.bytes({ length: 64 }) });

// One of each, reused: both keep scratch buffers, and nothing they keep affects a result.
const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder({ useBigInt64: false });

function encodeEntry(entry: PeerEntry): Uint8Array {
  return encoder.encode(entrySchema.encode(entry));
}

// ---- signing -------------------------------------------------------------------------------

/**
 * The domain-separation prefix of entry signatures. A peer's key signs more than one kind of
 * message (entries, departures, later group proofs); prefixing each kind with its own
 * constant means a signature over an entry can never be passed off as a signature over
 * another kind of message whose bytes happen to match, nor the other way round.
 */
export const PEER_ENTRY_SIGNING_DOMAIN = 'mosaik.discovery.peer-entry.v1';
const DOMAIN_BYTES = utf8(PEER_ENTRY_SIGNING_DOMAIN);

/** What an entry's signature signs: `blake3(domain ‖ entry bytes)`. */
export function peerEntrySigningMessage(entryBytes: Uint8Array): Uint8Array {
  return blake3(concatBytes(DOMAIN_BYTES, entryBytes));
}

/**
 * Signs the canonical form of `entry` (rebuilt here, so any PeerEntry-shaped value signs
 * canonical bytes). Throws a TypeError when `secretKey` is not the entry's peer (a caller
 * bug: a node only signs its own entry), and an InvalidArgumentError when the signed entry
 * would exceed MAX_SIGNED_ENTRY_BYTES (or any other bound, see `peerEntry`).
 */
export function signPeerEntry(entry: PeerEntry, secretKey: SecretKey): SignedPeerEntry {
  if (!entry.peerId.equals(secretKey.peerId)) {
    throw new TypeError(`signPeerEntry: the entry is for peer ${entry.peerId.short}, the key is ${secretKey.peerId.short}'s`);
  }
  const canonical = peerEntry(entry);
  const bytes = encodeEntry(canonical);
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new InvalidArgumentError(
      `peer entry: ${bytes.length + SIGNED_ENVELOPE_BYTES} bytes signed, over the limit of ${MAX_SIGNED_ENTRY_BYTES} (MAX_SIGNED_ENTRY_BYTES)`,
    );
  }
  const signature = secretKey.sign(peerEntrySigningMessage(bytes));
  return Object.freeze({ entry: canonical, signature, bytes });
}

// ---- decoding --------------------------------------------------------------------------------

/** A decode that also checks a signature: the value, or why not. */
export type VerifiedDecoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError | InvalidSignatureError };

/** Why an envelope did not open: a decode failure of some kind, or a bad signature. */
type Failure = { readonly kind: DecodeErrorKind | 'signature'; readonly message: string };

function toError(f: Failure): DecodeError | InvalidSignatureError {
  return f.kind === 'signature' ? new InvalidSignatureError(f.message) : new DecodeError(f.kind, f.message);
}

/**
 * Envelopes opened recently, per verifier, by signature. A node meets the same signed entry
 * many times (every catalog exchange, every gossip path; a simulator hosting many nodes
 * that share one verifier, thousands of times) and an entry that opened once opens the same
 * way again: the bytes and signature decide the outcome, and a hit requires both to be
 * identical. Only successes are kept, the newest OPENED_CACHE_SIZE per verifier. The cache
 * changes no result, so runs stay deterministic.
 */
const OPENED_CACHE_SIZE = 8192;
const openedBy = new WeakMap<SignatureVerifier, Map<string, SignedPeerEntry>>();

function cacheKey(signature: Uint8Array): string {
  return String.fromCharCode.apply(null, signature as unknown as number[]);
}

/**
 * Opens `[entry bytes, signature]`: decodes the entry, requires its bytes to be its canonical
 * encoding, and verifies the signature against the entry's own peer id. Never throws.
 */
function openEnvelope(entryBytes: Uint8Array, signature: Uint8Array, verifier: SignatureVerifier): SignedPeerEntry | Failure {
  let opened = openedBy.get(verifier);
  if (!opened) {
    opened = new Map();
    openedBy.set(verifier, opened);
  }
  const key = signature.length === 64 ? cacheKey(signature) : undefined;
  const hit = key === undefined ? undefined : opened.get(key);
  if (hit && equalBytes(hit.bytes, entryBytes)) return hit;
  const result = openUncached(entryBytes, signature, verifier);
  if (key !== undefined && !isFailure(result)) {
    if (opened.size >= OPENED_CACHE_SIZE) opened.delete(opened.keys().next().value as string);
    opened.set(key, result);
  }
  return result;
}

function openUncached(entryBytes: Uint8Array, signature: Uint8Array, verifier: SignatureVerifier): SignedPeerEntry | Failure {
  let wire: unknown;
  try {
    wire = decoder.decode(entryBytes);
  } catch (e) {
    return msgpackFailure('entry', e);
  }
  let decoded: s.Infer<typeof entrySchema>;
  try {
    decoded = entrySchema.decode(wire, 'entry');
  } catch (e) {
    return schemaFailure(e);
  }
  const entry: PeerEntry = Object.freeze({ ...decoded, version: Object.freeze(decoded.version) });
  // Sorted, unique sets are checked above with clear messages; this also catches what they
  // cannot see, e.g. an integer or a length written in a wider msgpack format than needed.
  if (!equalBytes(encodeEntry(entry), entryBytes)) return { kind: 'invalid', message: 'entry: not in canonical encoding' };
  if (!verifier.verify(entry.peerId, peerEntrySigningMessage(entryBytes), signature)) {
    return { kind: 'signature', message: `peer entry of ${entry.peerId.short}: the signature does not verify against its peer id` };
  }
  return Object.freeze({ entry, signature: Uint8Array.from(signature), bytes: Uint8Array.from(entryBytes) });
}

function isFailure(v: SignedPeerEntry | Failure): v is Failure {
  return 'kind' in v;
}

function msgpackFailure(path: string, e: unknown): Failure {
  return { kind: msgpackErrorKind(e), message: `${path}: ${e instanceof Error ? e.message : String(e)}` };
}

function schemaFailure(e: unknown): Failure {
  const { kind, message } = schemaViolationOf(e);
  return { kind, message };
}

/** A signed entry as a message body: msgpack `[entry bytes, signature]`. */
export function encodeSignedPeerEntry(signed: SignedPeerEntry): Uint8Array {
  const body = encoder.encode(envelopeSchema.encode({ entry: signed.bytes, signature: signed.signature }));
  if (!(body.length <= MAX_SIGNED_ENTRY_BYTES)) assert(false, `encodeSignedPeerEntry: ${body.length} bytes; signPeerEntry should have refused this entry`);
  return body;
}

/**
 * Decodes a signed entry and verifies it against its own peer id. Total: malformed,
 * truncated, oversized or non-canonical input is a DecodeError; a valid entry whose
 * signature does not verify is an InvalidSignatureError. Never throws.
 */
export function decodeSignedPeerEntry(body: Uint8Array, verifier: SignatureVerifier = nobleVerifier): VerifiedDecoded<SignedPeerEntry> {
  const opened = openBody(body, verifier);
  return isFailure(opened) ? { ok: false, error: toError(opened) } : { ok: true, value: opened };
}

function openBody(body: Uint8Array, verifier: SignatureVerifier): SignedPeerEntry | Failure {
  if (body.length > MAX_SIGNED_ENTRY_BYTES) {
    return { kind: 'oversized', message: `signed entry: ${body.length} bytes exceed ${MAX_SIGNED_ENTRY_BYTES}` };
  }
  let wire: unknown;
  try {
    wire = decoder.decode(body);
  } catch (e) {
    return msgpackFailure('signed entry', e);
  }
  let envelope: s.Infer<typeof envelopeSchema>;
  try {
    envelope = envelopeSchema.decode(wire, 'signed entry');
  } catch (e) {
    return schemaFailure(e);
  }
  const opened = openEnvelope(envelope.entry, envelope.signature, verifier);
  if (isFailure(opened)) return opened;
  if (!equalBytes(encodeSignedPeerEntry(opened), body)) return { kind: 'invalid', message: 'signed entry: not in canonical encoding' };
  return opened;
}

/** A signed entry's standalone codec (the body of a ping answer, or any one-entry message). */
export const signedPeerEntryCodec = {
  encode: encodeSignedPeerEntry,
  decode: decodeSignedPeerEntry,
} as const;

/**
 * A signed entry as a field of a larger message (a gossip announcement, a catalog snapshot),
 * for `s.struct`/`s.array`/`msgpackCodec`. It decodes and verifies exactly as
 * `decodeSignedPeerEntry`, except that a bad signature is reported as a schema violation
 * (`invalid`), because a message codec's errors are DecodeErrors: one bad entry fails the
 * whole message, as in mosaik. Prefer `decodeSignedPeerEntry` where the distinction matters.
 */
export function signedPeerEntrySchemaWith(verifier: SignatureVerifier): s.Schema<SignedPeerEntry> {
  return {
    describe: 'signedPeerEntry',
    decode(wire, path) {
      const envelope = envelopeSchema.decode(wire, path);
      const opened = openEnvelope(envelope.entry, envelope.signature, verifier);
      if (!isFailure(opened)) return opened;
      throw new s.SchemaViolation(opened.kind === 'signature' ? 'invalid' : opened.kind, `${path || '<root>'}: ${opened.message}`);
    },
    encode: (v) => envelopeSchema.encode({ entry: v.bytes, signature: v.signature }),
  };
}

/** `signedPeerEntrySchemaWith` the pure-JS verifier. Machines build theirs with the node's verifier. */
export const signedPeerEntrySchema: s.Schema<SignedPeerEntry> = signedPeerEntrySchemaWith(nobleVerifier);
