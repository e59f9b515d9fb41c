import { MosaikError } from '../errors.ts';
import type { PeerId } from '../identity/keys.ts';
import { assert } from '../util/assert.ts';
import type { GossipOutput, GossipTimer } from './io.ts';
import {
  type BroadcastMessage,
  checkedContent,
  DEFAULT_MAX_MESSAGE_BYTES,
  IHAVE_ENTRY_MAX_BYTES,
  type IHave,
  MAX_IHAVES,
  MIN_MAX_MESSAGE_BYTES,
  maxPayloadBytes,
  messageIdHex,
  messageIdOf,
} from './messages.ts';
import { ExpiringMap, PeerSet } from './util.ts';

/**
 * PlumTree broadcast for one topic (Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees",
 * SRDS 2007), following iroh-gossip's `src/proto/plumtree.rs`: payloads go eagerly to the
 * eager peers and as batched IHAVEs to the lazy ones; a duplicate payload prunes its sender
 * to lazy; a payload announced but not received within `graftTimeout1Ms` is grafted from the
 * announcer (then from the next announcer every `graftTimeout2Ms`); a lazy peer announcing a
 * message `optimizationThreshold` hops closer than the eager path is grafted, and the eager
 * sender pruned. Only iroh's `Scope::Swarm` is kept (no neighbors-only broadcasts).
 *
 * Invariant: no peer is both eager and lazy; IHAVEs are queued only for current peers.
 */
export interface PlumTreeConfig {
  /**
   * Wait after an IHAVE before grafting the missing payload. Paper p8: "should be configured
   * considering the diameter of the overlay and a target maximum recovery latency".
   * @default 80 (iroh)
   */
  readonly graftTimeout1Ms: number;
  /**
   * Wait after a GRAFT before grafting from the next announcer. Paper p9: "smaller than the
   * first, in the order of an average round trip time to a neighbor". @default 40 (iroh)
   */
  readonly graftTimeout2Ms: number;
  /** IHAVEs are batched for this long before being sent. @default 5 (iroh `dispatch_timeout`) */
  readonly dispatchTimeoutMs: number;
  /**
   * The driver sends the batched IHAVEs (by feeding the `dispatchLazyPush` timer input itself,
   * e.g. when it flushes its own send batch) and no dispatch timer is armed. @default false
   */
  readonly driverDispatchesLazyPush?: boolean;
  /** Hops a lazy path must be shorter than the eager one to swap them. @default 7 (paper p12, iroh) */
  readonly optimizationThreshold: number;
  /** Payloads kept to answer GRAFTs. @default 30_000 (iroh `message_cache_retention`) */
  readonly messageCacheRetentionMs: number;
  /** Ids of received payloads kept to drop duplicates; ≥ the cache retention. @default 90_000 (iroh) */
  readonly messageIdRetentionMs: number;
  /** Period of cache expiry. @default 1_000 (iroh `cache_evict_interval`) */
  readonly cacheEvictIntervalMs: number;
}

export const DEFAULT_PLUMTREE_CONFIG: PlumTreeConfig = Object.freeze({
  graftTimeout1Ms: 80,
  graftTimeout2Ms: 40,
  dispatchTimeoutMs: 5,
  optimizationThreshold: 7,
  messageCacheRetentionMs: 30_000,
  messageIdRetentionMs: 90_000,
  cacheEvictIntervalMs: 1_000,
});

export function checkPlumTreeConfig(c: PlumTreeConfig, maxMessageBytes: number): void {
  assert(c.graftTimeout1Ms > 0 && c.graftTimeout2Ms > 0 && c.dispatchTimeoutMs >= 0, 'plumtree: timeouts');
  assert(c.optimizationThreshold >= 1, 'plumtree: optimizationThreshold >= 1');
  assert(c.messageIdRetentionMs >= c.messageCacheRetentionMs, 'plumtree: ids are kept at least as long as payloads');
  assert(c.cacheEvictIntervalMs > 0, 'plumtree: cacheEvictIntervalMs > 0');
  assert(maxMessageBytes >= MIN_MAX_MESSAGE_BYTES && maxMessageBytes <= DEFAULT_MAX_MESSAGE_BYTES, 'plumtree: maxMessageBytes in [512, 4096]');
}

/** A broadcast payload over the topic's limit (`maxMessageBytes` minus the gossip envelope). */
export class BroadcastTooLargeError extends MosaikError {
  override readonly name = 'BroadcastTooLargeError';
  readonly code = 'BROADCAST_TOO_LARGE';
  constructor(
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`broadcast of ${sizeBytes} bytes exceeds the ${maxBytes}-byte gossip payload limit`);
  }
}

