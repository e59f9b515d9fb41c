import type { DiscoveryCall, DiscoverySubsystem } from '../discovery/discovery.ts';
import type { PeerEntry } from '../discovery/peer-entry.ts';
import { type PeerInfo, peerInfo } from '../discovery/rtt.ts';
import { AlreadyExistsError, ClosedError, FullError, InvalidArgumentError, OfflineError, OversizedError } from '../errors.ts';
import type { StreamId } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import type { LinkId, NodeEvent, RequestId, TimerId } from '../node/io.ts';
import type { LinkDown, LinkInfo, NodeContext, PendingLink, Subsystem } from '../node/subsystem.ts';
import { compareExpirations, type Expiration, NEVER, type TicketRejection, type TicketsValidation, type TicketValidator } from '../tickets/ticket.ts';
import { assert } from '../util/assert.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { frameCapacity, type MessageCodec } from '../wire/codec.ts';
import type { ProtocolId } from '../wire/protocol.ts';
import { type BackoffConfig, backoffDelayMs, checkBackoff } from './backoff.ts';
import { ChannelConditions } from './conditions.ts';
import { recheckAtMs, TicketGate } from './ticket-gate.ts';
import { isTerminal, MAX_WINDOW, reasonOfCode, STREAMS_PROTOCOL, type StreamCloseReason, type StreamsMessage, streamsCodec } from './wire.ts';

/**
 * Bugs that can be switched on to prove that the checkers catch them (never on by default).
 * - reorderQueue: when credit frees a consumer's queue, its first two datums go out swapped.
 * - ignoreTickets: producers never check `requireTickets` (at subscribe, on entry changes, on expiry).
 */
export interface PlantedStreamsBugs {
  readonly reorderQueue?: boolean;
  readonly ignoreTickets?: boolean;
}

/** A `require` predicate: AND-ed with the others, over the peer's entry and measured RTT. */
export type PeerPredicate = (peer: PeerInfo) => boolean;

/** mosaik's defaults (reference §3). */
export const DEFAULT_BUFFER_SIZE = 1024;

/** An inbound link that has not sent `subscribe` within this long is closed. */
export const SUBSCRIBE_TIMEOUT_MS = 5_000;

export interface ProducerConfig {
  readonly require: readonly PeerPredicate[];
  /**
   * Consumers must carry tickets every validator accepts (AND-ed): checked at subscribe,
   * re-checked on every change of their entry and when their tickets expire; a consumer that
   * fails is refused or dropped with StreamNotAllowed. @default []
   */
  readonly requireTickets?: readonly TicketValidator[];
  /** @default minimumOf(1) */
  readonly onlineWhen: ChannelConditions;
  /** @default unlimited */
  readonly maxConsumers: number;
  /** Datums queued per consumer beyond its credit. @default 1024 */
  readonly bufferSize: number;
  /** A consumer whose queue is full is disconnected (`StreamTooSlow`), else the datum is dropped for it. @default true */
  readonly disconnectLagging: boolean;
}

export interface ConsumerConfig {
  readonly require: readonly PeerPredicate[];
  /**
   * Producers must carry tickets every validator accepts: only those are subscribed to, and a
   * subscription ends (`not-allowed`) when the producer's entry stops passing or its tickets
   * expire. @default []
   */
  readonly requireTickets?: readonly TicketValidator[];
  /** @default minimumOf(0): online at once */
  readonly onlineWhen: ChannelConditions;
  /**
   * Datums the application may hold per producer, delivered and not yet taken (the credit
   * window), across that producer's links: a new link gets only the room the old ones left.
   * @default 1024
   */
  readonly bufferSize: number;
  readonly backoff: BackoffConfig;
}

export type StreamsCommand =
  | { readonly kind: 'openProducer'; readonly stream: StreamId; readonly config: ProducerConfig }
  | { readonly kind: 'openConsumer'; readonly stream: StreamId; readonly config: ConsumerConfig }
  /** `wait`: park until online with capacity (`send`); else fail at once with OfflineError or FullError (`trySend`). Completes with the datum's seq. */
  | { readonly kind: 'send'; readonly handle: number; readonly data: Uint8Array; readonly wait: boolean }
  /** The application took `n` datums from `producer` (over any of its links): that room can be granted again. */
  | { readonly kind: 'consumed'; readonly handle: number; readonly counts: readonly (readonly [producer: PeerId, n: number])[] }
  | { readonly kind: 'close'; readonly handle: number }
  /** The application's codec refused a datum that came from `producer` on `link`: the producer is at fault, and the datum is gone. */
  | { readonly kind: 'undecodable'; readonly handle: number; readonly producer: PeerId; readonly link: LinkId; readonly reason: string };

export type StreamsEvent =
  /** A datum for the application of consumer `handle`, from `producer` over `link`. */
  | {
      readonly type: 'streams.datum';
      readonly handle: number;
      readonly link: LinkId;
      readonly producer: PeerId;
      readonly seq: number;
      readonly data: Uint8Array;
    }
  | {
      readonly type: 'streams.subscribed';
      readonly role: 'producer' | 'consumer';
      readonly handle: number;
      readonly stream: StreamId;
      readonly peer: PeerId;
      readonly link: LinkId;
    }
  | {
      readonly type: 'streams.unsubscribed';
      readonly role: 'producer' | 'consumer';
      readonly handle: number;
      readonly stream: StreamId;
      readonly peer: PeerId;
      readonly reason: StreamCloseReason;
      /** Consumer side: when it dials again (undefined: not until the producer's entry changes). */
      readonly retryInMs: number | undefined;
      /** Why `requireTickets` no longer accepts the peer (reason `not-allowed`). */
      readonly ticket?: TicketRejection;
    }
  /** A producer refused a consumer's subscription (`ticket`: why `requireTickets` refused it, with reason `not-allowed`). */
  | {
      readonly type: 'streams.rejected';
      readonly handle: number;
      readonly stream: StreamId;
      readonly peer: PeerId;
      readonly reason: StreamCloseReason;
      readonly ticket?: TicketRejection;
    }
  | { readonly type: 'streams.online'; readonly role: 'producer' | 'consumer'; readonly handle: number; readonly online: boolean }
  /**
   * A datum no subscription took (mosaik's undelivered sink): there was none, or every one
   * dropped it (full queue without `disconnectLagging`), was cut off as too slow by it, or
   * could not take it in a frame (`tooLarge`).
   */
  | { readonly type: 'streams.undelivered'; readonly handle: number; readonly seq: number; readonly data: Uint8Array }
  /** A producer or consumer was closed (by the application, or by the node shutting down). */
  | { readonly type: 'streams.closed'; readonly role: 'producer' | 'consumer'; readonly handle: number };

