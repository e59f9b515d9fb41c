import { type MosaikError, OversizedError } from '../errors.ts';
import type { GossipTimer } from '../gossip/io.ts';
import type { GossipMessage } from '../gossip/messages.ts';
import type { PlumTreeTimings } from '../gossip/plumtree.ts';
import { GossipTopic, type GossipTopicOptions } from '../gossip/topic.ts';
import type { PeerId } from '../identity/keys.ts';
import type { LinkId, TimerId } from '../node/io.ts';
import type { LinkInfo, NodeContext, PendingLink } from '../node/subsystem.ts';
import { assert, unreachable } from '../util/assert.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { ANNOUNCE_PROTOCOL, MAX_BATCH_MESSAGES } from './announcement.ts';

/** Gossip messages waiting for one neighbor's link; beyond this the oldest are dropped (PlumTree and anti-entropy repair what gossip loses). */
export const MAX_QUEUED_MESSAGES = 1024;

/** Peers per base window: the window grows by the base for each this many known peers (see `AnnounceMesh`). */
export const PEERS_PER_BASE_WINDOW = 100;

export interface AnnounceMeshOptions {
  /** Gossip messages for a neighbor are sent together once per window; this is the window for up to 100 known peers. @default 100 */
  readonly batchWindowMs: number;
  /** The window never grows past this. @default 500 */
  readonly maxBatchWindowMs: number;
  readonly topic: Omit<GossipTopicOptions, 'me' | 'rng'>;
}

/** What the mesh tells its owner. */
export interface AnnounceMeshHandler {
  /** Peers known now (the catalog's size): the batch window follows it. */
  networkSize(): number;
  /** Where `peer` can be dialed: its entry's addresses, or what it told the overlay. */
  addressesOf(peer: PeerId): readonly string[];
  /** Whether a received payload may spread further and be delivered (checked before forwarding). */
  accept(ctx: NodeContext, data: Uint8Array): boolean;
  onReceived(ctx: NodeContext, data: Uint8Array, from: PeerId): void;
  onNeighborUp(ctx: NodeContext, peer: PeerId): void;
  onNeighborDown(ctx: NodeContext, peer: PeerId): void;
}

/** Timer payloads of the mesh; the owner routes payloads with `mesh: true` here. */
export type MeshTimer = { readonly mesh: true; readonly gossip: GossipTimer } | { readonly mesh: true; readonly flush: true };

export function isMeshTimer(payload: unknown): payload is MeshTimer {
  return typeof payload === 'object' && payload !== null && (payload as { mesh?: unknown }).mesh === true;
}

interface Neighbor {
  readonly peer: PeerId;
  /** Links to the peer, and whether each is up. Both ends may dial at once; either link serves. */
  readonly links: Map<LinkId, boolean>;
  queue: GossipMessage[];
}

/**
 * Runs a gossip topic (HyParView + PlumTree, `core/gossip/`) over node links: one announce
 * link per overlay neighbor, dialed on the first message for it; a link that fails or closes
 * is reported to the topic as the peer going down.
 *
 * Messages are batched per neighbor for one window, so a node sends at most one frame per
 * neighbor per window however busy the network is. Every peer re-announces once per refresh
 * interval, so the messages a node relays grow with the network; the window grows with it
 * (the base per PEERS_PER_BASE_WINDOW known peers, up to the maximum), which keeps the frames
 * a node sends per second bounded by its view size (HyParView keeps that bounded) while the
 * bytes grow with the network, as they must. PlumTree's graft timers are scaled by the
 * window, so batching never looks like a missing payload, and IHAVEs are collected for one
 * window too: they go out in the frames the window sends anyway.
 */
export class AnnounceMesh {
  readonly topic: GossipTopic;
  readonly #options: AnnounceMeshOptions;
  readonly #handler: AnnounceMeshHandler;
  readonly #neighbors = new Map<string, Neighbor>();
  readonly #byLink = new Map<LinkId, Neighbor>();
  #flushTimer: TimerId | undefined;
  /** The context of the input being handled: the topic's `accept` runs inside `handle`. */
  #ctx: NodeContext | undefined;
  /** The window the topic's timers are tuned for. */
  #windowMs: number;

