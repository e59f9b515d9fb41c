import {
  ApplyError,
  FormationLostError,
  FullError,
  GroupClosedError,
  InvalidArgumentError,
  type MosaikError,
  NotAllowedError,
  OfflineError,
  QueryError,
  TimeoutError,
  withoutStack,
} from '../errors.ts';
import type { GroupId } from '../identity/digest.ts';
import { PeerId } from '../identity/keys.ts';
import type { RequestId } from '../node/io.ts';
import type { LinkInfo, NodeContext } from '../node/subsystem.ts';
import { RaftNode } from '../raft/raft.ts';
import type { Entry, RaftMessage, Role, UnsafeRaftVariant } from '../raft/types.ts';
import { UncommittedProposals } from '../raft/uncommitted.ts';
import type { DatumCodec } from '../streams/datum-codec.ts';
import type { TicketValidator } from '../tickets/ticket.ts';
import { assert } from '../util/assert.ts';
import { DeadlineQueue } from '../util/deadline-queue.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { Admission, type TicketCheck } from './admission.ts';
import { type Bond, type BondHost, Bonds } from './bonds.ts';
import { type CallLimits, callRefusal } from './call-budget.ts';
import { compareFormations, type Formation, formationHex, newFormation, sameFormation } from './formation.ts';
import type { ConsensusConfig, GroupKey } from './group-id.ts';
import { COMMAND_OVERHEAD_BYTES, commandBudget, snapshotChunkBudget } from './limits.ts';
import { MEMBER_NONCE_BYTES, memberId, peerOfMember, peersOf } from './member-id.ts';
import { type GroupStorage, MemberStore } from './member-store.ts';
import { nextConfiguration } from './membership.ts';

import { type Applied, encodeEnvelope, envelopeKey, ReplicatedState, type StateMachine } from './state-machine.ts';
import type { BondMessage, Leadership, WireRaftMessage } from './wire.ts';

/** What a call meets while the group has no leader: retryable, and met by the thousand during elections. */
const NO_LEADER = () => withoutStack(() => new OfflineError('the group has no leader now; retry'));

/** Everything a node needs to take part in one group. */
export interface GroupSpec {
  readonly id: GroupId;
  readonly key: GroupKey;
  readonly machine: StateMachine;
  readonly codec: DatumCodec<unknown>;
  /** The machine's snapshot before any command: what a restart without a snapshot, or a lost formation, returns to. */
  readonly genesis: Uint8Array;
  readonly consensus: ConsensusConfig;
  readonly leadership: Leadership;
  /** Where the member keeps its Raft state (see `GroupStorage`). */
  readonly storage: GroupStorage;
  /** Voters needed (this node included) before a new formation forms. */
  readonly bootstrapExpect: number;
  readonly maxVoters: number;
  /** Members must carry tickets every validator accepts (AND-ed), checked at bonding, on entry changes and at expiry. */
  readonly validators: readonly TicketValidator[];
  /** How much this node may have in flight on the group (not part of the id: each member chooses). */
  readonly limits: CallLimits;
}

/** Test-only: deliberately unsafe group behaviour, to show the checkers catch it. */
export interface PlantedGroupBugs {
  /** A follower answers strong queries from its own state, without a ReadIndex round. */
  readonly followerReadsWithoutReadIndex?: boolean;
  /** A call past its deadline says its command never reached a leader (`mayHaveApplied: false`), even when it did. */
  readonly timeoutsClaimNotApplied?: boolean;
  /** Members never check `validators` (at bonding, on entry changes, at expiry). */
  readonly ignoreTickets?: boolean;
  readonly raft?: ReadonlySet<UnsafeRaftVariant>;
}

export type GroupsEvent =
  | {
      readonly type: 'group.role';
      readonly group: GroupId;
      readonly formation: string;
      readonly term: number;
      readonly role: Role;
      readonly leader: string | undefined;
    }
  /** One entry applied here: `id` names it (`origin/seq` for commands), the same on every replica. */
  | { readonly type: 'group.applied'; readonly group: GroupId; readonly formation: string; readonly index: number; readonly term: number; readonly id: string }
  | { readonly type: 'group.formationLost'; readonly group: GroupId; readonly lost: string; readonly winner: string; readonly lastIndex: number }
  /**
   * A snapshot from the leader replaced this node's state: it now stands at `index` without
   * having applied the entries up to it one by one (no `group.applied` for them).
   */
  | { readonly type: 'group.installed'; readonly group: GroupId; readonly formation: string; readonly index: number; readonly term: number }
  /** The machine's `snapshot` threw when the log was due for compaction at `index`: the log is kept whole, and compaction tried again later. */
  | { readonly type: 'group.snapshotFailed'; readonly group: GroupId; readonly formation: string; readonly index: number; readonly error: string }
  | { readonly type: 'group.bond'; readonly group: GroupId; readonly peer: PeerId; readonly up: boolean };

/** What the API reads synchronously. */
export interface GroupStatus {
  readonly role: Role;
  readonly leader: PeerId | undefined;
  readonly term: number;
  /** The index of the last entry applied to the local state machine. */
  readonly committed: number;
  readonly formation: string | undefined;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly bonds: readonly PeerId[];
  /** The last log index covered by this node's snapshot (0: none; the log starts at 1). */
  readonly snapshotIndex: number;
  /** Online: this node leads, or follows a leader it knows (calls can be served; it may still be catching up). */
  readonly online: boolean;
  /** This node's calls (execute, executeMany, feed, strong queries) not yet settled. */
  readonly pendingCalls: number;
  /** While this node leads: bytes of commands it proposed in its term and has not committed (against `maxUncommittedBytes`); 0 otherwise. */
  readonly uncommittedBytes: number;
  /** Counters since this member started (this process life). */
  readonly stats: GroupStats;
}

export interface GroupStats {
  /** Elections this node started (each term it campaigned in; pre-votes that failed not counted). */
  readonly elections: number;
  /** Times the leader this node knows changed to another (or a first) one. */
  readonly leaderChanges: number;
  /** Times the machine's `snapshot` threw when the log was due for compaction (`group.snapshotFailed`). */
  readonly snapshotFailures: number;
  /** This node's calls that failed with TimeoutError (their `timeoutMs` passed). */
  readonly callTimeouts: number;
  /** This node's calls refused with FullError: it had `maxPendingCalls` or `maxPendingBytes` in flight on the group. */
  readonly callsRefusedFull: number;
  /** Proposals this node refused while leading, its own and forwarded ones: it held `maxUncommittedBytes` it had not committed. */
  readonly proposalsRefusedFull: number;
  /** Messages sent to and received from bonded members (Raft, forwards, heartbeats...). */
  readonly bondMessagesSent: number;
  readonly bondMessagesReceived: number;
}

/** A batch of commands from this node (execute, executeMany, feed), tracked until applied. */
interface Batch {
  readonly req: RequestId;
  readonly wait: 'applied' | 'accepted';
  readonly seqs: readonly number[];
  readonly payloads: readonly Uint8Array[];
  /** The payloads' bytes plus `COMMAND_OVERHEAD_BYTES` each, held against the node's `maxPendingBytes` until the call settles. */
  readonly bytes: number;
  readonly results: unknown[];
  applied: number;
  /** Where the leader put it, once acknowledged. */
  accepted: { index: number; term: number } | undefined;
  /** When it was last handed to a leader (0: never, or to be handed again). */
  sentAtMs: number;
  /** Handed to a leader at least once: from then on it may be in some log, and may commit. */
  handed: boolean;
  /** Its bytes count in `#windowBytes`: forwarded to the current leader, not yet answered. */
  inWindow: boolean;
  failed: MosaikError | undefined;
  /** The call's deadline timer (`timeoutMs`), cancelled when it settles. */
  deadline: number | undefined;
}

interface Read {
  readonly req: RequestId;
  readonly query: unknown;
  /** Served once the local state has applied this index. */
  index: number | undefined;
  sentAtMs: number;
  /** The call's deadline timer (`timeoutMs`), cancelled when it settles. */
  deadline: number | undefined;
}

const TICKS_PER_HEARTBEAT = 5;

/**
 * One group on one node: a Raft participant, the replicated state machine it feeds, and
 * this node's calls in flight, over bonds to the other members (`Bonds`, bonds.ts) and
 * durable state (`MemberStore`, member-store.ts). Pure: every effect goes through the
 * NodeContext the subsystem passes in.
 */
export class Group {
  readonly spec: GroupSpec;
  readonly hex: string;
  /** This node's peer id (hex): bonds, dial races and the catalog go by it. */
  readonly #self: string;
  /** This node's member id (its Raft id): `memberId`, kept in the group's storage. */
  readonly #member: string;
  readonly #bugs: PlantedGroupBugs;
  readonly #state: ReplicatedState<unknown, unknown, unknown>;
  #raft: RaftNode;
  #formation: Formation | undefined;
  readonly #tickMs: number;
  /** When Raft's next tick falls; ticks before it have been given (`#catchUp`). */
  #nextTickAt: number;
  /** When this group's next heartbeat (`#heartbeat`) falls: every `TICKS_PER_HEARTBEAT` ticks. */
  #nextHeartbeatAt: number;
  /** When the armed timer fires. */
  #timerAt = 0;
  #startedAtMs: number;
  #timer: number | undefined;
  #closed = false;
  #leaving: { readonly deadlineMs: number } | undefined;
  /** A configuration without us committed while leaving: close once this drain is over. */
  #leaveAfterDrain = false;
  #leaveWaiters: RequestId[] = [];