/** Datums and payload bytes over a channel (mosaik `Stats`); `uptimeMs` is undefined while not connected. */
export interface ChannelStats {
  readonly datums: number;
  readonly bytes: number;
  readonly uptimeMs: number | undefined;
}

/** One subscription, as either end sees it (mosaik `ChannelInfo`). */
export interface ChannelInfo {
  readonly stream: StreamId;
  readonly producer: PeerId;
  readonly consumer: PeerId;
  /** The other end's entry, as last seen. */
  readonly peer: PeerEntry;
  /** `backoff`: the consumer waits to dial again. */
  readonly state: 'connecting' | 'connected' | 'backoff';
  readonly stats: ChannelStats;
  /** Producer side: datums dropped for this consumer (with `disconnectLagging: false`). */
  readonly dropped: number;
  /**
   * Producer side: datums not sent to this consumer because they are larger than its node
   * accepts in a frame (its `maxFrameBytes` is below the producer's). It sees them as gaps.
   */
  readonly tooLarge: number;
  /** Why the last attempt ended, while waiting to retry. */
  readonly lastReason: StreamCloseReason | undefined;
}

export interface ProducerView {
  readonly stream: StreamId;
  readonly online: boolean;
  /** `trySend` would fail with FullError: sends are parked, or every consumer's queue is full. */
  readonly full: boolean;
  readonly consumers: readonly ChannelInfo[];
  readonly stats: { readonly datums: number; readonly bytes: number; readonly uptimeMs: number };
  /** Datums skipped for some consumer because they were larger than its node takes in a frame, counted once per consumer, since the producer opened. */
  readonly tooLarge: number;
}

export interface ConsumerView {
  readonly stream: StreamId;
  readonly online: boolean;
  readonly producers: readonly ChannelInfo[];
}

interface Counters {
  datums: number;
  bytes: number;
}

interface ProducerSub {
  readonly link: LinkId;
  readonly peer: PeerId;
  entry: PeerEntry;
  credits: number;
  /** Datums beyond the credit, oldest first: seq and payload. */
  readonly queue: (readonly [number, Uint8Array])[];
  readonly connectedAtWallMs: number;
  readonly stats: Counters;
  dropped: number;
  /** The largest datum the link carries (the smaller frame limit of the two nodes). */
  readonly maxDatum: number;
  tooLarge: number;
  /** Re-checks `requireTickets` when the consumer's tickets expire (only with validators). */
  ticketWatch: TicketWatch | undefined;
}

interface Producer {
  readonly role: 'producer';
  readonly handle: number;
  readonly stream: StreamId;
  readonly config: ProducerConfig;
  readonly openedAtWallMs: number;
  readonly subs: Map<LinkId, ProducerSub>;
  /** `send`s waiting for online and capacity, in call order. */
  readonly parked: { readonly req: RequestId; readonly data: Uint8Array }[];
  readonly stats: Counters;
  /** Over every consumer it had: `ChannelInfo.tooLarge` summed, kept when they go. */
  tooLarge: number;
  seq: number;
  online: boolean;
}

interface ConsumerSub {
  readonly peer: PeerId;
  entry: PeerEntry;
  state: 'connecting' | 'connected' | 'backoff';
  link: LinkId | undefined;
  timer: TimerId | undefined;
  subscribeSentAtMs: number | undefined;
  connectedAtMs: number | undefined;
  connectedAtWallMs: number | undefined;
  /** Datums the producer may still send on this link (granted, not yet received). */
  credit: number;
  /** Retries in the current streak of failures, and when the streak began. */
  attempt: number;
  streakStartMs: number | undefined;
  lastReason: StreamCloseReason | undefined;
  readonly stats: Counters;
  /** Re-checks `requireTickets` when the producer's tickets expire (only with validators). */
  ticketWatch: TicketWatch | undefined;
}

interface Consumer {
  readonly role: 'consumer';
  readonly handle: number;
  readonly stream: StreamId;
  readonly config: ConsumerConfig;
  /** By producer peer id hex: at most one subscription per producer. */
  readonly subs: Map<string, ConsumerSub>;
  /** Producers refused for good, by peer hex: the entry version they refused at. Re-armed by a newer version. */
  readonly refused: Map<string, string>;
  /**
   * Datums handed to the application and not yet taken, by producer peer hex (absent: none).
   * Kept apart from `subs`: datums of a link that ended stay with the application, and count
   * against the window of the producer's next link.
   */
  readonly unread: Map<string, number>;
  online: boolean;
}

type Handle = Producer | Consumer;

/** The expiry timer of a subscription's tickets, and the expiration it was armed for. */
interface TicketWatch {
  readonly timer: TimerId;
  readonly expiration: Expiration;
}

const ADMITTED: TicketsValidation = Object.freeze({ ok: true, expiration: NEVER });

type TimerPayload =
  | { readonly kind: 'retry'; readonly handle: number; readonly peer: string }
  | { readonly kind: 'subscribe-timeout'; readonly link: LinkId }
  /** Re-check the tickets of a producer's consumer (on `link`) or of a consumer's producer (`peer` hex). */
  | { readonly kind: 'ticket-expiry'; readonly handle: number; readonly link?: LinkId; readonly peer?: string };

/** An inbound link waiting for `subscribe`. */
interface Pending {
  readonly timer: TimerId;
}

function versionKey(entry: PeerEntry): string {
  return `${entry.version.start}.${entry.version.update}`;
}

/**
 * Streams (mosaik §1): typed producers and consumers that find each other through the
 * discovery catalog. One subsystem per node holds every producer (one fan-out sink per
 * stream) and consumer of the node; the API (`api/streams.ts`) encodes and decodes datums
 * and talks to it with commands, events and synchronous reads.
 *
 * Delivery is at-most-once and FIFO per producer→consumer link, with no replay: a datum sent
 * while a consumer is disconnected is lost for it, and there is no order across producers.
 * A slow consumer never slows the others: each has its own bounded queue at the producer.
 *
 * Invariants:
 * - a consumer has at most one subscription per producer peer;
 * - a producer never sends on a link more datums than the consumer granted (`credits ≥ 0`),
 *   and a sub's queue is non-empty only while its credit is 0;
 * - a consumer's unread datums from a producer plus the credit on its link to that producer
 *   never exceed the consumer's `bufferSize`;
 * - link maps are removed before a link is closed locally, so `onLinkDown` for our own
 *   close finds nothing to do.
 */