/** Inputs of the broadcast layer (iroh `plumtree::InEvent`). */
export type PlumTreeInput =
  | { readonly type: 'recv'; readonly from: PeerId; readonly message: BroadcastMessage }
  | { readonly type: 'broadcast'; readonly data: Uint8Array; readonly final?: boolean }
  | { readonly type: 'timer'; readonly timer: Extract<GossipTimer, { type: 'graft' | 'dispatchLazyPush' | 'evictCache' }> }
  | { readonly type: 'neighborUp'; readonly peer: PeerId }
  | { readonly type: 'neighborDown'; readonly peer: PeerId };

interface Gossip {
  readonly id: Uint8Array;
  readonly content: Uint8Array;
  readonly round: number;
}

const MAX_ROUND = 0xffff;

/** The timers a driver may retune while running (e.g. when it batches sends over a longer window). */
export type PlumTreeTimings = Pick<PlumTreeConfig, 'graftTimeout1Ms' | 'graftTimeout2Ms' | 'dispatchTimeoutMs'>;

export class PlumTree {
  readonly me: PeerId;
  #config: PlumTreeConfig;
  readonly #maxMessageBytes: number;
  readonly maxPayloadBytes: number;
  /** IHAVE entries per message: what fits the message limit, at most the wire bound. */
  readonly #ihaveChunk: number;
  /** Peers that get payloads. */
  readonly eager = new PeerSet();
  /** Peers that get IHAVEs. */
  readonly lazy = new PeerSet();
  readonly #lazyQueue = new Map<string, { peer: PeerId; entries: IHave[] }>();
  /** Payloads announced but not received, with their announcers in arrival order. */
  readonly #missing = new Map<string, { peer: PeerId; round: number }[]>();
  readonly #received = new ExpiringMap<true>();
  readonly #cache = new ExpiringMap<Gossip>();
  readonly #graftScheduled = new Set<string>();
  #dispatchScheduled = false;
  #init = false;

  /**
   * The application's verdict on a payload, before it is forwarded: a payload it refuses
   * (malformed, badly signed, stale) is dropped here, never spread. iroh forwards everything
   * and leaves checking to the receivers, so one bad peer's junk reaches the whole topic.
   */
  readonly #accept: ((content: Uint8Array) => boolean) | undefined;

  constructor(
    me: PeerId,
    config: PlumTreeConfig = DEFAULT_PLUMTREE_CONFIG,
    maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
    accept?: (content: Uint8Array) => boolean,
  ) {
    checkPlumTreeConfig(config, maxMessageBytes);
    this.#accept = accept;
    this.me = me;
    this.#config = config;
    this.#maxMessageBytes = maxMessageBytes;
    this.maxPayloadBytes = maxPayloadBytes(maxMessageBytes);
    // Array header (3) and variant index (1) around the entries.
    this.#ihaveChunk = Math.min(MAX_IHAVES, Math.floor((maxMessageBytes - 4) / IHAVE_ENTRY_MAX_BYTES));
  }

  get config(): PlumTreeConfig {
    return this.#config;
  }

  /** IHAVEs are waiting for dispatch. */
  get lazyPushPending(): boolean {
    return this.#lazyQueue.size > 0;
  }

