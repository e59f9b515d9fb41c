import type { Ticket } from '../../discovery/peer-entry.ts';
import { Digest, type NetworkId } from '../../identity/digest.ts';
import type { PeerId } from '../../identity/keys.ts';
import { concatBytes, utf8 } from '../../util/bytes.ts';
import { msgpackCodec } from '../../wire/codec.ts';
import * as s from '../../wire/schema.ts';
import { u64le } from '../encoding.ts';
import { type Expiration, expiresAt, NEVER } from '../ticket.ts';
import { MAX_QUOTE_BYTES, REPORT_DATA_BYTES } from './quote.ts';

/**
 * The TDX ticket: a quote plus the facts its report data binds it to.
 *
 * Ticket data (msgpack, positional, version 1):
 * `[1, quote (bin), peerId (bin 32), networkId (bin 32), startedAtMs (uint), quotedAtMs (uint), expiresAtMs (uint | nil = never)]`
 *
 * The quote's report data is `blake3(canonical binding) ‖ 32 zero bytes`, where the canonical
 * binding is `"mosaik.tee.tdx.ticket.binding.v1" ‖ peerId ‖ networkId ‖ u64le(startedAtMs) ‖
 * u64le(quotedAtMs) ‖ u8(0 never | 1 at) ‖ u64le(expiresAtMs or 0)`. So a quote proves that the
 * enclave asked for exactly this peer, network and time window: copying the ticket to another
 * peer, or editing any of these fields, breaks the binding.
 *
 * Differs from mosaik (zstd + postcard, second-granularity times) on purpose; this is mosaik-ts's own format.
 */

/** `Digest.from('mosaik.tee.tdx.ticket.v1')`, as mosaik's TDX ticket class. */
export const TDX_TICKET_CLASS: Digest = Digest.from('mosaik.tee.tdx.ticket.v1');

export const TDX_TICKET_VERSION = 1;
const BINDING_DOMAIN = utf8('mosaik.tee.tdx.ticket.binding.v1');

export interface TdxTicketData {
  readonly quote: Uint8Array;
  readonly peerId: PeerId;
  readonly network: NetworkId;
  /** When the peer's node started (its entry's `version.start`), wall-clock ms. */
  readonly startedAtMs: number;
  /** When the quote was made, wall-clock ms. */
  readonly quotedAtMs: number;
  readonly expiration: Expiration;
}

/** What the report data binds: everything in the ticket but the quote. */
export type TdxBinding = Omit<TdxTicketData, 'quote'>;

/** The 64 bytes of report data a quote for `b` must carry. */
export function tdxReportData(b: TdxBinding): Uint8Array {
  const exp = b.expiration;
  const canonical = concatBytes(
    BINDING_DOMAIN,
    b.peerId.bytes,
    b.network.bytes,
    u64le(b.startedAtMs),
    u64le(b.quotedAtMs),
    Uint8Array.of(exp.kind === 'never' ? 0 : 1),
    u64le(exp.kind === 'never' ? 0 : exp.atMs),
  );
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(Digest.from(canonical).bytes, 0);
  return out;
}

const envelope = s.struct({
  version: s.u8,
  quote: s.bytes({ maxLength: MAX_QUOTE_BYTES }),
  peerId: s.peerId,
  network: s.digest,
  startedAtMs: s.uint,
  quotedAtMs: s.uint,
  expiresAtMs: s.optional(s.uint),
});
const codec = msgpackCodec(envelope);

export function encodeTdxTicketData(d: TdxTicketData): Uint8Array {
  return Uint8Array.from(
    codec.encode({
      version: TDX_TICKET_VERSION,
      quote: d.quote,
      peerId: d.peerId,
      network: d.network,
      startedAtMs: d.startedAtMs,
      quotedAtMs: d.quotedAtMs,
      expiresAtMs: d.expiration.kind === 'never' ? undefined : d.expiration.atMs,
    }),
  );
}

export type TdxTicketDecode = { readonly ok: true; readonly value: TdxTicketData } | { readonly ok: false; readonly detail: string };

/** Decodes ticket data; never throws. */
export function decodeTdxTicketData(bytes: Uint8Array): TdxTicketDecode {
  const r = codec.decode(bytes);
  if (!r.ok) return { ok: false, detail: r.error.message };
  const v = r.value;
  if (v.version !== TDX_TICKET_VERSION) return { ok: false, detail: `TDX ticket version ${v.version}, expected ${TDX_TICKET_VERSION}` };
  return {
    ok: true,
    value: Object.freeze({
      quote: Uint8Array.from(v.quote),
      peerId: v.peerId,
      network: v.network,
      startedAtMs: v.startedAtMs,
      quotedAtMs: v.quotedAtMs,
      expiration: v.expiresAtMs === undefined ? NEVER : expiresAt(v.expiresAtMs),
    }),
  };
}

/** A TDX ticket from its parts (the quote's report data must be `tdxReportData` of the rest). */
export function tdxTicket(d: TdxTicketData): Ticket {
  return Object.freeze({ class: TDX_TICKET_CLASS, data: encodeTdxTicketData(d) });
}