export class StreamsSubsystem implements Subsystem<StreamsCommand> {
  readonly name = 'streams';
  readonly listensTo: ReadonlySet<NodeEvent['type']> = new Set(['discovery.discovered', 'discovery.updated', 'discovery.departed']);
  readonly protocols: ReadonlyMap<ProtocolId, MessageCodec<unknown>> = new Map([[STREAMS_PROTOCOL, streamsCodec as MessageCodec<unknown>]]);
  readonly #discovery: DiscoverySubsystem | undefined;
  readonly #bugs: PlantedStreamsBugs;
  readonly #handles = new Map<number, Handle>();
  /** Producers by stream id hex. */
  readonly #producers = new Map<string, Producer>();
  readonly #inbound = new Map<LinkId, Pending>();
  readonly #producerLinks = new Map<LinkId, Producer>();
  readonly #consumerLinks = new Map<LinkId, { readonly consumer: Consumer; readonly sub: ConsumerSub }>();
  /** `requireTickets` checks, memoised per (ticket, validator, peer). */
  readonly tickets = new TicketGate();
  #nextHandle = 1;
  #closing = false;
  #me: PeerId | undefined;
  /** The handle the last open command made (undefined if it failed): the API reads it right after the command. */
  lastOpened: number | undefined;

  /** `discovery`: where producers and consumers find each other; without it nothing ever subscribes (bare protocol tests). */
  constructor(discovery?: DiscoverySubsystem, bugs: PlantedStreamsBugs = {}) {
    this.#discovery = discovery;
    this.#bugs = bugs;
  }

  /** Whether a producer or consumer handle is open on this node. */
  has(handle: number): boolean {
    return this.#handles.has(handle);
  }

  // ---- reads for the API ---------------------------------------------------------------

