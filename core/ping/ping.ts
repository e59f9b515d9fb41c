import { ClosedError, type MosaikError, TimeoutError, withoutStack } from '../errors.ts';
import type { PeerId } from '../identity/keys.ts';
import type { LinkId, RequestId, TimerId } from '../node/io.ts';
import { type LinkDown, type LinkInfo, linkDownError, type NodeContext, type PendingLink, type Subsystem } from '../node/subsystem.ts';
import { DeadlineQueue } from '../util/deadline-queue.ts';
import { IdWindowMap } from '../util/id-window-map.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { s } from '../wire/index.ts';
import { Protocols } from '../wire/protocol.ts';

/**
 * Ping: the smallest protocol on the node contract, and the one the foundation proves the
 * contract with. A ping request opens (or reuses) a link to the peer, sends `ping{id}`, and
 * completes with the round-trip time when `pong{id}` comes back, or fails with a typed error
 * (TimeoutError, ConnectError, LinkClosedError). It is never left pending.
 *
 * Ids are per node and increase, so on one reliable link both pings and pongs arrive with
 * strictly increasing ids; anything else (a duplicate, a reordering, a pong for an id never
 * sent on that link) is a protocol violation and closes the link.
 */
export const pingCodec = msgpackCodec(
  s.union('t', {
    ping: s.struct({ id: s.uint }),
    pong: s.struct({ id: s.uint }),
  }),
);
export type PingMessage = { t: 'ping'; id: number } | { t: 'pong'; id: number };

export interface PingCommand {
  readonly peer: PeerId;
  readonly addrs: readonly string[];
  readonly timeoutMs: number;
}

export interface PingResult {
  readonly peer: PeerId;
  readonly rttMs: number;
}

export type PingEvent =
  | { readonly type: 'ping.sent'; readonly id: number; readonly peer: PeerId }
  | { readonly type: 'ping.answered'; readonly id: number; readonly peer: PeerId; readonly rttMs: number }
  | { readonly type: 'ping.failed'; readonly id: number; readonly peer: PeerId; readonly error: string };

/**
 * Bugs that can be switched on to prove that the checkers catch them (never on by default).
 * - dropRepliesAfterRestart: a restarted node stops answering pings.
 * - replyTwice: every ping is answered twice.
 */
export interface PlantedPingBugs {
  readonly dropRepliesAfterRestart?: boolean;
  readonly replyTwice?: boolean;
}

export const DEFAULT_PING_TIMEOUT_MS = 5_000;

interface Pending {
  readonly req: RequestId;
  readonly peer: PeerId;
  readonly link: LinkId;
  sentAtMs: number | undefined;
}

interface OutLink {
  readonly id: LinkId;
  readonly peerHex: string;
  up: boolean;
  /** Ping ids waiting for the link to come up, in request order. */
  readonly queued: number[];
  lastPongId: number;
}

type TimerPayload = { readonly kind: 'deadlines' };
const DEADLINES: TimerPayload = { kind: 'deadlines' };

export class PingSubsystem implements Subsystem<PingCommand> {
  readonly name = 'ping';
  readonly protocols: ReadonlyMap<typeof Protocols.ping, MessageCodec<unknown>> = new Map([[Protocols.ping, pingCodec as MessageCodec<unknown>]]);
  readonly #bugs: PlantedPingBugs;
  readonly #pending = new IdWindowMap<Pending>();
  /** One outbound link per peer, reused by every ping to it. */
  readonly #outByPeer = new Map<string, OutLink>();
  readonly #outById = new Map<LinkId, OutLink>();
  /** Per inbound link: the last ping id received. */
  readonly #lastPingIn = new Map<LinkId, number>();
  /**
   * Every ping's deadline, under one timer armed at the earliest. A ping answered in time
   * stays in the heap until its deadline surfaces and is skipped then: a round trip arms
   * and cancels no timer of its own (at saturation, timer traffic was a tenth of the work).
   * Nor is the timer cancelled when the last pending ping settles: it fires once, finds
   * nothing due and arms nothing. A node that pings one peer at a time would otherwise arm
   * and cancel a timer per ping (a heartbeat load); this way it sees one timer per timeout.
   */
  readonly #deadlines = new DeadlineQueue();
  #timer: { readonly id: TimerId; readonly atMs: number } | undefined;
  #nextId = 1;

  constructor(options: { bugs?: PlantedPingBugs } = {}) {
    this.#bugs = options.bugs ?? {};
  }

