import { type PeerEntry, peerEntry, type Ticket } from '../../core/discovery/peer-entry.ts';
import { Digest, type NetworkId } from '../../core/identity/digest.ts';
import { SecretKey } from '../../core/identity/keys.ts';
import type { TicketRejectionCode, ValidationResult } from '../../core/tickets/ticket.ts';

/** A fixed wall clock for the ticket tests: 2025-06-15T00:00:00Z. */
export const NOW_MS = 1_749_945_600_000;
export const NOW_S = NOW_MS / 1000;

export const NETWORK: NetworkId = Digest.from('tickets-test-net');
export const ALICE = SecretKey.fromSeed('alice').peerId;
export const BOB = SecretKey.fromSeed('bob').peerId;

export function entryOf(peer = ALICE, tickets: readonly Ticket[] = [], network: NetworkId = NETWORK, startMs = NOW_MS - 60_000): PeerEntry {
  return peerEntry({ network, peerId: peer, version: { start: startMs, update: startMs }, tickets });
}

/** The rejection code of a result, or 'ok'. */
export function codeOf(r: ValidationResult | { ok: boolean; reason?: { code: TicketRejectionCode } }): TicketRejectionCode | 'ok' {
  return r.ok ? 'ok' : (r as { reason: { code: TicketRejectionCode } }).reason.code;
}