  /** Every producer and consumer handle open on this node (for metrics). */
  openHandles(): number[] {
    return [...this.#handles.keys()];
  }

  /** The handle of this node's producer of `stream`, if there is one. */
  producerOf(stream: StreamId): number | undefined {
    return this.#producers.get(stream.hex)?.handle;
  }

  /** A producer's state; uptimes are differences of `wallClockMs` (the node's wall clock, as `inspect()` gives it). */
  producerView(handle: number, wallClockMs: number): ProducerView | undefined {
    const p = this.#handles.get(handle);
    if (p?.role !== 'producer') return undefined;
    return {
      stream: p.stream,
      online: p.online,
      full: this.#full(p),
      consumers: [...p.subs.values()].map((sub) => ({
        stream: p.stream,
        producer: this.#local,
        consumer: sub.peer,
        peer: sub.entry,
        state: 'connected',
        stats: { ...sub.stats, uptimeMs: wallClockMs - sub.connectedAtWallMs },
        dropped: sub.dropped,
        tooLarge: sub.tooLarge,
        lastReason: undefined,
      })),
      stats: { ...p.stats, uptimeMs: wallClockMs - p.openedAtWallMs },
      tooLarge: p.tooLarge,
    };
  }

  consumerView(handle: number, wallClockMs: number): ConsumerView | undefined {
    const c = this.#handles.get(handle);
    if (c?.role !== 'consumer') return undefined;
    return {
      stream: c.stream,
      online: c.online,
      producers: [...c.subs.values()].map((sub) => ({
        stream: c.stream,
        producer: sub.peer,
        consumer: this.#local,
        peer: sub.entry,
        state: sub.state,
        stats: { ...sub.stats, uptimeMs: sub.connectedAtWallMs === undefined ? undefined : wallClockMs - sub.connectedAtWallMs },
        dropped: 0,
        tooLarge: 0,
        lastReason: sub.lastReason,
      })),
    };
  }

  // ---- commands ------------------------------------------------------------------------

  onStart(ctx: NodeContext): void {
    // Handles of an earlier life of this node must never match this life's.
    this.#nextHandle = ctx.incarnation * 1_000_000 + 1;
    this.#me = ctx.peerId;
  }

  onCommand(ctx: NodeContext, req: RequestId, cmd: StreamsCommand): void {
    switch (cmd.kind) {
      case 'openProducer':
        this.lastOpened = undefined;
        return this.#openProducer(ctx, req, cmd.stream, cmd.config);
      case 'openConsumer':
        this.lastOpened = undefined;
        return this.#openConsumer(ctx, req, cmd.stream, cmd.config);
      case 'send': {
        const p = this.#handles.get(cmd.handle);
        if (p?.role !== 'producer') return ctx.fail(req, new ClosedError('producer is closed'));
        const oversized = oversizedDatum(cmd.data, ctx.maxFrameBytes);
        if (oversized) return ctx.fail(req, oversized);
        if (p.parked.length === 0 && p.online && !this.#full(p)) return ctx.complete(req, this.#deliver(ctx, p, cmd.data));
        if (cmd.wait) {
          p.parked.push({ req, data: cmd.data });
          return;
        }
        return ctx.fail(req, p.online ? new FullError('every consumer queue is full') : new OfflineError('producer is offline'));
      }
      case 'consumed': {
        const c = this.#handles.get(cmd.handle);
        if (c?.role === 'consumer') for (const [producer, n] of cmd.counts) this.#consumed(ctx, c, producer, n);
        return ctx.complete(req, undefined);
      }
      case 'close': {
        const h = this.#handles.get(cmd.handle);
        if (h?.role === 'producer') this.#closeProducer(ctx, h, true);
        else if (h?.role === 'consumer') this.#closeConsumer(ctx, h);
        return ctx.complete(req, undefined);
      }
      case 'undecodable': {
        const found = this.#consumerLinks.get(cmd.link);
        // Only if that link is still this consumer's: a later link to the producer is not blamed.
        if (found && found.consumer.handle === cmd.handle && found.sub.link === cmd.link && found.sub.state === 'connected') {
          this.#violation(ctx, found.consumer, found.sub, cmd.reason);
        }
        const c = this.#handles.get(cmd.handle);
        if (c?.role === 'consumer') this.#consumed(ctx, c, cmd.producer, 1);
        return ctx.complete(req, undefined);
      }
    }
  }

  onShutdown(ctx: NodeContext): void {
    this.#closing = true;
    for (const h of [...this.#handles.values()]) {
      if (h.role === 'producer') this.#closeProducer(ctx, h, false);
      else this.#closeConsumer(ctx, h);
    }
    for (const [link, pending] of this.#inbound) {
      ctx.cancelTimer(pending.timer);
      this.#inbound.delete(link);
    }
  }

  // ---- producers -----------------------------------------------------------------------

  #openProducer(ctx: NodeContext, req: RequestId, stream: StreamId, config: ProducerConfig): void {
    assert(config.bufferSize >= 1 && config.maxConsumers >= 0 && config.onlineWhen instanceof ChannelConditions, 'producer config is checked by the API');
    if (this.#producers.has(stream.hex)) return ctx.fail(req, new AlreadyExistsError(`a producer of stream ${stream.short} already exists on this node`));
    const p: Producer = {
      role: 'producer',
      handle: this.#nextHandle++,
      stream,
      config,
      openedAtWallMs: ctx.wallClockMs,
      subs: new Map(),
      parked: [],
      stats: { datums: 0, bytes: 0 },
      tooLarge: 0,
      seq: 0,
      online: false,
    };
    this.#producers.set(stream.hex, p);
    const advertised = this.#advertise(ctx);
    if (advertised) {
      this.#producers.delete(stream.hex);
      return ctx.fail(req, advertised);
    }
    this.#handles.set(p.handle, p);
    this.lastOpened = p.handle;
    this.#updateOnline(ctx, p);
    ctx.complete(req, p.handle);
  }

  /** Closing a producer un-advertises it and ends its subscriptions (mosaik never does, §6.1). */
  #closeProducer(ctx: NodeContext, p: Producer, advertise: boolean): void {
    this.#handles.delete(p.handle);
    this.#producers.delete(p.stream.hex);
    for (const sub of [...p.subs.values()]) this.#dropProducerSub(ctx, p, sub, CloseCode.GracefulShutdown, 'producer closed');
    for (const { req } of p.parked.splice(0)) ctx.fail(req, new ClosedError('producer closed while the send waited'));
    if (advertise) this.#advertise(ctx);
    ctx.emit({ type: 'streams.closed', role: 'producer', handle: p.handle });
  }

  /** Publishes the streams this node produces in its discovery entry. */
  #advertise(ctx: NodeContext): InvalidArgumentError | undefined {
    if (!this.#discovery || this.#closing) return undefined;
    const streams = [...this.#producers.values()].map((p) => p.stream);
    const result = ctx.call('discovery', { kind: 'advertise', streams } satisfies DiscoveryCall);
    return result instanceof InvalidArgumentError ? result : undefined;
  }

  #onSubscribe(ctx: NodeContext, link: LinkInfo, msg: StreamsMessage & { t: 'subscribe' }): void {
    const refuse = (code: number, reason: string, p?: Producer, ticket?: TicketRejection) => {
      if (p) ctx.emit({ type: 'streams.rejected', handle: p.handle, stream: p.stream, peer: link.peer, reason: reasonOfCode(code), ...(ticket && { ticket }) });
      ctx.close(link.id, code, reason);
    };
    if (!msg.network.equals(ctx.networkId)) return refuse(CloseCode.DifferentNetwork, 'subscribe for another network');
    const p = this.#producers.get(msg.stream.hex);
    if (!p) return refuse(CloseCode.StreamNotFound, `no producer of stream ${msg.stream.short}`);
    const entry = this.#signedEntry(ctx, link.peer);
    if (!entry) return refuse(CloseCode.UnknownPeer, 'your signed entry is not in our catalog yet', p);
    if (msg.window < 0 || msg.window > MAX_WINDOW) return refuse(CloseCode.ProtocolViolation, `window ${msg.window} out of [0, ${MAX_WINDOW}]`, p);
    if (p.subs.size >= p.config.maxConsumers) return refuse(CloseCode.StreamNoCapacity, `at most ${p.config.maxConsumers} consumers`, p);
    if (!this.#passes(p.config.require, entry)) return refuse(CloseCode.StreamNotAllowed, 'require refused this peer', p);
    const auth = this.#checkTickets(ctx, p, entry);
    if (!auth.ok) return refuse(CloseCode.StreamNotAllowed, `ticket refused: ${auth.reason.code}: ${auth.reason.detail}`, p, auth.reason);
    const sub: ProducerSub = {
      link: link.id,
      peer: link.peer,
      entry,
      credits: msg.window,
      queue: [],
      connectedAtWallMs: ctx.wallClockMs,
      stats: { datums: 0, bytes: 0 },
      dropped: 0,
      maxDatum: maxDatumBytes(link.maxFrameBytes),
      tooLarge: 0,
      ticketWatch: undefined,
    };
    sub.ticketWatch = this.#watchTickets(ctx, p, auth, undefined, { kind: 'ticket-expiry', handle: p.handle, link: link.id });
    p.subs.set(link.id, sub);
    this.#producerLinks.set(link.id, p);
    ctx.send(link.id, { t: 'start', network: ctx.networkId, stream: p.stream } satisfies StreamsMessage);
    ctx.emit({ type: 'streams.subscribed', role: 'producer', handle: p.handle, stream: p.stream, peer: link.peer, link: link.id });
    this.#updateOnline(ctx, p);
  }

  /** Fans a datum out to every subscription; returns its seq. */
  #deliver(ctx: NodeContext, p: Producer, data: Uint8Array): number {
    const seq = ++p.seq;
    p.stats.datums++;
    p.stats.bytes += data.length;
    let lagging: ProducerSub[] | undefined;
    let taken = 0;
    for (const sub of p.subs.values()) {
      if (data.length > sub.maxDatum) {
        sub.tooLarge++;
        p.tooLarge++;
      } else if (sub.credits > 0 && sub.queue.length === 0) {
        this.#sendDatum(ctx, sub, seq, data);
        taken++;
      } else if (sub.queue.length < p.config.bufferSize) {
        sub.queue.push([seq, data]);
        taken++;
      } else if (p.config.disconnectLagging) {
        lagging ??= [];
        lagging.push(sub);
      } else sub.dropped++;
    }
    if (lagging) {
      for (const sub of lagging) this.#dropProducerSub(ctx, p, sub, CloseCode.StreamTooSlow, `more than ${p.config.bufferSize} datums behind`);
      this.#updateOnline(ctx, p, false);
    }
    if (taken === 0) ctx.emit({ type: 'streams.undelivered', handle: p.handle, seq, data });
    return seq;
  }

  #sendDatum(ctx: NodeContext, sub: ProducerSub, seq: number, data: Uint8Array): void {
    sub.credits--;
    sub.stats.datums++;
    sub.stats.bytes += data.length;
    ctx.send(sub.link, { t: 'datum', seq, data } satisfies StreamsMessage);
  }

  #onCredit(ctx: NodeContext, p: Producer, sub: ProducerSub, n: number): void {
    if (sub.credits + n > MAX_WINDOW) return this.#dropProducerSub(ctx, p, sub, CloseCode.ProtocolViolation, 'credit beyond the window', true);
    sub.credits += n;
    if (this.#bugs.reorderQueue && sub.queue.length >= 2) sub.queue.splice(0, 2, sub.queue[1] as [number, Uint8Array], sub.queue[0] as [number, Uint8Array]);
    while (sub.credits > 0 && sub.queue.length > 0) {
      const [seq, data] = sub.queue.shift() as readonly [number, Uint8Array];
      this.#sendDatum(ctx, sub, seq, data);
    }
    this.#drainParked(ctx, p);
  }

  /** Full: no consumer could take a datum now (only with `disconnectLagging: false`; else a full queue disconnects). */
  #full(p: Producer): boolean {
    return p.parked.length > 0 || this.#queuesFull(p);
  }

