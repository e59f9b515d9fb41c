import type { PeerId } from '../identity/keys.ts';
import { assert } from '../util/assert.ts';
import type { Rng } from '../util/rng.ts';
import type { GossipOutput, GossipTimer } from './io.ts';
import { MAX_SHUFFLE_NODES, type MembershipMessage, type PeerInfo, type Priority } from './messages.ts';
import { PeerSet } from './util.ts';

/**
 * HyParView membership for one topic (Leitão, Pereira, Rodrigues, "HyParView: a membership
 * protocol for reliable gossip-based broadcast", DSN 2007), following iroh-gossip's
 * `src/proto/hyparview.rs` step by step, including its departures from the paper (a
 * forwarded join ends in a `Neighbor` request, not a direct insert; `Neighbor` is both
 * request and reply, told apart by the pending-request table; requests time out).
 *
 * Invariants (checked after every input): active ≤ activeViewCapacity, passive ≤
 * passiveViewCapacity, we are in neither view, no peer is in both.
 */
export interface HyParViewConfig {
  /** Peers we keep connections to. @default 5 (paper p9, iroh) */
  readonly activeViewCapacity: number;
  /** Peers we remember but are not connected to. @default 30 (paper p9, iroh) */
  readonly passiveViewCapacity: number;
  /** Hops a ForwardJoin walks before the new peer enters an active view (ARWL). @default 6 (paper p9, iroh) */
  readonly activeRandomWalkLength: number;
  /** The ttl at which a ForwardJoin puts the new peer in a passive view (PRWL). @default 3 (paper p9, iroh) */
  readonly passiveRandomWalkLength: number;
  /** Hops a Shuffle walks before it is answered. @default 6 (paper p9, iroh) */
  readonly shuffleRandomWalkLength: number;
  /** Active peers sampled into a Shuffle. @default 3 (paper p9, iroh) */
  readonly shuffleActiveViewCount: number;
  /** Passive peers sampled into a Shuffle. @default 4 (paper p9, iroh) */
  readonly shufflePassiveViewCount: number;
  /** Period of the passive-view shuffle. @default 60_000 (iroh: "wild guess") */
  readonly shuffleIntervalMs: number;
  /** A `Neighbor` unanswered this long counts as failed. @default 3_000 (iroh: a dial and a round trip on a slow network) */
  readonly neighborRequestTimeoutMs: number;
}

export const DEFAULT_HYPARVIEW_CONFIG: HyParViewConfig = Object.freeze({
  activeViewCapacity: 5,
  passiveViewCapacity: 30,
  activeRandomWalkLength: 6,
  passiveRandomWalkLength: 3,
  shuffleRandomWalkLength: 6,
  shuffleActiveViewCount: 3,
  shufflePassiveViewCount: 4,
  shuffleIntervalMs: 60_000,
  neighborRequestTimeoutMs: 3_000,
});

export function checkHyParViewConfig(c: HyParViewConfig): void {
  assert(Number.isInteger(c.activeViewCapacity) && c.activeViewCapacity >= 1, 'hyparview: activeViewCapacity >= 1');
  assert(Number.isInteger(c.passiveViewCapacity) && c.passiveViewCapacity >= 0, 'hyparview: passiveViewCapacity >= 0');
  assert(c.passiveRandomWalkLength <= c.activeRandomWalkLength, 'hyparview: passiveRandomWalkLength <= activeRandomWalkLength');
  assert(c.activeRandomWalkLength <= 0xffff && c.shuffleRandomWalkLength <= 0xffff, 'hyparview: walk lengths fit a u16');
  // A shuffle carries the samples plus ourselves; a reply to a disconnected peer sends both counts.
  assert(c.shuffleActiveViewCount + c.shufflePassiveViewCount + 1 <= MAX_SHUFFLE_NODES, 'hyparview: shuffle sample fits MAX_SHUFFLE_NODES');
  assert(c.shuffleIntervalMs > 0 && c.neighborRequestTimeoutMs > 0, 'hyparview: positive intervals');
}

/** Inputs of the membership layer (iroh `hyparview::InEvent`). */
export type HyParViewInput =
  | { readonly type: 'recv'; readonly from: PeerId; readonly message: MembershipMessage }
  | { readonly type: 'timer'; readonly timer: Extract<GossipTimer, { type: 'shuffle' | 'neighborRequest' }> }
  | { readonly type: 'peerDown'; readonly peer: PeerId }
  | { readonly type: 'requestJoin'; readonly peers: readonly PeerId[] }
  | { readonly type: 'quit' };

