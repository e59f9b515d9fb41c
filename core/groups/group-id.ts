import { Digest, type GroupId } from '../identity/digest.ts';
import type { TicketValidator } from '../tickets/ticket.ts';
import { DEFAULT_MAX_FRAME_BYTES, frameCapacity } from '../wire/codec.ts';

/** A group's shared secret: a string (blake3 of it, or the bytes of 64 hex) or a digest. Never sent. */
export type GroupKey = string | Digest;

/**
 * Consensus timing, in ms. Only the heartbeat settings must agree across members (they
 * decide when a bond is declared dead), so only they go into the group id, as in mosaik;
 * the others are each node's own business.
 */
export interface ConsensusConfig {
  /** Leader heartbeats and bond pings. @default 500 */
  readonly heartbeatMs: number;
  /** @default 150 */
  readonly heartbeatJitterMs: number;
  /** A bond silent this many heartbeats is closed. @default 10 */
  readonly maxMissedHeartbeats: number;
  /** @default 2000 */
  readonly electionTimeoutMs: number;
  /** @default 500 */
  readonly electionTimeoutJitterMs: number;
  /** How long a new member waits for an existing group before it may form one. @default 3000 */
  readonly bootstrapDelayMs: number;
  /** How long a follower waits for the leader to acknowledge a forwarded command or read before retrying. @default 2000 */
  readonly forwardTimeoutMs: number;
  /** A voter unreachable this long is replaced by a caught-up learner. @default 30000 */
  readonly replaceVoterAfterMs: number;
  /** Compact the log into a snapshot every this many applied entries. @default 10000 */
  readonly snapshotEveryEntries: number;
  /**
   * A lagging member gets the snapshot in chunks of this many bytes (the leader's setting
   * counts). Must fit every member's `maxFrameBytes`. @default 262144 (256 KiB)
   */
  readonly snapshotChunkBytes: number;
  /** Chunks sent ahead of the follower's acknowledgement. @default 4 */
  readonly snapshotChunksInFlight: number;
}

export const DEFAULT_CONSENSUS: ConsensusConfig = {
  heartbeatMs: 500,
  heartbeatJitterMs: 150,
  maxMissedHeartbeats: 10,
  electionTimeoutMs: 2000,
  electionTimeoutJitterMs: 500,
  bootstrapDelayMs: 3000,
  forwardTimeoutMs: 2000,
  replaceVoterAfterMs: 30_000,
  snapshotEveryEntries: 10_000,
  snapshotChunkBytes: 256 * 1024,
  snapshotChunksInFlight: 4,
};

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** The digest of the settings members must share. */
export function consensusDigest(c: ConsensusConfig): Digest {
  return Digest.fromParts(u64(c.heartbeatMs), u64(c.heartbeatJitterMs), u64(c.maxMissedHeartbeats));
}

export function groupKeyDigest(key: GroupKey): Digest {
  return typeof key === 'string' ? Digest.from(key) : key;
}

/**
 * GroupId = blake3(key).derive(consensus).derive(signature).derive(validator signatures…)
 * [.derive(frame capacity)]: nodes that disagree on any of these land in different groups
 * instead of one broken one. The key is hashed first, so the id reveals nothing usable
 * about it.
 *
 * The frame capacity (`frameCapacity(maxFrameBytes)`) is derived in only when it is below the
 * default, so ids of nodes with the default (or a larger) limit do not change. Members
 * size appends and snapshot chunks by their own limit and refuse a frame above it: a member
 * with a smaller limit than the leader's would be cut off by the first large append or
 * chunk, and could never catch up.
 */
export function deriveGroupId(
  key: GroupKey,
  consensus: ConsensusConfig,
  signature: string,
  validators: readonly TicketValidator[] = [],
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): GroupId {
  let id = groupKeyDigest(key).hashed().derive(consensusDigest(consensus)).derive(Digest.from(signature));
  for (const v of validators) id = id.derive(v.signature);
  const capacity = frameCapacity(maxFrameBytes);
  if (capacity < DEFAULT_MAX_FRAME_BYTES) id = id.derive(Digest.fromParts(u64(capacity)));
  return id;
}
