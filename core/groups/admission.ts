import type { PeerId } from '../identity/keys.ts';
import type { TicketRejection, TicketsValidation, TicketValidator } from '../tickets/ticket.ts';

/** How a group sees peers' signed entries and checks their tickets (the subsystem's catalog and memo). */
export interface TicketCheck {
  /** The peer's tickets against the validators at wall-clock `nowMs`; `unknown` when its entry is not in the catalog. */
  check(validators: readonly TicketValidator[], peer: PeerId, nowMs: number): TicketsValidation | 'unknown';
  /** This node's own signed entry against the validators (what the others will check); `unknown` without discovery. */
  checkSelf(validators: readonly TicketValidator[], nowMs: number): TicketsValidation | 'unknown';
}

/**
 * Who may be a member, by a group's ticket validators (`requireTickets`, AND-ed). Without
 * validators everyone may; so may everyone when the test-only `ignore` bug is planted.
 */
export class Admission {
  readonly #validators: readonly TicketValidator[];
  readonly #tickets: TicketCheck;
  readonly #ignore: boolean;

  constructor(validators: readonly TicketValidator[], tickets: TicketCheck, ignore: boolean) {
    this.#validators = validators;
    this.#tickets = tickets;
    this.#ignore = ignore;
  }

  /**
   * Whether `peer` may bond, by its tickets: the wall-clock time to check again (Infinity:
   * never), or undefined when refused (or its entry is unknown).
   */
  peer(peer: PeerId, wallClockMs: number): number | undefined {
    if (this.#validators.length === 0 || this.#ignore) return Number.POSITIVE_INFINITY;
    const r = this.#tickets.check(this.#validators, peer, wallClockMs);
    if (r === 'unknown' || !r.ok) return undefined;
    return r.expiration.kind === 'never' ? Number.POSITIVE_INFINITY : r.expiration.atMs;
  }

  /** Why the validators refuse this node's own entry, if they do (memoised by entry). */
  self(wallClockMs: number): TicketRejection | undefined {
    if (this.#validators.length === 0 || this.#ignore) return undefined;
    const r = this.#tickets.checkSelf(this.#validators, wallClockMs);
    return r === 'unknown' || r.ok ? undefined : r.reason;
  }
}