  /** Who may bond, by the group's ticket validators. */
  readonly #admission: Admission;
  /** The links to the other members, and the members this one knows of. */
  readonly #bonds: Bonds;

  #origin: string;
  #nextSeq = 1;
  /** No sequence number below this one is pending (`#floor` moves it up). */
  #lowestPending = 1;
  /**
   * Log index → the batch a leader acknowledged at it (the latest such acknowledgement):
   * what `#settleApplied` checks an applied entry against, in O(1). Kept until the index is
   * applied or covered by a snapshot; an entry whose batch has since settled or moved is
   * ignored (`#claims`).
   */
  readonly #acceptedAt = new Map<number, Batch>();
  /**
   * When this node last saw the group move on: applied an entry, installed a snapshot, or
   * heard of a new leader (which is then given a forward timeout to commit what it has).
   */
  #progressAtMs = 0;
  readonly #batches = new Map<number, Batch>();
  readonly #batchBySeq = new Map<number, Batch>();
  #nextForward = 1;
  readonly #forwards = new Map<number, Batch>();
  /**
   * The leader refused a proposal of ours for want of room (`maxUncommittedBytes`). Until
   * another leader comes, or nothing of ours waits any more, our batches go as TCP's slow
   * start sends: one as a probe when we learn of a commit (and one a heartbeat, in case it
   * was lost), two more for each one the leader takes, none for one it refuses. Sending
   * everything we hold whenever it took one made a full leader refuse most of it again.
   */
  #leaderFull = false;
  /** A probe forwarded on a commit is unanswered: no other goes until it is (the heartbeat's probe goes regardless, in case it was lost). */
  #probeInFlight = false;
  /**
   * The batches not handed this time for want of room, in the order they were held: the
   * leader was full (`#leaderFull`) or the forward window was (`#windowBytes`). They go as
   * probes, as room comes, or at the heartbeat.
   */
  readonly #waiting = new Set<Batch>();
  /**
   * The bytes of the batches forwarded to the current leader and not answered yet: at most
   * `maxUncommittedBytes` (one batch goes whatever its size). The leader answers a forward
   * when it appends it, and holds no more than that uncommitted from all its followers
   * together, so a follower that sent more would only have it refused. Before, a burst went
   * out whole, and a leader with a small bound refused nearly all of it once.
   */
  #windowBytes = 0;
  /**
   * While this node leads: its own calls it proposed in this term and has not committed
   * (counted as Raft counts all of them, core/raft/uncommitted.ts). While followers wait for room
   * (`#overOwnShare`), these hold at most half of `maxUncommittedBytes`: the leader
   * proposes its own calls the moment it commits, a round trip before any follower's probe
   * can arrive, and under a sustained local load it took all the room, so no forwarded call
   * ever went through.
   */
  readonly #own = new UncommittedProposals();
  /** When this node, leading, last refused a forward for want of room. */
  #forwardRefusedAtMs = Number.NEGATIVE_INFINITY;
  /**
   * While this node leads: the forwarded batches it proposed in its term and has not seen
   * committed, by their first command (`origin#seq`), in log order. A copy of one forwarded
   * again (its answer was lost or slow, or the bond came back) is answered with the slot it
   * already has instead of being proposed a second time: the entry is in this leader's log
   * for as long as it leads this term.
   */
  readonly #proposedForwards = new Map<string, { readonly index: number; readonly count: number; readonly term: number }>();
  #nextRead = 1;
  readonly #reads = new Map<number, Read>();
  /** The reads with a deadline, by their request: found in O(1) when it passes (a scan made N reads timing out cost O(N²)). */
  readonly #readIdByReq = new Map<RequestId, number>();
  /**
   * (read index, read id) of the strong reads whose index is known, lowest index first: the
   * ones `#serveReads` may answer. Entries of reads that have since settled are skipped.
   */
  readonly #readsByIndex = new DeadlineQueue();
  /** ReadIndex rounds the leader runs for followers: raft read id → (peer, their request). */
  readonly #remoteReads = new Map<number, { member: string; req: number }>();
  #lastLeader: string | undefined;
  #lastRole: Role = 'follower';
  #lastTerm = 0;
  readonly #stats = { elections: 0, leaderChanges: 0, snapshotFailures: 0, callTimeouts: 0, callsRefusedFull: 0, proposalsRefusedFull: 0 };
  /** The bytes of the batches in flight (`Batch.bytes`), held against `spec.limits.maxPendingBytes`. */
  #pendingBytes = 0;
  /** After the machine's `snapshot` threw, the applied index before which compaction is not tried again. */
  #compactAgainAt = 0;
  #online = false;

  constructor(ctx: NodeContext, spec: GroupSpec, bugs: PlantedGroupBugs, tickets: TicketCheck) {
    this.spec = spec;
    this.#admission = new Admission(spec.validators, tickets, bugs.ignoreTickets === true);
    this.hex = spec.id.hex;
    this.#store = new MemberStore(spec.id, spec.storage);
    this.#self = ctx.peerId.hex;
    this.#store.claim(ctx, this.#self);
    this.#store.forgetNodeStorage(ctx);
    this.#member = this.#loadMember(ctx);
    this.#bonds = new Bonds(spec, this.#admission, this.#bondHost(), this.#self, this.#member);
    this.#bugs = bugs;
    this.#origin = this.#nextOrigin(ctx);
    this.#tickMs = Math.max(1, Math.floor(spec.consensus.heartbeatMs / TICKS_PER_HEARTBEAT));
    this.#state = new ReplicatedState(spec.machine, spec.codec, spec.genesis);
    this.#startedAtMs = ctx.nowMs;
    this.#raft = this.#restore(ctx);
    this.#adoptFirstConf(); // a crash between storing the formation and its entry 1
    this.#nextTickAt = ctx.nowMs + this.#tickMs;
    this.#nextHeartbeatAt = ctx.nowMs + TICKS_PER_HEARTBEAT * this.#tickMs;
    this.#armTimer(ctx);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get raft(): RaftNode {
    return this.#raft;
  }

  get formation(): Formation | undefined {
    return this.#formation;
  }

  // The parts of `status()` read often: the API's getters and its `when.*` conditions, which
  // are tested again on every group event. Building the whole status (member lists, bonds,
  // stats) for each of those read was ~2% of a raft-chaos run.
  get role(): Role {
    return this.#raft.role;
  }

  get term(): number {
    return this.#raft.term;
  }

  /** The index of the last entry applied to the state machine. */
  get applied(): number {
    return this.#raft.log.applied;
  }

  /** Leader, or follower of a known leader. */
  get online(): boolean {
    return this.#online;
  }