  #queuesFull(p: Producer): boolean {
    if (p.config.disconnectLagging || p.subs.size === 0) return false;
    for (const sub of p.subs.values()) if (sub.queue.length < p.config.bufferSize) return false;
    return true;
  }

  /** Completes parked sends, in order, while the producer is online with capacity. */
  #drainParked(ctx: NodeContext, p: Producer): void {
    while (p.parked.length > 0 && p.online && !this.#queuesFull(p) && this.#handles.has(p.handle)) {
      const { req, data } = p.parked.shift() as { req: RequestId; data: Uint8Array };
      ctx.complete(req, this.#deliver(ctx, p, data));
    }
  }

  /** Ends a producer-side subscription: closes its link (unless it is already down) and tells the application. */
  #dropProducerSub(ctx: NodeContext, p: Producer, sub: ProducerSub, code: number, reason: string, updateOnline = false, ticket?: TicketRejection): void {
    p.subs.delete(sub.link);
    this.#producerLinks.delete(sub.link);
    this.#unwatchTickets(ctx, sub);
    ctx.close(sub.link, code, reason);
    ctx.emit({
      type: 'streams.unsubscribed',
      role: 'producer',
      handle: p.handle,
      stream: p.stream,
      peer: sub.peer,
      reason: reasonOfCode(code),
      retryInMs: undefined,
      ...(ticket && { ticket }),
    });
    if (updateOnline) this.#updateOnline(ctx, p);
  }

  // ---- consumers -----------------------------------------------------------------------

  #openConsumer(ctx: NodeContext, req: RequestId, stream: StreamId, config: ConsumerConfig): void {
    assert(
      config.bufferSize >= 1 && config.bufferSize <= MAX_WINDOW && config.onlineWhen instanceof ChannelConditions,
      'consumer config is checked by the API',
    );
    checkBackoff(config.backoff);
    const c: Consumer = {
      role: 'consumer',
      handle: this.#nextHandle++,
      stream,
      config,
      subs: new Map(),
      refused: new Map(),
      unread: new Map(),
      online: false,
    };
    this.#handles.set(c.handle, c);
    this.lastOpened = c.handle;
    ctx.complete(req, c.handle);
    this.#updateOnline(ctx, c);
    const catalog = this.#discovery?.catalog;
    if (catalog) for (const { entry } of catalog.signedPeers(ctx.wallClockMs)) this.#evaluate(ctx, c, entry.peerId, entry);
  }

  #closeConsumer(ctx: NodeContext, c: Consumer): void {
    this.#handles.delete(c.handle);
    for (const sub of [...c.subs.values()]) this.#endConsumerSub(ctx, c, sub, 'closed', CloseCode.Cancelled, 'consumer closed');
    ctx.emit({ type: 'streams.closed', role: 'consumer', handle: c.handle });
  }

  /**
   * Re-evaluates one producer peer for a consumer, from its current entry (undefined: gone
   * from the catalog): subscribes if it advertises the stream and passes `require`, drops
   * the subscription if it no longer does.
   */
  #evaluate(ctx: NodeContext, c: Consumer, peer: PeerId, entry: PeerEntry | undefined): void {
    const key = peer.hex;
    const sub = c.subs.get(key);
    const eligible =
      entry !== undefined && entry.addresses.length > 0 && entry.streams.some((s) => s.equals(c.stream)) && this.#passes(c.config.require, entry);
    if (sub) {
      if (!eligible) return this.#endConsumerSub(ctx, c, sub, 'ineligible', CloseCode.Cancelled, 'producer no longer matches');
      sub.entry = entry;
      this.#recheckConsumerSub(ctx, c, sub);
      return;
    }
    if (!eligible) return;
    const auth = this.#checkTickets(ctx, c, entry);
    if (!auth.ok) return;
    const refusedAt = c.refused.get(key);
    if (refusedAt !== undefined) {
      if (refusedAt === versionKey(entry)) return;
      c.refused.delete(key);
    }
    const fresh: ConsumerSub = {
      peer,
      entry,
      state: 'connecting',
      link: undefined,
      timer: undefined,
      subscribeSentAtMs: undefined,
      connectedAtMs: undefined,
      connectedAtWallMs: undefined,
      credit: 0,
      attempt: 0,
      streakStartMs: undefined,
      lastReason: undefined,
      stats: { datums: 0, bytes: 0 },
      ticketWatch: undefined,
    };
    fresh.ticketWatch = this.#watchTickets(ctx, c, auth, undefined, { kind: 'ticket-expiry', handle: c.handle, peer: key });
    c.subs.set(key, fresh);
    this.#dial(ctx, c, fresh);
  }

  #dial(ctx: NodeContext, c: Consumer, sub: ConsumerSub): void {
    sub.state = 'connecting';
    sub.timer = undefined;
    sub.connectedAtMs = undefined;
    sub.subscribeSentAtMs = undefined;
    const link = ctx.connect(sub.peer, sub.entry.addresses, STREAMS_PROTOCOL);
    sub.link = link;
    this.#consumerLinks.set(link, { consumer: c, sub });
  }

  #onStart(ctx: NodeContext, link: LinkInfo, c: Consumer, sub: ConsumerSub, msg: StreamsMessage & { t: 'start' }): void {
    if (sub.state !== 'connecting' || sub.subscribeSentAtMs === undefined) return this.#violation(ctx, c, sub, 'start twice');
    if (!msg.network.equals(ctx.networkId)) return this.#consumerLinkDown(ctx, c, sub, CloseCode.DifferentNetwork, 'start for another network', true);
    if (!msg.stream.equals(c.stream)) return this.#consumerLinkDown(ctx, c, sub, CloseCode.StreamNotFound, 'start for another stream', true);
    this.#discovery?.rtt.addSample(sub.peer, ctx.nowMs - sub.subscribeSentAtMs);
    sub.state = 'connected';
    sub.connectedAtMs = ctx.nowMs;
    sub.connectedAtWallMs = ctx.wallClockMs;
    sub.lastReason = undefined;
    ctx.emit({ type: 'streams.subscribed', role: 'consumer', handle: c.handle, stream: c.stream, peer: sub.peer, link: link.id });
    // Room the application freed while the link was opening (from earlier links' datums).
    this.#grant(ctx, c, sub, link.id);
    this.#updateOnline(ctx, c);
  }

  #onDatum(ctx: NodeContext, link: LinkInfo, c: Consumer, sub: ConsumerSub, msg: StreamsMessage & { t: 'datum' }): void {
    if (sub.state !== 'connected') return this.#violation(ctx, c, sub, 'datum before start');
    if (sub.credit <= 0) return this.#violation(ctx, c, sub, 'datum beyond the granted window');
    sub.credit--;
    c.unread.set(sub.peer.hex, (c.unread.get(sub.peer.hex) ?? 0) + 1);
    sub.stats.datums++;
    sub.stats.bytes += msg.data.length;
    ctx.emit({ type: 'streams.datum', handle: c.handle, link: link.id, producer: sub.peer, seq: msg.seq, data: msg.data });
  }

  /** The application took `n` datums from `producer`: their room goes back to its link, if it has one now. */
  #consumed(ctx: NodeContext, c: Consumer, producer: PeerId, n: number): void {
    const left = (c.unread.get(producer.hex) ?? 0) - n;
    assert(left >= 0, 'the application takes no more datums than it was handed');
    if (left === 0) c.unread.delete(producer.hex);
    else c.unread.set(producer.hex, left);
    const sub = c.subs.get(producer.hex);
    if (sub?.state === 'connected' && sub.link !== undefined) this.#grant(ctx, c, sub, sub.link);
  }

  /** Grants the room left in the window to a connected link, in batches of an eighth of the window. */
  #grant(ctx: NodeContext, c: Consumer, sub: ConsumerSub, link: LinkId): void {
    const room = this.#room(c, sub);
    if (room < Math.max(1, c.config.bufferSize >> 3)) return;
    sub.credit += room;
    ctx.send(link, { t: 'credit', n: room } satisfies StreamsMessage);
  }

  /** What the producer may send on top of what is granted: the window less unread datums and credit. */
  #room(c: Consumer, sub: ConsumerSub): number {
    return Math.max(0, this.#windowLeft(c, sub.peer) - sub.credit);
  }

  /** The window less the datums of `producer` the application holds. */
  #windowLeft(c: Consumer, producer: PeerId): number {
    return Math.max(0, c.config.bufferSize - (c.unread.get(producer.hex) ?? 0));
  }

  #violation(ctx: NodeContext, c: Consumer, sub: ConsumerSub, reason: string): void {
    this.#consumerLinkDown(ctx, c, sub, CloseCode.ProtocolViolation, reason, true);
  }

  /** Ends a subscription for good (closing its link if open, cancelling a retry). */
  #endConsumerSub(ctx: NodeContext, c: Consumer, sub: ConsumerSub, reason: StreamCloseReason, code: number, text: string, ticket?: TicketRejection): void {
    c.subs.delete(sub.peer.hex);
    if (sub.timer !== undefined) ctx.cancelTimer(sub.timer);
    this.#unwatchTickets(ctx, sub);
    if (sub.link !== undefined) {
      this.#consumerLinks.delete(sub.link);
      ctx.close(sub.link, code, text);
    }
    ctx.emit({
      type: 'streams.unsubscribed',
      role: 'consumer',
      handle: c.handle,
      stream: c.stream,
      peer: sub.peer,
      reason,
      retryInMs: undefined,
      ...(ticket && { ticket }),
    });
    this.#updateOnline(ctx, c);
  }

  /**
   * A subscription's link ended with `code` (closed by the producer, lost, refused, or
   * closed by us with `closeLocally`). Terminal reasons end the subscription until the
   * producer's entry changes; the others retry with backoff.
   */
  #consumerLinkDown(ctx: NodeContext, c: Consumer, sub: ConsumerSub, code: number, text: string, closeLocally = false): void {
    const link = sub.link;
    if (link !== undefined) {
      this.#consumerLinks.delete(link);
      if (closeLocally) ctx.close(link, code, text);
    }
    sub.link = undefined;
    const reason = reasonOfCode(code);
    sub.lastReason = reason;
    const b = c.config.backoff;
    if (sub.connectedAtMs !== undefined && ctx.nowMs - sub.connectedAtMs >= b.resetAfterMs) {
      sub.attempt = 0;
      sub.streakStartMs = undefined;
    }
    sub.connectedAtMs = undefined;
    sub.connectedAtWallMs = undefined;
    sub.streakStartMs ??= ctx.nowMs;
    const gaveUp = ctx.nowMs - sub.streakStartMs > b.maxElapsedMs;
    if (isTerminal(reason) || gaveUp || this.#closing) {
      c.subs.delete(sub.peer.hex);
      this.#unwatchTickets(ctx, sub);
      c.refused.set(sub.peer.hex, versionKey(sub.entry));
      const final = gaveUp && !isTerminal(reason) ? 'gave-up' : reason;
      ctx.emit({ type: 'streams.unsubscribed', role: 'consumer', handle: c.handle, stream: c.stream, peer: sub.peer, reason: final, retryInMs: undefined });
    } else {
      const delayMs = backoffDelayMs(b, sub.attempt++, ctx.rng);
      sub.state = 'backoff';
      sub.timer = ctx.armTimer(ctx.nowMs + delayMs, { kind: 'retry', handle: c.handle, peer: sub.peer.hex } satisfies TimerPayload);
      ctx.emit({ type: 'streams.unsubscribed', role: 'consumer', handle: c.handle, stream: c.stream, peer: sub.peer, reason, retryInMs: delayMs });
    }
    this.#updateOnline(ctx, c);
  }

  // ---- links -------------------------------------------------------------------------

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'in') {
      const timer = ctx.armTimer(ctx.nowMs + SUBSCRIBE_TIMEOUT_MS, { kind: 'subscribe-timeout', link: link.id } satisfies TimerPayload);
      this.#inbound.set(link.id, { timer });
      return;
    }
    const found = this.#consumerLinks.get(link.id);
    if (!found) return ctx.close(link.id, CloseCode.Cancelled, 'no longer wanted');
    const { consumer, sub } = found;
    // Only the room the application left: datums of earlier links it has not taken count.
    sub.credit = this.#windowLeft(consumer, sub.peer);
    sub.subscribeSentAtMs = ctx.nowMs;
    ctx.send(link.id, { t: 'subscribe', network: ctx.networkId, stream: consumer.stream, window: sub.credit } satisfies StreamsMessage);
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void {
    const msg = message as StreamsMessage;
    if (link.dir === 'in') {
      const pending = this.#inbound.get(link.id);
      if (pending) {
        this.#inbound.delete(link.id);
        ctx.cancelTimer(pending.timer);
        if (msg.t !== 'subscribe') return ctx.close(link.id, CloseCode.ProtocolViolation, `expected subscribe, got ${msg.t}`);
        return this.#onSubscribe(ctx, link, msg);
      }
      const p = this.#producerLinks.get(link.id);
      const sub = p?.subs.get(link.id);
      if (!p || !sub) return;
      if (msg.t !== 'credit') return this.#dropProducerSub(ctx, p, sub, CloseCode.ProtocolViolation, `unexpected ${msg.t} from a consumer`, true);
      return this.#onCredit(ctx, p, sub, msg.n);
    }
    const found = this.#consumerLinks.get(link.id);
    if (!found) return;
    const { consumer, sub } = found;
    if (msg.t === 'start') return this.#onStart(ctx, link, consumer, sub, msg);
    if (msg.t === 'datum') return this.#onDatum(ctx, link, consumer, sub, msg);
    this.#violation(ctx, consumer, sub, `unexpected ${msg.t} from a producer`);
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    const code = down.kind === 'failed' ? CloseCode.LinkLost : down.code;
    const text = down.kind === 'failed' ? `${down.reason}: ${down.detail}` : down.reason;
    if (link.dir === 'in') {
      const pending = this.#inbound.get(link.id);
      if (pending) {
        this.#inbound.delete(link.id);
        ctx.cancelTimer(pending.timer);
        return;
      }
      const p = this.#producerLinks.get(link.id);
      const sub = p?.subs.get(link.id);
      if (!p || !sub) return;
      p.subs.delete(link.id);
      this.#producerLinks.delete(link.id);
      this.#unwatchTickets(ctx, sub);
      ctx.emit({
        type: 'streams.unsubscribed',
        role: 'producer',
        handle: p.handle,
        stream: p.stream,
        peer: sub.peer,
        reason: reasonOfCode(code),
        retryInMs: undefined,
      });
      this.#updateOnline(ctx, p);
      return;
    }
    const found = this.#consumerLinks.get(link.id);
    if (!found) return;
    this.#consumerLinkDown(ctx, found.consumer, found.sub, code, text);
  }

  onTimer(ctx: NodeContext, payload: unknown): void {
    const timer = payload as TimerPayload;
    if (timer.kind === 'subscribe-timeout') {
      if (this.#inbound.delete(timer.link)) ctx.close(timer.link, CloseCode.Cancelled, 'no subscribe in time');
      return;
    }
    if (timer.kind === 'ticket-expiry') return this.#onTicketExpiry(ctx, timer);
    const c = this.#handles.get(timer.handle);
    if (c?.role !== 'consumer') return;
    const sub = c.subs.get(timer.peer);
    if (sub?.state !== 'backoff') return;
    sub.timer = undefined;
    // Still wanted? The producer may have stopped advertising, or failed `require`, meanwhile.
    const entry = this.#signedEntry(ctx, sub.peer);
    if (entry === undefined || !entry.streams.some((s) => s.equals(c.stream)) || !this.#passes(c.config.require, entry)) {
      return this.#endConsumerSub(ctx, c, sub, 'ineligible', CloseCode.Cancelled, 'producer no longer matches');
    }
    sub.entry = entry;
    if (!this.#recheckConsumerSub(ctx, c, sub)) return;
    this.#dial(ctx, c, sub);
  }

  /** A subscription's tickets reached their expiration (or the re-check cap): validate them again at the wall clock. */
  #onTicketExpiry(ctx: NodeContext, timer: TimerPayload & { kind: 'ticket-expiry' }): void {
    const h = this.#handles.get(timer.handle);
    if (h?.role === 'producer' && timer.link !== undefined) {
      const sub = h.subs.get(timer.link);
      if (!sub?.ticketWatch) return;
      sub.ticketWatch = undefined;
      if (this.#recheckProducerSub(ctx, h, sub)) this.#updateOnline(ctx, h);
    } else if (h?.role === 'consumer' && timer.peer !== undefined) {
      const sub = h.subs.get(timer.peer);
      if (!sub?.ticketWatch) return;
      sub.ticketWatch = undefined;
      this.#recheckConsumerSub(ctx, h, sub);
    }
  }

  // ---- catalog changes ---------------------------------------------------------------

  /** Discovery's events: re-evaluate the peer that changed, for every consumer and producer. */
  onEvent(ctx: NodeContext, event: NodeEvent): void {
    let peer: PeerId;
    let entry: PeerEntry | undefined;
    switch (event.type) {
      case 'discovery.discovered':
      case 'discovery.updated':
        peer = event.entry.peerId;
        entry = event.entry;
        break;
      case 'discovery.departed':
        peer = event.peer;
        entry = undefined;
        break;
      default:
        return;
    }
    for (const h of [...this.#handles.values()]) {
      if (!this.#handles.has(h.handle)) continue;
      if (h.role === 'consumer') this.#evaluate(ctx, h, peer, entry);
      else if (entry) this.#reevaluateConsumer(ctx, h, entry);
    }
  }

  /**
   * A producer re-checks `require` and `requireTickets` against a subscribed consumer's new
   * entry (mosaik checks `require` at accept time only, §6.5; tickets it re-checks too).
   */
  #reevaluateConsumer(ctx: NodeContext, p: Producer, entry: PeerEntry): void {
    for (const sub of [...p.subs.values()]) {
      if (!sub.peer.equals(entry.peerId)) continue;
      sub.entry = entry;
      if (!this.#passes(p.config.require, entry)) {
        this.#dropProducerSub(ctx, p, sub, CloseCode.StreamNotAllowed, 'require no longer holds', true);
        continue;
      }
      if (!this.#recheckProducerSub(ctx, p, sub)) continue;
      this.#updateOnline(ctx, p);
    }
  }

  /** Re-validates a consumer's tickets (its entry as last seen): drops it with StreamNotAllowed, or re-arms the expiry timer. True while it stays. */
  #recheckProducerSub(ctx: NodeContext, p: Producer, sub: ProducerSub): boolean {
    const auth = this.#checkTickets(ctx, p, sub.entry);
    if (!auth.ok) {
      this.#dropProducerSub(ctx, p, sub, CloseCode.StreamNotAllowed, `ticket refused: ${auth.reason.code}: ${auth.reason.detail}`, true, auth.reason);
      return false;
    }
    sub.ticketWatch = this.#watchTickets(ctx, p, auth, sub.ticketWatch, { kind: 'ticket-expiry', handle: p.handle, link: sub.link });
    return true;
  }

  /** Re-validates a producer's tickets (its entry as last seen): ends the subscription (`not-allowed`), or re-arms the expiry timer. True while it stays. */
  #recheckConsumerSub(ctx: NodeContext, c: Consumer, sub: ConsumerSub): boolean {
    const auth = this.#checkTickets(ctx, c, sub.entry);
    if (!auth.ok) {
      const text = `producer ticket refused: ${auth.reason.code}: ${auth.reason.detail}`;
      this.#endConsumerSub(ctx, c, sub, 'not-allowed', CloseCode.Cancelled, text, auth.reason);
      return false;
    }
    sub.ticketWatch = this.#watchTickets(ctx, c, auth, sub.ticketWatch, { kind: 'ticket-expiry', handle: c.handle, peer: sub.peer.hex });
    return true;
  }

  // ---- shared --------------------------------------------------------------------------

  /** Recomputes `online` (emitting a change); a producer that is online then completes parked sends, unless `drain` is false. */
  #updateOnline(ctx: NodeContext, h: Handle, drain = true): void {
    if (!this.#handles.has(h.handle)) return;
    const connected: PeerEntry[] = [];
    if (h.role === 'producer') for (const sub of h.subs.values()) connected.push(sub.entry);
    else for (const sub of h.subs.values()) if (sub.state === 'connected') connected.push(sub.entry);
    const online = h.config.onlineWhen.isMet(connected);
    if (online !== h.online) {
      h.online = online;
      ctx.emit({ type: 'streams.online', role: h.role, handle: h.handle, online });
    }
    if (h.role === 'producer' && online && drain) this.#drainParked(ctx, h);
  }

  /** The validators a handle enforces (none for producers with the planted `ignoreTickets`). */
  #validators(h: Handle): readonly TicketValidator[] {
    if (h.role === 'producer' && this.#bugs.ignoreTickets) return [];
    return h.config.requireTickets ?? [];
  }

  /** `entry` against the handle's `requireTickets`, at this node's wall clock (memoised: see TicketGate). */
  #checkTickets(ctx: NodeContext, h: Handle, entry: PeerEntry): TicketsValidation {
    const validators = this.#validators(h);
    return validators.length === 0 ? ADMITTED : this.tickets.check(validators, entry, ctx.wallClockMs);
  }

  /**
   * The expiry timer for a validation that passed: kept when the expiration is unchanged,
   * else re-armed at the new one (capped at TICKET_RECHECK_MAX_MS). None without validators.
   */
  #watchTickets(ctx: NodeContext, h: Handle, auth: TicketsValidation, watch: TicketWatch | undefined, payload: TimerPayload): TicketWatch | undefined {
    if (!auth.ok || this.#validators(h).length === 0) {
      if (watch) ctx.cancelTimer(watch.timer);
      return undefined;
    }
    if (watch && compareExpirations(watch.expiration, auth.expiration) === 0) return watch;
    if (watch) ctx.cancelTimer(watch.timer);
    return { timer: ctx.armTimer(recheckAtMs(auth, ctx.nowMs, ctx.wallClockMs), payload), expiration: auth.expiration };
  }

  #unwatchTickets(ctx: NodeContext, sub: ProducerSub | ConsumerSub): void {
    if (sub.ticketWatch) ctx.cancelTimer(sub.ticketWatch.timer);
    sub.ticketWatch = undefined;
  }

  #passes(require: readonly PeerPredicate[], entry: PeerEntry): boolean {
    if (require.length === 0) return true;
    const info = peerInfo(entry, this.#discovery?.rtt.rtt(entry.peerId));
    return require.every((f) => accepts(f, info));
  }

  /** A peer's signed, fresh entry from the catalog. */
  #signedEntry(ctx: NodeContext, peer: PeerId): PeerEntry | undefined {
    return this.#discovery?.catalog?.signedEntry(peer, ctx.wallClockMs);
  }

  get #local(): PeerId {
    assert(this.#me, 'streams used before the node started');
    return this.#me;
  }
}

