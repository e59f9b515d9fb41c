import { ConnectError, LinkClosedError, type MosaikError, withoutStack } from '../errors.ts';
import type { NetworkId } from '../identity/digest.ts';
import type { PeerId, SecretKey } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { Rng } from '../util/rng.ts';
import type { MessageCodec } from '../wire/codec.ts';
import type { ProtocolId } from '../wire/protocol.ts';
import type { DialFailure, LinkId, NodeEvent, RequestId, TimerId } from './io.ts';

/** What a subsystem knows about one of its links. */
export interface LinkInfo {
  readonly id: LinkId;
  readonly peer: PeerId;
  readonly protocol: ProtocolId;
  /** `out`: we dialed it. */
  readonly dir: 'in' | 'out';
  /**
   * 32 bytes both ends share and nobody else knows, fresh for this link: a proof computed
   * over it cannot be replayed on another link (group bonds use it). Set once the link is up.
   */
  readonly secret: Uint8Array | undefined;
  /**
   * The largest frame body the link carries: the smaller of the two ends' `maxFrameBytes`
   * (each says its own in the link handshake). `send` refuses a larger message with
   * OversizedError rather than send what the peer would refuse. Before the link is up, this
   * node's own limit.
   */
  readonly maxFrameBytes: number;
}

/** How a link ended, as its owner sees it. */
export type LinkDown =
  | { readonly kind: 'failed'; readonly reason: DialFailure; readonly detail: string }
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string; readonly by: 'local' | 'remote' | 'transport' };

/** A subsystem's storage key, made by `NodeContext.storageKey` (opaque: only the node reads it). */
export interface StorageKey {
  readonly [storageKeyBrand]: true;
}
declare const storageKeyBrand: unique symbol;

/**
 * Everything a subsystem may do, all of it recorded as outputs rather than performed.
 * Calls are synchronous and pure; the node drains the outputs after the input is handled.
 */
export interface NodeContext {
  /** Monotonic clock, ms, passed in with the input: for timers, timeouts and RTTs. */
  readonly nowMs: number;
  /** Wall clock, ms since 1970, passed in with the input: may be skewed or jump; only for timestamps. */
  readonly wallClockMs: number;
  readonly rng: Rng;
  readonly peerId: PeerId;
  readonly networkId: NetworkId;
  readonly secretKey: SecretKey;
  /** 0 on first start; +1 on each restart with the same durable storage. */
  readonly incarnation: number;
  readonly maxFrameBytes: number;
  /** Checks signatures; the driver may supply a faster one than the default. */
  readonly verifier: SignatureVerifier;

  /** Opens a link for one of this subsystem's protocols; onLinkUp or onLinkDown follows. */
  connect(peer: PeerId, addrs: readonly string[], protocol: ProtocolId): LinkId;
  /** Encodes and sends; returns the error instead of sending when the link is not up or the message is too large. */
  send(link: LinkId, message: unknown): MosaikError | undefined;
  close(link: LinkId, code: number, reason: string): void;
  link(link: LinkId): LinkInfo | undefined;
  armTimer(atMs: number, payload: unknown): TimerId;
  cancelTimer(timer: TimerId): void;
  /**
   * Stores `value` under this subsystem's `key` (`null` deletes), durably before any output
   * that follows it; with `{ lazy: true }`, durably with the next sync another write needs,
   * with nothing held back for it (for state that may come back older after a crash, such
   * as a commit index). The bytes are kept as given, not copied (drivers write them out
   * later, a file store even in the background): never change them afterwards.
   */
  persist(key: string | StorageKey, value: Uint8Array | null, options?: { readonly lazy?: boolean }): void;
  /** Durable state as it was when the node (re)started, merged with this run's persists. */
  stored(key: string | StorageKey): Uint8Array | undefined;
  /**
   * `key` made once, for `persist` and `stored` to use again and again: a key given as a
   * string is scoped to the subsystem afresh on every call, a new string for the storage to
   * hash. A subsystem that writes one key often (a Raft hard state, a log entry and later its
   * deletion) keeps the StorageKey. It works only with this subsystem's context.
   */
  storageKey(key: string): StorageKey;
  /** Emits an event to the application; subsystems of this node with `onEvent` see it too (see there). */
  emit(event: NodeEvent): void;
  /**
   * A synchronous call into another subsystem of this node (its `onCall`, run with its own
   * context): how streams and groups publish themselves in the discovery entry, for instance.
   * Throws (a bug) when `to` does not exist or takes no calls.
   */
  call(to: string, request: unknown): unknown;
  complete(req: RequestId, result: unknown): void;
  fail(req: RequestId, error: MosaikError): void;
}

/**
 * A protocol machine plugged into a node. It owns its protocols: links opened for them are
 * routed to it, frames are decoded with its codecs before it sees them, and its timers come
 * back to it with the payload it armed them with.
 */
export interface Subsystem<Command = unknown> {
  readonly name: string;
  /** The protocols this subsystem serves, with the codec of each one's messages. */
  readonly protocols: ReadonlyMap<ProtocolId, MessageCodec<unknown>>;
  /** The node starts (or restarts with its durable state): arm timers, make first contacts. */
  onStart?(ctx: NodeContext): void;
  onLinkUp(ctx: NodeContext, link: LinkInfo): void;
  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void;
  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void;
  onTimer(ctx: NodeContext, payload: unknown): void;
  onCommand(ctx: NodeContext, req: RequestId, command: Command): void;
  /** The node is shutting down gracefully: fail pending requests, say goodbye if needed. */
  onShutdown(ctx: NodeContext): void;
  /**
   * An event another subsystem of this node emitted (e.g. discovery's `discovered`).
   * Delivered after the emitting subsystem's handler returns, in emission order, within the
   * same input, so a subsystem never sees another mid-change.
   */
  onEvent?(ctx: NodeContext, event: NodeEvent): void;
  /** The event types `onEvent` wants (others are not queued for it: emitting stays cheap). */
  readonly listensTo?: ReadonlySet<NodeEvent['type']>;
  /** A synchronous request from another subsystem of this node (`ctx.call`); returns the answer. */
  onCall?(ctx: NodeContext, request: unknown): unknown;
}

/** A link that never came up (dial failed or handshake rejected). */
export interface PendingLink {
  readonly id: LinkId;
  readonly peer: PeerId;
  readonly protocol: ProtocolId;
  readonly dir: 'out';
  readonly secret: undefined;
  readonly maxFrameBytes: number;
}

/**
 * The typed error for a request that was waiting on a link that went down. Without a
 * stack: it is made inside the machine, whose frames are all a stack would show (the
 * caller's await is long gone), and under faults they come by the thousand.
 */
export function linkDownError(link: LinkInfo | PendingLink, down: LinkDown): ConnectError | LinkClosedError {
  return withoutStack(() =>
    down.kind === 'failed' ? new ConnectError(down.reason, `could not reach ${link.peer.short}: ${down.detail}`) : new LinkClosedError(down.code, down.reason),
  );
}
