import type { PeerId, SecretKey } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { assert } from '../util/assert.ts';
import { blake3 } from '../util/blake3.ts';
import { concatBytes, utf8 } from '../util/bytes.ts';
import * as s from '../wire/schema.ts';
import type { PeerEntryVersion } from './peer-entry.ts';

/** Largest difference between a sender's timestamp and our wall clock that we accept: 50 s, as mosaik's code. */
export const DEFAULT_MAX_TIME_DRIFT_MS = 50_000;

/**
 * A peer's signed goodbye (mosaik `GracefulDeparture`): who leaves, the last version of its
 * entry, and when. Peers that hold that version (or an older one) drop the entry at once
 * instead of waiting for the purge.
 */
export interface Departure {
  readonly peer: PeerId;
  readonly lastVersion: PeerEntryVersion;
  /** The sender's wall clock when it left, ms. */
  readonly timestampMs: number;
  readonly signature: Uint8Array;
}

/**
 * Domain-separated, like entry signatures: a departure signature can never pass for a
 * signature over anything else, nor the reverse.
 */
export const DEPARTURE_SIGNING_DOMAIN = 'mosaik.discovery.departure.v1';
const domain = utf8(DEPARTURE_SIGNING_DOMAIN);

/** What a departure's signature covers: blake3(domain ‖ peer ‖ start ‖ update ‖ timestamp), integers as i64 big-endian. */
export function departureSigningMessage(peer: PeerId, lastVersion: PeerEntryVersion, timestampMs: number): Uint8Array {
  const numbers = new DataView(new ArrayBuffer(24));
  numbers.setBigInt64(0, BigInt(lastVersion.start));
  numbers.setBigInt64(8, BigInt(lastVersion.update));
  numbers.setBigInt64(16, BigInt(timestampMs));
  return blake3(concatBytes(domain, peer.bytes, new Uint8Array(numbers.buffer)));
}

export function signDeparture(secretKey: SecretKey, lastVersion: PeerEntryVersion, timestampMs: number): Departure {
  assert(Number.isSafeInteger(timestampMs) && timestampMs >= 0, `signDeparture: bad timestamp ${timestampMs}`);
  const peer = secretKey.peerId;
  return { peer, lastVersion, timestampMs, signature: secretKey.sign(departureSigningMessage(peer, lastVersion, timestampMs)) };
}

/** True when `timestampMs` is within `maxDriftMs` of our wall clock, either way. */
export function withinDrift(timestampMs: number, nowMs: number, maxDriftMs: number): boolean {
  return Math.abs(nowMs - timestampMs) <= maxDriftMs;
}

/**
 * Why a received departure is refused, or `ok`. A departure too far from our clock is
 * refused even when well signed: it may be a recording replayed long after (mosaik drops
 * both cases the same way).
 */
export function checkDeparture(
  departure: Departure,
  verifier: SignatureVerifier,
  nowMs: number,
  maxDriftMs = DEFAULT_MAX_TIME_DRIFT_MS,
): 'ok' | 'bad-signature' | 'drift' {
  if (!withinDrift(departure.timestampMs, nowMs, maxDriftMs)) return 'drift';
  const message = departureSigningMessage(departure.peer, departure.lastVersion, departure.timestampMs);
  return verifier.verify(departure.peer, message, departure.signature) ? 'ok' : 'bad-signature';
}

/** A departure as a message field: positional `[peer, [start, update], timestamp, signature]`. */
export const departureSchema: s.Schema<Departure> = s.struct({
  peer: s.peerId,
  lastVersion: s.struct({ start: s.uint, update: s.uint }),
  timestampMs: s.uint,
  signature: s.bytes({ length: 64 }),
});