  /** The leader this member knows of, as a peer id. */
  get leaderPeer(): PeerId | undefined {
    const leader = this.#raft.leader;
    if (leader === undefined) return undefined;
    if (this.#leaderPeer?.member !== leader) this.#leaderPeer = { member: leader, peer: PeerId.parse(peerOfMember(leader)) };
    return this.#leaderPeer.peer;
  }
  #leaderPeer: { readonly member: string; readonly peer: PeerId | undefined } | undefined;

  status(): GroupStatus {
    return {
      role: this.#raft.role,
      leader: this.leaderPeer,
      term: this.#raft.term,
      committed: this.applied,
      formation: this.#formation === undefined ? undefined : formationHex(this.#formation),
      voters: peersOf(this.#raft.conf.voters),
      learners: peersOf(this.#raft.conf.learners),
      bonds: [...this.#bonds.values()].map((b) => b.peer),
      snapshotIndex: this.#raft.log.offset,
      online: this.#online,
      pendingCalls: this.#batches.size + this.#reads.size,
      uncommittedBytes: this.#raft.uncommittedBytes,
      stats: { ...this.#stats, bondMessagesSent: this.#bonds.sent, bondMessagesReceived: this.#bonds.received },
    };
  }

  /**
   * Answers a read from the local state as of the last applied entry. The machine's `query`
   * is the application's code: if it throws, the call fails with QueryError and nothing
   * else is touched (a read may be served in the middle of handling a Ready).
   */
  #answer(ctx: NodeContext, req: RequestId, query: unknown): void {
    let result: unknown;
    try {
      result = this.spec.machine.query(query);
    } catch (e) {
      ctx.fail(req, new QueryError(`query failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      return;
    }
    ctx.complete(req, { result, at: this.#raft.log.applied });
  }

  // ---------------------------------------------------------------- durable state

  /** Its term, vote, log, snapshot, formation and member id. */
  readonly #store: MemberStore;

  /**
   * This node's member id in the group, made when the group's storage is first written and
   * kept with it. A node that comes back without that storage (a process restarted with the
   * same key on in-memory storage, a lost disk) has forgotten its log and its votes, so it
   * must not answer as the member it was: it gets a new id, joins as a new learner, and the
   * leader removes the old id (`#manageMembership`).
   */
  #loadMember(ctx: NodeContext): string {
    const stored = this.#store.get(ctx, 'member');
    const text = stored === undefined ? undefined : new TextDecoder().decode(stored);
    if (text !== undefined && peerOfMember(text) === this.#self) return text;
    const id = memberId(this.#self, ctx.rng.bytes(MEMBER_NONCE_BYTES));
    this.#store.put(ctx, 'member', new TextEncoder().encode(id));
    return id;
  }

  /**
   * Where this Group's commands say they come from. Commands are deduplicated by origin and
   * sequence number, and each Group numbers its commands from 1, so every Group made on this
   * storage needs an origin never used before: after a restart, and after `leave()` and a
   * new `join()` in the same life. A counter kept beside the member id gives one.
   */
  #nextOrigin(ctx: NodeContext): string {
    const stored = this.#store.get(ctx, 'origins');
    const used = stored === undefined ? 0 : Number(new TextDecoder().decode(stored));
    assert(Number.isSafeInteger(used) && used >= 0, 'stored origin count does not decode');
    this.#store.put(ctx, 'origins', new TextEncoder().encode(String(used + 1)));
    return `${this.#member}/${used + 1}`;
  }

  #restore(ctx: NodeContext): RaftNode {
    const { formation, hardState, snapshot, entries } = this.#store.restore(ctx);
    this.#formation = formation;
    if (snapshot !== undefined) this.#state.restore(snapshot.data);
    else this.#state.reset();
    return this.#newRaft(ctx, { ...(hardState && { hardState }), ...(snapshot && { snapshot }), entries });
  }

  #newRaft(ctx: NodeContext, restore: ConstructorParameters<typeof RaftNode>[1]): RaftNode {
    const c = this.spec.consensus;
    const rng = ctx.rng;
    return new RaftNode(
      {
        id: this.#member,
        heartbeatTicks: TICKS_PER_HEARTBEAT,
        electionTicks: Math.max(TICKS_PER_HEARTBEAT + 1, Math.round(c.electionTimeoutMs / this.#tickMs)),
        electionJitterTicks: Math.round(c.electionTimeoutJitterMs / this.#tickMs),
        electionFactor: this.spec.leadership === 'reluctant' ? 3 : 1,
        // Any command that was taken fits one append by itself (limits.ts); several go together up to 1 MiB.
        maxAppendBytes: Math.min(1 << 20, commandBudget(ctx.maxFrameBytes)),
        maxUncommittedBytes: this.spec.limits.maxUncommittedBytes,
        // A chunk and its envelope (the snapshot's configuration among it) in one frame: every
        // member has this node's frame capacity (it is part of the group id).
        snapshotChunkBytes: Math.min(c.snapshotChunkBytes, snapshotChunkBudget(ctx.maxFrameBytes)),
        snapshotWindow: c.snapshotChunksInFlight,
        random: () => rng.float(),
        // A snapshot from the leader goes into the state machine before Raft takes it, so one
        // that cannot be restored (a faulty peer's) is refused and changes nothing.
        installSnapshot: (snapshot) => this.#state.tryRestore(snapshot.data),
        ...(this.#bugs.raft && { unsafe: this.#bugs.raft }),
      },
      restore,
    );
  }

  /** Entry 1 of an empty log is the formation's first configuration (`Formation.conf`). */
  #adoptFirstConf(): void {
    const conf = this.#formation?.conf;
    if (conf === undefined || this.#raft.log.lastIndex() > 0 || this.#raft.log.offset > 0) return;
    this.#raft.adoptFirstConf(conf);
  }

  #setFormation(ctx: NodeContext, f: Formation): void {
    this.#formation = f;
    this.#store.saveFormation(ctx, f);
    for (const b of this.#bonds.values()) this.#bonds.send(ctx, b, { t: 'formation', formation: f });
  }

  // ---------------------------------------------------------------- the Raft loop

  /** Runs after every input that may have touched Raft: persist, send, apply, serve reads. */
  #drain(ctx: NodeContext): void {
    while (this.#raft.hasReady()) {
      const r = this.#raft.takeReady();
      this.#store.persistReady(ctx, r);
      for (const m of r.messages) this.#sendRaft(ctx, m);
      if (r.snapshot?.installed) {
        // The state machine holds it already (`installSnapshot` in `#newRaft`). The committed
        // index jumped: what waits on it (`when.committed().reaches`) must hear of it.
        const { index, term } = r.snapshot.snapshot.meta;
        ctx.emit({ type: 'group.installed', group: this.spec.id, formation: formationHex(this.#formation), index, term });
        this.#progressAtMs = ctx.nowMs;
        this.#settleFromSnapshot(ctx, index);
      }
      for (const e of r.committed) this.#apply(ctx, e);
      if (r.committed.length > 0) {
        this.#own.commit(this.#raft.log.commit);
        this.#forgetCommittedForwards();
        // The leader committed, so it may have room again: if it is this node, its calls go
        // now; if not, one of ours goes as a probe.
        if (this.#leaderFull && this.#raft.role === 'leader') this.#leaderHasRoom(ctx);
        else if (this.#leaderFull && !this.#probeInFlight) this.#probe(ctx);
      }
      for (const rs of r.readStates) this.#readReady(ctx, rs.id, rs.index);
      for (const id of r.readsFailed) this.#readFailed(ctx, id);
      if (r.softState) this.#roleChanged(ctx, r.softState.role, r.softState.leader, r.softState.term);
      this.#maybeCompact(ctx);
    }
    this.#serveReads(ctx);
    if (this.#leaveAfterDrain && !this.#closed) {
      this.#leaveAfterDrain = false;
      this.#finishLeave(ctx);
    }
    this.#armTimer(ctx);
  }

  #sendRaft(ctx: NodeContext, m: RaftMessage): void {
    const bond = this.#bonds.ofMember(m.to);
    if (bond === undefined || this.#formation === undefined) {
      this.#raft.reportUnreachable(m.to);
      return;
    }
    this.#bonds.send(ctx, bond, { t: 'raft', formation: this.#formation.id, msg: m });
  }

  #apply(ctx: NodeContext, e: Entry): void {
    this.#progressAtMs = ctx.nowMs;
    let id: string;
    if (e.data.kind === 'command') {
      const applied = this.#state.apply(e.data.bytes, { index: e.index, term: e.term });
      id = applied.kind === 'undecodable' ? 'undecodable' : `${applied.origin}#${applied.seq}${applied.kind === 'duplicate' ? ':dup' : ''}`;
      this.#settleApplied(ctx, e.index, applied);
    } else {
      id = e.data.kind === 'noop' ? 'noop' : `conf:${e.data.conf.voters.join(',')}|${e.data.conf.learners.join(',')}`;
      this.#settleApplied(ctx, e.index, undefined);
      if (e.data.kind === 'conf' && this.#leaving !== undefined && !e.data.conf.voters.includes(this.#member)) this.#leaveAfterDrain = true;
    }
    ctx.emit({ type: 'group.applied', group: this.spec.id, formation: formationHex(this.#formation), index: e.index, term: e.term, id });
  }

  /** A batch of ours sits at `index` or it does not: resolve it, or resubmit what was displaced. */
  #settleApplied(ctx: NodeContext, index: number, applied: Applied | undefined): void {
    const claimed = this.#acceptedAt.get(index);
    if (claimed !== undefined) this.#acceptedAt.delete(index);
    if (applied !== undefined && applied.kind !== 'undecodable' && applied.origin === this.#origin) {
      const batch = this.#batchBySeq.get(applied.seq);
      if (batch !== undefined) {
        const k = batch.seqs.indexOf(applied.seq);
        this.#batchBySeq.delete(applied.seq);
        // A duplicate is a retried copy of one applied before, which this node may not have
        // applied itself (a snapshot covered it): the caller gets what the first copy gave, where.
        const outcome = applied.kind === 'duplicate' ? applied.first : applied;
        const at = applied.kind === 'duplicate' && applied.first !== undefined ? applied.first.index : index;
        if (outcome !== undefined && 'error' in outcome) {
          // One command's failure fails a lone `execute`; in a batch the others still applied
          // (a batch is not a transaction), so its result is the error, in its place.
          const error = new ApplyError(`apply failed at index ${at}: ${outcome.error}`);
          batch.failed ??= error;
          batch.results[k] = error;
        } else if (outcome !== undefined) batch.results[k] = outcome.result;
        batch.applied++;
        if (batch.applied === batch.seqs.length) this.#finishBatch(ctx, batch, at - batch.seqs.length + 1);
        return;
      }
    }
    // Anything else at an index one of our batches was acknowledged for means the batch lost
    // that slot (a leader change truncated it): send it again, same sequence numbers, so it
    // is applied once whichever copy commits.
    if (claimed !== undefined && this.#claims(claimed, index)) this.#resubmit(ctx, claimed);
  }

  /** Whether `batch` is still in flight and acknowledged with a slot at `index`. */
  #claims(batch: Batch, index: number): boolean {
    const acc = batch.accepted;
    return acc !== undefined && index >= acc.index && index < acc.index + batch.seqs.length && this.#batches.get(batch.req) === batch;
  }

  /**
   * A snapshot from the leader replaced the state up to `index`: the entries it covers are
   * never applied here one by one. This node's commands among them are settled from the
   * snapshot's sessions (what each one's first apply gave, as for a duplicate), and a batch
   * acknowledged at an index the snapshot covers whose command is not in it lost that slot:
   * it is sent again. (Before, such calls waited for the forward timeout and were then
   * proposed again, to be skipped as duplicates: a follower that fell behind under load
   * added thousands of entries to the log that way.)
   */
  #settleFromSnapshot(ctx: NodeContext, index: number): void {
    for (const seq of [...this.#batchBySeq.keys()]) {
      const before = this.#state.appliedBefore(this.#origin, seq);
      if (before !== undefined) this.#settleApplied(ctx, index, before);
    }
    for (const [at, batch] of this.#acceptedAt) {
      if (at > index) continue;
      this.#acceptedAt.delete(at);
      // Still in flight with that slot, and its command for it not in the snapshot (pending after the loop above).
      const acc = batch.accepted;
      if (acc !== undefined && this.#claims(batch, at) && this.#batchBySeq.has(batch.seqs[at - acc.index] as number)) this.#resubmit(ctx, batch);
    }
  }

  /** Sends a batch again (same sequence numbers, so it is applied once whichever copy commits). */
  #resubmit(ctx: NodeContext, batch: Batch): void {
    batch.accepted = undefined;
    batch.sentAtMs = 0;
    this.#submit(ctx, batch);
  }

  #finishBatch(ctx: NodeContext, batch: Batch, firstIndex: number): void {
    this.#dropBatch(batch);
    this.#cancelDeadline(ctx, batch);
    if (batch.failed && batch.seqs.length === 1) ctx.fail(batch.req, batch.failed);
    else ctx.complete(batch.req, { index: firstIndex, results: batch.results });
  }

  #maybeCompact(ctx: NodeContext): void {
    const applied = this.#raft.log.applied;
    const every = this.spec.consensus.snapshotEveryEntries;
    if (applied - this.#raft.log.offset < every || applied < this.#compactAgainAt) return;
    let data: Uint8Array;
    try {
      data = this.#state.snapshot();
    } catch (e) {
      // The machine's `snapshot` is the application's code. Compaction only saves space: the
      // log stays whole (and grows) and the next try comes `every` entries later.
      this.#compactAgainAt = applied + every;
      this.#stats.snapshotFailures++;
      const error = e instanceof Error ? e.message : String(e);
      ctx.emit({ type: 'group.snapshotFailed', group: this.spec.id, formation: formationHex(this.#formation), index: applied, error });
      return;
    }
    this.#raft.compact(applied, data);
  }

  #roleChanged(ctx: NodeContext, role: Role, leader: string | undefined, term: number): void {
    const changedLeader = leader !== this.#lastLeader;
    this.#lastLeader = leader;
    if (role === 'candidate' && (this.#lastRole !== 'candidate' || term !== this.#lastTerm)) this.#stats.elections++;
    if (changedLeader && leader !== undefined) this.#stats.leaderChanges++;
    this.#lastRole = role;
    this.#lastTerm = term;
    this.#online = role === 'leader' || (role === 'follower' && leader !== undefined);
    ctx.emit({
      type: 'group.role',
      group: this.spec.id,
      formation: formationHex(this.#formation),
      term,
      role,
      leader: leader === undefined ? undefined : peerOfMember(leader),
    });
    if (changedLeader) {
      this.#leaderFull = false;
      this.#probeInFlight = false;
      this.#emptyWindow();
    }
    if (changedLeader && leader !== undefined) {
      this.#progressAtMs = ctx.nowMs;
      // Work waiting for a leader goes to the new one now rather than at its timeout. A batch
      // an earlier leader acknowledged is not sent again here: its entry commits under the new
      // leader if that one has it, and if not, the entry applied at its index is another one
      // (#settleApplied resends it then) or, while the log stays short of it, the heartbeat
      // does once the group has not moved on for a forward timeout.
      for (const batch of this.#batches.values()) if (batch.accepted === undefined) this.#submit(ctx, batch);
      for (const [id, read] of this.#reads) if (read.index === undefined) this.#startRead(ctx, id, read);
    }
  }

  // ---------------------------------------------------------------- calls

  execute(ctx: NodeContext, req: RequestId, payloads: readonly Uint8Array[], wait: 'applied' | 'accepted', timeoutMs?: number): void {
    this.#catchUp(ctx);
    // Counted as `checkBatch` counts them, envelopes and framing included: a call of 4,096
    // one-byte commands holds far more than 4 KiB.
    let bytes = 0;
    for (const p of payloads) bytes += p.length + COMMAND_OVERHEAD_BYTES;
    if (this.#refused(ctx, req, bytes)) return;
    const seqs = payloads.map(() => this.#nextSeq++);
    if (this.#raft.leader === undefined) {
      // Never handed to anyone: definitely not applied, safe to retry.
      ctx.fail(req, this.#noLeader(ctx));
      return;
    }
    const deadline = this.#armDeadline(ctx, req, timeoutMs);
    const batch: Batch = {
      req,
      wait,
      seqs,
      payloads,
      bytes,
      results: [],
      applied: 0,
      accepted: undefined,
      sentAtMs: 0,
      handed: false,
      inWindow: false,
      failed: undefined,
      deadline,
    };
    this.#batches.set(req, batch);
    this.#pendingBytes += bytes;
    for (const seq of seqs) this.#batchBySeq.set(seq, batch);
    this.#submit(ctx, batch);
    this.#drain(ctx);
  }

  /** Fails the call if the node has no room for it now (`spec.limits`): before it has a sequence number, so it never reaches a leader. */
  #refused(ctx: NodeContext, req: RequestId, bytes: number): boolean {
    // Checked at every call, so every campaign checks that the bytes are given back.
    assert(this.#pendingBytes >= 0 && (this.#batches.size > 0 || this.#pendingBytes === 0), 'the bytes in flight are those of the batches in flight');
    const refusal = callRefusal(this.spec.limits, this.#batches.size + this.#reads.size, this.#pendingBytes, bytes);
    if (refusal === undefined) return false;
    if (refusal instanceof FullError) this.#stats.callsRefusedFull++;
    ctx.fail(req, refusal);
    return true;
  }

  /** Takes a strong read out of the calls in flight. */
  #dropRead(id: number, read: Read): void {
    this.#reads.delete(id);
    this.#readIdByReq.delete(read.req);
  }

  /** Takes a batch out of the calls in flight (its sequence numbers stay matched until applied or dropped by the caller). */
  #dropBatch(batch: Batch): void {
    this.#batches.delete(batch.req);
    this.#pendingBytes -= batch.bytes;
    this.#waiting.delete(batch);
    this.#leaveWindow(batch);
  }

  /**
   * Every sequence number up to this one is settled here (applied, or its call is gone).
   * Sequence numbers are handed out in order and never pend again once settled, so the
   * lowest pending one only moves up: found by walking a pointer, amortized O(1). (A scan of
   * the pending ones on every call made N calls in flight cost O(N²).)
   */
  #floor(): number {
    while (this.#lowestPending < this.#nextSeq && !this.#batchBySeq.has(this.#lowestPending)) this.#lowestPending++;
    return this.#lowestPending - 1;
  }

  #envelopes(batch: Batch): Uint8Array[] {
    const floor = this.#floor();
    return batch.payloads.map((payload, k) => encodeEnvelope({ origin: this.#origin, seq: batch.seqs[k] ?? 0, floor, payload }));
  }

  /**
   * Hands a batch to the leader. While the leader is full (`#leaderFull`), only a probe goes:
   * the others wait (`sentAtMs` 0) for the heartbeat that sends one, or for a probe taken.
   * A forward also waits while the forward window is full, for an answer to make room.
   */
  #submit(ctx: NodeContext, batch: Batch, probe = false): void {
    const leader = this.#raft.leader;
    if (leader === undefined) return; // retried when a leader appears (#roleChanged) or at the next tick
    this.#leaveWindow(batch); // sent again: counted again below
    if ((this.#leaderFull && !probe) || (leader !== this.#member && !this.#windowFits(batch))) {
      this.#waitForRoom(batch);
      return;
    }
    batch.sentAtMs = ctx.nowMs;
    if (leader === this.#member) {
      if (this.#overOwnShare(ctx, batch)) {
        this.#leaderFull = true; // tried again at the next commit
        this.#waitForRoom(batch);
        return;
      }
      const r = this.#raft.propose(this.#envelopes(batch));
      if ('index' in r) {
        this.#own.add(r.term, r.index + batch.seqs.length - 1, batch.bytes);
        this.#waiting.delete(batch);
        batch.handed = true;
        this.#leaderFull = false;
        this.#accepted(ctx, batch, r.index, r.term);
      } else if (r.kind === 'full') {
        this.#stats.proposalsRefusedFull++;
        this.#leaderFull = true;
        this.#waitForRoom(batch);
      }
      return;
    }
    const bond = this.#bonds.ofMember(leader);
    if (bond === undefined) return;
    if (probe) this.#probeInFlight = true;
    this.#waiting.delete(batch);
    batch.handed = true;
    batch.inWindow = true;
    this.#windowBytes += batch.bytes;
    assert(
      this.#windowBytes <= this.spec.limits.maxUncommittedBytes || this.#windowBytes === batch.bytes,
      'a follower forwards at most maxUncommittedBytes unanswered, or one batch',
    );
    const fwd = this.#nextForward++;
    this.#forwards.set(fwd, batch);
    this.#bonds.send(ctx, bond, { t: 'forward', req: fwd, commands: this.#envelopes(batch) });
  }

  /** The batch of the forward `req`, which the leader answered (the answer may be the probe's); undefined if unknown. */
  #answered(req: number): Batch | undefined {
    this.#probeInFlight = false;
    const batch = this.#forwards.get(req);
    this.#forwards.delete(req);
    if (batch !== undefined) this.#leaveWindow(batch);
    return batch;
  }

  /**
   * Whether proposing this leader's own `batch` would take more than its share of the room:
   * half of `maxUncommittedBytes` while followers wait for room (a forward refused within
   * `forwardTimeoutMs`), with one batch always allowed when none of its own is uncommitted.
   */
  #overOwnShare(ctx: NodeContext, batch: Batch): boolean {
    if (ctx.nowMs - this.#forwardRefusedAtMs >= this.spec.consensus.forwardTimeoutMs) return false;
    const own = this.#own.bytes(this.#raft.term);
    return own > 0 && own + batch.bytes > this.spec.limits.maxUncommittedBytes / 2;
  }

  /** Forwarded batches now committed (or of an earlier term) need no answer from `#proposedForwards` any more: a copy forwarded again is proposed again and skipped at apply. */
  #forgetCommittedForwards(): void {
    const commit = this.#raft.log.commit;
    const term = this.#raft.term;
    for (const [key, p] of this.#proposedForwards) {
      if (p.term === term && p.index + p.count - 1 > commit) return; // in log order: the rest are later
      this.#proposedForwards.delete(key);
    }
  }

  /** Whether forwarding `batch` now keeps the window within `maxUncommittedBytes` (an empty window takes any one). */
  #windowFits(batch: Batch): boolean {
    return this.#windowBytes === 0 || this.#windowBytes + batch.bytes <= this.spec.limits.maxUncommittedBytes;
  }

  #leaveWindow(batch: Batch): void {
    if (!batch.inWindow) return;
    batch.inWindow = false;
    this.#windowBytes -= batch.bytes;
    assert(this.#windowBytes >= 0, 'the forward window holds the bytes of the batches in it');
  }

  /** Another leader, or none: nothing is in flight to the new one yet. */
  #emptyWindow(): void {
    for (const batch of this.#batches.values()) batch.inWindow = false;
    this.#windowBytes = 0;
  }

  /** An answer made room in the window: the batches that wait for it go, oldest first, while they fit. */
  #fillWindow(ctx: NodeContext): void {
    for (const batch of this.#waiting) {
      if (!this.#windowFits(batch)) return;
      this.#submit(ctx, batch);
    }
  }

  /** Hands the first batch that waits for room to the leader, as a probe; with none waiting, the leader is not full for us. */
  #probe(ctx: NodeContext): void {
    if (!this.#sendWaiting(ctx, 1)) this.#leaderFull = false;
  }

  /** Hands up to `n` batches that wait for room to the leader (past `#leaderFull`, within the window); false if none waited. */
  #sendWaiting(ctx: NodeContext, n: number): boolean {
    if (this.#waiting.size === 0) return false;
    for (const batch of this.#waiting) {
      if (n === 0 || !this.#windowFits(batch)) break;
      this.#submit(ctx, batch, true);
      n--;
    }
    return true;
  }

  /** Not handed this time for want of room; `sentAtMs` 0 also lets the heartbeat hand it on once the leader has room or changes. */
  #waitForRoom(batch: Batch): void {
    batch.sentAtMs = 0;
    this.#waiting.add(batch); // one already waiting keeps its place
  }

  /** This node leads and committed: its own calls that waited for room are proposed until one is refused. */
  #leaderHasRoom(ctx: NodeContext): void {
    this.#leaderFull = false;
    for (const batch of this.#waiting) {
      this.#submit(ctx, batch);
      if (this.#leaderFull) return; // refused: it keeps its place, and the rest wait behind it
    }
  }

  #accepted(ctx: NodeContext, batch: Batch, index: number, term: number): void {
    batch.accepted = { index, term };
    if (batch.wait === 'applied') {
      for (let k = 0; k < batch.seqs.length; k++) this.#acceptedAt.set(index + k, batch);
    } else {
      this.#dropBatch(batch);
      for (const seq of batch.seqs) this.#batchBySeq.delete(seq);
      this.#cancelDeadline(ctx, batch);
      ctx.complete(batch.req, { index, results: [] });
    }
  }

  query(ctx: NodeContext, req: RequestId, query: unknown, strong: boolean, timeoutMs?: number): void {
    this.#catchUp(ctx);
    if (!strong) {
      this.#answer(ctx, req, query);
      return;
    }
    const leader = this.#raft.leader;
    if (leader === undefined) {
      ctx.fail(req, this.#noLeader(ctx));
      return;
    }
    if (leader !== this.#member && this.#bugs.followerReadsWithoutReadIndex) {
      this.#answer(ctx, req, query);
      return;
    }
    if (this.#refused(ctx, req, 0)) return;
    const id = this.#nextRead++;
    const read: Read = { req, query, index: undefined, sentAtMs: 0, deadline: this.#armDeadline(ctx, req, timeoutMs) };
    this.#reads.set(id, read);
    if (read.deadline !== undefined) this.#readIdByReq.set(req, id);
    this.#startRead(ctx, id, read);
    this.#drain(ctx);
  }

  #startRead(ctx: NodeContext, id: number, read: Read): void {
    const leader = this.#raft.leader;
    if (leader === undefined) return;
    read.sentAtMs = ctx.nowMs;
    if (leader === this.#member) {
      this.#raft.readIndex(id);
      return;
    }
    const bond = this.#bonds.ofMember(leader);
    if (bond !== undefined) this.#bonds.send(ctx, bond, { t: 'readIndex', req: id });
  }

  #readReady(ctx: NodeContext, id: number, index: number): void {
    const remote = this.#remoteReads.get(id);
    if (remote !== undefined) {
      this.#remoteReads.delete(id);
      const bond = this.#bonds.ofMember(remote.member);
      if (bond !== undefined) this.#bonds.send(ctx, bond, { t: 'readIndexResp', req: remote.req, ok: true, index });
      return;
    }
    const read = this.#reads.get(id);
    if (read !== undefined) this.#readIndexKnown(id, read, index);
  }

  #readFailed(ctx: NodeContext, id: number): void {
    const remote = this.#remoteReads.get(id);
    if (remote !== undefined) {
      this.#remoteReads.delete(id);
      const bond = this.#bonds.ofMember(remote.member);
      if (bond !== undefined) this.#bonds.send(ctx, bond, { t: 'readIndexResp', req: remote.req, ok: false, index: 0 });
      return;
    }
    const read = this.#reads.get(id);
    if (read !== undefined) read.sentAtMs = 0; // retried at the next tick, with whoever leads then
  }

  #readIndexKnown(id: number, read: Read, index: number): void {
    read.index = index;
    this.#readsByIndex.push(index, id);
  }

  /**
   * Reads whose index the state machine has reached, answered in the order they were made.
   * Found from the lowest index up, so a drain costs what it serves, not every read in
   * flight (which made N strong reads at once cost O(N²)).
   */
  #serveReads(ctx: NodeContext): void {
    const applied = this.#raft.log.applied;
    const due: number[] = [];
    while (this.#readsByIndex.size > 0 && (this.#readsByIndex.peekAt() as number) <= applied) {
      due.push(this.#readsByIndex.peekId());
      this.#readsByIndex.pop();
    }
    if (due.length > 1) due.sort((a, b) => a - b);
    for (const id of due) {
      const read = this.#reads.get(id);
      // Gone (answered, timed out, failed), or answered from an index this one replaced.
      if (read === undefined || read.index === undefined || read.index > applied) continue;
      this.#dropRead(id, read);
      this.#cancelDeadline(ctx, read);
      this.#answer(ctx, read.req, read.query);
    }
  }

  // ---------------------------------------------------------------- deadlines

  #armDeadline(ctx: NodeContext, req: RequestId, timeoutMs: number | undefined): number | undefined {
    return timeoutMs === undefined ? undefined : ctx.armTimer(ctx.nowMs + timeoutMs, { group: this.hex, kind: 'deadline', req });
  }

  #cancelDeadline(ctx: NodeContext, call: Batch | Read): void {
    if (call.deadline !== undefined) ctx.cancelTimer(call.deadline);
    call.deadline = undefined;
  }

  /**
   * A call's `timeoutMs` has passed and it has not settled: it fails with TimeoutError and
   * this node stops working on it (no more forwards or retries). A command handed to a
   * leader may still commit and apply, once, like any other; the error says whether it was.
   * Its sequence numbers are settled from here on (the floor passes them), so a copy that
   * reaches the log after a later call of this node is applied as a duplicate: not at all.
   */
  onDeadline(ctx: NodeContext, req: RequestId): void {
    const batch = this.#batches.get(req);
    if (batch !== undefined) {
      this.#dropBatch(batch);
      for (const seq of batch.seqs) this.#batchBySeq.delete(seq);
      batch.deadline = undefined;
      this.#stats.callTimeouts++;
      ctx.fail(
        req,
        withoutStack(() => new TimeoutError(this.#timedOutBatch(batch), { mayHaveApplied: batch.handed && this.#bugs.timeoutsClaimNotApplied !== true })),
      );
      return;
    }
    const id = this.#readIdByReq.get(req);
    const read = id === undefined ? undefined : this.#reads.get(id);
    if (id !== undefined && read !== undefined) {
      this.#dropRead(id, read);
      read.deadline = undefined;
      this.#stats.callTimeouts++;
      const where = read.index === undefined ? 'no leader confirmed its read index' : `waiting for this node to apply index ${read.index}`;
      ctx.fail(
        req,
        withoutStack(() => new TimeoutError(`strong query timed out (${where})`)),
      );
      return;
    }
  }

  #timedOutBatch(batch: Batch): string {
    const n = batch.seqs.length;
    const what = n === 1 ? 'the command' : `${n} commands`;
    if (!batch.handed) return `timed out before ${what} reached a leader: not applied`;
    if (batch.accepted === undefined) return `timed out before a leader acknowledged ${what}: it may still be applied`;
    const at = batch.accepted.index;
    if (batch.applied > 0) return `timed out with ${batch.applied} of ${n} commands applied here (from index ${at}): the others may still be applied`;
    return `timed out with ${what} appended at index ${at} but not applied here: it may still be applied`;
  }

  transferLeadership(ctx: NodeContext, req: RequestId, to: PeerId | undefined): void {
    this.#catchUp(ctx);
    if (this.#raft.role !== 'leader') {
      ctx.fail(req, new OfflineError('only the leader can hand leadership over; this node is not it'));
      return;
    }
    // Our own peer names this member (already the leader: nothing to do), not a stranger.
    const target = to === undefined ? this.#bestVoter() : to.hex === this.#self ? this.#member : (this.#bonds.ofPeer(to.hex)?.member ?? to.hex);
    if (target === undefined) {
      ctx.fail(req, new OfflineError('no other voter to hand leadership to'));
      return;
    }
    const refused = this.#raft.transferLeadership(target);
    if (refused?.kind === 'invalid') ctx.fail(req, new InvalidArgumentError(`transfer refused: ${to?.hex ?? target} is not a voter of this group`));
    else if (refused) ctx.fail(req, new OfflineError(`transfer refused: ${refused.kind}`));
    else ctx.complete(req, undefined);
    this.#drain(ctx);
  }

  /** The most caught-up other voter with a live bond. */
  #bestVoter(): string | undefined {
    let best: string | undefined;
    let bestMatch = -1;
    for (const v of this.#raft.conf.voters) {
      if (v === this.#member || this.#bonds.ofMember(v) === undefined) continue;
      const match = this.#raft.progressOf(v)?.match ?? 0;
      if (match > bestMatch) {
        best = v;
        bestMatch = match;
      }
    }
    return best;
  }

  /** Leaving: calls are refused; the group is closed once the configuration without us commits. */
  get leaving(): boolean {
    return this.#leaving !== undefined;
  }

  /**
   * Leaves the group (`leave()`): fails what is pending, tells every bond, hands leadership
   * over if we hold it, and — if we are a voter others count on — stays until a configuration
   * without us commits (bounded by `#leaveDeadlineMs`), so the members that stay never
   * count a voter that is gone (one more loss could otherwise stall them for good).
   * Completes `req` when done.
   */
  beginLeave(ctx: NodeContext, req: RequestId | undefined, reason: MosaikError): void {
    this.#catchUp(ctx);
    if (this.#closed) {
      if (req !== undefined) ctx.complete(req, this.applied);
      return;
    }
    if (this.#leaving !== undefined) {
      // A second leave() waits for the first.
      if (req !== undefined) this.#leaveWaiters.push(req);
      return;
    }
    this.#failAll(ctx, reason);
    this.#leaving = { deadlineMs: ctx.nowMs + this.#leaveDeadlineMs() };
    if (req !== undefined) this.#leaveWaiters.push(req);
    for (const b of this.#bonds.values()) this.#bonds.send(ctx, b, { t: 'departure' });
    this.#handOver();
    this.#drain(ctx);
    if (!this.#countedOn() && this.#successorLearner(false) === undefined) this.#finishLeave(ctx);
  }

  /**
   * Leaving while we lead: hand leadership to the most caught-up voter, again at every
   * heartbeat until one takes it (a transfer is abandoned after an election timeout, to a
   * voter that failed meanwhile). With no other voter (`maxVoters` 1), a caught-up learner
   * is made a voter first: otherwise the members that stay would be left with a
   * configuration whose only voter is gone, and never elect a leader again.
   */
  #handOver(): void {
    const raft = this.#raft;
    if (raft.role !== 'leader' || raft.transferee !== undefined) return;
    const to = this.#bestVoter();
    if (to !== undefined) {
      raft.transferLeadership(to);
      return;
    }
    const learner = this.#successorLearner(true);
    if (learner === undefined) return;
    // Refused while another change is pending or before our no-op commits: tried again at the next heartbeat.
    raft.proposeConf({ voters: [...raft.conf.voters, learner].sort(), learners: raft.conf.learners.filter((l) => l !== learner) });
  }

  /** A bonded learner that may vote (not an observer), the most caught-up one; with `caughtUp`, only one that holds everything committed. */
  #successorLearner(caughtUp: boolean): string | undefined {
    if (this.#raft.role !== 'leader') return undefined;
    let best: string | undefined;
    let bestMatch = -1;
    for (const l of this.#raft.conf.learners) {
      const bond = this.#bonds.ofMember(l);
      if (bond === undefined || bond.leadership === 'observer') continue;
      const match = this.#raft.progressOf(l)?.match ?? 0;
      if ((caughtUp && match < this.#raft.log.commit) || match <= bestMatch) continue;
      best = l;
      bestMatch = match;
    }
    return best;
  }

  /** Others count us toward their quorum: we are a voter, and not the only one. */
  #countedOn(): boolean {
    const voters = this.#raft.conf.voters;
    return this.#formation !== undefined && voters.includes(this.#member) && voters.length > 1;
  }

  #leaveDeadlineMs(): number {
    const c = this.spec.consensus;
    return 4 * (c.electionTimeoutMs + c.electionTimeoutJitterMs) + c.forwardTimeoutMs;
  }

  #finishLeave(ctx: NodeContext): void {
    this.#closeAndAnswerLeaves(ctx);
    this.onClosed?.();
  }

  /** Closes, and answers the `leave()` calls with the last index applied: the handle's `committed` once the group is gone. */
  #closeAndAnswerLeaves(ctx: NodeContext): void {
    this.#closeNow(ctx);
    for (const req of this.#leaveWaiters) ctx.complete(req, this.applied);
    this.#leaveWaiters = [];
  }

  /** Closes at once (a node shutting down: it will not be there to wait). */
  #closeNow(ctx: NodeContext): void {
    if (this.#closed) return;
    this.#bonds.closeAll(ctx);
    if (this.#timer !== undefined) ctx.cancelTimer(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
  }

  /** Set by the subsystem: called once the group has closed after a leave. */
  onClosed: (() => void) | undefined;

  #failAll(ctx: NodeContext, error: MosaikError): void {
    for (const batch of this.#batches.values()) {
      this.#cancelDeadline(ctx, batch);
      ctx.fail(batch.req, error);
    }
    for (const read of this.#reads.values()) {
      this.#cancelDeadline(ctx, read);
      ctx.fail(read.req, error);
    }
    this.#batches.clear();
    this.#pendingBytes = 0;
    this.#waiting.clear();
    this.#windowBytes = 0;
    this.#batchBySeq.clear();
    this.#acceptedAt.clear();
    this.#forwards.clear();
    this.#reads.clear();
    this.#readIdByReq.clear();
    this.#readsByIndex.clear();
  }

  // ---------------------------------------------------------------- timers

  /*
   * Raft counts time in ticks of `#tickMs`, and most ticks only move a counter (a
   * follower's election clock, a leader's heartbeat clock). So the timer is armed only for
   * the ticks that do something (`RaftNode.ticksUntilDue`) and for this group's heartbeats,
   * and Raft is given the ticks in between as soon as anything else reaches the group
   * (`#catchUp` first, in every input): it sees the same ticks, in the same order with its
   * other inputs, as if each tick were a timer of its own. `#drain` re-arms when an input
   * brought the next due tick closer (a new leader's first heartbeat).
   */

  onTick(ctx: NodeContext): void {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#catchUp(ctx);
    if (ctx.nowMs >= this.#nextHeartbeatAt) {
      // One heartbeat however late the timer fired (a stalled event loop): the next is the next one due.
      while (this.#nextHeartbeatAt <= ctx.nowMs) this.#nextHeartbeatAt += TICKS_PER_HEARTBEAT * this.#tickMs;
      this.#heartbeat(ctx);
    }
    this.#drain(ctx);
  }

  /** Gives Raft every tick due by now. */
  #catchUp(ctx: NodeContext): void {
    while (this.#nextTickAt <= ctx.nowMs) {
      this.#nextTickAt += this.#tickMs;
      this.#raft.tick();
    }
  }

  /** Arms the timer for the next tick that does something, or the next heartbeat, if it is not armed for that time or sooner. */
  #armTimer(ctx: NodeContext): void {
    if (this.#closed) return;
    const due = this.#raft.ticksUntilDue();
    const at = Math.min(this.#nextHeartbeatAt, this.#nextTickAt + (due - 1) * this.#tickMs);
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      ctx.cancelTimer(this.#timer);
    }
    this.#timer = ctx.armTimer(at, { group: this.hex, kind: 'tick' });
    this.#timerAt = at;
  }

  /** Once per heartbeat interval: bond liveness, dialing, retries, bootstrap, membership. */
  #heartbeat(ctx: NodeContext): void {
    const c = this.spec.consensus;
    if (this.#leaving !== undefined && ctx.nowMs >= this.#leaving.deadlineMs) {
      this.#finishLeave(ctx);
      return;
    }
    this.#bonds.heartbeat(ctx);
    if (this.#leaving !== undefined) this.#handOver();
    // While the leader is full, one batch that waits for room goes as a probe each heartbeat
    // (in case the last probe was lost); with none waiting, the leader is not full for us.
    if (this.#leaderFull) this.#probe(ctx);
    for (const batch of this.#batches.values()) {
      if (batch.sentAtMs !== 0 && ctx.nowMs - batch.sentAtMs < c.forwardTimeoutMs) continue;
      // An acknowledged batch waits for its index to be applied (#settleApplied) or covered
      // by a snapshot (#settleFromSnapshot), which settles it or resends it if its slot went
      // to another entry. Sent again here only when the group has not moved on for a forward
      // timeout: a new leader that lacks its entry and, idle, never grows its log that far.
      // Never while this node is still in the term that acknowledged it: that term's leader
      // holds the entry for as long as it leads, and while it cannot commit, every heartbeat
      // sent every acknowledged call again. (Sent again whenever it took longer than
      // `forwardTimeoutMs` to apply, and at every leader change, a busy group proposed the
      // calls in flight a second time.)
      if (batch.accepted === undefined || (batch.accepted.term !== this.#raft.term && ctx.nowMs - this.#progressAtMs >= c.forwardTimeoutMs))
        this.#submit(ctx, batch);
    }
    for (const [id, read] of this.#reads) {
      if (read.index === undefined && (read.sentAtMs === 0 || ctx.nowMs - read.sentAtMs >= c.forwardTimeoutMs)) this.#startRead(ctx, id, read);
    }
    this.#maybeBootstrap(ctx);
    if (this.#raft.role === 'leader') this.#manageMembership(ctx);
  }

  /**
   * A member with no formation may start one once `bootstrapDelayMs` has passed with no
   * existing formation in sight, when `bootstrapExpect` members (itself included) are bonded
   * and formation-less, and it has the smallest id among them: one node decides, the others
   * follow its first configuration. A node whose own tickets the group's validators refuse
   * starts none: no member would bond with it, and a formation of its own would later lose
   * to theirs, its writes with it.
   */
  #maybeBootstrap(ctx: NodeContext): void {
    if (this.#formation !== undefined || this.#raft.log.lastIndex() > 0 || this.spec.leadership === 'observer') return;
    if (ctx.nowMs - this.#startedAtMs < this.spec.consensus.bootstrapDelayMs) return;
    if (this.#admission.self(ctx.wallClockMs) !== undefined) return;
    const fresh = [...this.#bonds.values()].filter((b) => b.formation === undefined);
    const candidates = [this.#member, ...fresh.filter((b) => b.leadership !== 'observer').map((b) => b.member)].sort();
    if (candidates.length < this.spec.bootstrapExpect || candidates[0] !== this.#member) return;
    const voters = candidates.slice(0, this.spec.maxVoters);
    const learners = fresh
      .map((b) => b.member)
      .filter((p) => !voters.includes(p))
      .sort();
    const conf = { voters, learners };
    this.#setFormation(ctx, newFormation(ctx.peerId, ctx.wallClockMs, ctx.rng.bytes(16), conf));
    this.#raft.bootstrap(conf);
  }

  /**
   * The leader keeps the configuration in step with the bonded members, one change at a
   * time, once this term has committed (membership.ts has the policy).
   */
  #manageMembership(ctx: NodeContext): void {
    const raft = this.#raft;
    if (!raft.committedInTerm) return;
    const next = nextConfiguration({
      self: this.#member,
      selfPeer: this.#self,
      conf: raft.conf,
      commit: raft.log.commit,
      match: (member) => raft.progressOf(member)?.match ?? 0,
      formation: this.#formation,
      maxVoters: this.spec.maxVoters,
      replaceVoterAfterMs: this.spec.consensus.replaceVoterAfterMs,
      nowMs: ctx.nowMs,
      startedAtMs: this.#startedAtMs,
      members: this.#bonds,
    });
    if (next !== undefined) raft.proposeConf(next);
  }

  // ---------------------------------------------------------------- members and bonds

  /** A catalog entry that lists this group (or stopped listing it: `listed` false). */
  onMemberEntry(ctx: NodeContext, peer: PeerId, addrs: readonly string[], listed: boolean): void {
    this.#catchUp(ctx);
    this.#bonds.onMemberEntry(ctx, peer, addrs, listed);
  }

  onMemberGone(peer: PeerId): void {
    this.#bonds.onMemberGone(peer);
  }

  /** Our outgoing link is up: prove we know the key. */
  onDialUp(ctx: NodeContext, link: LinkInfo): void {
    this.#catchUp(ctx);
    this.#bonds.onDialUp(ctx, link);
  }

  isDialing(link: number): boolean {
    return this.#bonds.isDialing(link);
  }

  /** The dial failed or was refused before a bond formed. */
  onDialDown(link: number): void {
    this.#bonds.onDialDown(link);
  }

  /** An incoming hello for this group, already matched by group id: check it and answer. */
  onHello(ctx: NodeContext, link: LinkInfo, hello: Extract<BondMessage, { t: 'hello' }>): void {
    this.#catchUp(ctx);
    this.#bonds.onHello(ctx, link, hello);
  }

  onLinkDown(ctx: NodeContext, link: number): void {
    this.#catchUp(ctx);
    this.#bonds.onLinkDown(ctx, link);
  }

  /**
   * Why a call finds no leader. When the group requires tickets that this node's own entry
   * does not pass, no member will ever bond with it: say so (NotAllowedError) rather than
   * "retry" (OfflineError) for ever. Checked only here, on the way to a failure; memoised.
   */
  #noLeader(ctx: NodeContext): MosaikError {
    const refused = this.#admission.self(ctx.wallClockMs);
    if (refused === undefined) return NO_LEADER();
    return new NotAllowedError(
      `this node's tickets do not pass the group's validators (${refused.code}: ${refused.detail}); add an accepted ticket with discovery.addTicket`,
    );
  }

  /** What bonds coming and going mean here: formations told, Raft told of unreachable members, forwards retried. */
  #bondHost(): BondHost {
    return {
      formation: () => this.#formation,
      bondUp: (ctx, bond, replaced) => {
        if (!replaced) ctx.emit({ type: 'group.bond', group: this.spec.id, peer: bond.peer, up: true });
        // Our hello went out before this welcome: if we changed formation in between (yielded),
        // the peer holds the old one, and no broadcast reached this link (not bonded yet).
        if (replaced || bond.dialer === this.#self) this.#bonds.send(ctx, bond, { t: 'formation', formation: this.#formation });
        this.#learnFormation(ctx, bond, bond.formation);
        this.#drain(ctx);
      },
      bondDown: (ctx, bond) => {
        this.#raft.reportUnreachable(bond.member);
        ctx.emit({ type: 'group.bond', group: this.spec.id, peer: bond.peer, up: false });
        // Forwards go to the leader: if this was its bond, they are sent again at the next
        // heartbeat. (Reads in flight are sent again once `forwardTimeoutMs` has passed.)
        if (this.#raft.leader !== bond.member) return;
        for (const batch of this.#forwards.values()) batch.sentAtMs = 0;
        this.#forwards.clear();
        this.#emptyWindow();
      },
    };
  }

  onBondMessage(ctx: NodeContext, link: LinkInfo, msg: BondMessage): void {
    this.#catchUp(ctx);
    const bond = this.#bonds.ofLink(link.id);
    if (bond === undefined) {
      if (msg.t === 'welcome') this.#bonds.onWelcome(ctx, link, msg);
      else ctx.close(link.id, CloseCode.GroupInvalidHandshake, `unexpected ${msg.t} before the handshake`);
      return;
    }
    this.#bonds.heard(ctx, bond);
    switch (msg.t) {
      case 'raft':
        this.#onRaft(ctx, bond, msg.formation, msg.msg);
        break;
      case 'formation':
        this.#learnFormation(ctx, bond, msg.formation);
        break;
      case 'forward':
        this.#onForward(ctx, bond, msg.req, msg.commands);
        break;
      case 'forwardResp': {
        const batch = this.#answered(msg.req);
        if (batch !== undefined && this.#batches.has(batch.req) && msg.ok) {
          this.#accepted(ctx, batch, msg.index, msg.term);
          // Slow start: two more for the one taken; once nothing waits, the leader has room.
          if (this.#leaderFull && !this.#sendWaiting(ctx, 2)) this.#leaderFull = false;
        } else if (batch !== undefined) batch.sentAtMs = 0; // refused (not the leader any more): retried at the next heartbeat
        if (!this.#leaderFull) this.#fillWindow(ctx);
        break;
      }
      case 'forwardFull': {
        // Not proposed. It may still be in a log from an earlier hand-over (a retry): it stays
        // `handed`, and waits for room like the others.
        const batch = this.#answered(msg.req);
        if (batch !== undefined && this.#batches.has(batch.req)) this.#waitForRoom(batch);
        this.#leaderFull = this.#raft.leader === bond.member;
        break;
      }
      case 'readIndex':
        this.#onReadIndex(ctx, bond, msg.req);
        break;
      case 'readIndexResp': {
        const read = this.#reads.get(msg.req);
        if (read !== undefined && msg.ok) this.#readIndexKnown(msg.req, read, msg.index);
        else if (read !== undefined) read.sentAtMs = 0;
        break;
      }
      case 'departure':
        this.#bonds.onMemberGone(bond.peer);
        break;
      case 'ping':
        break;
      case 'hello':
      case 'welcome':
        ctx.close(link.id, CloseCode.GroupInvalidHandshake, `unexpected ${msg.t} on a bonded link`);
        this.#bonds.drop(ctx, bond);
        return;
    }
    this.#drain(ctx);
  }

  #onRaft(ctx: NodeContext, bond: Bond, formationId: Uint8Array, wire: WireRaftMessage): void {
    // Between the two members this bond joins, and only them: the sender sends on the bond of
    // the addressed member (`Bonds.ofMember`), so a message for the member a peer was before it
    // lost its storage never goes out, and a member cannot speak for another.
    // The decoded message is this call's own: it takes its route in place (a copy cost more).
    const msg = wire as WireRaftMessage & { from: string; to: string };
    msg.from = bond.member;
    msg.to = this.#member;
    if (this.#formation === undefined) {
      // A fresh node joins the first history that talks to it (it has nothing to lose).
      if (this.#raft.log.lastIndex() > 0) return;
      if (bond.formation === undefined || !sameFormation(bond.formation, { id: formationId, formedAtMs: 0 })) return;
      this.#setFormation(ctx, bond.formation);
      this.#adoptFirstConf();
    }
    if (!sameFormation(this.#formation, { id: formationId, formedAtMs: 0 })) {
      // Another history: never step it. Make sure the sender knows ours, so one side yields.
      this.#bonds.send(ctx, bond, { t: 'formation', formation: this.#formation });
      return;
    }
    const refused = this.#raft.step(msg);
    if (refused !== undefined) {
      // A member whose messages break Raft's own rules is faulty: drop the bond (it may
      // bond again, and is refused again if it goes on).
      ctx.close(bond.link, CloseCode.ProtocolViolation, `raft message refused: ${refused}`);
      this.#bonds.drop(ctx, bond);
    }
  }

  /** The peer told us its formation (handshake or later): adopt it, yield to it, or wait for it to yield. */
  #learnFormation(ctx: NodeContext, bond: Bond, formation: Formation | undefined): void {
    bond.formation = formation;
    if (formation === undefined || sameFormation(formation, this.#formation)) return;
    const mine = this.#formation;
    if (mine === undefined) {
      if (this.#raft.log.lastIndex() === 0) {
        this.#setFormation(ctx, formation);
        this.#adoptFirstConf();
      }
      return;
    }
    if (compareFormations(formation, mine) >= 0) {
      this.#bonds.send(ctx, bond, { t: 'formation', formation: mine });
      return;
    }
    this.#yieldTo(ctx, formation);
  }

  /** Our formation lost to an earlier one: drop our history, fail our calls, start over as a new member of theirs. */
  #yieldTo(ctx: NodeContext, winner: Formation): void {
    const lost = this.#formation;
    const lastIndex = this.#raft.log.lastIndex();
    ctx.emit({ type: 'group.formationLost', group: this.spec.id, lost: formationHex(lost), winner: formationHex(winner), lastIndex });
    this.#failAll(
      ctx,
      new FormationLostError(
        `this node's history of the group (formation ${formationHex(lost)}, ${lastIndex} entries) lost to formation ${formationHex(winner)}; retry`,
      ),
    );
    this.#remoteReads.clear();
    this.#store.wipe(ctx);
    this.#state.reset();
    this.#raft = this.#newRaft(ctx, {});
    this.#lastLeader = undefined;
    this.#online = false;
    this.#setFormation(ctx, winner);
    this.#adoptFirstConf();
    ctx.emit({ type: 'group.role', group: this.spec.id, formation: formationHex(winner), term: 0, role: 'follower', leader: undefined });
  }

  #onForward(ctx: NodeContext, bond: Bond, req: number, commands: readonly Uint8Array[]): void {
    // A member of another formation (one that lost, before it heard) must not write into ours:
    // its caller is told the formation was lost, so the command must not happen here either.
    if (!sameFormation(bond.formation, this.#formation)) {
      this.#bonds.send(ctx, bond, { t: 'forwardResp', req, ok: false, index: 0, term: 0, leader: undefined });
      return;
    }
    const key = commands.length > 0 ? envelopeKey(commands[0] as Uint8Array) : undefined;
    const known = key === undefined ? undefined : this.#proposedForwards.get(key);
    if (known !== undefined && known.count === commands.length && known.term === this.#raft.term && this.#raft.role === 'leader') {
      assert(this.#raft.log.term(known.index) === known.term, "a leader's entries of its own term stay in its log");
      this.#bonds.send(ctx, bond, { t: 'forwardResp', req, ok: true, index: known.index, term: known.term, leader: this.#member });
      return;
    }
    const r = this.#raft.propose(commands);
    if ('index' in r) {
      if (key !== undefined) {
        this.#proposedForwards.delete(key); // a stale one of an earlier term: the new one goes last, in log order
        this.#proposedForwards.set(key, { index: r.index, count: commands.length, term: r.term });
      }
      this.#bonds.send(ctx, bond, { t: 'forwardResp', req, ok: true, index: r.index, term: r.term, leader: this.#member });
    } else if (r.kind === 'full') {
      this.#stats.proposalsRefusedFull++;
      this.#forwardRefusedAtMs = ctx.nowMs;
      this.#bonds.send(ctx, bond, { t: 'forwardFull', req });
    } else this.#bonds.send(ctx, bond, { t: 'forwardResp', req, ok: false, index: 0, term: 0, leader: this.#raft.leader });
  }

  #onReadIndex(ctx: NodeContext, bond: Bond, req: number): void {
    if (!sameFormation(bond.formation, this.#formation)) {
      this.#bonds.send(ctx, bond, { t: 'readIndexResp', req, ok: false, index: 0 });
      return;
    }
    const id = this.#nextRead++;
    const refused = this.#raft.readIndex(id);
    if (refused) {
      this.#bonds.send(ctx, bond, { t: 'readIndexResp', req, ok: false, index: 0 });
      return;
    }
    this.#remoteReads.set(id, { member: bond.member, req });
  }

  /** The node shuts down: a goodbye to every bond (they need not wait for our heartbeats to stop). */
  shutdown(ctx: NodeContext): void {
    this.#catchUp(ctx);
    this.#failAll(ctx, new GroupClosedError('the node is shutting down'));
    if (this.#raft.role === 'leader') {
      const to = this.#bestVoter();
      if (to !== undefined) this.#raft.transferLeadership(to);
      this.#drain(ctx);
    }
    this.#closeAndAnswerLeaves(ctx);
  }
}