  constructor(ctx: NodeContext, options: AnnounceMeshOptions, handler: AnnounceMeshHandler) {
    this.#options = options;
    this.#handler = handler;
    const window = options.batchWindowMs;
    this.#windowMs = window;
    this.topic = new GossipTopic({
      ...options.topic,
      me: ctx.peerId,
      rng: ctx.rng,
      accept: (data) => {
        const current = this.#ctx;
        assert(current, 'gossip checks payloads only while the mesh handles an input');
        return handler.accept(current, data);
      },
      broadcast: {
        ...timingsFor(window),
        // IHAVEs go out with each flush of the window's batch: no timer of their own.
        driverDispatchesLazyPush: true,
        // Expiry is coarse: the retentions are seconds.
        cacheEvictIntervalMs: 5_000,
        // Grafts come within a second or two of an IHAVE: payloads need not stay longer.
        messageCacheRetentionMs: 10_000,
        // Ids must outlive any relayed copy (`DiscoverySubsystem#merge`), which is within the
        // drift limit (50 s by default) of its making, or it would spread a second time.
        messageIdRetentionMs: 60_000,
        ...options.topic.broadcast,
      },
    });
  }

  /** Joins the overlay through `contacts` (none: wait to be joined). */
  join(ctx: NodeContext, contacts: readonly PeerId[]): void {
    this.#handle(ctx, { type: 'command', command: { type: 'join', peers: contacts } });
  }

  /**
   * Broadcasts `data` to the topic; false when it is over the payload limit (nothing is
   * sent). `final`: we are leaving, so every neighbor gets the payload itself (see GossipCommand).
   */
  broadcast(ctx: NodeContext, data: Uint8Array, final = false): boolean {
    if (this.topic.checkBroadcast(data)) return false;
    this.#handle(ctx, { type: 'command', command: { type: 'broadcast', data, final } });
    return true;
  }

  /** Leaves the overlay: tells the neighbors, and sends everything still queued. */
  quit(ctx: NodeContext): void {
    this.#handle(ctx, { type: 'command', command: { type: 'quit' } });
    this.#dispatchLazyPush(ctx);
    this.#flushAll(ctx);
  }

  neighborCount(): number {
    return this.topic.activeView().length;
  }