  onCommand(ctx: NodeContext, req: RequestId, cmd: PingCommand): void {
    const id = this.#nextId++;
    let out = this.#outByPeer.get(cmd.peer.hex);
    if (!out) {
      const link = ctx.connect(cmd.peer, cmd.addrs, Protocols.ping);
      out = { id: link, peerHex: cmd.peer.hex, up: false, queued: [], lastPongId: 0 };
      this.#outByPeer.set(cmd.peer.hex, out);
      this.#outById.set(link, out);
    }
    this.#pending.set(id, { req, peer: cmd.peer, link: out.id, sentAtMs: undefined });
    this.#addDeadline(ctx, ctx.nowMs + cmd.timeoutMs, id);
    if (out.up) this.#send(ctx, id);
    else out.queued.push(id);
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'in') {
      this.#lastPingIn.set(link.id, 0);
      return;
    }
    const out = this.#outFor(link.id);
    if (!out) return;
    out.up = true;
    for (const id of out.queued.splice(0)) this.#send(ctx, id);
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void {
    const msg = message as PingMessage;
    if (msg.t === 'ping') {
      if (link.dir !== 'in') return ctx.close(link.id, CloseCode.ProtocolViolation, 'ping on an outbound ping link');
      const last = this.#lastPingIn.get(link.id) ?? 0;
      if (msg.id <= last) return ctx.close(link.id, CloseCode.ProtocolViolation, `ping id ${msg.id} after ${last}`);
      this.#lastPingIn.set(link.id, msg.id);
      if (this.#bugs.dropRepliesAfterRestart && ctx.incarnation > 0) return;
      ctx.send(link.id, { t: 'pong', id: msg.id } satisfies PingMessage);
      if (this.#bugs.replyTwice) ctx.send(link.id, { t: 'pong', id: msg.id } satisfies PingMessage);
      return;
    }
    const out = this.#outFor(link.id);
    if (!out || link.dir !== 'out') return ctx.close(link.id, CloseCode.ProtocolViolation, 'pong on an inbound ping link');
    if (msg.id <= out.lastPongId) return ctx.close(link.id, CloseCode.ProtocolViolation, `pong id ${msg.id} after ${out.lastPongId}`);
    out.lastPongId = msg.id;
    const pending = this.#pending.get(msg.id);
    if (!pending) return; // answered after its timeout fired: already reported as failed
    if (pending.link !== link.id || pending.sentAtMs === undefined) {
      return ctx.close(link.id, CloseCode.ProtocolViolation, `pong ${msg.id} was never sent on this link`);
    }
    this.#settled(msg.id);
    const rttMs = ctx.nowMs - pending.sentAtMs;
    ctx.emit({ type: 'ping.answered', id: msg.id, peer: pending.peer, rttMs });
    ctx.complete(pending.req, { peer: pending.peer, rttMs } satisfies PingResult);
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    if (link.dir === 'in') {
      this.#lastPingIn.delete(link.id);
      return;
    }
    const out = this.#outById.get(link.id);
    if (!out) return;
    this.#outById.delete(link.id);
    this.#outByPeer.delete(out.peerHex);
    // The error is made only if a ping was waiting on the link: an error captures a stack
    // trace, which costs more than the rest of a link going down.
    let error: MosaikError | undefined;
    for (const [id, pending] of [...this.#pending]) {
      if (pending.link !== link.id) continue;
      error ??= linkDownError(link, down);
      this.#fail(ctx, id, pending, error);
    }
  }

  onTimer(ctx: NodeContext, _payload: unknown): void {
    this.#timer = undefined;
    const deadlines = this.#deadlines;
    while (deadlines.size > 0 && (deadlines.peekAt() as number) <= ctx.nowMs) {
      const id = deadlines.peekId();
      deadlines.pop();
      const pending = this.#pending.get(id);
      if (pending) this.#expire(ctx, id, pending);
    }
    this.#armForHead(ctx);
  }

  onShutdown(ctx: NodeContext): void {
    for (const [id, pending] of [...this.#pending]) this.#fail(ctx, id, pending, new ClosedError('network closed while the ping was in flight'));
  }

  #send(ctx: NodeContext, id: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    const error = ctx.send(pending.link, { t: 'ping', id } satisfies PingMessage);
    if (error) return this.#fail(ctx, id, pending, error);
    pending.sentAtMs = ctx.nowMs;
    ctx.emit({ type: 'ping.sent', id, peer: pending.peer });
  }

  #expire(ctx: NodeContext, id: number, pending: Pending): void {
    const out = this.#outFor(pending.link);
    if (out) {
      const at = out.queued.indexOf(id);
      if (at >= 0) out.queued.splice(at, 1);
    }
    // No stack: made in a timer callback, it would only show the machine's frames.
    const error = withoutStack(() => new TimeoutError(`ping ${id} to ${pending.peer.short} timed out`));
    this.#fail(ctx, id, pending, error);
  }

  /** Forgets a settled ping; with none left, no deadline is kept (the timer stays: see #deadlines). */
  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#deadlines.clear();
  }

  #addDeadline(ctx: NodeContext, atMs: number, id: number): void {
    this.#deadlines.push(atMs, id);
    if (this.#timer === undefined) this.#arm(ctx, atMs);
    else if (atMs < this.#timer.atMs) {
      ctx.cancelTimer(this.#timer.id);
      this.#arm(ctx, atMs);
    }
  }

  /** Drops deadlines of pings already settled, then arms the timer at the first live one. */
  #armForHead(ctx: NodeContext): void {
    const deadlines = this.#deadlines;
    while (deadlines.size > 0 && !this.#pending.has(deadlines.peekId())) deadlines.pop();
    const atMs = deadlines.peekAt();
    if (atMs !== undefined) this.#arm(ctx, atMs);
  }

  #arm(ctx: NodeContext, atMs: number): void {
    this.#timer = { id: ctx.armTimer(atMs, DEADLINES), atMs };
  }

  #fail(ctx: NodeContext, id: number, pending: Pending, error: MosaikError): void {
    this.#settled(id);
    ctx.emit({ type: 'ping.failed', id, peer: pending.peer, error: error.name });
    ctx.fail(pending.req, error);
  }

  #outFor(link: LinkId): OutLink | undefined {
    return this.#outById.get(link);
  }
}