  /** New graft and dispatch timeouts, for timers armed from now on (cache retentions stay). */
  retime(timings: PlumTreeTimings): void {
    const config = Object.freeze({ ...this.#config, ...timings });
    checkPlumTreeConfig(config, this.#maxMessageBytes);
    this.#config = config;
  }

  /** The typed error a broadcast of `data` would meet, if any (check before `handle`). */
  checkBroadcast(data: Uint8Array): BroadcastTooLargeError | undefined {
    return data.length > this.maxPayloadBytes ? new BroadcastTooLargeError(data.length, this.maxPayloadBytes) : undefined;
  }

  /** Number of payloads kept for GRAFTs. */
  get cachedCount(): number {
    return this.#cache.size;
  }

  handle(input: PlumTreeInput, nowMs: number, out: GossipOutput[]): void {
    if (!this.#init) {
      this.#init = true;
      this.#onEvictCacheTimer(nowMs, out);
    }
    switch (input.type) {
      case 'recv':
        this.#onMessage(input.from, input.message, nowMs, out);
        break;
      case 'broadcast':
        this.#broadcast(input.data, input.final ?? false, nowMs, out);
        break;
      case 'timer':
        if (input.timer.type === 'dispatchLazyPush') this.#onDispatchTimer(out);
        else if (input.timer.type === 'graft') this.#onGraftTimer(input.timer.id, nowMs, out);
        else this.#onEvictCacheTimer(nowMs, out);
        break;
      case 'neighborUp':
        this.#insertEager(input.peer);
        break;
      case 'neighborDown':
        this.#onNeighborDown(input.peer);
        break;
    }
    this.#checkInvariants();
  }

  #checkInvariants(): void {
    for (const peer of this.eager.values()) assert(!this.lazy.has(peer), 'plumtree: a peer is both eager and lazy');
    for (const { peer } of this.#lazyQueue.values()) assert(this.eager.has(peer) || this.lazy.has(peer), 'plumtree: IHAVEs queued for a non-peer');
  }

  #onMessage(from: PeerId, message: BroadcastMessage, nowMs: number, out: GossipOutput[]): void {
    if (from.equals(this.me)) return;
    switch (message.type) {
      case 'gossip':
        this.#onGossip(from, message, nowMs, out);
        break;
      case 'prune':
        this.#addLazy(from);
        break;
      case 'ihave':
        this.#onIHave(from, message.entries, nowMs, out);
        break;
      case 'graft':
        this.#onGraft(from, message.id, out);
        break;
    }
  }

  #broadcast(content: Uint8Array, final: boolean, nowMs: number, out: GossipOutput[]): void {
    const error = this.checkBroadcast(content);
    if (error) throw error;
    const gossip: Gossip = { id: messageIdOf(content), content, round: 0 };
    const key = messageIdHex(gossip.id);
    this.#received.set(key, true, nowMs + this.config.messageIdRetentionMs);
    this.#cache.set(key, gossip, nowMs + this.config.messageCacheRetentionMs);
    this.#eagerPush(gossip, this.me, out);
    if (!final) return this.#lazyPush(gossip, this.me, nowMs, out);
    // Last words: nobody could graft this from us later, so the lazy peers get it too.
    for (const peer of this.lazy.values()) out.push({ type: 'send', to: peer, message: { type: 'gossip', id: gossip.id, content, round: 0 } });
  }

  #onGossip(sender: PeerId, message: Gossip, nowMs: number, out: GossipOutput[]): void {
    // Drop oversized payloads, and ids that are not the content's hash (iroh `Gossip::validate`).
    if (message.content.length > this.maxPayloadBytes) return;
    const key = messageIdHex(message.id);
    const content = checkedContent(key, message.id, message.content);
    if (content === undefined) return;
    if (this.#received.has(key)) {
      // A duplicate: the sender's link is redundant for this source; make it lazy (paper p7).
      this.#addLazy(sender);
      out.push({ type: 'send', to: sender, message: { type: 'prune' } });
      return;
    }
    this.#received.set(key, true, nowMs + this.config.messageIdRetentionMs);
    if (this.#accept && !this.#accept(content)) {
      // Refused: not cached (no graft can fetch it), not forwarded, not delivered. Its id stays
      // known, so copies from other neighbors are dropped without a second look.
      this.#graftScheduled.delete(key);
      this.#missing.delete(key);
      return;
    }
    const next: Gossip = { id: Uint8Array.from(message.id), content, round: Math.min(message.round + 1, MAX_ROUND) };
    this.#cache.set(key, next, nowMs + this.config.messageCacheRetentionMs);
    this.#eagerPush(next, sender, out);
    this.#lazyPush(next, sender, nowMs, out);
    this.#graftScheduled.delete(key);
    const announcers = this.#missing.get(key);
    this.#missing.delete(key);
    if (announcers) this.#optimizeTree(sender, next.round, announcers, out);
    // A payload that came by graft makes its sender eager (done in #onGraftTimer).
    out.push({ type: 'emit', event: { type: 'received', data: content, from: sender, round: message.round } });
  }

