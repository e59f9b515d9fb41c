import type { DiscoveryCommand, DiscoveryEvent } from '../discovery/discovery.ts';
import type { MosaikError } from '../errors.ts';
import type { GroupsEvent } from '../groups/group.ts';
import type { GroupsCommand } from '../groups/groups.ts';
import type { PeerId } from '../identity/keys.ts';
import type { PingCommand, PingEvent } from '../ping/ping.ts';
import type { StreamsCommand, StreamsEvent } from '../streams/streams.ts';
import type { ProtocolId } from '../wire/protocol.ts';

/**
 * The node machine's inputs and outputs: the whole contract between `core/` and a driver.
 * A driver feeds inputs with `NodeMachine.handle(input, nowMs)` and performs the outputs it
 * gets back, in order. See docs/architecture.md.
 */

/** A link: one reliable, FIFO, bidirectional message channel to one peer, for one protocol. */
export type LinkId = number;
/** An armed timer; opaque to the driver, which hands it back when it fires. */
export type TimerId = number;
/** An API call in flight; the driver's runtime settles the matching promise on completion. */
export type RequestId = number;

/** Why the transport could not open a link we asked for. */
export type DialFailure = 'timeout' | 'refused' | 'peer-mismatch' | 'unreachable';

export type NodeInput =
  /**
   * The first input of every incarnation (a start, or a restart after a crash): subsystems
   * arm their first timers and make their first contacts. No other input comes before it.
   */
  | { readonly type: 'start' }
  /** Our `connect` reached the peer (its identity checked by the transport). */
  | { readonly type: 'linkOpened'; readonly link: LinkId }
  /** Our `connect` failed before the link opened. */
  | { readonly type: 'linkFailed'; readonly link: LinkId; readonly reason: DialFailure; readonly detail: string }
  /** A peer opened a link to us; `link` was taken from `NodeMachine.allocateLinkId()`. */
  | { readonly type: 'linkIncoming'; readonly link: LinkId; readonly peer: PeerId }
  /** One frame body arrived on a link. */
  | { readonly type: 'frame'; readonly link: LinkId; readonly body: Uint8Array }
  /** The link ended: closed by the peer with a code, or lost by the transport (`LinkLost`). */
  | { readonly type: 'linkClosed'; readonly link: LinkId; readonly code: number; readonly reason: string }
  /** A timer armed earlier fired. */
  | { readonly type: 'timer'; readonly timer: TimerId }
  /** An API call. */
  | { readonly type: 'command'; readonly req: RequestId; readonly command: NodeCommand };

export type NodeCommand =
  | { readonly to: 'node'; readonly kind: 'shutdown' }
  | { readonly to: 'ping'; readonly cmd: PingCommand }
  | { readonly to: 'discovery'; readonly cmd: DiscoveryCommand }
  | { readonly to: 'streams'; readonly cmd: StreamsCommand }
  | { readonly to: 'groups'; readonly cmd: GroupsCommand };

export type NodeOutput =
  /** Open a link to `peer` (at one of `addrs`); answer with linkOpened or linkFailed. */
  | { readonly type: 'connect'; readonly link: LinkId; readonly peer: PeerId; readonly addrs: readonly string[] }
  /** Send one frame body on an open link. */
  | { readonly type: 'send'; readonly link: LinkId; readonly body: Uint8Array }
  /** Close a link with an application code; no linkClosed input follows for it. */
  | { readonly type: 'close'; readonly link: LinkId; readonly code: number; readonly reason: string }
  /** Arm (or re-arm) a timer to fire at `atMs` on this node's clock. */
  | { readonly type: 'armTimer'; readonly timer: TimerId; readonly atMs: number }
  | { readonly type: 'cancelTimer'; readonly timer: TimerId }
  /**
   * Stores a value (`null` deletes). Durable before any later output leaves, unless `lazy`:
   * then it is made durable by the next sync that some other write needs, and nothing waits
   * for it (a crash before that sync may lose it).
   */
  | { readonly type: 'persist'; readonly key: string; readonly value: Uint8Array | null; readonly lazy?: true }
  | { readonly type: 'emit'; readonly event: NodeEvent }
  | { readonly type: 'complete'; readonly req: RequestId; readonly result: unknown }
  | { readonly type: 'fail'; readonly req: RequestId; readonly error: MosaikError };

/** Events the node emits: observed by the API (event streams), the trace and checkers. */
export type NodeEvent = LinkEvent | PingEvent | DiscoveryEvent | StreamsEvent | GroupsEvent;

export type LinkEvent =
  | { readonly type: 'link.up'; readonly link: LinkId; readonly peer: PeerId; readonly protocol: ProtocolId; readonly dir: 'in' | 'out' }
  | {
      readonly type: 'link.down';
      readonly link: LinkId;
      readonly peer: PeerId;
      readonly protocol: ProtocolId | undefined;
      readonly code: number;
      readonly reason: string;
      /** Who ended it: we closed it, the peer closed it, or the transport lost or failed it. */
      readonly by: 'local' | 'remote' | 'transport';
    };
