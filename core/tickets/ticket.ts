import type { PeerEntry, Ticket } from '../discovery/peer-entry.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Digest } from '../identity/digest.ts';
import { assert } from '../util/assert.ts';

export type { Ticket } from '../discovery/peer-entry.ts';
export { ticketId } from '../discovery/peer-entry.ts';

/**
 * Tickets are credentials a peer carries in its signed discovery entry; a validator decides,
 * synchronously and deterministically, whether one of them lets the peer in and until when.
 * Everything here is pure: time is the `nowMs` argument (wall-clock ms), never read.
 */

// ---- expiration ------------------------------------------------------------------------------

/** How long a validated ticket holds: for ever, or until `atMs` (wall-clock ms, exclusive). */
export type Expiration = { readonly kind: 'never' } | { readonly kind: 'at'; readonly atMs: number };

export const NEVER: Expiration = Object.freeze({ kind: 'never' });

/** Latest wall-clock time tickets speak of, ms: the end of the ECMAScript Date range (year 275760). */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** An expiration at `atMs` (wall-clock ms). */
export function expiresAt(atMs: number): Expiration {
  assert(Number.isFinite(atMs), `expiresAt: bad time ${atMs}`);
  return Object.freeze({ kind: 'at', atMs });
}

/** True once `nowMs` has reached `e.atMs`; never for `never`. */
export function isExpired(e: Expiration, nowMs: number): boolean {
  return e.kind === 'at' && e.atMs <= nowMs;
}

/** Ms left before `e` expires (0 once expired); undefined for `never`. */
export function remainingMs(e: Expiration, nowMs: number): number | undefined {
  return e.kind === 'never' ? undefined : Math.max(0, e.atMs - nowMs);
}

/** Negative, zero or positive as `a` ends before, with, or after `b`; `never` is the latest. */
export function compareExpirations(a: Expiration, b: Expiration): number {
  if (a.kind === 'never') return b.kind === 'never' ? 0 : 1;
  if (b.kind === 'never') return -1;
  return a.atMs - b.atMs;
}

/** The earlier of two expirations. */
export function earliestExpiration(a: Expiration, b: Expiration): Expiration {
  return compareExpirations(a, b) <= 0 ? a : b;
}

/** The later of two expirations. */
export function latestExpiration(a: Expiration, b: Expiration): Expiration {
  return compareExpirations(a, b) >= 0 ? a : b;
}

// ---- rejections --------------------------------------------------------------------------------

/**
 * Why a ticket was refused. Tests and callers branch on `code`; `detail` is for people.
 *
 * - `malformed`: the data does not parse (bad UTF-8, base64, JSON, quote layout, envelope...).
 * - `oversized`: the data is larger than the validator reads at all.
 * - `alg-not-allowed`: the JWT's `alg` is `none`, unknown, or no configured key has it
 *   (this is how algorithm confusion is refused: a key declares its algorithm).
 * - `unknown-key`: the JWT names a `kid` that no key of its algorithm has.
 * - `bad-signature`: no candidate key verifies the JWT, or the TDX attestation-key signature
 *   over the quote header and body does not verify (a tampered quote).
 * - `bad-qe-report`: the TDX quoting enclave's report does not bind the attestation key, or
 *   its signature does not verify with the PCK certificate's key.
 * - `untrusted-chain`: the PCK certificate chain does not lead to a configured trusted root.
 * - `certificate-expired`: a certificate on that chain is outside its validity period.
 * - `wrong-binding`: the TDX report data does not bind the ticket to this peer and network
 *   (a copied ticket, or edited times).
 * - `measurement-mismatch`: MRTD/RTMRs differ from what the validator requires.
 * - `expired`, `not-yet-valid`, `too-old`, `lifetime-too-long`: time checks.
 * - `wrong-issuer`, `wrong-subject`, `wrong-audience`: JWT identity claims.
 * - `missing-claim`: a required claim is absent (`exp`, `iat` under `maxAgeS`, `aud`, a custom claim...).
 * - `claim-mismatch`: a required custom claim has another value.
 * - `missing-ticket`: the peer carries no ticket of the validator's class (`validateTickets`).
 * - `validator-failed`: the validator broke its contract (threw, or answered something that is
 *   not a ValidationResult); nodes count that as a refusal (see TicketGate).
 */