type RemovalReason = { readonly kind: 'connectionClosed' } | { readonly kind: 'disconnectReceived'; readonly alive: boolean } | { readonly kind: 'random' };

export class HyParView {
  readonly me: PeerId;
  readonly config: HyParViewConfig;
  readonly #rng: Rng;
  #meData: Uint8Array | undefined;
  /** Peers we are connected to. */
  readonly active = new PeerSet();
  /** Peers we know of but are not connected to. */
  readonly passive = new PeerSet();
  #shuffleScheduled = false;
  /** `Neighbor`s sent and not answered (requests and, as in iroh, replies), by peer hex → request id. */
  readonly #pending = new Map<string, number>();
  #nextNeighborRequest = 0;
  /** Opaque data learned for peers in a view. */
  readonly #peerData = new Map<string, Uint8Array>();
  /** Peers that left our active view alive: a later connection close keeps them passive. */
  readonly #aliveDisconnect = new Set<string>();

  constructor(me: PeerId, rng: Rng, config: HyParViewConfig = DEFAULT_HYPARVIEW_CONFIG, meData?: Uint8Array) {
    checkHyParViewConfig(config);
    this.me = me;
    this.#rng = rng;
    this.config = config;
    this.#meData = meData;
  }

  peerData(peer: PeerId): Uint8Array | undefined {
    return this.#peerData.get(peer.hex);
  }

  setPeerData(data: Uint8Array | undefined): void {
    this.#meData = data;
  }

  handle(input: HyParViewInput, nowMs: number, out: GossipOutput[]): void {
    switch (input.type) {
      case 'recv':
        this.#onMessage(input.from, input.message, nowMs, out);
        break;
      case 'timer':
        if (input.timer.type === 'shuffle') this.#onShuffleTimer(nowMs, out);
        else this.#onPendingNeighborTimer(input.timer.peer, input.timer.id, nowMs, out);
        break;
      case 'peerDown':
        this.#onConnectionClosed(input.peer, nowMs, out);
        break;
      case 'requestJoin':
        for (const peer of input.peers) if (!peer.equals(this.me)) out.push({ type: 'send', to: peer, message: { type: 'join', data: this.#meData } });
        break;
      case 'quit':
        for (const peer of [...this.active.values()]) {
          this.active.delete(peer);
          this.#sendDisconnect(peer, false, out);
          // The layers above follow the active view (PlumTree's peers must equal it).
          out.push({ type: 'emit', event: { type: 'neighborDown', peer } });
        }
        break;
    }
    // Armed on the first input, then re-armed by each shuffle (iroh `handle`).
    if (!this.#shuffleScheduled) {
      out.push({ type: 'armTimer', atMs: nowMs + this.config.shuffleIntervalMs, timer: { type: 'shuffle' } });
      this.#shuffleScheduled = true;
    }
    this.#checkInvariants();
  }

  #checkInvariants(): void {
    assert(this.active.size <= this.config.activeViewCapacity, 'hyparview: active view over capacity');
    assert(this.passive.size <= this.config.passiveViewCapacity, 'hyparview: passive view over capacity');
    assert(!this.active.has(this.me) && !this.passive.has(this.me), 'hyparview: we are in our own view');
    for (const peer of this.active.values()) assert(!this.passive.has(peer), 'hyparview: a peer is in both views');
  }

  #onMessage(from: PeerId, message: MembershipMessage, nowMs: number, out: GossipOutput[]): void {
    if (from.equals(this.me)) return;
    switch (message.type) {
      case 'join':
        this.#onJoin(from, message.data, nowMs, out);
        break;
      case 'forwardJoin':
        this.#onForwardJoin(from, message.peer, message.ttl, nowMs, out);
        break;
      case 'shuffle':
        this.#onShuffle(from, message.origin, message.nodes, message.ttl, out);
        break;
      case 'shuffleReply':
        for (const node of message.nodes) this.#addPassive(node.id, node.data);
        this.#refillActiveFromPassive(new Set(), nowMs, out);
        break;
      case 'neighbor':
        this.#onNeighbor(from, message.priority, message.data, nowMs, out);
        break;
      case 'disconnect':
        this.#onDisconnect(from, message.alive, nowMs, out);
        break;
    }
    // iroh: "Disconnect from passive nodes right after receiving a message."
    if (message.type !== 'disconnect' && !this.active.has(from)) out.push({ type: 'disconnect', peer: from });
  }

  #onDisconnect(peer: PeerId, alive: boolean, nowMs: number, out: GossipOutput[]): void {
    this.#pending.delete(peer.hex);
    if (this.active.has(peer)) this.#removeActive(peer, { kind: 'disconnectReceived', alive }, nowMs, out);
    else if (alive && this.passive.has(peer)) this.#aliveDisconnect.add(peer.hex);
  }

