import type { PeerId } from '../identity/keys.ts';
import { assert, unreachable } from '../util/assert.ts';
import type { Rng } from '../util/rng.ts';
import { DEFAULT_HYPARVIEW_CONFIG, HyParView, type HyParViewConfig } from './hyparview.ts';
import type { GossipInput, GossipOutput } from './io.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, isMembershipMessage } from './messages.ts';
import { type BroadcastTooLargeError, DEFAULT_PLUMTREE_CONFIG, PlumTree, type PlumTreeConfig, type PlumTreeTimings } from './plumtree.ts';

/** Configuration of one topic (iroh `topic::Config`). */
export interface GossipTopicConfig {
  readonly membership: HyParViewConfig;
  readonly broadcast: PlumTreeConfig;
  /** Largest encoded message; broadcasts are limited to this minus the gossip envelope. @default 4096 (iroh, mosaik announce) */
  readonly maxMessageBytes: number;
}

export const DEFAULT_GOSSIP_TOPIC_CONFIG: GossipTopicConfig = Object.freeze({
  membership: DEFAULT_HYPARVIEW_CONFIG,
  broadcast: DEFAULT_PLUMTREE_CONFIG,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
});

export interface GossipTopicOptions {
  readonly me: PeerId;
  /** The topic's randomness (HyParView's walks, evictions and samples). */
  readonly rng: Rng;
  readonly membership?: Partial<HyParViewConfig>;
  readonly broadcast?: Partial<PlumTreeConfig>;
  readonly maxMessageBytes?: number;
  /** Opaque data about us (e.g. addresses) sent with joins, neighbor requests and shuffles. */
  readonly peerData?: Uint8Array;
  /** Checks a received payload before it is forwarded or delivered (see `PlumTree`); refused ones go no further. */
  readonly accept?: (content: Uint8Array) => boolean;
}

/**
 * One gossip topic as a sans-IO machine: HyParView keeps the overlay, PlumTree broadcasts
 * over it (iroh-gossip `topic::State`, `src/proto/topic.rs`). Inputs are routed to the layer
 * that owns them; HyParView's neighborUp/neighborDown events are fed to PlumTree, so PlumTree's
 * peers follow the active view; the peer-down report goes to both.
 */
export class GossipTopic {
  readonly me: PeerId;
  readonly config: GossipTopicConfig;
  readonly #membership: HyParView;
  readonly #broadcast: PlumTree;
  #lastNowMs = Number.NEGATIVE_INFINITY;

  constructor(options: GossipTopicOptions) {
    this.me = options.me;
    this.config = {
      membership: { ...DEFAULT_HYPARVIEW_CONFIG, ...options.membership },
      broadcast: { ...DEFAULT_PLUMTREE_CONFIG, ...options.broadcast },
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    };
    this.#membership = new HyParView(options.me, options.rng, this.config.membership, options.peerData);
    this.#broadcast = new PlumTree(options.me, this.config.broadcast, this.config.maxMessageBytes, options.accept);
  }

  /** IHAVEs are waiting for dispatch (see `PlumTreeConfig.driverDispatchesLazyPush`). */
  get lazyPushPending(): boolean {
    return this.#broadcast.lazyPushPending;
  }

  /** Retunes PlumTree's graft and dispatch timeouts (see `PlumTree.retime`). */
  retime(timings: PlumTreeTimings): void {
    this.#broadcast.retime(timings);
  }

  /** Largest payload `broadcast` accepts. */
  get maxPayloadBytes(): number {
    return this.#broadcast.maxPayloadBytes;
  }

  /** The typed error broadcasting `data` would throw, if any: lets a caller fail a request without a throw. */
  checkBroadcast(data: Uint8Array): BroadcastTooLargeError | undefined {
    return this.#broadcast.checkBroadcast(data);
  }

  /**
   * Handles one input at monotonic time `nowMs`; returns the outputs to perform in order.
   * Throws `BroadcastTooLargeError` (before any state changes) for an oversized broadcast
   * command; nothing a peer sends throws.
   */
  handle(input: GossipInput, nowMs: number): GossipOutput[] {
    assert(nowMs >= this.#lastNowMs, 'gossip: time went backwards');
    this.#lastNowMs = nowMs;
    const out: GossipOutput[] = [];
    switch (input.type) {
      case 'command': {
        const command = input.command;
        switch (command.type) {
          case 'join':
            // With no peers this only starts the machine (arms its timers) and waits to be joined.
            this.#membership.handle({ type: 'requestJoin', peers: command.peers }, nowMs, out);
            break;
          case 'broadcast': {
            const error = this.checkBroadcast(command.data);
            if (error) throw error;
            this.#broadcast.handle({ type: 'broadcast', data: command.data, final: command.final ?? false }, nowMs, out);
            break;
          }
          case 'quit':
            this.#membership.handle({ type: 'quit' }, nowMs, out);
            break;
          default:
            unreachable(command);
        }
        break;
      }
      case 'recv':
        if (isMembershipMessage(input.message)) this.#membership.handle({ type: 'recv', from: input.from, message: input.message }, nowMs, out);
        else this.#broadcast.handle({ type: 'recv', from: input.from, message: input.message }, nowMs, out);
        break;
      case 'timer': {
        const timer = input.timer;
        if (timer.type === 'shuffle' || timer.type === 'neighborRequest') this.#membership.handle({ type: 'timer', timer }, nowMs, out);
        else this.#broadcast.handle({ type: 'timer', timer }, nowMs, out);
        break;
      }
      case 'peerDown':
        this.#membership.handle({ type: 'peerDown', peer: input.peer }, nowMs, out);
        this.#broadcast.handle({ type: 'neighborDown', peer: input.peer }, nowMs, out);
        break;
      default:
        unreachable(input);
    }
    // Feed HyParView's neighbor changes to PlumTree (iroh `topic::State::handle`). PlumTree
    // emits nothing for these, except arming its evict timer on its very first input.
    const events = out.length;
    for (let i = 0; i < events; i++) {
      const o = out[i] as GossipOutput;
      if (o.type !== 'emit') continue;
      if (o.event.type === 'neighborUp') this.#broadcast.handle({ type: 'neighborUp', peer: o.event.peer }, nowMs, out);
      else if (o.event.type === 'neighborDown') this.#broadcast.handle({ type: 'neighborDown', peer: o.event.peer }, nowMs, out);
    }
    this.#checkInvariants();
    return out;
  }

  #checkInvariants(): void {
    // PlumTree's peers are HyParView's neighbors (iroh lists this as "not yet holding"; here it does).
    const active = this.#membership.active;
    assert(this.#broadcast.eager.size + this.#broadcast.lazy.size === active.size, 'gossip: plumtree peers differ from the active view');
    for (const peer of active.values()) assert(this.#broadcast.eager.has(peer) || this.#broadcast.lazy.has(peer), 'gossip: neighbor missing from plumtree');
  }

  // ---- read-only views, for drivers, checkers and tests ----

  activeView(): readonly PeerId[] {
    return this.#membership.active.values();
  }

  passiveView(): readonly PeerId[] {
    return this.#membership.passive.values();
  }

  eagerPeers(): readonly PeerId[] {
    return this.#broadcast.eager.values();
  }

  lazyPeers(): readonly PeerId[] {
    return this.#broadcast.lazy.values();
  }

  /** Opaque data a peer in one of our views sent about itself. */
  peerData(peer: PeerId): Uint8Array | undefined {
    return this.#membership.peerData(peer);
  }

  hasNeighbors(): boolean {
    return this.#membership.active.size > 0;
  }
}
