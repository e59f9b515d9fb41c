import type { PeerId } from '../identity/keys.ts';
import type { GossipMessage } from './messages.ts';

/**
 * The closed In/Out unions of a gossip topic (iroh-gossip `topic::InEvent` / `OutEvent`,
 * `src/proto/topic.rs`). Both layers push the same `GossipOutput`s into one sink, as iroh's
 * sub-machines push into its `IO` and the caller drains it.
 */

/** Timers are opaque: the caller arms `{atMs, timer}` and hands `timer` back unchanged when it fires. */
export type GossipTimer =
  /** HyParView: shuffle the passive view (iroh `Timer::DoShuffle`). */
  | { readonly type: 'shuffle' }
  /** HyParView: the `Neighbor` numbered `id` to `peer` went unanswered (iroh `Timer::PendingNeighborRequest`). */
  | { readonly type: 'neighborRequest'; readonly peer: PeerId; readonly id: number }
  /** PlumTree: ask an announcer for a still-missing payload (iroh `Timer::SendGraft`). */
  | { readonly type: 'graft'; readonly id: Uint8Array }
  /** PlumTree: send the batched IHAVEs (iroh `Timer::DispatchLazyPush`). */
  | { readonly type: 'dispatchLazyPush' }
  /** PlumTree: expire the message caches (iroh `Timer::EvictCache`). */
  | { readonly type: 'evictCache' };

export type GossipCommand =
  /** Join the topic through these contact peers (none: wait for others to join us). */
  | { readonly type: 'join'; readonly peers: readonly PeerId[] }
  /** Broadcast a payload to the whole topic; over the payload limit it throws `BroadcastTooLargeError`. */
  /**
   * `final`: the broadcaster is leaving and will not answer grafts, so the payload goes to
   * every neighbor, lazy ones included, instead of IHAVEs.
   */
  | { readonly type: 'broadcast'; readonly data: Uint8Array; readonly final?: boolean }
  /** Leave: tell every active peer we are gone. */
  | { readonly type: 'quit' };

export type GossipInput =
  | { readonly type: 'recv'; readonly from: PeerId; readonly message: GossipMessage }
  | { readonly type: 'command'; readonly command: GossipCommand }
  | { readonly type: 'timer'; readonly timer: GossipTimer }
  /** The driver lost the connection to `peer` (or could not open it). */
  | { readonly type: 'peerDown'; readonly peer: PeerId };

export type GossipEvent =
  | { readonly type: 'neighborUp'; readonly peer: PeerId }
  | { readonly type: 'neighborDown'; readonly peer: PeerId }
  /**
   * A payload, delivered once per message id. `from` is the neighbor that delivered it (iroh
   * `delivered_from`), not the broadcaster; `round` counts its hops from the broadcaster.
   */
  | { readonly type: 'received'; readonly data: Uint8Array; readonly from: PeerId; readonly round: number };

export type GossipOutput =
  | { readonly type: 'send'; readonly to: PeerId; readonly message: GossipMessage }
  | { readonly type: 'emit'; readonly event: GossipEvent }
  | { readonly type: 'armTimer'; readonly atMs: number; readonly timer: GossipTimer }
  /** Close the connection to `peer` (a hint: the topic no longer needs it). */
  | { readonly type: 'disconnect'; readonly peer: PeerId };