export type TicketRejectionCode =
  | 'malformed'
  | 'oversized'
  | 'alg-not-allowed'
  | 'unknown-key'
  | 'bad-signature'
  | 'bad-qe-report'
  | 'untrusted-chain'
  | 'certificate-expired'
  | 'wrong-binding'
  | 'measurement-mismatch'
  | 'expired'
  | 'not-yet-valid'
  | 'too-old'
  | 'lifetime-too-long'
  | 'wrong-issuer'
  | 'wrong-subject'
  | 'wrong-audience'
  | 'missing-claim'
  | 'claim-mismatch'
  | 'missing-ticket'
  | 'validator-failed';

export interface TicketRejection {
  readonly code: TicketRejectionCode;
  /** Human-readable, e.g. `exp 1700000000 <= now 1700000100`. */
  readonly detail: string;
}

/** A validator's answer for one ticket. */
export type ValidationResult = { readonly ok: true; readonly expiration: Expiration } | { readonly ok: false; readonly reason: TicketRejection };

export function accept(expiration: Expiration): ValidationResult {
  return { ok: true, expiration };
}

export function reject(code: TicketRejectionCode, detail: string): ValidationResult & { ok: false } {
  return { ok: false, reason: Object.freeze({ code, detail }) };
}

// ---- validators --------------------------------------------------------------------------------

/**
 * Checks the tickets of one class. Implementations are synchronous, deterministic and total:
 * the same (data, entry, nowMs) always gives the same result, and bad input is a rejection,
 * never a throw.
 */
export interface TicketValidator {
  /** The ticket class this validator reads, e.g. `Digest.from('mosaik.tickets.jwt.v1')`. */
  readonly class: Digest;
  /**
   * A digest of the validator's configuration (keys, trusted roots, required claims and
   * measurements...): two validators with equal signatures accept the same tickets. Folded
   * into group and collection ids, so peers that check differently never share a group.
   */
  readonly signature: Digest;
  /** Validates one ticket's data for the peer whose entry carries it, at wall-clock `nowMs`. */
  validate(data: Uint8Array, entry: PeerEntry, nowMs: number): ValidationResult;
}

/**
 * An application's `requireTickets`, checked where it is given (streams, groups,
 * collections): an array of validators, each with a class and a signature (Digests) and
 * `validate`, else InvalidArgumentError. A copy, so later changes to the array do not count.
 */
export function checkedValidators(list: unknown): readonly TicketValidator[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new InvalidArgumentError(`requireTickets must be an array of ticket validators, got ${typeof list}`);
  for (const v of list as Partial<TicketValidator>[]) {
    if (typeof v?.validate !== 'function' || !(v.class instanceof Digest) || !(v.signature instanceof Digest))
      throw new InvalidArgumentError('requireTickets: each validator needs a class and a signature (Digests) and validate()');
  }
  return [...(list as TicketValidator[])];
}

/** The entry's tickets of one class, in the entry's (canonical) order. */
export function ticketsOf(entry: PeerEntry, ticketClass: Digest): readonly Ticket[] {
  return entry.tickets.filter((t) => t.class.equals(ticketClass));
}

/**
 * Validates the entry against one validator: it passes when at least one ticket of the
 * validator's class is valid, and holds until the latest of their expirations. When none is
 * valid the reason is the first ticket's (or `missing-ticket` when there is none).
 */
export function validateTicket(validator: TicketValidator, entry: PeerEntry, nowMs: number): ValidationResult {
  let best: Expiration | undefined;
  let firstRejection: TicketRejection | undefined;
  for (const t of ticketsOf(entry, validator.class)) {
    const r = validator.validate(t.data, entry, nowMs);
    if (r.ok) best = best === undefined ? r.expiration : latestExpiration(best, r.expiration);
    else firstRejection ??= r.reason;
  }
  if (best !== undefined) return accept(best);
  if (firstRejection !== undefined) return { ok: false, reason: firstRejection };
  return reject('missing-ticket', `peer ${entry.peerId.short} carries no ticket of class ${validator.class.short}`);
}

/** `validateTickets`' answer: on failure, also which validator refused. */
export type TicketsValidation =
  | { readonly ok: true; readonly expiration: Expiration }
  | { readonly ok: false; readonly validator: TicketValidator; readonly reason: TicketRejection };

/**
 * ANDs validators: every one must pass (see `validateTicket`), and the entry holds until the
 * earliest of their expirations. No validators → ok, `never`. Stops at the first refusal.
 */
export function validateTickets(validators: readonly TicketValidator[], entry: PeerEntry, nowMs: number): TicketsValidation {
  let expiration: Expiration = NEVER;
  for (const validator of validators) {
    const r = validateTicket(validator, entry, nowMs);
    if (!r.ok) return { ok: false, validator, reason: r.reason };
    expiration = earliestExpiration(expiration, r.expiration);
  }
  return { ok: true, expiration };
}