  /**
   * Paper p9 (iroh `optimize_tree`): if a lazy peer announced the message at least
   * `optimizationThreshold` hops closer to the source than the eager path that delivered it,
   * graft the announcer and prune the eager sender.
   */
  #optimizeTree(sender: PeerId, round: number, announcers: readonly { peer: PeerId; round: number }[], out: GossipOutput[]): void {
    let best: { peer: PeerId; round: number } | undefined;
    for (const a of announcers) if (!best || a.round < best.round) best = a;
    if (!best || best.round >= round || round - best.round < this.config.optimizationThreshold) return;
    if (this.lazy.has(best.peer)) {
      this.#addEager(best.peer);
      out.push({ type: 'send', to: best.peer, message: { type: 'graft', id: undefined, round: best.round } });
    }
    this.#addLazy(sender);
    out.push({ type: 'send', to: sender, message: { type: 'prune' } });
  }

  /** Paper p8: mark each announced, unreceived message missing and start its graft timer. */
  #onIHave(sender: PeerId, entries: readonly IHave[], nowMs: number, out: GossipOutput[]): void {
    for (const entry of entries) {
      const key = messageIdHex(entry.id);
      if (this.#received.has(key)) continue;
      let list = this.#missing.get(key);
      if (!list) {
        list = [];
        this.#missing.set(key, list);
      }
      list.push({ peer: sender, round: entry.round });
      if (!this.#graftScheduled.has(key)) {
        this.#graftScheduled.add(key);
        out.push({ type: 'armTimer', atMs: nowMs + this.config.graftTimeout1Ms, timer: { type: 'graft', id: entry.id } });
      }
    }
  }

  /** Graft the first announcer still listed, and retry the next one after `graftTimeout2Ms` (paper p9). */
  #onGraftTimer(id: Uint8Array, nowMs: number, out: GossipOutput[]): void {
    const key = messageIdHex(id);
    this.#graftScheduled.delete(key);
    if (this.#received.has(key)) return;
    const list = this.#missing.get(key);
    const entry = list?.shift();
    if (list && list.length === 0) this.#missing.delete(key);
    if (!entry) return;
    this.#addEager(entry.peer);
    out.push({ type: 'send', to: entry.peer, message: { type: 'graft', id, round: entry.round } });
    this.#graftScheduled.add(key);
    out.push({ type: 'armTimer', atMs: nowMs + this.config.graftTimeout2Ms, timer: { type: 'graft', id } });
  }

  #onGraft(sender: PeerId, id: Uint8Array | undefined, out: GossipOutput[]): void {
    this.#addEager(sender);
    if (id === undefined) return;
    const gossip = this.#cache.get(messageIdHex(id));
    if (gossip) out.push({ type: 'send', to: sender, message: { type: 'gossip', id: gossip.id, content: gossip.content, round: gossip.round } });
  }

  /** Paper p9: forget a departed neighbor, and its IHAVEs in the missing list. */
  #onNeighborDown(peer: PeerId): void {
    for (const [key, list] of [...this.#missing]) {
      const kept = list.filter((a) => !a.peer.equals(peer));
      if (kept.length === 0) this.#missing.delete(key);
      else this.#missing.set(key, kept);
    }
    this.eager.delete(peer);
    this.lazy.delete(peer);
    this.#lazyQueue.delete(peer.hex);
  }

  #onDispatchTimer(out: GossipOutput[]): void {
    for (const { peer, entries } of this.#lazyQueue.values()) {
      for (let i = 0; i < entries.length; i += this.#ihaveChunk) {
        out.push({ type: 'send', to: peer, message: { type: 'ihave', entries: entries.slice(i, i + this.#ihaveChunk) } });
      }
    }
    this.#lazyQueue.clear();
    this.#dispatchScheduled = false;
  }

  #onEvictCacheTimer(nowMs: number, out: GossipOutput[]): void {
    this.#cache.expireUntil(nowMs);
    this.#received.expireUntil(nowMs);
    out.push({ type: 'armTimer', atMs: nowMs + this.config.cacheEvictIntervalMs, timer: { type: 'evictCache' } });
  }

  /**
   * Departure from iroh: only `neighborUp` brings a peer in (`#insertEager`); GRAFT, PRUNE,
   * duplicates and graft timers only move a peer that is already a neighbor between the sets.
   * A message from a peer outside the active view (in flight across a view change) is still
   * answered, but cannot make it a peer: PlumTree's peers stay exactly HyParView's active view
   * (iroh's "not yet holding" invariant), and bounded by it.
   */
  #addEager(peer: PeerId): void {
    if (this.lazy.delete(peer)) this.eager.add(peer);
  }

  #addLazy(peer: PeerId): void {
    if (this.eager.delete(peer)) this.lazy.add(peer);
  }

  #insertEager(peer: PeerId): void {
    this.lazy.delete(peer);
    this.eager.add(peer);
  }

  #eagerPush(gossip: Gossip, sender: PeerId, out: GossipOutput[]): void {
    for (const peer of this.eager.values()) {
      if (peer.equals(sender) || peer.equals(this.me)) continue;
      out.push({ type: 'send', to: peer, message: { type: 'gossip', id: gossip.id, content: gossip.content, round: gossip.round } });
    }
  }

  #lazyPush(gossip: Gossip, sender: PeerId, nowMs: number, out: GossipOutput[]): void {
    for (const peer of this.lazy.values()) {
      if (peer.equals(sender)) continue;
      let slot = this.#lazyQueue.get(peer.hex);
      if (!slot) {
        slot = { peer, entries: [] };
        this.#lazyQueue.set(peer.hex, slot);
      }
      slot.entries.push({ id: gossip.id, round: gossip.round });
    }
    if (!this.#dispatchScheduled && !this.#config.driverDispatchesLazyPush) {
      this.#dispatchScheduled = true;
      out.push({ type: 'armTimer', atMs: nowMs + this.config.dispatchTimeoutMs, timer: { type: 'dispatchLazyPush' } });
    }
  }
}
