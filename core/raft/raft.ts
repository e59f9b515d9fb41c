import { assert } from '../util/assert.ts';
import { RaftLog } from './log.ts';
import { isMajority, Progress, quorumIndex } from './progress.ts';
import type {
  ConfState,
  Entry,
  EntryData,
  HardState,
  NodeId,
  RaftMessage,
  RaftRefusal,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
  UnsafeRaftVariant,
} from './types.ts';
import { UncommittedProposals } from './uncommitted.ts';
import { malformedRaftMessage } from './validate.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Minimum election timeout, in ticks. */
  readonly electionTicks: number;
  /** The election timeout is drawn uniformly from [electionTicks, electionTicks + electionJitterTicks], then × `electionFactor`. */
  readonly electionJitterTicks: number;
  readonly heartbeatTicks: number;
  /** `leadership: 'reluctant'` stretches this node's election timeouts. @default 1 */
  readonly electionFactor?: number;
  /** Uniform in [0, 1): randomness is an input. */
  readonly random: () => number;
  /** @default true */
  readonly preVote?: boolean;
  /** A leader that has not heard from a majority within an election timeout steps down. @default true */
  readonly checkQuorum?: boolean;
  /** @default 64 */
  readonly maxEntriesPerAppend?: number;
  /**
   * An append carries entries up to this many bytes (`entryBytes`), and always at least one
   * (etcd's `MaxSizePerMsg`): with `maxInflight`, it bounds what a follower that is catching
   * up has in flight, and it keeps an append of many large commands within a frame. @default 1 MiB
   */
  readonly maxAppendBytes?: number;
  /**
   * A leader refuses a proposal (`full`) while the commands it proposed in its term and has
   * not committed yet hold this many bytes and the proposal would go past it; one that finds
   * none uncommitted is always taken, however large (etcd's `MaxUncommittedEntriesSize`).
   * When commits stall (a slow disk, a follower lagging, a quorum lost until check-quorum
   * notices), it bounds the leader's log and with it every follower's uncommitted tail.
   * Only command bytes count: not the leader's no-op, not configuration changes.
   * @default Infinity
   */
  readonly maxUncommittedBytes?: number;
  /** Unacknowledged appends per follower in replicate state. @default 32 */
  readonly maxInflight?: number;
  /** @default 256 KiB */
  readonly snapshotChunkBytes?: number;
  /** Snapshot chunks in flight per follower. @default 4 */
  readonly snapshotWindow?: number;
  /** Committed entries handed out per Ready. @default 1024 */
  readonly maxApplyPerReady?: number;
  /**
   * Takes a snapshot received from the leader into the application (restores its state
   * machine), before it replaces the log. A refusal (why) drops the snapshot whole and
   * leaves the log and the state as they were; `step` returns it, as for a malformed
   * message. A correct leader never sends a snapshot its own application cannot restore,
   * so only a faulty peer's is refused. When this accepts, the Ready that carries the
   * snapshot says `installed`; the application has it already.
   * @default accepts every snapshot (the application restores from the Ready)
   */
  readonly installSnapshot?: (snapshot: Snapshot) => string | undefined;
  /** Test-only: deliberately unsafe behaviour (see UnsafeRaftVariant). */
  readonly unsafe?: ReadonlySet<UnsafeRaftVariant>;
}

/** Durable state found at (re)start; empty for a new node. */
export interface RaftRestore {
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot;
  readonly entries?: readonly Entry[];
}

interface PendingRead {
  readonly id: number;
  readonly index: number;
  readonly round: number;
}

interface IncomingSnapshot {
  readonly from: NodeId;
  readonly index: number;
  readonly total: number;
  readonly parts: Uint8Array[];
  received: number;
}

/**
 * The empty list a Ready hands out when there is nothing. Readonly by type only: a frozen
 * array has another elements kind, and the driver's loops over a Ready's lists would then
 * meet two kinds and iterate generically, allocating a result per step.
 */
const NONE: readonly never[] = [];

