import { encode } from '@msgpack/msgpack';
import { expect } from 'vitest';
import {
  type PeerEntry,
  type PeerEntryInit,
  type PeerEntryVersion,
  peerEntry,
  peerEntrySigningMessage,
  type SignedPeerEntry,
  signPeerEntry,
  type VerifiedDecoded,
} from '../../core/discovery/index.ts';
import { DecodeError, InvalidSignatureError } from '../../core/errors.ts';
import { Digest } from '../../core/identity/digest.ts';
import { SecretKey } from '../../core/identity/keys.ts';

export const SEED = 42;
export const NET = Digest.from('discovery-test-net');
export const OTHER_NET = Digest.from('another-net');

const keys = new Map<number, SecretKey>();
/** A fixed key per index, cached (deriving the public key is not free). */
export function key(i: number): SecretKey {
  let k = keys.get(i);
  if (k === undefined) {
    k = SecretKey.fromSeed(`discovery-peer-${i}`);
    keys.set(i, k);
  }
  return k;
}

export function entryOf(k: SecretKey, version: PeerEntryVersion, extra: Partial<PeerEntryInit> = {}): PeerEntry {
  return peerEntry({ network: NET, peerId: k.peerId, version, ...extra });
}

export function signedOf(k: SecretKey, version: PeerEntryVersion, extra: Partial<PeerEntryInit> = {}): SignedPeerEntry {
  return signPeerEntry(entryOf(k, version, extra), k);
}

/** An entry with something in every field. */
export function richEntry(k: SecretKey, version: PeerEntryVersion = { start: 1_000, update: 2_000 }): PeerEntry {
  return entryOf(k, version, {
    addresses: ['127.0.0.1:4433', 'sim:3', '[::1]:4433'],
    tags: [Digest.from('beacon'), Digest.from('matcher')],
    streams: [Digest.from('prices')],
    groups: [Digest.from('group-a'), Digest.from('group-b')],
    tickets: [
      { class: Digest.from('mosaik.tickets.jwt.v1'), data: new Uint8Array([1, 2, 3]) },
      { class: Digest.from('other'), data: new Uint8Array(40).fill(7) },
    ],
  });
}

/** The positional wire value of an entry, as the format documents it. */
export function wireOf(e: PeerEntry): unknown[] {
  return [
    e.network.bytes,
    e.peerId.bytes,
    [e.version.start, e.version.update],
    [...e.addresses],
    e.tags.map((d) => d.bytes),
    e.streams.map((d) => d.bytes),
    e.groups.map((d) => d.bytes),
    e.tickets.map((t) => [t.class.bytes, t.data]),
  ];
}

/**
 * A signed-entry body made by hand from any wire value (canonical or not), signed as a
 * peer would sign it: what a buggy or hostile peer could send with a valid signature.
 */
export function handSigned(wire: unknown, k: SecretKey, { integersAsFloats = false } = {}): Uint8Array {
  const bytes = encode(wire, { forceIntegerToFloat: integersAsFloats });
  return encode([bytes, k.sign(peerEntrySigningMessage(bytes))]);
}

export function expectOk<T>(r: VerifiedDecoded<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.name}: ${r.error.message}`);
  return r.value;
}

/** The error of a failed decode, checked to be one of the two typed errors. */
export function expectErr<T>(r: VerifiedDecoded<T>): DecodeError | InvalidSignatureError {
  if (r.ok) throw new Error('expected a typed error, got ok');
  expect(r.error instanceof DecodeError || r.error instanceof InvalidSignatureError).toBe(true);
  return r.error;
}

export function expectDecodeError<T>(r: VerifiedDecoded<T>): DecodeError {
  const e = expectErr(r);
  if (!(e instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${e.name}: ${e.message}`);
  return e;
}

/** `count` distinct digests. */
export function digests(prefix: string, count: number): Digest[] {
  return Array.from({ length: count }, (_, i) => Digest.from(`${prefix}-${i}`));
}

/** The hand-made wire for digests must be sorted, or the sort check fires before the bound one. */
export function sortedBytes(ds: readonly Digest[]): Uint8Array[] {
  return [...ds].sort((a, b) => a.compare(b)).map((d) => d.bytes);
}
