import type { NodeId } from './types.ts';

/**
 * The leader's view of one follower (etcd's tracker.Progress).
 *
 * - `probe`: we do not know where its log ends; send one append at a time and wait for the
 *   answer (or the next heartbeat response) before sending another.
 * - `replicate`: its log matches ours up to `match`; stream appends optimistically, at most
 *   `maxInflight` unacknowledged messages.
 * - `snapshot`: its next entry is compacted here; a snapshot is being sent in chunks.
 */
export class Progress {
  match = 0;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** Probe: an append is out and unanswered. */
  probeSent = false;
  /** Replicate: last index of each unacknowledged append, oldest first. */
  inflight: number[] = [];
  /** Snapshot: the index being sent and the bytes acknowledged so far. */
  snapshotIndex = 0;
  snapshotAcked = 0;
  /** Ticks since the snapshot last made progress (a lost chunk restarts it). */
  snapshotIdleTicks = 0;
  /** Heard from it since the last check-quorum round. */
  recentActive = true;
  /** `match` when the previous heartbeat reply came: unchanged while behind means an append was lost. */
  matchAtLastHeartbeat = -1;
  /** Highest ReadIndex round it acknowledged. */
  readRound = 0;

  constructor(
    readonly id: NodeId,
    lastIndex: number,
  ) {
    this.next = lastIndex + 1;
  }

  /** A successful append reply: returns whether `match` moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  becomeProbe(): void {
    // A snapshot that finished leaves the follower right after it.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.snapshotIndex + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.inflight = [];
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = index;
    this.snapshotAcked = 0;
    this.snapshotIdleTicks = 0;
    this.inflight = [];
  }

  /** Frees the inflight slots acknowledged by a reply up to `index`. */
  freeTo(index: number): void {
    while (this.inflight.length > 0 && (this.inflight[0] ?? 0) <= index) this.inflight.shift();
  }

  paused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }
}

/** The largest index a majority of `voters` has (the commit rule's quorum index). */
export function quorumIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  // Sorted largest first by insertion into one reused array: a voter set is a handful of
  // members, and this runs on every append response (`Array.prototype.sort` allocated).
  const matches = quorumScratch;
  for (let i = 0; i < n; i++) {
    const m = matchOf(voters[i] as NodeId);
    let j = i;
    while (j > 0 && (matches[j - 1] as number) < m) {
      matches[j] = matches[j - 1] as number;
      j--;
    }
    matches[j] = m;
  }
  return matches[Math.floor(n / 2)] as number;
}

const quorumScratch: number[] = [];

/** Whether the members that said yes form a majority of `voters`. */
export function isMajority(voters: readonly NodeId[], yes: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const v of voters) if (yes(v)) count++;
  return count > voters.length / 2;
}