  #onConnectionClosed(peer: PeerId, nowMs: number, out: GossipOutput[]): void {
    this.#pending.delete(peer.hex);
    if (this.active.has(peer)) this.#removeActive(peer, { kind: 'connectionClosed' }, nowMs, out);
    else if (!this.#aliveDisconnect.delete(peer.hex)) {
      this.passive.delete(peer);
      this.#peerData.delete(peer.hex);
    }
  }

  #sendDisconnect(peer: PeerId, alive: boolean, out: GossipOutput[]): void {
    // iroh: before disconnecting, send a ShuffleReply with some of our peers so the other
    // side (often one that just joined) does not run out of contacts.
    this.#sendShuffleReply(peer, this.config.shuffleActiveViewCount + this.config.shufflePassiveViewCount, out);
    out.push({ type: 'send', to: peer, message: { type: 'disconnect', alive } });
    out.push({ type: 'disconnect', peer });
  }

  #onJoin(peer: PeerId, data: Uint8Array | undefined, nowMs: number, out: GossipOutput[]): void {
    // A join voids a request we still had out to this peer (it restarted, or the two crossed).
    this.#pending.delete(peer.hex);
    // Paper: "A node that receives a join request will start by adding the new node to its
    // active view, even if it has to drop a random node from it."
    this.#addActive(peer, data, 'high', true, nowMs, out);
    // Paper: "The contact node c will then send to all other nodes in its active view a
    // ForwardJoin request containing the new node identifier", ttl = ARWL.
    const info: PeerInfo = { id: peer, data };
    for (const node of this.active.values()) {
      if (node.equals(peer)) continue;
      out.push({ type: 'send', to: node, message: { type: 'forwardJoin', peer: info, ttl: this.config.activeRandomWalkLength } });
    }
  }

  #onForwardJoin(sender: PeerId, peer: PeerInfo, ttl: number, nowMs: number, out: GossipOutput[]): void {
    if (peer.id.equals(this.me)) return;
    if (this.active.has(peer.id)) {
      // Already neighbors: renew the relationship.
      this.#insertPeerData(peer.id, peer.data);
      this.#sendNeighbor(peer.id, 'high', nowMs, out);
    } else if (ttl === 0 || this.active.size <= 1) {
      // Paper (i): "If the time to live is equal to zero or if the number of nodes in p's active
      // view is equal to one, it will add the new node to its active view." iroh sends a
      // Neighbor request instead, and adds the peer once it answers (unreachable peers stay out).
      this.#insertPeerData(peer.id, peer.data);
      this.#sendNeighbor(peer.id, 'high', nowMs, out);
    } else {
      // Paper (ii): "If the time to live is equal to PRWL, p will insert the new node into its passive view."
      if (ttl === this.config.passiveRandomWalkLength) this.#addPassive(peer.id, peer.data);
      // Paper (iii, iv): decrement the ttl and forward to a random active peer other than the sender.
      if (!this.#pending.has(peer.id.hex)) {
        const next = this.active.pickRandomWithout(this.#rng, new Set([sender.hex]));
        assert(next !== undefined, 'hyparview: two or more active peers leave one besides the sender');
        out.push({ type: 'send', to: next, message: { type: 'forwardJoin', peer, ttl: ttl - 1 } });
      }
    }
  }

  #onNeighbor(from: PeerId, priority: Priority, data: Uint8Array | undefined, nowMs: number, out: GossipOutput[]): void {
    // A Neighbor is a reply if we have one pending to the peer, a request otherwise.
    const isReply = this.#pending.delete(from.hex);
    // Paper: a high priority request is always accepted, even if it drops a random active
    // member; a low priority one only if there is a free slot.
    if (!this.#addActive(from, data, priority, !isReply, nowMs, out)) {
      this.#sendDisconnect(from, true, out);
      this.#forgetPeer(from);
    }
  }

  #insertPeerData(peer: PeerId, data: Uint8Array | undefined): void {
    if (data !== undefined) this.#peerData.set(peer.hex, data);
  }

  #peerInfo(peer: PeerId): PeerInfo {
    return { id: peer, data: this.#peerData.get(peer.hex) };
  }

  /**
   * Paper p8: a node receiving a Shuffle decreases its ttl; if still above zero and it has more
   * than one active peer, it forwards to a random active peer other than the sender;
   * otherwise it accepts, merging the nodes into its passive view and replying to the origin.
   */
  #onShuffle(from: PeerId, origin: PeerId, nodes: readonly PeerInfo[], ttl: number, out: GossipOutput[]): void {
    if (origin.equals(this.me)) return;
    if (ttl === 0 || this.active.size <= 1) {
      for (const node of nodes) this.#addPassive(node.id, node.data);
      this.#sendShuffleReply(origin, nodes.length, out);
    } else {
      const next = this.active.pickRandomWithout(this.#rng, new Set([origin.hex, from.hex]));
      if (next) out.push({ type: 'send', to: next, message: { type: 'shuffle', origin, nodes: [...nodes], ttl: ttl - 1 } });
    }
  }

  #sendShuffleReply(to: PeerId, length: number, out: GossipOutput[]): void {
    const n = Math.min(length, MAX_SHUFFLE_NODES);
    const nodes = this.passive.shuffledWithoutAndCapped(this.#rng, n, new Set([to.hex]));
    // Too few passive peers: fill up with active ones.
    if (nodes.length < n) nodes.push(...this.active.shuffledWithoutAndCapped(this.#rng, n - nodes.length, new Set([to.hex])));
    out.push({ type: 'send', to, message: { type: 'shuffleReply', nodes: nodes.map((p) => this.#peerInfo(p)) } });
  }

  #onShuffleTimer(nowMs: number, out: GossipOutput[]): void {
    const node = this.active.pickRandomWithout(this.#rng);
    if (node) {
      const skip = new Set([node.hex]);
      const active = this.active.shuffledWithoutAndCapped(this.#rng, this.config.shuffleActiveViewCount, skip);
      const passive = this.passive.shuffledWithoutAndCapped(this.#rng, this.config.shufflePassiveViewCount, skip);
      const nodes = [...active, ...passive].map((p) => this.#peerInfo(p));
      nodes.push({ id: this.me, data: this.#meData });
      out.push({ type: 'send', to: node, message: { type: 'shuffle', origin: this.me, nodes, ttl: this.config.shuffleRandomWalkLength } });
    }
    out.push({ type: 'armTimer', atMs: nowMs + this.config.shuffleIntervalMs, timer: { type: 'shuffle' } });
  }

  /** Adds to the passive view, evicting a random member when full; never a peer already in a view. */
  #addPassive(peer: PeerId, data: Uint8Array | undefined): void {
    if (peer.equals(this.me)) return;
    this.#insertPeerData(peer, data);
    if (this.active.has(peer) || this.passive.has(peer)) return;
    if (this.config.passiveViewCapacity === 0) {
      this.#forgetPeer(peer);
      return;
    }
    if (this.passive.size >= this.config.passiveViewCapacity) {
      const evicted = this.passive.removeRandom(this.#rng);
      if (evicted) this.#forgetPeer(evicted);
    }
    this.passive.add(peer);
  }

  /** Drops what we hold about a peer unless it is still in a view. */
  #forgetPeer(peer: PeerId): void {
    if (this.active.has(peer) || this.passive.has(peer)) return;
    this.#peerData.delete(peer.hex);
    this.#aliveDisconnect.delete(peer.hex);
  }

  #removeActive(peer: PeerId, reason: RemovalReason, nowMs: number, out: GossipOutput[]): void {
    if (!this.active.has(peer)) return;
    this.#removeActiveUnchecked(peer, reason, out);
    this.#refillActiveFromPassive(new Set([peer.hex]), nowMs, out);
  }

  #removeActiveUnchecked(peer: PeerId, reason: RemovalReason, out: GossipOutput[]): void {
    this.active.delete(peer);
    // Departure from iroh: the pending entry of a `Neighbor` reply (or renewal) to this peer
    // ends with the neighborship. Left in place, the peer's next request, sent after our
    // Disconnect, would be taken for the reply and left unanswered: we would hold the peer
    // as a neighbor while it waits, times out and drops us (an asymmetric active view).
    this.#pending.delete(peer.hex);
    out.push({ type: 'emit', event: { type: 'neighborDown', peer } });
    if (reason.kind === 'random') this.#sendDisconnect(peer, true, out);
    else out.push({ type: 'disconnect', peer });
    const keepAsPassive =
      reason.kind === 'connectionClosed' ? this.#aliveDisconnect.delete(peer.hex) : reason.kind === 'disconnectReceived' ? reason.alive : true;
    if (keepAsPassive) {
      this.#addPassive(peer, undefined);
      // Marked alive, so the connection closing later keeps it passive.
      if (reason.kind !== 'connectionClosed' && this.passive.has(peer)) this.#aliveDisconnect.add(peer.hex);
    } else {
      this.#forgetPeer(peer);
    }
  }

  /**
   * Paper p7: when an active peer fails, pick a random passive peer and try to make it a
   * neighbor (high priority if we have no active peer left, low otherwise); a failed try
   * drops it from the passive view and tries another (here: on the request's timeout, or
   * when the driver reports the peer down).
   */
  #refillActiveFromPassive(skip: Set<string>, nowMs: number, out: GossipOutput[]): void {
    // A pending reply is to a peer already in the active view: count it once.
    let pendingOutside = 0;
    for (const hex of this.#pending.keys()) if (!this.active.hasKey(hex)) pendingOutside++;
    if (this.active.size + pendingOutside >= this.config.activeViewCapacity) return;
    for (const hex of this.#pending.keys()) skip.add(hex);
    const node = this.passive.pickRandomWithout(this.#rng, skip);
    if (node) this.#sendNeighbor(node, this.active.size === 0 ? 'high' : 'low', nowMs, out);
  }

  /** iroh: a request unanswered in time fails the peer; a stale timer (older id) does nothing. */
  #onPendingNeighborTimer(peer: PeerId, id: number, nowMs: number, out: GossipOutput[]): void {
    if (this.#pending.get(peer.hex) !== id) return;
    this.#pending.delete(peer.hex);
    this.passive.delete(peer);
    this.#forgetPeer(peer);
    this.#refillActiveFromPassive(new Set(), nowMs, out);
  }

  /** Adds to the active view (evicting a random member for a high priority add); false if refused. */
  #addActive(peer: PeerId, data: Uint8Array | undefined, priority: Priority, reply: boolean, nowMs: number, out: GossipOutput[]): boolean {
    if (peer.equals(this.me)) return false;
    this.#insertPeerData(peer, data);
    if (this.active.has(peer)) {
      if (reply) this.#sendNeighbor(peer, priority, nowMs, out);
      return true;
    }
    const full = this.active.size >= this.config.activeViewCapacity;
    if (priority === 'low' && full) return false;
    if (full) {
      const victim = this.active.pickRandomWithout(this.#rng);
      if (victim) this.#removeActiveUnchecked(victim, { kind: 'random' }, out);
    }
    this.passive.delete(peer);
    this.active.add(peer);
    out.push({ type: 'emit', event: { type: 'neighborUp', peer } });
    if (reply) this.#sendNeighbor(peer, priority, nowMs, out);
    return true;
  }

  /**
   * Sends a `Neighbor` unless one is pending to the peer, and arms its timeout. Replies are
   * recorded as pending too (iroh): a duplicated request is then taken as the reply and not
   * answered, so two peers never answer each other forever.
   */
  #sendNeighbor(peer: PeerId, priority: Priority, nowMs: number, out: GossipOutput[]): void {
    if (this.#pending.has(peer.hex)) return;
    const id = this.#nextNeighborRequest++;
    this.#pending.set(peer.hex, id);
    out.push({ type: 'send', to: peer, message: { type: 'neighbor', priority, data: this.#meData } });
    out.push({ type: 'armTimer', atMs: nowMs + this.config.neighborRequestTimeoutMs, timer: { type: 'neighborRequest', peer, id } });
  }
}
