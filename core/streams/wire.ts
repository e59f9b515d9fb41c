import type { StreamId } from '../identity/digest.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { DEFAULT_MAX_FRAME_BYTES, type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';

/**
 * The streams protocol (mosaik `/mosaik/streams/1.0`). One link per subscription, dialed by
 * the consumer:
 * 1. consumer → `subscribe {network, stream, window}` (mosaik ConsumerHandshake; `window` is
 *    how many more datums it can buffer: the producer's initial credit, 0 while the
 *    application still holds a full window from this producer's earlier links);
 * 2. the producer refuses by closing the link (UnknownPeer, DifferentNetwork,
 *    StreamNotFound, StreamNoCapacity, StreamNotAllowed), or answers `start {network,
 *    stream}` (mosaik StartStream), which the consumer checks;
 * 3. producer → `datum {seq, data}`, one per frame, FIFO; `seq` numbers the producer's
 *    datums (the same number on every link), so gaps show what a link missed;
 * 4. consumer → `credit {n}` as its application takes datums: the producer never has more
 *    than the granted window in flight on a link (QUIC flow control plus mosaik's bounded
 *    channels, made explicit). Datums beyond credit queue per consumer, up to the producer's
 *    `bufferSize`; a full queue disconnects that consumer (`StreamTooSlow`) or drops for it.
 */
export const STREAMS_PROTOCOL = protocolId('/mosaik/streams/1');

/** Largest credit window a consumer may grant (a bound on what the producer keeps per link). */
export const MAX_WINDOW = 1 << 20;

export type StreamsMessage =
  | { readonly t: 'subscribe'; readonly network: StreamId; readonly stream: StreamId; readonly window: number }
  | { readonly t: 'start'; readonly network: StreamId; readonly stream: StreamId }
  | { readonly t: 'datum'; readonly seq: number; readonly data: Uint8Array }
  | { readonly t: 'credit'; readonly n: number };

export const streamsCodec = msgpackCodec(
  s.union('t', {
    subscribe: s.struct({ network: s.digest, stream: s.digest, window: s.u32 }),
    start: s.struct({ network: s.digest, stream: s.digest }),
    datum: s.struct({ seq: s.uint, data: s.bytes({ maxLength: DEFAULT_MAX_FRAME_BYTES }) }),
    credit: s.struct({ n: s.u32 }),
  }),
) as MessageCodec<StreamsMessage>;

/**
 * Why a subscription ended, as both ends report it: each refusal of the handshake and each
 * close code has its own reason (mosaik's close codes, §1 "Wire protocol").
 */
export type StreamCloseReason =
  /** The other end belongs to another network (DifferentNetwork 101). */
  | 'different-network'
  /** The producer node has no producer of this stream (StreamNotFound 10 404). */
  | 'stream-not-found'
  /** The producer is at `maxConsumers` (StreamNoCapacity 10 509). */
  | 'no-capacity'
  /** A `require` predicate refused the peer (StreamNotAllowed 10 403). */
  | 'not-allowed'
  /** The consumer fell behind and was disconnected (StreamTooSlow 10 413). */
  | 'too-slow'
  /** The producer does not know the consumer's signed entry yet (UnknownPeer 401). */
  | 'unknown-peer'
  /** The other end closed its producer or consumer, or its node shut down (GracefulShutdown 204, Cancelled 102). */
  | 'closed'
  /** The peer no longer satisfies this end's `require` or stopped advertising the stream. */
  | 'ineligible'
  /** A malformed or out-of-order message (ProtocolViolation 400). */
  | 'protocol-violation'
  /** The dial failed or the transport lost the link. */
  | 'lost'
  /** The consumer retried for `backoff.maxElapsedMs` without success. */
  | 'gave-up';

export function reasonOfCode(code: number): StreamCloseReason {
  switch (code) {
    case CloseCode.DifferentNetwork:
      return 'different-network';
    case CloseCode.StreamNotFound:
      return 'stream-not-found';
    case CloseCode.StreamNoCapacity:
      return 'no-capacity';
    case CloseCode.StreamNotAllowed:
      return 'not-allowed';
    case CloseCode.StreamTooSlow:
      return 'too-slow';
    case CloseCode.UnknownPeer:
      return 'unknown-peer';
    case CloseCode.GracefulShutdown:
    case CloseCode.Cancelled:
      return 'closed';
    case CloseCode.ProtocolViolation:
    case CloseCode.UnknownProtocol:
      return 'protocol-violation';
    default:
      return 'lost';
  }
}

/**
 * Reasons after which a consumer does not retry a producer until the producer's entry
 * changes (mosaik: Terminate, recreated on the next catalog change; here only a new version
 * of that producer's entry re-arms it, so a refused consumer does not re-dial on every
 * unrelated catalog change).
 */
export function isTerminal(reason: StreamCloseReason): boolean {
  return (
    reason === 'not-allowed' ||
    reason === 'closed' ||
    reason === 'stream-not-found' ||
    reason === 'different-network' ||
    reason === 'protocol-violation' ||
    reason === 'ineligible' ||
    reason === 'gave-up'
  );
}
