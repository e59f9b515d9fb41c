/**
 * The vocabulary of the Raft machine: entries, configurations, durable state, messages and
 * the Ready batch it hands to its driver. Node ids are opaque strings (the groups layer uses
 * peer ids in hex); indices and terms are plain numbers (2^53 entries is enough).
 */

export type NodeId = string;

/**
 * Who votes and who only replicates. A configuration takes effect on every node as soon as
 * its entry is in the log (not when committed), as in Ongaro's thesis ch. 4; the leader
 * allows one uncommitted change at a time and each change moves at most one voter, so any
 * two consecutive configurations share a majority.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type EntryData =
  /** An application command, opaque to Raft. */
  | { readonly kind: 'command'; readonly bytes: Uint8Array }
  /** Appended by every new leader: commits the earlier terms' entries (Figure 8) and unlocks ReadIndex and conf changes. */
  | { readonly kind: 'noop' }
  | { readonly kind: 'conf'; readonly conf: ConfState };

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly data: EntryData;
}

/** What an entry's framing adds to its data on the wire, at most (term, index, kind). */
export const ENTRY_OVERHEAD_BYTES = 32;

/**
 * An entry's size in an append, from above: its command bytes or its configuration's member
 * ids, plus `ENTRY_OVERHEAD_BYTES`. What `maxAppendBytes` counts.
 */
export function entryBytes(e: Entry): number {
  const data = e.data;
  switch (data.kind) {
    case 'command':
      return ENTRY_OVERHEAD_BYTES + data.bytes.length;
    case 'noop':
      return ENTRY_OVERHEAD_BYTES;
    case 'conf': {
      let bytes = ENTRY_OVERHEAD_BYTES;
      for (const id of data.conf.voters) bytes += id.length + 2;
      for (const id of data.conf.learners) bytes += id.length + 2;
      return bytes;
    }
  }
}

/** What must be on disk before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | undefined;
  readonly commit: number;
}

export interface SnapshotMeta {
  /** The last entry the snapshot covers. */
  readonly index: number;
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state at `meta.index` (the state machine's `snapshot()`). */
  readonly data: Uint8Array;
}

/** Who sent a message and whom it is for. */
export interface RaftRoute {
  readonly from: NodeId;
  readonly to: NodeId;
}

interface Envelope extends RaftRoute {
  readonly term: number;
}

export type RaftMessage =
  /** A (pre-)vote request. `transfer` marks a leadership transfer: it bypasses the leader lease. */
  | (Envelope & { readonly type: 'vote'; readonly pre: boolean; readonly lastIndex: number; readonly lastTerm: number; readonly transfer: boolean })
  | (Envelope & { readonly type: 'voteResp'; readonly pre: boolean; readonly granted: boolean })
  | (Envelope & {
      readonly type: 'append';
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
      /**
       * False on a commit notice: no entries, sent to a follower the leader replicates to
       * and has sent everything. The follower answers it only when its log does not match
       * (a reply that says "still in step" would tell the leader nothing).
       */
      readonly ack: boolean;
    })
  /**
   * `success`: the follower's log matches the leader's up to `index`. Otherwise the entry at
   * `index` (the probe's prevIndex) did not match; `hintIndex`/`hintTerm` say where to retry
   * (the follower's last index, or the first index of the conflicting term).
   */
  | (Envelope & { readonly type: 'appendResp'; readonly success: boolean; readonly index: number; readonly hintIndex: number; readonly hintTerm: number })
  /** Keeps followers' election timers quiet, carries the commit index and the ReadIndex round (`round`). */
  | (Envelope & { readonly type: 'heartbeat'; readonly commit: number; readonly round: number })
  | (Envelope & { readonly type: 'heartbeatResp'; readonly round: number })
  /** One chunk of a snapshot; `offset` is the byte offset of `chunk` in the snapshot data. */
  | (Envelope & {
      readonly type: 'snapshot';
      readonly meta: SnapshotMeta;
      readonly offset: number;
      readonly total: number;
      readonly chunk: Uint8Array;
    })
  /** The follower holds `received` bytes of the snapshot at `index` (equal to the total: installed). */
  | (Envelope & { readonly type: 'snapshotResp'; readonly index: number; readonly received: number })
  /** Leadership transfer: campaign now, without waiting for the election timeout. */
  | (Envelope & { readonly type: 'timeoutNow' });

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | undefined;
  readonly term: number;
}

/** A ReadIndex request that is now safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly id: number;
  readonly index: number;
}

/**
 * Work for the driver, in this order: persist `hardState`, `log` and `snapshot`; then send
 * `messages`; then apply `committed` (and restore `snapshot` first if it came from a leader).
 */
export interface Ready {
  readonly hardState: HardState | undefined;
  /**
   * Whether `hardState` must be durable before `messages` leave: its term or vote changed.
   * A change of the commit index alone need not be (etcd's `MustSync`): it only tells a
   * restarted node how far it may apply at once, and one that comes back knowing an older
   * commit index learns the current one from the leader. Drivers may then write it without
   * holding anything back for it (a follower's reply to a heartbeat, a leader's answer to
   * its client would otherwise wait for a sync). `log` and `snapshot` are always synced.
   */
  readonly hardStateMustSync: boolean;
  /** Replace every persisted entry with index >= `from` by `entries` (an empty list truncates). */
  readonly log: { readonly from: number; readonly entries: readonly Entry[] } | undefined;
  /**
   * A snapshot to persist. `installed`: it came from the leader, so the state machine must
   * restore it before applying `committed`; otherwise the log was compacted locally.
   */
  readonly snapshot: { readonly snapshot: Snapshot; readonly installed: boolean } | undefined;
  readonly messages: readonly RaftMessage[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** ReadIndex requests this node can no longer serve (it lost leadership): the caller retries. */
  readonly readsFailed: readonly number[];
  readonly softState: SoftState | undefined;
}

/** Why a proposal, read or transfer was not accepted. */
export type RaftRefusal =
  | { readonly kind: 'notLeader'; readonly leader: NodeId | undefined }
  /** A leadership transfer is under way: proposals wait for the new leader. */
  | { readonly kind: 'transferring'; readonly to: NodeId }
  /** The leader holds `maxUncommittedBytes` of proposals it has not committed: retry once it commits. */
  | { readonly kind: 'full'; readonly uncommittedBytes: number }
  /** A configuration change is already in flight, or this leader has not committed in its term yet. */
  | { readonly kind: 'confPending' }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Deliberately unsafe variants, for showing that the checkers catch real bugs. Never set
 * outside tests and `--plant-bug`.
 */
export type UnsafeRaftVariant =
  /** Grants votes without the log up-to-date check (§5.4.1). */
  | 'vote-without-log-check'
  /** Commits an earlier term's entry once a majority holds it (the Figure 8 bug), and skips the leader's no-op. */
  | 'commit-previous-term'
  /** Replies to a vote before the vote is durable: a restart forgets it and may vote twice. */
  | 'vote-not-persisted'
  /**
   * Serves ReadIndex reads at once, without a heartbeat round, and keeps leading without
   * hearing from a majority (no check-quorum): a deposed leader serves stale reads, as
   * mosaik's strong queries do (§5.7).
   */
  | 'read-without-quorum';
