import type { QuoteProvider } from '../api/tickets.ts';
import type { Ticket } from '../core/discovery/peer-entry.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { PeerId } from '../core/identity/keys.ts';
import type { Measurements } from '../core/tickets/tdx/quote.ts';
import { SimulatedIntel, type SimulatedTdxPlatform, simulatedMeasurements } from '../core/tickets/tdx/sim-provider.ts';
import { decodeTdxTicketData, type TdxBinding, tdxTicket } from '../core/tickets/tdx/ticket-data.ts';
import type { TicketRejectionCode } from '../core/tickets/ticket.ts';

/**
 * Attestation in the simulator: a `QuoteProvider` backed by the simulated Intel hierarchy
 * (core/tickets/tdx/sim-provider.ts), and builders for the attacks a TDX validator must
 * refuse. Everything is deterministic: seeds in, identical bytes out.
 */

/** A QuoteProvider for one simulated TDX machine running a TD with fixed measurements. */
export class SimulatedQuoteProvider implements QuoteProvider {
  constructor(
    readonly platform: SimulatedTdxPlatform,
    readonly measurements: Measurements,
  ) {}

  async available(): Promise<boolean> {
    return true;
  }

  async quote(reportData: Uint8Array): Promise<Uint8Array> {
    return this.platform.quote(reportData, this.measurements);
  }
}

/** The attacks on TDX tickets the simulator can mount, each with the rejection it must meet. */
export type TdxFault = 'forged-quote' | 'tampered-body' | 'wrong-measurements' | 'copied-ticket' | 'rebound-ticket' | 'other-network' | 'old-quote';

export const TDX_FAULT_REJECTIONS: Readonly<Record<TdxFault, TicketRejectionCode>> = {
  'forged-quote': 'untrusted-chain',
  'tampered-body': 'bad-signature',
  'wrong-measurements': 'measurement-mismatch',
  'copied-ticket': 'wrong-binding',
  'rebound-ticket': 'wrong-binding',
  'other-network': 'wrong-binding',
  'old-quote': 'too-old',
};

export const TDX_FAULTS: readonly TdxFault[] = Object.keys(TDX_FAULT_REJECTIONS) as TdxFault[];

/** What a fault builder needs: the honest platform, the measurements validators expect, and the attacker's binding. */
export interface TdxFaultContext {
  /** A genuine machine under the trusted simulated Intel root. */
  readonly platform: SimulatedTdxPlatform;
  /** The measurements an honest TD has (what validators require). */
  readonly measurements: Measurements;
  /** The attacker's own peer, network and times: the ticket is carried by this peer. */
  readonly binding: TdxBinding;
  /** Another peer's genuine ticket, for `copied-ticket` and `rebound-ticket`. */
  readonly victimTicket?: Ticket;
  /** How far back `old-quote` dates its quote, ms. @defaultValue 1 day */
  readonly ageMs?: number;
  /** Seed of the forger's self-made hierarchy. @defaultValue 'forger' */
  readonly forgerSeed?: string;
}

/** Flips one byte of the quote's MRTD after it was signed. */
function tamper(ticket: Ticket): Ticket {
  const d = decodeTdxTicketData(ticket.data);
  if (!d.ok) throw new TypeError(`tamper: not a TDX ticket: ${d.detail}`);
  const quote = Uint8Array.from(d.value.quote);
  quote[48 + 136] = (quote[48 + 136] as number) ^ 0x01;
  return tdxTicket({ ...d.value, quote });
}

/** Rewrites the envelope's peer id without a new quote (the report data still names the victim). */
function rebind(ticket: Ticket, peerId: PeerId): Ticket {
  const d = decodeTdxTicketData(ticket.data);
  if (!d.ok) throw new TypeError(`rebind: not a TDX ticket: ${d.detail}`);
  return tdxTicket({ ...d.value, peerId });
}

/**
 * A malicious TDX ticket of kind `fault`, to be carried by `ctx.binding.peerId`:
 *
 * - `forged-quote`: a self-consistent quote from a self-made "Intel" (mosaik accepts these).
 * - `tampered-body`: a genuine quote with its MRTD edited after signing.
 * - `wrong-measurements`: a genuine quote from a TD running other code.
 * - `copied-ticket`: another peer's genuine ticket, as it is.
 * - `rebound-ticket`: another peer's genuine ticket with the envelope's peer id changed.
 * - `other-network`: a genuine quote bound to another network.
 * - `old-quote`: a genuine quote dated `ageMs` in the past (refused under `maxAgeS`).
 */
export function faultyTdxTicket(fault: TdxFault, ctx: TdxFaultContext): Ticket {
  const { platform, measurements, binding } = ctx;
  switch (fault) {
    case 'forged-quote':
      return SimulatedIntel.fromSeed(ctx.forgerSeed ?? 'forger')
        .platform('forged')
        .ticket(binding, measurements);
    case 'tampered-body':
      return tamper(platform.ticket(binding, measurements));
    case 'wrong-measurements':
      return platform.ticket(binding, simulatedMeasurements('rogue-td'));
    case 'copied-ticket':
      return victim(ctx);
    case 'rebound-ticket':
      return rebind(victim(ctx), binding.peerId);
    case 'other-network':
      return platform.ticket({ ...binding, network: otherNetwork(binding.network) }, measurements);
    case 'old-quote': {
      const quotedAtMs = Math.max(0, binding.quotedAtMs - (ctx.ageMs ?? 86_400_000));
      return platform.ticket({ ...binding, quotedAtMs, startedAtMs: Math.min(binding.startedAtMs, quotedAtMs) }, measurements);
    }
  }
}

function victim(ctx: TdxFaultContext): Ticket {
  if (ctx.victimTicket === undefined) throw new TypeError('copied/rebound tickets need ctx.victimTicket');
  return ctx.victimTicket;
}

function otherNetwork(network: NetworkId): NetworkId {
  return network.derive('another network');
}
