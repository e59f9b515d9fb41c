import type { PeerEntry } from '../discovery/peer-entry.ts';
import {
  isExpired,
  reject,
  type TicketRejectionCode,
  type TicketsValidation,
  type TicketValidator,
  type ValidationResult,
  validateTickets,
} from '../tickets/ticket.ts';
import { assert } from '../util/assert.ts';

/**
 * Ticket enforcement for streams (`requireTickets`): `TicketGate.check` is `validateTickets`
 * with a memo, so re-checking an unchanged entry (on every catalog change, on every expiry
 * timer) costs a map lookup instead of a TDX verification (~10 ms in pure JS).
 *
 * The memo is keyed by (ticket id, validator signature, peer, network): a validator's answer
 * depends on nothing else but the time. Accepted results are kept with their expiration and
 * hold until it (`TicketValidator`'s contract); once it has passed, the memo answers
 * `expired` without asking the validator again. Refusals are kept only when time cannot
 * change them (a bad signature stays bad; a ticket that is `not-yet-valid` may become valid).
 */

/** The longest an expiry timer waits: tickets that never expire, or expire later, are re-checked this often (mosaik: 1 year). */
export const TICKET_RECHECK_MAX_MS = 365 * 24 * 3_600_000;

/** Memo entries kept per node; the oldest go first. */
export const TICKET_MEMO_MAX_ENTRIES = 4_096;

/** Refusals whose answer can change as time passes (or the clock moves back): never memoised. */
const TIME_DEPENDENT: ReadonlySet<TicketRejectionCode> = new Set<TicketRejectionCode>([
  'expired',
  'not-yet-valid',
  'too-old',
  'lifetime-too-long',
  'certificate-expired',
]);

/** Validations the memo answered and the ones it passed on to validators (for tests and benchmarks). */
export interface TicketGateStats {
  hits: number;
  misses: number;
}

export class TicketGate {
  readonly #memo = new Map<string, ValidationResult>();
  readonly #maxEntries: number;
  readonly stats: TicketGateStats = { hits: 0, misses: 0 };

  constructor(maxEntries = TICKET_MEMO_MAX_ENTRIES) {
    assert(maxEntries >= 1, `TicketGate: maxEntries ${maxEntries} < 1`);
    this.#maxEntries = maxEntries;
  }

  /**
   * Whether `entry` passes every validator at wall-clock `nowMs` (`validateTickets`: each
   * validator needs one valid ticket of its class; the earliest expiry wins). No validators:
   * ok, never expires.
   */
  check(validators: readonly TicketValidator[], entry: PeerEntry, nowMs: number): TicketsValidation {
    if (validators.length === 0) return validateTickets(validators, entry, nowMs);
    return validateTickets(
      validators.map((v) => this.#memoised(v)),
      entry,
      nowMs,
    );
  }

  #memoised(validator: TicketValidator): TicketValidator {
    return {
      class: validator.class,
      signature: validator.signature,
      validate: (data, entry, nowMs) => {
        const key = `${validator.class.derive(data).hex}/${validator.signature.hex}/${entry.peerId.hex}/${entry.network.hex}`;
        const known = this.#memo.get(key);
        if (known !== undefined) {
          this.stats.hits++;
          if (known.ok && isExpired(known.expiration, nowMs) && known.expiration.kind === 'at') {
            return reject('expired', `expired at ${known.expiration.atMs}, now ${nowMs}`);
          }
          return known;
        }
        this.stats.misses++;
        const result = validator.validate(data, entry, nowMs);
        if (result.ok || !TIME_DEPENDENT.has(result.reason.code)) this.#remember(key, result);
        return result;
      },
    };
  }

  #remember(key: string, result: ValidationResult): void {
    if (this.#memo.size >= this.#maxEntries) {
      const oldest = this.#memo.keys().next().value as string;
      this.#memo.delete(oldest);
    }
    this.#memo.set(key, result);
  }
}

/** When to re-check a validation that holds until `expiration`: monotonic ms from `nowMs`, given the wall clock `wallClockMs`. */
export function recheckAtMs(validation: TicketsValidation & { ok: true }, nowMs: number, wallClockMs: number): number {
  const e = validation.expiration;
  const waitMs = e.kind === 'never' ? TICKET_RECHECK_MAX_MS : Math.min(TICKET_RECHECK_MAX_MS, Math.max(1, e.atMs - wallClockMs));
  return nowMs + waitMs;
}