/**
 * Whether an application predicate accepts `info`. It runs inside the node, so a throw must
 * not escape: that would end the node (and a simulation) for one bad callback. A predicate
 * that throws does not accept.
 */
function accepts(f: PeerPredicate, info: PeerInfo): boolean {
  try {
    return Boolean(f(info));
  } catch {
    return false;
  }
}

/** What a `datum` frame adds to its bytes, at most (its tag and sequence number). */
const DATUM_OVERHEAD_BYTES = 64;

/** The largest datum (encoded) a node with this `maxFrameBytes` can send. */
export function maxDatumBytes(maxFrameBytes: number): number {
  return frameCapacity(maxFrameBytes) - DATUM_OVERHEAD_BYTES;
}

/**
 * Why this encoded datum cannot be sent, or undefined: a datum travels in one frame, and one
 * too large would be dropped at every send, silently. Checked by the machine for `send` and
 * by the API before `trySend` dispatches (which cannot report a failure later).
 */
export function oversizedDatum(data: Uint8Array, maxFrameBytes: number): OversizedError | undefined {
  const most = maxDatumBytes(maxFrameBytes);
  if (data.length <= most) return undefined;
  return new OversizedError(data.length, most, `a datum of ${data.length} bytes encoded is more than one frame carries (${most})`);
}