  // ---- links (the owner routes ANNOUNCE_PROTOCOL links here) ----------------------------

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    let neighbor = this.#byLink.get(link.id);
    if (!neighbor) {
      // Dialed by the peer: the overlay decides what it is to us when its messages arrive.
      neighbor = this.#neighbor(link.peer);
      this.#byLink.set(link.id, neighbor);
    }
    neighbor.links.set(link.id, true);
    this.#flush(ctx, neighbor);
  }

  onFrame(ctx: NodeContext, link: LinkInfo, messages: readonly GossipMessage[]): void {
    const neighbor = this.#byLink.get(link.id);
    if (!neighbor) return;
    for (const message of messages) this.#handle(ctx, { type: 'recv', from: neighbor.peer, message });
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink): void {
    const neighbor = this.#byLink.get(link.id);
    if (!neighbor) return;
    this.#byLink.delete(link.id);
    neighbor.links.delete(link.id);
    if (neighbor.links.size > 0) return;
    this.#neighbors.delete(neighbor.peer.hex);
    this.#handle(ctx, { type: 'peerDown', peer: neighbor.peer });
  }

  onTimer(ctx: NodeContext, timer: MeshTimer): void {
    if ('flush' in timer) {
      this.#flushTimer = undefined;
      this.#dispatchLazyPush(ctx);
      this.#flushAll(ctx);
      return;
    }
    this.#handle(ctx, { type: 'timer', timer: timer.gossip });
  }

  // ---- the topic's outputs --------------------------------------------------------------

  /** The IHAVEs PlumTree batched, into the neighbors' queues. */
  #dispatchLazyPush(ctx: NodeContext): void {
    if (this.topic.lazyPushPending) this.#handle(ctx, { type: 'timer', timer: { type: 'dispatchLazyPush' } });
  }

  #armFlush(ctx: NodeContext): void {
    if (this.#flushTimer === undefined) this.#flushTimer = ctx.armTimer(ctx.nowMs + this.#window(), { mesh: true, flush: true } satisfies MeshTimer);
  }

  #handle(ctx: NodeContext, input: Parameters<GossipTopic['handle']>[0]): void {
    this.#handleOutputs(ctx, input);
    if (this.topic.lazyPushPending) this.#armFlush(ctx);
  }

  #handleOutputs(ctx: NodeContext, input: Parameters<GossipTopic['handle']>[0]): void {
    const previous = this.#ctx;
    this.#ctx = ctx;
    let outputs: ReturnType<GossipTopic['handle']>;
    try {
      outputs = this.topic.handle(input, ctx.nowMs);
    } finally {
      this.#ctx = previous;
    }
    for (const output of outputs) {
      switch (output.type) {
        case 'send':
          this.#enqueue(ctx, output.to, output.message);
          break;
        case 'armTimer':
          ctx.armTimer(output.atMs, { mesh: true, gossip: output.timer } satisfies MeshTimer);
          break;
        case 'disconnect':
          this.#disconnect(ctx, output.peer);
          break;
        case 'emit': {
          const event = output.event;
          if (event.type === 'received') this.#handler.onReceived(ctx, event.data, event.from);
          else if (event.type === 'neighborUp') this.#handler.onNeighborUp(ctx, event.peer);
          else if (event.type === 'neighborDown') this.#handler.onNeighborDown(ctx, event.peer);
          else unreachable(event);
          break;
        }
        default:
          unreachable(output);
      }
    }
  }

  #neighbor(peer: PeerId): Neighbor {
    let neighbor = this.#neighbors.get(peer.hex);
    if (!neighbor) {
      neighbor = { peer, links: new Map(), queue: [] };
      this.#neighbors.set(peer.hex, neighbor);
    }
    return neighbor;
  }

  #enqueue(ctx: NodeContext, peer: PeerId, message: GossipMessage): void {
    const known = this.#neighbors.get(peer.hex);
    const neighbor = known ?? this.#neighbor(peer);
    if (neighbor.links.size === 0) {
      const addrs = this.#handler.addressesOf(peer);
      if (addrs.length === 0) {
        // Nowhere to dial: to the overlay, the peer is down.
        this.#neighbors.delete(peer.hex);
        this.#handle(ctx, { type: 'peerDown', peer });
        return;
      }
      const link = ctx.connect(peer, addrs, ANNOUNCE_PROTOCOL);
      neighbor.links.set(link, false);
      this.#byLink.set(link, neighbor);
    }
    neighbor.queue.push(message);
    if (neighbor.queue.length > MAX_QUEUED_MESSAGES) neighbor.queue.shift();
    this.#armFlush(ctx);
  }

  /** The batch window for the network's current size; the topic's timers follow big changes. */
  #window(): number {
    const { batchWindowMs: base, maxBatchWindowMs: max } = this.#options;
    const window = Math.min(max, Math.max(base, Math.round((base * this.#handler.networkSize()) / PEERS_PER_BASE_WINDOW)));
    if (Math.abs(window - this.#windowMs) * 4 > this.#windowMs) {
      this.#windowMs = window;
      this.topic.retime(timingsFor(window));
    }
    return this.#windowMs;
  }

  #flushAll(ctx: NodeContext): void {
    for (const neighbor of [...this.#neighbors.values()]) this.#flush(ctx, neighbor);
  }

  /** Sends the neighbor's queue over one of its up links, in frames of at most MAX_BATCH_MESSAGES. */
  #flush(ctx: NodeContext, neighbor: Neighbor): void {
    if (neighbor.queue.length === 0) return;
    let link: LinkId | undefined;
    for (const [id, up] of neighbor.links) {
      if (up) {
        link = id;
        break;
      }
    }
    if (link === undefined) return; // still dialing: sent when the link comes up
    const queue = neighbor.queue;
    neighbor.queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH_MESSAGES) {
      const error = sendSplitting(ctx, link, queue.slice(i, i + MAX_BATCH_MESSAGES));
      if (error) {
        ctx.close(link, CloseCode.Cancelled, error.message);
        return;
      }
    }
  }

  /** The overlay dropped `peer`: send what is queued for it (its `disconnect` included), then close. */
  #disconnect(ctx: NodeContext, peer: PeerId): void {
    const neighbor = this.#neighbors.get(peer.hex);
    if (!neighbor) return;
    this.#flush(ctx, neighbor);
    this.#neighbors.delete(peer.hex);
    for (const link of neighbor.links.keys()) {
      this.#byLink.delete(link);
      ctx.close(link, CloseCode.Success, 'gossip neighbor dropped');
    }
  }
}

/** PlumTree timers for a batch window: a graft waits out two windows (the IHAVE's and the payload's) past iroh's 80 ms. */
function timingsFor(windowMs: number): PlumTreeTimings {
  return { graftTimeout1Ms: 80 + 2 * windowMs, graftTimeout2Ms: 40 + windowMs, dispatchTimeoutMs: windowMs };
}

/**
 * Sends a batch in one frame, or, when the frame would be larger than the link carries (a
 * peer whose `maxFrameBytes` is below 64 full messages), in two halves, and so on: one
 * message always fits the smallest frame a node may set. Exported for its test.
 */
export function sendSplitting(ctx: NodeContext, link: LinkId, batch: readonly GossipMessage[]): MosaikError | undefined {
  const error = ctx.send(link, batch);
  if (!(error instanceof OversizedError) || batch.length < 2) return error;
  const half = batch.length >> 1;
  return sendSplitting(ctx, link, batch.slice(0, half)) ?? sendSplitting(ctx, link, batch.slice(half));
}
