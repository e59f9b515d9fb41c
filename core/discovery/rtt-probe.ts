import { LinkClosedError, TimeoutError } from '../errors.ts';
import type { PeerId } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { LinkId, RequestId } from '../node/io.ts';
import { type LinkDown, type LinkInfo, linkDownError, type NodeContext, type PendingLink } from '../node/subsystem.ts';
import { memoByObject } from '../util/memo.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';
import type { SignedPeerEntry } from './peer-entry.ts';
import { signedPeerEntrySchemaWith } from './peer-entry.ts';
import { addRttSample, type RttEstimate } from './rtt.ts';

/**
 * Discovery's ping (mosaik `/mosaik/discovery/ping/1.0`): the dialer sends `ping` once the
 * link is up, the acceptor answers with its signed entry, the dialer takes the time between
 * the two as an RTT sample, merges the entry and closes. The handshake is not in the sample.
 */
export const PING_PROTOCOL = protocolId('/mosaik/discovery/ping/1');

/** A probe unanswered this long fails with a TimeoutError (mosaik: 5 s). */
export const PING_TIMEOUT_MS = 5_000;
/** Mean period of RTT probing (mosaik `rtt_probe_interval`); each tick is drawn from [base/2, 3·base/2]. */
export const DEFAULT_RTT_PROBE_INTERVAL_MS = 30_000;
/**
 * Peers probed per tick. mosaik pings every known peer each tick, which costs every node
 * O(N) connections per period; a few per tick, unmeasured peers first, keeps a node's cost
 * flat while streams and bonds feed samples for the peers that matter to them.
 */
export const RTT_PROBES_PER_TICK = 4;

export type PingMessage = { readonly t: 'ping' } | { readonly t: 'pong'; readonly signed: SignedPeerEntry };

/** The codec of RTT probes; one per verifier (its decoders are compiled, see core/util/memo.ts). */
export const pingCodec: (verifier: SignatureVerifier) => MessageCodec<PingMessage> = memoByObject(
  (verifier) =>
    msgpackCodec(s.union('t', { ping: s.struct({}), pong: s.struct({ signed: signedPeerEntrySchemaWith(verifier) }) })) as MessageCodec<PingMessage>,
);

export interface RttProbeHandler {
  /** Our current signed entry, the answer to a ping. */
  me(): SignedPeerEntry;
  /** A pong arrived: its entry (verified by the codec) goes to the catalog. */
  onPong(ctx: NodeContext, signed: SignedPeerEntry): void;
}

interface Probe {
  readonly peer: PeerId;
  readonly startedAtMs: number;
  sentAtMs: number | undefined;
  readonly req: RequestId | undefined;
}

/** Ping links, both ends, and the smoothed RTT per peer (RFC 6298, `rtt.ts`). */
export class RttProber {
  readonly #handler: RttProbeHandler;
  readonly #rtt = new Map<string, RttEstimate>();
  readonly #probes = new Map<LinkId, Probe>();
  /** Links peers opened to ping us. */
  readonly #serving = new Set<LinkId>();

  constructor(handler: RttProbeHandler) {
    this.#handler = handler;
  }

  rtt(peer: PeerId): RttEstimate | undefined {
    return this.#rtt.get(peer.hex);
  }

  /** Folds in a sample measured elsewhere (streams and bonds feed theirs). */
  addSample(peer: PeerId, sampleMs: number): void {
    this.#rtt.set(peer.hex, addRttSample(this.#rtt.get(peer.hex), sampleMs));
  }

  /** The peer departed or was purged: its RTT is history. */
  forget(peer: PeerId): void {
    this.#rtt.delete(peer.hex);
  }

  /** Whether a probe of `peer` is in flight. */
  probing(peer: PeerId): boolean {
    for (const probe of this.#probes.values()) if (probe.peer.equals(peer)) return true;
    return false;
  }

  /** Pings `peer`; `req`, if given, completes with the new estimate or fails. */
  probe(ctx: NodeContext, peer: PeerId, addrs: readonly string[], req?: RequestId): void {
    const link = ctx.connect(peer, addrs, PING_PROTOCOL);
    this.#probes.set(link, { peer, startedAtMs: ctx.nowMs, sentAtMs: undefined, req });
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'in') {
      this.#serving.add(link.id);
      return;
    }
    const probe = this.#probes.get(link.id);
    if (!probe) return;
    probe.sentAtMs = ctx.nowMs;
    const error = ctx.send(link.id, { t: 'ping' } satisfies PingMessage);
    if (error) ctx.close(link.id, CloseCode.Cancelled, error.message);
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: PingMessage): void {
    if (message.t === 'ping') {
      if (!this.#serving.has(link.id)) return ctx.close(link.id, CloseCode.ProtocolViolation, 'a ping on a link we opened');
      const error = ctx.send(link.id, { t: 'pong', signed: this.#handler.me() } satisfies PingMessage);
      if (error) ctx.close(link.id, CloseCode.Cancelled, error.message);
      return; // the dialer closes
    }
    const probe = this.#probes.get(link.id);
    if (!probe || probe.sentAtMs === undefined) return ctx.close(link.id, CloseCode.ProtocolViolation, 'an unasked-for pong');
    if (!message.signed.entry.peerId.equals(probe.peer)) return ctx.close(link.id, CloseCode.ProtocolViolation, 'a pong with another peer’s entry');
    this.#probes.delete(link.id);
    this.addSample(probe.peer, ctx.nowMs - probe.sentAtMs);
    this.#handler.onPong(ctx, message.signed);
    ctx.close(link.id, CloseCode.Success, 'pong received');
    if (probe.req !== undefined) ctx.complete(probe.req, this.#rtt.get(probe.peer.hex));
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    this.#serving.delete(link.id);
    const probe = this.#probes.get(link.id);
    if (!probe) return;
    this.#probes.delete(link.id);
    if (probe.req === undefined) return;
    ctx.fail(probe.req, linkDownError(link, down));
  }

  /** Gives up on probes older than PING_TIMEOUT_MS. */
  sweep(ctx: NodeContext): void {
    for (const [link, probe] of this.#probes) {
      if (ctx.nowMs - probe.startedAtMs < PING_TIMEOUT_MS) continue;
      this.#probes.delete(link);
      ctx.close(link, CloseCode.Cancelled, 'ping timed out');
      if (probe.req !== undefined) ctx.fail(probe.req, new TimeoutError(`no pong from ${probe.peer.short} within ${PING_TIMEOUT_MS} ms`));
    }
  }

  /** Fails every pending probe request: the node is shutting down. */
  shutdown(ctx: NodeContext): void {
    for (const probe of this.#probes.values()) {
      if (probe.req !== undefined) ctx.fail(probe.req, new LinkClosedError(CloseCode.GracefulShutdown, 'network closed'));
    }
    this.#probes.clear();
    this.#serving.clear();
  }
}
