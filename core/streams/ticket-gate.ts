import type { PeerEntry } from '../discovery/peer-entry.ts';
import {
  type Expiration,
  isExpired,
  reject,
  type TicketRejection,
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

/**
 * Refusals never memoised: those whose answer can change as time passes (or the clock moves
 * back), and a validator's failure, which may be passing.
 */
const NOT_MEMOISED: ReadonlySet<TicketRejectionCode> = new Set<TicketRejectionCode>([
  'expired',
  'not-yet-valid',
  'too-old',
  'lifetime-too-long',
  'certificate-expired',
  'validator-failed',
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
        const result = validated(validator, data, entry, nowMs);
        if (result.ok || !NOT_MEMOISED.has(result.reason.code)) this.#remember(key, result);
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

/**
 * The validator's answer, or `validator-failed` when it breaks its contract (it throws, or
 * answers something that is not a ValidationResult). Validators are application code run
 * inside the node: a throw escaping here would end the node, so a failure is a refusal.
 */
function validated(validator: TicketValidator, data: Uint8Array, entry: PeerEntry, nowMs: number): ValidationResult {
  let result: unknown;
  try {
    result = validator.validate(data, entry, nowMs);
  } catch (e) {
    return reject('validator-failed', `validator threw: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (isValidationResult(result)) return result;
  return reject('validator-failed', `validator answered ${result === null ? 'null' : typeof result}, not a ValidationResult`);
}

function isValidationResult(r: unknown): r is ValidationResult {
  if (typeof r !== 'object' || r === null) return false;
  const { ok, expiration, reason } = r as { ok?: unknown; expiration?: Partial<Expiration>; reason?: Partial<TicketRejection> };
  if (ok === true) return expiration?.kind === 'never' || (expiration?.kind === 'at' && Number.isFinite(expiration.atMs));
  return ok === false && typeof reason?.code === 'string' && typeof reason.detail === 'string';
}

/** When to re-check a validation that holds until `expiration`: monotonic ms from `nowMs`, given the wall clock `wallClockMs`. */
export function recheckAtMs(validation: TicketsValidation & { ok: true }, nowMs: number, wallClockMs: number): number {
  const e = validation.expiration;
  const waitMs = e.kind === 'never' ? TICKET_RECHECK_MAX_MS : Math.min(TICKET_RECHECK_MAX_MS, Math.max(1, e.atMs - wallClockMs));
  return nowMs + waitMs;
}