const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/**
 * One Raft participant as a pure state machine, after etcd's RawNode: `tick()`, `step(msg)`,
 * proposals and reads go in; `takeReady()` hands out what to persist, send and apply. No
 * clock, no I/O, no randomness of its own.
 *
 * Safety rests on: term and vote reaching the Ready's `hardState` before the vote reply
 * leaves (the driver persists first); the commit rule counting only a majority of the
 * current configuration's voters, and only for entries of the current term (Figure 8), with
 * a no-op appended by each new leader to make that possible; every entry of an append
 * checked for conflicts; followers committing only what the leader has verified they hold.
 * Liveness niceties: pre-vote and check-quorum (a partitioned node cannot depose a healthy
 * leader on its return), leadership transfer, ReadIndex for linearizable reads.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly #cfg: Required<Omit<RaftConfig, 'unsafe'>> & { unsafe: ReadonlySet<UnsafeRaftVariant> };
  readonly log: RaftLog;

  #term = 0;
  #vote: NodeId | undefined;
  #role: Role = 'follower';
  #leader: NodeId | undefined;
  #conf: ConfState = EMPTY_CONF;
  /** Whether `#conf` counts this node as a voter: asked on every tick and timer re-arm, so kept with `#conf`. */
  #promotable = false;
  /** The configuration of the compacted prefix (the latest snapshot's). */
  #baseConf: ConfState = EMPTY_CONF;
  #snapshot: Snapshot | undefined;

  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #electionTimeout = 0;
  #votes = new Map<NodeId, boolean>();
  #progress = new Map<NodeId, Progress>();
  /** Index of the latest conf entry this leader appended (no new change until it commits). */
  #pendingConfIndex = 0;
  /** The index of this leader's no-op: once committed, everything before it is known committed. */
  #termStartIndex = 0;
  #transferee: NodeId | undefined;
  /** Leader only: its term's proposals not yet committed, against `maxUncommittedBytes`. */
  readonly #uncommitted = new UncommittedProposals();
  /** The last ReadIndex round sent (`heartbeat.round`). */
  #readRound = 0;
  /**
   * Reads in the order they came, each with the round that confirms it. One round is in
   * flight at a time, as etcd's server does: reads that come meanwhile share the next, which
   * goes out when that one is confirmed or with the next heartbeat, whichever is first (a
   * read waits at most two rounds; in `raft-chaos`, ~17% fewer messages per operation than a
   * round per read, and two rounds in flight gave back most of it).
   */
  #pendingReads: PendingRead[] = [];
  #readsWaitingForTermCommit: number[] = [];
  #incoming: IncomingSnapshot | undefined;

  // What the next Ready carries.
  #messages: RaftMessage[] = [];
  #readStates: ReadState[] = [];
  #readsFailed: number[] = [];
  #snapshotOut: { snapshot: Snapshot; installed: boolean } | undefined;
  #persisted: HardState = { term: 0, vote: undefined, commit: 0 };
  #lastSoft: SoftState = { role: 'follower', leader: undefined, term: 0 };

  constructor(config: RaftConfig, restore: RaftRestore = {}) {
    assert(config.electionTicks > config.heartbeatTicks, 'election timeout must exceed the heartbeat interval');
    assert(config.heartbeatTicks > 0 && config.electionJitterTicks >= 0, 'tick counts must be positive');
    this.id = config.id;
    this.#cfg = {
      preVote: true,
      checkQuorum: !config.unsafe?.has('read-without-quorum'),
      maxEntriesPerAppend: 64,
      maxAppendBytes: 1 << 20,
      maxUncommittedBytes: Number.POSITIVE_INFINITY,
      maxInflight: 32,
      snapshotChunkBytes: 256 * 1024,
      snapshotWindow: 4,
      maxApplyPerReady: 1024,
      electionFactor: 1,
      installSnapshot: () => undefined,
      // An option passed as `undefined` takes its default (a plain spread would keep the undefined).
      ...(Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as RaftConfig),
      unsafe: config.unsafe ?? new Set(),
    };
    const hs = restore.hardState ?? { term: 0, vote: undefined, commit: 0 };
    this.#term = hs.term;
    this.#vote = hs.vote;
    this.#persisted = hs;
    this.#snapshot = restore.snapshot;
    this.#baseConf = restore.snapshot?.meta.conf ?? EMPTY_CONF;
    this.log = RaftLog.restore(restore.snapshot?.meta, restore.entries ?? [], hs.commit);
    this.#setConf(this.#confAt(this.log.lastIndex()));
    this.#lastSoft = { role: 'follower', leader: undefined, term: this.#term };
    this.#resetElectionTimeout();
  }

  // ---------------------------------------------------------------- status

  get term(): number {
    return this.#term;
  }
  get role(): Role {
    return this.#role;
  }
  get leader(): NodeId | undefined {
    return this.#leader;
  }
  get conf(): ConfState {
    return this.#conf;
  }
  /** Leader only: the voter leadership is being handed to, until it takes over or the transfer is abandoned. */
  get transferee(): NodeId | undefined {
    return this.#transferee;
  }
  get vote(): NodeId | undefined {
    return this.#vote;
  }
  get snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }
  /** A voter in the current configuration, so it may campaign. */
  get promotable(): boolean {
    return this.#promotable;
  }

  #setConf(conf: ConfState): void {
    this.#conf = conf;
    this.#promotable = conf.voters.includes(this.id);
  }
  /** The leader has committed an entry of its own term: reads and conf changes may proceed. */
  get committedInTerm(): boolean {
    return this.#role === 'leader' && this.log.commit >= this.#termStartIndex;
  }
  /** Leader only: each member's replication state, for membership decisions. */
  progressOf(id: NodeId): { readonly match: number; readonly recentActive: boolean } | undefined {
    return this.#progress.get(id);
  }

  // ---------------------------------------------------------------- inputs

  /** Forms a new cluster: only on a node with an empty log, which becomes its first voter set. */
  bootstrap(conf: ConfState): void {
    assert(this.log.lastIndex() === 0 && this.#term === 0, 'bootstrap on a node that already has state');
    assert(conf.voters.includes(this.id), 'the bootstrapping node must be a voter');
    this.#term = 1;
    this.log.append([{ term: 1, index: 1, data: { kind: 'conf', conf } }]);
    this.#setConf(conf);
    this.#becomeFollower(1, undefined);
    this.#campaign(this.#conf.voters.length === 1 ? 'real' : 'pre');
  }

  /**
   * A member that learned its group's formation writes the formation's first configuration
   * as entry 1 of its empty log: the entry the bootstrapping node wrote (`bootstrap`),
   * identical on every member, so the voters can elect a leader among themselves even if
   * the bootstrapping node fails before replicating it. No campaign starts here; the
   * election timer runs as usual.
   */
  adoptFirstConf(conf: ConfState): void {
    assert(this.log.lastIndex() === 0 && this.#snapshot === undefined, 'adoptFirstConf on a node that already has a log');
    if (this.#term < 1) this.#becomeFollower(1, undefined);
    this.log.append([{ term: 1, index: 1, data: { kind: 'conf', conf } }]);
    this.#setConf(conf);
  }

  /** One logical clock step; the driver calls it every tick interval. */
  tick(): void {
    this.#electionElapsed++;
    if (this.#role === 'leader') {
      this.#tickLeader();
      return;
    }
    if (this.#electionElapsed < this.#electionTimeout) return;
    if (this.promotable) {
      this.#electionElapsed = 0;
      this.#campaign(this.#cfg.preVote ? 'pre' : 'real');
    } else if (this.#leader !== undefined) {
      // A learner never campaigns, which is what makes a voter forget a leader it no longer
      // hears from; without this it named a crashed leader for ever (and forwarded calls to
      // it). It hears of the next leader from that leader's first append or heartbeat.
      this.#electionElapsed = 0;
      this.#leader = undefined;
    }
  }

  /**
   * How many ticks from now the first one that does more than count falls: starts an
   * election, sends heartbeats, checks the quorum, gives up on a snapshot. A driver may call
   * `tick` only then, as long as it first catches up on the ticks in between before any
   * other input (core/groups/group.ts does). At least 1; Infinity when no tick will act (a
   * learner that knows no leader).
   */
  ticksUntilDue(): number {
    let due: number;
    if (this.#role === 'leader') {
      due = Math.min(this.#cfg.heartbeatTicks - this.#heartbeatElapsed, this.#cfg.electionTicks - this.#electionElapsed);
      for (const pr of this.#progress.values()) if (pr.state === 'snapshot') due = Math.min(due, this.#cfg.electionTicks + 1 - pr.snapshotIdleTicks);
    } else {
      due = this.promotable || this.#leader !== undefined ? this.#electionTimeout - this.#electionElapsed : Number.POSITIVE_INFINITY;
    }
    return Math.max(1, due);
  }

  /** Leader only: appends commands; returns the first index and term, or why not. */
  propose(commands: readonly Uint8Array[]): { index: number; term: number } | RaftRefusal {
    if (this.#role !== 'leader') return { kind: 'notLeader', leader: this.#leader };
    if (this.#transferee !== undefined) return { kind: 'transferring', to: this.#transferee };
    let bytes = 0;
    for (const c of commands) bytes += c.length;
    const held = this.#uncommitted.bytes(this.#term);
    if (held > 0 && held + bytes > this.#cfg.maxUncommittedBytes) return { kind: 'full', uncommittedBytes: held };
    const first = this.log.lastIndex() + 1;
    this.#appendLocal(commands.map((bytes) => ({ kind: 'command', bytes })));
    if (bytes > 0 && this.log.commit < this.log.lastIndex()) this.#uncommitted.add(this.#term, this.log.lastIndex(), bytes);
    return { index: first, term: this.#term };
  }

  /** The bytes of commands this node proposed as leader in its term and has not committed yet (`maxUncommittedBytes`); 0 when it does not lead. */
  get uncommittedBytes(): number {
    return this.#uncommitted.bytes(this.#term);
  }

  /**
   * Leader only: proposes a new configuration. One change at a time, after this leader's
   * first commit, moving at most one voter; the leader itself cannot be removed (transfer
   * leadership first).
   */
  proposeConf(conf: ConfState): { index: number } | RaftRefusal {
    if (this.#role !== 'leader') return { kind: 'notLeader', leader: this.#leader };
    if (this.#transferee !== undefined) return { kind: 'transferring', to: this.#transferee };
    if (!this.committedInTerm || this.#pendingConfIndex > this.log.commit) return { kind: 'confPending' };
    const invalid = validateConfChange(this.#conf, conf, this.id);
    if (invalid !== undefined) return { kind: 'invalid', reason: invalid };
    this.#appendLocal([{ kind: 'conf', conf }]);
    return { index: this.log.lastIndex() };
  }

  /**
   * Leader only: a linearizable read (ReadIndex, thesis §6.4). The read may be served once a
   * ReadState with this `id` comes out of a Ready and the state machine has applied its index.
   */
  readIndex(id: number): RaftRefusal | undefined {
    if (this.#role !== 'leader') return { kind: 'notLeader', leader: this.#leader };
    if (!this.committedInTerm) {
      this.#readsWaitingForTermCommit.push(id);
      return undefined;
    }
    this.#startRead(id);
    return undefined;
  }

  /** Leader only: hands leadership to `to` (a voter) once its log is caught up. */
  transferLeadership(to: NodeId): RaftRefusal | undefined {
    if (this.#role !== 'leader') return { kind: 'notLeader', leader: this.#leader };
    if (to === this.id) return undefined;
    if (!this.#conf.voters.includes(to)) return { kind: 'invalid', reason: `${to} is not a voter` };
    this.#transferee = to;
    this.#electionElapsed = 0; // the transfer is abandoned after one election timeout
    const pr = this.#progress.get(to);
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.#send({ type: 'timeoutNow', term: this.#term, from: this.id, to });
    else this.#sendAppend(to);
    return undefined;
  }

  /** The link to `id` broke: whatever was in flight is lost, so probe from its match again. */
  reportUnreachable(id: NodeId): void {
    const pr = this.#progress.get(id);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /**
   * The state machine's snapshot at `index` (≤ the applied index): entries up to it are
   * dropped; lagging followers get the snapshot instead.
   */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.log.offset) return;
    const term = this.log.term(index);
    assert(term !== undefined, 'compact index not in the log');
    const snapshot: Snapshot = { meta: { index, term, conf: this.#confAt(index) }, data };
    this.log.compact(index);
    this.#snapshot = snapshot;
    this.#baseConf = snapshot.meta.conf;
    this.#snapshotOut = { snapshot, installed: false };
  }

  /**
   * Steps one message from a peer. Returns why it was refused when it cannot come from a
   * correct peer (`malformedRaftMessage`, or a snapshot chunk that contradicts the earlier ones);
   * such a message changes nothing, and the caller should drop the link it came on.
   */
  step(m: RaftMessage): string | undefined {
    if (m.to !== this.id) return undefined;
    const malformed = malformedRaftMessage(m);
    if (malformed !== undefined) return malformed;
    if (m.term > this.#term) {
      if (m.type === 'vote') {
        const inLease = this.#cfg.checkQuorum && this.#leader !== undefined && this.#electionElapsed < this.#cfg.electionTicks;
        // A node that still hears its leader ignores disruptive candidates (thesis §4.2.3).
        if (!m.transfer && inLease) return undefined;
        if (!m.pre) this.#becomeFollower(m.term, undefined);
      } else if (m.type === 'voteResp' && m.pre && m.granted) {
        // A granted pre-vote carries the term we would campaign at; not a newer leader.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.#becomeFollower(m.term, fromLeader ? m.from : undefined);
      }
    } else if (m.term < this.#term) {
      // A stale leader (back from a partition) learns the new term from our answer, instead
      // of being dropped silently until our leader happens to contact it (mosaik §5.13).
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.#send({ type: 'appendResp', term: this.#term, from: this.id, to: m.from, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'vote' && m.pre) {
        this.#send({ type: 'voteResp', term: this.#term, from: this.id, to: m.from, pre: true, granted: false });
      }
      return undefined;
    }

    switch (m.type) {
      case 'vote':
        this.#handleVote(m);
        return undefined;
      case 'voteResp':
        this.#handleVoteResp(m);
        return undefined;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        if (this.#role === 'leader') return; // another leader in our term: impossible unless unsafe
        if (this.#role !== 'follower') this.#becomeFollower(this.#term, m.from);
        this.#leader = m.from;
        this.#electionElapsed = 0;
        if (m.type === 'snapshot') return this.#handleSnapshotChunk(m);
        if (m.type === 'append') this.#handleAppend(m);
        else this.#handleHeartbeat(m);
        return undefined;
      case 'appendResp':
        if (this.#role === 'leader') this.#handleAppendResp(m);
        return undefined;
      case 'heartbeatResp':
        if (this.#role === 'leader') this.#handleHeartbeatResp(m);
        return undefined;
      case 'snapshotResp':
        if (this.#role === 'leader') this.#handleSnapshotResp(m);
        return undefined;
      case 'timeoutNow':
        if (this.promotable && this.#role !== 'leader') this.#campaign('transfer');
        return undefined;
    }
  }

  hasReady(): boolean {
    return (
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#readsFailed.length > 0 ||
      this.#snapshotOut !== undefined ||
      this.log.applied < this.log.commit ||
      // A leader's own append may send nothing (every follower paused) yet must reach disk.
      this.log.hasUnpersisted() ||
      this.#hardStateChanged() ||
      this.#softStateChanged()
    );
  }

  /** Everything to do since the last call; see `Ready` for the order. */
  takeReady(): Ready {
    // Called after every input: what did not change is not allocated again (an empty list
    // is the shared `NONE`, and the lists handed out are not reused).
    const hardStateMustSync = this.#termOrVoteChanged();
    let hardState: HardState | undefined;
    if (this.#hardStateChanged()) {
      const vote = this.#cfg.unsafe.has('vote-not-persisted') ? this.#persisted.vote : this.#vote;
      hardState = { term: this.#term, vote, commit: this.log.commit };
      this.#persisted = hardState;
    }
    let softState: SoftState | undefined;
    if (this.#softStateChanged()) {
      softState = { role: this.#role, leader: this.#leader, term: this.#term };
      this.#lastSoft = softState;
    }
    const ready: Ready = {
      hardState,
      hardStateMustSync,
      log: this.log.takeUnpersisted(),
      snapshot: this.#snapshotOut,
      messages: this.#messages.length === 0 ? NONE : this.#messages,
      committed: this.log.takeCommitted(this.#cfg.maxApplyPerReady),
      readStates: this.#readStates.length === 0 ? NONE : this.#readStates,
      readsFailed: this.#readsFailed.length === 0 ? NONE : this.#readsFailed,
      softState,
    };
    if (this.#messages.length > 0) this.#messages = [];
    if (this.#readStates.length > 0) this.#readStates = [];
    if (this.#readsFailed.length > 0) this.#readsFailed = [];
    this.#snapshotOut = undefined;
    return ready;
  }

  // ---------------------------------------------------------------- roles

  #becomeFollower(term: number, leader: NodeId | undefined): void {
    if (term > this.#term) {
      this.#term = term;
      this.#vote = undefined;
    }
    if (this.#role === 'leader') {
      this.#failPendingReads();
      this.#uncommitted.clear();
    }
    this.#role = 'follower';
    this.#leader = leader;
    this.#votes.clear();
    this.#progress.clear();
    this.#transferee = undefined;
    this.#electionElapsed = 0;
    this.#resetElectionTimeout();
  }

  #campaign(kind: 'pre' | 'real' | 'transfer'): void {
    if (!this.promotable) return;
    const pre = kind === 'pre';
    if (pre) {
      this.#role = 'preCandidate';
      this.#leader = undefined;
    } else {
      this.#term++;
      this.#vote = this.id;
      this.#role = 'candidate';
      this.#leader = undefined;
      this.#progress.clear();
    }
    this.#votes = new Map([[this.id, true]]);
    this.#resetElectionTimeout();
    if (isMajority(this.#conf.voters, (v) => this.#votes.get(v) === true)) {
      if (pre) this.#campaign('real');
      else this.#becomeLeader();
      return;
    }
    const term = pre ? this.#term + 1 : this.#term;
    for (const v of this.#conf.voters) {
      if (v === this.id) continue;
      this.#send({
        type: 'vote',
        term,
        from: this.id,
        to: v,
        pre,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        transfer: kind === 'transfer',
      });
    }
  }

  #becomeLeader(): void {
    assert(this.#role === 'candidate', 'only a candidate becomes leader');
    this.#role = 'leader';
    this.#leader = this.id;
    this.#uncommitted.clear();
    this.#heartbeatElapsed = 0;
    this.#electionElapsed = 0;
    this.#progress.clear();
    for (const id of this.#members()) if (id !== this.id) this.#progress.set(id, new Progress(id, this.log.lastIndex()));
    if (this.#cfg.unsafe.has('commit-previous-term')) {
      this.#termStartIndex = this.log.lastIndex();
      this.#bcastAppend();
    } else {
      this.#termStartIndex = this.log.lastIndex() + 1;
      this.#appendLocal([{ kind: 'noop' }]);
    }
    // A conf entry of an earlier term may still be uncommitted: no change until our no-op commits.
    this.#pendingConfIndex = this.log.lastIndex();
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    if (this.#electionElapsed >= this.#cfg.electionTicks) {
      this.#electionElapsed = 0;
      if (this.#transferee !== undefined) this.#transferee = undefined;
      if (this.#cfg.checkQuorum) {
        const active = isMajority(this.#conf.voters, (v) => v === this.id || this.#progress.get(v)?.recentActive === true);
        for (const pr of this.#progress.values()) pr.recentActive = false;
        if (!active) {
          this.#becomeFollower(this.#term, undefined);
          return;
        }
      }
    }
    for (const pr of this.#progress.values()) {
      if (pr.state !== 'snapshot') continue;
      if (++pr.snapshotIdleTicks > this.#cfg.electionTicks) {
        pr.becomeProbe(); // a chunk or the reply was lost: start over
        pr.snapshotIndex = 0;
        this.#sendAppend(pr.id);
      }
    }
    if (this.#heartbeatElapsed >= this.#cfg.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      if (this.#readRoundWaiting()) this.#readRound++;
      this.#bcastHeartbeat();
    }
  }

  // ---------------------------------------------------------------- handlers

  #handleVote(m: Extract<RaftMessage, { type: 'vote' }>): void {
    const canVote = this.#vote === m.from || (this.#vote === undefined && this.#leader === undefined) || (m.pre && m.term > this.#term);
    const logOk = this.#cfg.unsafe.has('vote-without-log-check') || this.log.isUpToDate(m.lastIndex, m.lastTerm);
    const granted = canVote && logOk && this.#role !== 'leader';
    if (granted && !m.pre) {
      this.#electionElapsed = 0;
      this.#vote = m.from;
    }
    this.#send({ type: 'voteResp', term: granted ? m.term : this.#term, from: this.id, to: m.from, pre: m.pre, granted });
  }

  #handleVoteResp(m: Extract<RaftMessage, { type: 'voteResp' }>): void {
    const expected = m.pre ? 'preCandidate' : 'candidate';
    if (this.#role !== expected || !this.#conf.voters.includes(m.from)) return;
    if (!this.#votes.has(m.from)) this.#votes.set(m.from, m.granted);
    if (isMajority(this.#conf.voters, (v) => this.#votes.get(v) === true)) {
      if (m.pre) this.#campaign('real');
      else this.#becomeLeader();
    } else if (isMajority(this.#conf.voters, (v) => this.#votes.get(v) === false)) {
      this.#becomeFollower(this.#term, undefined);
    }
  }

  #handleAppend(m: Extract<RaftMessage, { type: 'append' }>): void {
    if (m.prevIndex < this.log.commit) {
      // Everything up to our commit index matches the leader's log already.
      this.#replyAppend(m, true, this.log.commit);
      return;
    }
    if (!this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const last = this.log.lastIndex();
      // Skip the whole conflicting term at once, never below our commit index.
      const hint = m.prevIndex > last ? last : Math.max(this.log.commit, this.log.firstIndexOfTerm(m.prevIndex) - 1);
      this.#replyAppend(m, false, m.prevIndex, hint, this.log.term(hint) ?? 0);
      return;
    }
    this.#replyAppend(m, true, this.#acceptEntries(m.prevIndex, m.entries, m.commit));
  }

  // A method, not a closure made per append: the hot path of every follower.
  #replyAppend(m: Extract<RaftMessage, { type: 'append' }>, success: boolean, index: number, hintIndex = 0, hintTerm = 0): void {
    if (success && !m.ack) return;
    this.#send({ type: 'appendResp', term: this.#term, from: this.id, to: m.from, success, index, hintIndex, hintTerm });
  }

  /** Appends a leader's entries after `prevIndex` (which matches) and returns the last index they vouch for. */
  #acceptEntries(prevIndex: number, entries: readonly Entry[], leaderCommit: number): number {
    let hadConf = false;
    for (const e of entries) if (e.data.kind === 'conf') hadConf = true;
    const truncationsBefore = this.log.truncations;
    const lastNew = this.log.appendFromLeader(prevIndex, entries);
    // A truncation may have removed the conf entry in force; a new one takes effect now.
    if (hadConf || this.log.truncations !== truncationsBefore) this.#setConf(this.#confAt(this.log.lastIndex()));
    // Only what this message vouches for: a stale tail beyond it is not known to match (mosaik §5.2).
    this.log.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  #handleHeartbeat(m: Extract<RaftMessage, { type: 'heartbeat' }>): void {
    // The leader sends min(our match, its commit): entries we hold that it has verified.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.#send({ type: 'heartbeatResp', term: this.#term, from: this.id, to: m.from, round: m.round });
  }

  #handleSnapshotChunk(m: Extract<RaftMessage, { type: 'snapshot' }>): string | undefined {
    const reply = (received: number): void => this.#send({ type: 'snapshotResp', term: this.#term, from: this.id, to: m.from, index: m.meta.index, received });
    if (m.meta.index <= this.log.commit) {
      // We already hold it all; tell the leader where we are.
      reply(m.total);
      this.#send({ type: 'appendResp', term: this.#term, from: this.id, to: m.from, success: true, index: this.log.commit, hintIndex: 0, hintTerm: 0 });
      return undefined;
    }
    let inc = this.#incoming;
    if (inc === undefined || inc.index !== m.meta.index || inc.from !== m.from || m.offset === 0) {
      if (m.offset !== 0) {
        reply(0);
        return undefined;
      }
      inc = { from: m.from, index: m.meta.index, total: m.total, parts: [], received: 0 };
      this.#incoming = inc;
    }
    if (m.total !== inc.total) return `snapshot: a chunk says the snapshot at ${m.meta.index} has ${m.total} bytes, an earlier one ${inc.total}`;
    if (m.offset === inc.received) {
      inc.parts.push(m.chunk);
      inc.received += m.chunk.length;
    }
    if (inc.received < inc.total) {
      reply(inc.received);
      return undefined;
    }
    this.#incoming = undefined;
    const data = new Uint8Array(inc.total);
    let at = 0;
    for (const p of inc.parts) {
      data.set(p, at);
      at += p.length;
    }
    const snapshot: Snapshot = { meta: m.meta, data };
    const refused = this.#cfg.installSnapshot(snapshot);
    if (refused !== undefined) return `snapshot at ${m.meta.index} refused: ${refused}`;
    reply(inc.received);
    this.log.installSnapshot(m.meta);
    this.#snapshot = snapshot;
    this.#baseConf = m.meta.conf;
    this.#setConf(this.#confAt(this.log.lastIndex()));
    this.#snapshotOut = { snapshot, installed: true };
    this.#send({ type: 'appendResp', term: this.#term, from: this.id, to: m.from, success: true, index: m.meta.index, hintIndex: 0, hintTerm: 0 });
    return undefined;
  }

  #handleAppendResp(m: Extract<RaftMessage, { type: 'appendResp' }>): void {
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    // A follower holding more than we do cannot happen in Raft (leader completeness); only an
    // unsafe variant gets here. Ignore it rather than trust it (the checkers report the cause).
    if (m.index > this.log.lastIndex()) return;
    if (!m.success) {
      if (m.index === 0 && m.hintIndex === 0) return; // a higher-term nudge, handled by the term check
      // Stale rejections (for an index we no longer probe) are ignored.
      if (pr.state === 'replicate' ? m.index <= pr.match : m.index !== pr.next - 1) return;
      pr.becomeProbe();
      pr.next = Math.max(pr.match + 1, Math.min(m.index, m.hintIndex + 1));
      this.#sendAppend(m.from);
      return;
    }
    const moved = pr.maybeUpdate(m.index);
    if (pr.state === 'probe') {
      pr.probeSent = false;
      if (moved || pr.match === this.log.lastIndex()) pr.becomeReplicate();
    } else if (pr.state === 'snapshot') {
      if (pr.match >= pr.snapshotIndex) pr.becomeProbe();
    } else {
      pr.freeTo(m.index);
    }
    if (moved && this.#maybeCommit()) this.#bcastAppend(true);
    if (m.from === this.#transferee && pr.match === this.log.lastIndex()) {
      this.#send({ type: 'timeoutNow', term: this.#term, from: this.id, to: m.from });
    }
    this.#sendAppend(m.from);
  }

  #handleHeartbeatResp(m: Extract<RaftMessage, { type: 'heartbeatResp' }>): void {
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // No progress over a whole heartbeat interval while behind: an append was lost (a link
    // broke, or the stress mode dropped it). Probe again from the follower's match.
    if (pr.state === 'replicate' && pr.match < this.log.lastIndex() && pr.match === pr.matchAtLastHeartbeat) pr.becomeProbe();
    pr.matchAtLastHeartbeat = pr.match;
    pr.readRound = Math.max(pr.readRound, m.round);
    if (pr.match < this.log.lastIndex()) this.#sendAppend(m.from);
    this.#releaseReads();
  }

  #handleSnapshotResp(m: Extract<RaftMessage, { type: 'snapshotResp' }>): void {
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (pr.state !== 'snapshot' || m.index !== pr.snapshotIndex) return;
    pr.snapshotIdleTicks = 0;
    if (m.received < pr.snapshotAcked) {
      // The follower lost its partial copy (a restart): start again from the beginning.
      pr.snapshotAcked = 0;
      this.#sendSnapshotChunks(pr, 0);
      return;
    }
    const sentUpTo = pr.snapshotAcked + this.#cfg.snapshotWindow * this.#cfg.snapshotChunkBytes;
    pr.snapshotAcked = m.received;
    this.#sendSnapshotChunks(pr, Math.min(sentUpTo, this.#snapshot?.data.length ?? 0));
  }

  // ---------------------------------------------------------------- replication

  #appendLocal(data: readonly EntryData[]): void {
    const start = this.log.lastIndex() + 1;
    const entries = data.map((d, k): Entry => ({ term: this.#term, index: start + k, data: d }));
    this.log.append(entries);
    for (const e of entries) {
      if (e.data.kind !== 'conf') continue;
      this.#setConf(e.data.conf);
      this.#pendingConfIndex = e.index;
      this.#syncProgressWithConf();
      // Pending reads are confirmed against the new voters now: had the last other voter just
      // been removed, no heartbeat reply would ever come to release them.
      this.#releaseReads();
    }
    this.#maybeCommit();
    this.#bcastAppend();
  }

  #syncProgressWithConf(): void {
    const members = new Set(this.#members());
    for (const id of members) if (id !== this.id && !this.#progress.has(id)) this.#progress.set(id, new Progress(id, this.log.lastIndex()));
    for (const id of [...this.#progress.keys()]) if (!members.has(id)) this.#progress.delete(id);
  }

  #maybeCommit(): boolean {
    const idx = quorumIndex(this.#conf.voters, (v) => (v === this.id ? this.log.lastIndex() : (this.#progress.get(v)?.match ?? 0)));
    if (idx <= this.log.commit) return false;
    // Figure 8: counting replicas commits only entries of the current term.
    if (this.log.term(idx) !== this.#term && !this.#cfg.unsafe.has('commit-previous-term')) return false;
    this.log.commitTo(idx);
    this.#uncommitted.commit(this.log.commit);
    if (this.committedInTerm && this.#readsWaitingForTermCommit.length > 0) {
      const waiting = this.#readsWaitingForTermCommit;
      this.#readsWaitingForTermCommit = [];
      for (const id of waiting) this.#startRead(id);
    }
    return true;
  }

  /** `commitOnly`: also send empty appends, so followers learn a new commit index now rather than at the next heartbeat. */
  #bcastAppend(commitOnly = false): void {
    for (const id of this.#progress.keys()) this.#sendAppend(id, commitOnly);
  }

  #bcastHeartbeat(round = this.#readRound): void {
    // Any round resets the heartbeat clock: a ReadIndex round does what a periodic one does
    // (followers' election clocks, the commit index, check-quorum's replies), so under a
    // steady flow of strong reads the periodic rounds would only repeat it.
    this.#heartbeatElapsed = 0;
    for (const pr of this.#progress.values()) {
      this.#send({ type: 'heartbeat', term: this.#term, from: this.id, to: pr.id, commit: Math.min(pr.match, this.log.commit), round });
    }
  }

  /** Sends what `to` is missing, as far as its flow control allows. */
  #sendAppend(to: NodeId, sendIfEmpty = false): void {
    const pr = this.#progress.get(to);
    if (pr === undefined) return;
    let sendEmpty = sendIfEmpty;
    while (!pr.paused(this.#cfg.maxInflight)) {
      if (pr.next <= this.log.offset) {
        this.#startSnapshot(pr);
        return;
      }
      const prevIndex = pr.next - 1;
      const prevTerm = this.log.term(prevIndex);
      const entries = this.log.slice(pr.next, this.#cfg.maxEntriesPerAppend, this.#cfg.maxAppendBytes);
      if (prevTerm === undefined || entries === undefined) {
        this.#startSnapshot(pr);
        return;
      }
      // An up-to-date follower in replicate state gets nothing unless a new commit index must go out.
      if (entries.length === 0 && pr.state === 'replicate' && !sendEmpty) return;
      // A commit notice to a follower in step needs no answer: that it holds what it was sent
      // comes back in the answers to those appends. Probes are always answered.
      const ack = entries.length > 0 || pr.state !== 'replicate';
      this.#send({ type: 'append', term: this.#term, from: this.id, to, prevIndex, prevTerm, entries, commit: this.log.commit, ack });
      const last = prevIndex + entries.length;
      if (pr.state === 'probe') {
        pr.probeSent = true;
        return;
      }
      if (entries.length === 0) return;
      sendEmpty = false;
      pr.next = last + 1;
      pr.inflight.push(last);
    }
  }

  #startSnapshot(pr: Progress): void {
    const snap = this.#snapshot;
    assert(snap !== undefined, 'a compacted log without a snapshot');
    pr.becomeSnapshot(snap.meta.index);
    this.#sendSnapshotChunks(pr, 0);
  }

  /** Sends the chunks after `from` up to the window past the acknowledged bytes. */
  #sendSnapshotChunks(pr: Progress, from: number): void {
    const snap = this.#snapshot;
    if (snap === undefined || snap.meta.index !== pr.snapshotIndex) return;
    const size = this.#cfg.snapshotChunkBytes;
    const total = snap.data.length;
    const limit = Math.min(total, pr.snapshotAcked + this.#cfg.snapshotWindow * size);
    let offset = from;
    do {
      // Nothing past the window (an empty snapshot still goes out as one empty chunk): a chunk
      // beyond what the follower can take is ignored and answered, which would send it again.
      if (offset >= limit && total > 0) return;
      const chunk = snap.data.subarray(offset, Math.min(total, offset + size));
      this.#send({ type: 'snapshot', term: this.#term, from: this.id, to: pr.id, meta: snap.meta, offset, total, chunk });
      offset += chunk.length;
    } while (offset < limit);
  }

  // ---------------------------------------------------------------- reads

  #startRead(id: number): void {
    const index = this.log.commit;
    if (this.#conf.voters.length <= 1 || this.#cfg.unsafe.has('read-without-quorum')) {
      this.#readStates.push({ id, index });
      return;
    }
    // A round in flight was sent before this read came: it cannot confirm it.
    this.#pendingReads.push({ id, index, round: this.#readRound + 1 });
    if (this.#readRoundInFlight()) return;
    this.#readRound++;
    this.#bcastHeartbeat();
  }

  /** A round was sent that a pending read still waits for. */
  #readRoundInFlight(): boolean {
    const first = this.#pendingReads[0];
    return first !== undefined && first.round <= this.#readRound;
  }

  /** A pending read waits for a round not sent yet. */
  #readRoundWaiting(): boolean {
    const last = this.#pendingReads[this.#pendingReads.length - 1];
    return last !== undefined && last.round > this.#readRound;
  }

  #releaseReads(): void {
    while (this.#pendingReads.length > 0) {
      const read = this.#pendingReads[0];
      if (read === undefined) break;
      const confirmed = isMajority(this.#conf.voters, (v) => v === this.id || (this.#progress.get(v)?.readRound ?? 0) >= read.round);
      if (!confirmed) break;
      this.#pendingReads.shift();
      this.#readStates.push({ id: read.id, index: read.index });
    }
    // The round in flight is confirmed: the reads waiting for the next one can have it now.
    if (!this.#readRoundInFlight() && this.#readRoundWaiting()) {
      this.#readRound++;
      this.#bcastHeartbeat();
    }
  }

  #failPendingReads(): void {
    for (const r of this.#pendingReads) this.#readsFailed.push(r.id);
    this.#readsFailed.push(...this.#readsWaitingForTermCommit);
    this.#pendingReads = [];
    this.#readsWaitingForTermCommit = [];
  }

  // ---------------------------------------------------------------- helpers

  #send(m: RaftMessage): void {
    this.#messages.push(m);
  }

  #members(): NodeId[] {
    return [...this.#conf.voters, ...this.#conf.learners];
  }

  /** The configuration in force at `index`: the last conf entry at or before it, else the snapshot's. */
  #confAt(index: number): ConfState {
    for (let i = Math.min(index, this.log.lastIndex()); i > this.log.offset; i--) {
      const e = this.log.entry(i);
      if (e?.data.kind === 'conf') return e.data.conf;
    }
    return this.#baseConf;
  }

  #resetElectionTimeout(): void {
    const base = this.#cfg.electionTicks + Math.floor(this.#cfg.random() * (this.#cfg.electionJitterTicks + 1));
    this.#electionTimeout = Math.max(1, Math.round(base * this.#cfg.electionFactor));
  }

  #hardStateChanged(): boolean {
    return this.#termOrVoteChanged() || this.#persisted.commit !== this.log.commit;
  }

  /** What must be synced before the Ready's messages leave (`Ready.hardStateMustSync`). */
  #termOrVoteChanged(): boolean {
    const p = this.#persisted;
    const vote = this.#cfg.unsafe.has('vote-not-persisted') ? p.vote : this.#vote;
    return p.term !== this.#term || p.vote !== vote;
  }

  #softStateChanged(): boolean {
    const s = this.#lastSoft;
    return s.role !== this.#role || s.leader !== this.#leader || s.term !== this.#term;
  }
}

/** Why `next` may not follow `current` (one voter at a time, never empty, no overlap), or undefined. */
export function validateConfChange(current: ConfState, next: ConfState, leader: NodeId): string | undefined {
  const voters = new Set(next.voters);
  if (voters.size !== next.voters.length || new Set(next.learners).size !== next.learners.length) return 'duplicate members';
  if (next.learners.some((l) => voters.has(l))) return 'a member cannot be both voter and learner';
  if (!voters.has(leader)) return 'the leader cannot remove itself; transfer leadership first';
  const before = new Set(current.voters);
  let moved = 0;
  for (const v of voters) if (!before.has(v)) moved++;
  for (const v of before) if (!voters.has(v)) moved++;
  if (moved > 1) return 'only one voter may be added or removed at a time';
  return undefined;
}
