import { type RaftConfig, RaftNode } from '../../core/raft/raft.ts';
import type { ConfState, Entry, EntryData, HardState, NodeId, RaftMessage, RaftRefusal, Ready, Snapshot, UnsafeRaftVariant } from '../../core/raft/types.ts';

/**
 * A deterministic in-memory cluster driver for `RaftNode`, for unit and property tests and
 * the `raft-core` scenario.
 *
 * Nothing happens by itself: the test (or a generated schedule) ticks nodes, delivers, drops,
 * duplicates or reorders in-flight messages, cuts links, crashes and restarts nodes. Every
 * input is followed by draining the node's Readys in the documented order (persist, send,
 * apply, serve reads), and the safety checks run on everything that goes by. A violation
 * throws a `SafetyViolation` naming the check and the schedule step, so a failing random
 * schedule points at the first moment things went wrong rather than at a symptom later.
 *
 * Checks (see `CheckName`): election safety, state-machine safety (plus no command applied
 * twice, applies in order, restored snapshots equal to the agreed history), log matching,
 * leader completeness, linearizable reads, and durability (term never goes back, one vote
 * per term, the on-disk log equals the in-memory one after every Ready).
 */

/**
 * `idle-tick`: a tick that `RaftNode.ticksUntilDue` said would only count did more (a driver
 * that ticks lazily, as the groups do, would have missed it).
 */
export type CheckName = 'election-safety' | 'state-machine-safety' | 'log-matching' | 'leader-completeness' | 'linearizable-read' | 'durability' | 'idle-tick';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
  constructor(
    readonly check: CheckName,
    readonly step: number,
    readonly action: string,
    readonly detail: string,
  ) {
    super(`${check} violated at step ${step} (${action}): ${detail}`);
  }
}

// ---------------------------------------------------------------- state machine

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export const command = (value: string): Uint8Array => utf8.encode(value);

/**
 * The replicated application: an append-only list of the command strings applied so far.
 * The last value doubles as a register (what a read returns); the list makes any divergence
 * between replicas visible, not only the final value.
 */
export class ListMachine {
  applied = 0;
  values: string[] = [];

  get register(): string | undefined {
    return this.values[this.values.length - 1];
  }

  apply(e: Entry): void {
    if (e.data.kind === 'command') this.values.push(fromUtf8.decode(e.data.bytes));
    this.applied = e.index;
  }

  snapshot(): Uint8Array {
    return utf8.encode(JSON.stringify({ applied: this.applied, values: this.values }));
  }

  static restore(data: Uint8Array): ListMachine {
    const parsed = JSON.parse(fromUtf8.decode(data)) as { applied: number; values: string[] };
    const m = new ListMachine();
    m.applied = parsed.applied;
    m.values = parsed.values;
    return m;
  }
}

/** A comparable rendering of an entry's payload (Uint8Array and conf objects compare by value). */
export function dataKey(d: EntryData): string {
  switch (d.kind) {
    case 'noop':
      return 'noop';
    case 'command':
      return `cmd:${fromUtf8.decode(d.bytes)}`;
    case 'conf':
      return `conf:${d.conf.voters.join(',')}|${d.conf.learners.join(',')}`;
  }
}

// ---------------------------------------------------------------- records

export interface Proposal {
  readonly value: string;
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  /** `acked`: the proposing node applied it (the client got its answer); `lost`: another entry took its index; `unknown`: the proposer crashed or skipped it via a snapshot. */
  status: 'pending' | 'acked' | 'lost' | 'unknown';
}

export interface ReadRecord {
  readonly id: number;
  readonly node: NodeId;
  readonly step: number;
  /** The highest index acknowledged to any client when the read was invoked (see `strictReads`): the read must see at least this. */
  readonly k: number;
  status: 'pending' | 'ready' | 'served' | 'failed';
  /** The ReadState's index, once released. */
  index?: number;
  /** The state the read observed. */
  result?: { readonly applied: number; readonly register: string | undefined; readonly count: number };
}

export interface InFlight {
  readonly seq: number;
  readonly msg: RaftMessage;
}

export interface Durable {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

interface Live {
  readonly raft: RaftNode;
  sm: ListMachine;
  /** Proposals this incarnation made, by index (volatile: a crash loses the client's session). */
  readonly proposals: Map<number, Proposal>;
  /** Reads waiting for a ReadState or for the state machine to catch up. */
  readonly reads: Map<number, ReadRecord>;
}

interface SimNode {
  readonly id: NodeId;
  durable: Durable;
  live: Live | undefined;
  incarnation: number;
  /** The highest term this node was ever seen in (durability: it must never go back). */
  maxTerm: number;
}

// ---------------------------------------------------------------- options

export interface ClusterOptions {
  /** Every node that exists, in order. Nodes outside `voters`/`learners` start empty and join through conf changes. */
  readonly ids: readonly NodeId[];
  /** The bootstrap configuration's voters. @default ids */
  readonly voters?: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** Seeds every node's election-timeout randomness (with its id and incarnation). @default 1 */
  readonly seed?: number;
  /** @default 10 */
  readonly electionTicks?: number;
  /** @default 5 */
  readonly electionJitterTicks?: number;
  /** @default 2 */
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxEntriesPerAppend?: number;
  readonly maxAppendBytes?: number;
  readonly maxUncommittedBytes?: number;
  readonly maxInflight?: number;
  /** Small so that even a tiny state machine goes out in several chunks. @default 64 */
  readonly snapshotChunkBytes?: number;
  readonly snapshotWindow?: number;
  /** Compact a node's log whenever this many entries were applied past its last snapshot. */
  readonly compactEvery?: number;
  readonly unsafe?: readonly UnsafeRaftVariant[];
  /** Bootstrap the first voter at construction. @default true */
  readonly bootstrap?: boolean;
  /** Run the (quadratic) log-matching check after every this many steps; 0: only when asked. @default 0 */
  readonly logMatchingEvery?: number;
  /**
   * Reads must also see every entry applied anywhere before they started, acknowledged or not
   * (applied implies committed). Stronger than linearizability, but ReadIndex promises it:
   * the read index is the leader's commit index, which covers everything committed so far.
   */
  readonly strictReads?: boolean;
  /** Stop (throw) when the network holds more than this many messages: a message storm is a bug too. @default 20000 */
  readonly maxInFlight?: number;
  /** Checks that only record into `suppressed` instead of throwing (to show the next line of defence also catches a bug). */
  readonly skipChecks?: readonly CheckName[];
}

/** mulberry32: a tiny seeded PRNG, so every run is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const isRefusal = (r: unknown): r is RaftRefusal => typeof r === 'object' && r !== null && 'kind' in r;

// ---------------------------------------------------------------- the cluster

export class Cluster {
  readonly ids: readonly NodeId[];
  readonly opts: ClusterOptions;
  /** Schedule position and the action being run, for violation messages. */
  stepNo = 0;
  action = 'init';

  readonly #nodes = new Map<NodeId, SimNode>();
  #net: InFlight[] = [];
  #seq = 0;
  readonly #cut = new Set<string>();
  /**
   * index → the entry applied there, by whichever node applied it first, and the lowest
   * term any node was in when it applied it (`appliedInTerm`): the entry was committed in
   * that term or an earlier one, since a node learns of a commit only from a leader of the
   * committing term or a later one.
   */
  readonly #applied = new Map<number, { term: number; key: string; by: NodeId; appliedInTerm: number }>();
  /** command value → the index it was applied at. */
  readonly #appliedValue = new Map<string, number>();
  /** term → the leader seen in it. */
  readonly #leaders = new Map<number, NodeId>();
  /** `${voter}@${term}` → the candidate it voted for. */
  readonly #votes = new Map<string, NodeId>();
  #valueSeq = 0;
  #readSeq = 0;
  readonly proposals: Proposal[] = [];
  readonly reads: ReadRecord[] = [];
  /** The highest index acknowledged to a client so far. */
  ackedMax = 0;
  /** The highest index applied anywhere so far. */
  appliedMax = 0;
  /** Violations of the checks in `skipChecks`, in order. */
  readonly suppressed: SafetyViolation[] = [];
  readonly #skip: ReadonlySet<CheckName>;
  /** Counters for tests that want to see that a schedule exercised something. */
  readonly stats = { delivered: 0, dropped: 0, snapshotsInstalled: 0, compactions: 0, crashes: 0, readsServed: 0, ticks: 0 };

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.ids = opts.ids;
    this.#skip = new Set(opts.skipChecks ?? []);
    for (const id of opts.ids) {
      this.#nodes.set(id, {
        id,
        durable: { hardState: { term: 0, vote: undefined, commit: 0 }, snapshot: undefined, entries: [] },
        live: undefined,
        incarnation: 0,
        maxTerm: 0,
      });
      this.#start(id);
    }
    const first = (opts.voters ?? opts.ids)[0];
    if (opts.bootstrap !== false && first !== undefined) {
      this.#begin(`bootstrap ${first}`);
      this.#raft(first).bootstrap({ voters: [...(opts.voters ?? opts.ids)], learners: [...(opts.learners ?? [])] });
      this.#afterInput(first);
    }
  }

  // ---------------------------------------------------------------- inspection

  isUp(id: NodeId): boolean {
    return this.#node(id).live !== undefined;
  }

  /** The live RaftNode (throws if the node is down). */
  raft(id: NodeId): RaftNode {
    return this.#raft(id);
  }

  machine(id: NodeId): ListMachine {
    const live = this.#node(id).live;
    if (live === undefined) throw new Error(`${id} is down`);
    return live.sm;
  }

  durable(id: NodeId): Readonly<Durable> {
    return this.#node(id).durable;
  }

  /** Test-only: rewrites a crashed node's disk (to see the checkers fire on a corrupted log or term). */
  corruptDurable(id: NodeId, mutate: (d: Durable) => void): void {
    const node = this.#node(id);
    if (node.live !== undefined) throw new Error(`${id} must be down to have its disk rewritten`);
    mutate(node.durable);
  }

  upIds(): NodeId[] {
    return this.ids.filter((id) => this.isUp(id));
  }

  /** Live nodes that believe they lead, highest term first. */
  leaders(): NodeId[] {
    return this.upIds()
      .filter((id) => this.#raft(id).role === 'leader')
      .sort((a, b) => this.#raft(b).term - this.#raft(a).term);
  }

  /** The live leader of the highest term, if any. */
  leader(): NodeId | undefined {
    return this.leaders()[0];
  }

  inflight(): readonly InFlight[] {
    return this.#net;
  }

  /** Every entry applied anywhere, by index. */
  appliedLog(): ReadonlyMap<number, { readonly term: number; readonly key: string }> {
    return this.#applied;
  }

  /** The command values of the agreed history up to `index` (what any replica at `index` must hold). */
  historyValues(index: number): string[] {
    const out: string[] = [];
    for (let i = 1; i <= index; i++) {
      const a = this.#applied.get(i);
      if (a?.key.startsWith('cmd:')) out.push(a.key.slice(4));
    }
    return out;
  }

  leaderOfTerm(term: number): NodeId | undefined {
    return this.#leaders.get(term);
  }

  // ---------------------------------------------------------------- network

  /** Delivers the k-th in-flight message (k modulo the count); false if there was none. */
  deliver(k = 0): boolean {
    if (this.#net.length === 0) return false;
    const [m] = this.#net.splice(k % this.#net.length, 1);
    if (m === undefined) return false;
    this.#begin(`deliver ${describe(m.msg)}`);
    this.#deliver(m.msg);
    return true;
  }

  /** Delivers in FIFO order every message matching `pred`, including ones sent meanwhile; returns how many. */
  deliverWhere(pred: (m: RaftMessage) => boolean, max = 10_000): number {
    let n = 0;
    for (;;) {
      const at = this.#net.findIndex((f) => pred(f.msg));
      if (at < 0) return n;
      if (++n > max) throw new Error(`deliverWhere: more than ${max} messages (a message storm?)`);
      this.deliver(at);
    }
  }

  /** Delivers everything in FIFO order until the network is quiet. */
  deliverAll(max = 10_000): number {
    return this.deliverWhere(() => true, max);
  }

  drop(k = 0): void {
    if (this.#net.length === 0) return;
    this.#net.splice(k % this.#net.length, 1);
    this.stats.dropped++;
  }

  dropWhere(pred: (m: RaftMessage) => boolean): number {
    const before = this.#net.length;
    this.#net = this.#net.filter((f) => !pred(f.msg));
    this.stats.dropped += before - this.#net.length;
    return before - this.#net.length;
  }

  duplicate(k = 0): void {
    const m = this.#net[k % Math.max(1, this.#net.length)];
    if (m !== undefined) this.#net.push({ seq: this.#seq++, msg: m.msg });
  }

  /** Cuts the link between `a` and `b` both ways (messages across it are dropped on delivery). */
  cut(a: NodeId, b: NodeId): void {
    if (a !== b) this.#cut.add(pairKey(a, b));
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) this.cut(id, other);
  }

  heal(): void {
    this.#cut.clear();
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.#cut.has(pairKey(a, b));
  }

  // ---------------------------------------------------------------- node lifecycle

  /**
   * Loses everything volatile: the Raft node, the state machine, clients' pending proposals
   * and reads. `loseOutgoing`: its messages still in flight die with it too (its sockets'
   * send buffers), so whatever it just appended may exist nowhere else.
   */
  crash(id: NodeId, loseOutgoing = false): void {
    const node = this.#node(id);
    const live = node.live;
    if (live === undefined) return;
    this.#begin(`crash ${id}${loseOutgoing ? ' (losing its outgoing messages)' : ''}`);
    if (loseOutgoing) this.dropWhere((m) => m.from === id);
    for (const p of live.proposals.values()) p.status = 'unknown';
    for (const r of live.reads.values()) r.status = 'failed';
    node.live = undefined;
    this.stats.crashes++;
  }

  /** A new RaftNode over the durable state; the state machine comes back from the snapshot, then committed entries are re-applied. */
  restart(id: NodeId): void {
    if (this.isUp(id)) return;
    this.#begin(`restart ${id}`);
    this.#start(id);
    const node = this.#node(id);
    const raft = this.#raft(id);
    if (raft.term < node.maxTerm) this.#violation('durability', `${id} restarted in term ${raft.term} after having reached term ${node.maxTerm}`);
    this.#afterInput(id);
  }

  tick(id: NodeId, times = 1): void {
    if (!this.isUp(id)) return;
    for (let i = 0; i < times; i++) {
      this.#begin(`tick ${id}`);
      this.stats.ticks++;
      const raft = this.#raft(id);
      const due = raft.ticksUntilDue();
      const idle = due > 1 && !raft.hasReady();
      const before = `${raft.role} ${raft.term} ${raft.leader}`;
      raft.tick();
      if (idle && (raft.hasReady() || `${raft.role} ${raft.term} ${raft.leader}` !== before)) {
        this.#violation('idle-tick', `${id} acted on a tick with ${due} ticks to go (now ${raft.role}, term ${raft.term})`);
      }
      this.#afterInput(id);
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.upIds()) this.tick(id);
  }

  /** Ticks `id` until it leaves the follower role (starts a (pre-)campaign); returns the ticks used. */
  tickUntilCampaign(id: NodeId, max = 1000): number {
    for (let i = 1; i <= max; i++) {
      this.tick(id);
      if (this.#raft(id).role !== 'follower') return i;
    }
    throw new Error(`${id} did not campaign within ${max} ticks`);
  }

  // ---------------------------------------------------------------- client operations

  /** Proposes one command on `id` (a fresh unique value unless given). */
  propose(id: NodeId, value?: string): Proposal | RaftRefusal {
    if (!this.isUp(id)) return { kind: 'notLeader', leader: undefined };
    const v = value ?? `v${++this.#valueSeq}`;
    this.#begin(`propose ${id} ${v}`);
    const live = this.#live(id);
    const res = live.raft.propose([command(v)]);
    if (isRefusal(res)) return res;
    const p: Proposal = { value: v, node: id, index: res.index, term: res.term, status: 'pending' };
    this.proposals.push(p);
    live.proposals.set(p.index, p);
    this.#afterInput(id);
    return p;
  }

  /** A linearizable read through ReadIndex on `id`; the record fills in as the read completes. */
  read(id: NodeId): ReadRecord | RaftRefusal {
    if (!this.isUp(id)) return { kind: 'notLeader', leader: undefined };
    const readId = ++this.#readSeq;
    this.#begin(`read ${id} #${readId}`);
    const live = this.#live(id);
    const k = this.opts.strictReads === true ? Math.max(this.ackedMax, this.appliedMax) : this.ackedMax;
    const rec: ReadRecord = { id: readId, node: id, step: this.stepNo, k, status: 'pending' };
    const res = live.raft.readIndex(readId);
    if (res !== undefined) return res;
    this.reads.push(rec);
    live.reads.set(readId, rec);
    this.#afterInput(id);
    return rec;
  }

  /** Compacts `id`'s log up to its applied index. */
  compact(id: NodeId): void {
    const live = this.#node(id).live;
    if (live === undefined || live.sm.applied <= live.raft.log.offset) return;
    this.#begin(`compact ${id}@${live.sm.applied}`);
    live.raft.compact(live.sm.applied, live.sm.snapshot());
    this.stats.compactions++;
    this.#afterInput(id);
  }

  transfer(from: NodeId, to: NodeId): RaftRefusal | undefined {
    if (!this.isUp(from)) return { kind: 'notLeader', leader: undefined };
    this.#begin(`transfer ${from}->${to}`);
    const res = this.#raft(from).transferLeadership(to);
    this.#afterInput(from);
    return res;
  }

  proposeConf(id: NodeId, conf: ConfState): { index: number } | RaftRefusal {
    if (!this.isUp(id)) return { kind: 'notLeader', leader: undefined };
    this.#begin(`conf ${id} voters=${conf.voters.join(',')} learners=${conf.learners.join(',')}`);
    const res = this.#raft(id).proposeConf(conf);
    this.#afterInput(id);
    return res;
  }

  /** Conf changes relative to `leader`'s current configuration. */
  addLearner(leader: NodeId, target: NodeId): { index: number } | RaftRefusal {
    const c = this.#raft(leader).conf;
    if (c.voters.includes(target) || c.learners.includes(target)) return { kind: 'invalid', reason: 'already a member' };
    return this.proposeConf(leader, { voters: c.voters, learners: [...c.learners, target] });
  }

  promote(leader: NodeId, target: NodeId): { index: number } | RaftRefusal {
    const c = this.#raft(leader).conf;
    if (!c.learners.includes(target)) return { kind: 'invalid', reason: 'not a learner' };
    return this.proposeConf(leader, { voters: [...c.voters, target], learners: c.learners.filter((l) => l !== target) });
  }

  removeMember(leader: NodeId, target: NodeId): { index: number } | RaftRefusal {
    const c = this.#raft(leader).conf;
    return this.proposeConf(leader, { voters: c.voters.filter((v) => v !== target), learners: c.learners.filter((l) => l !== target) });
  }

  // ---------------------------------------------------------------- driving helpers

  /**
   * Heals the network, restarts every crashed node, then alternates "deliver everything" and
   * "tick everyone" until a leader has committed its whole log and every member has applied
   * it. Returns whether that happened within `maxRounds`.
   */
  stabilize(maxRounds = 300): boolean {
    this.heal();
    for (const id of this.ids) this.restart(id);
    for (let round = 0; round < maxRounds; round++) {
      this.deliverAll();
      if (this.converged()) return true;
      this.tickAll();
    }
    return false;
  }

  /**
   * A leader has committed everything it holds and every member (up) follows it, holds its
   * last entry and has applied it. (A follower may keep a stale uncommitted tail beyond the
   * leader's log until the next write replaces it.)
   */
  converged(): boolean {
    const l = this.leader();
    if (l === undefined || this.#net.length > 0) return false;
    const r = this.#raft(l);
    const last = r.log.lastIndex();
    if (!r.committedInTerm || r.log.commit !== last) return false;
    for (const id of [...r.conf.voters, ...r.conf.learners]) {
      if (!this.isUp(id)) return false;
      const live = this.#live(id);
      if (live.raft.leader !== l || live.sm.applied !== last) return false;
      if (last > live.raft.log.offset && live.raft.log.term(last) !== r.log.term(last)) return false;
    }
    return true;
  }

  /** Ticks and delivers until there is a leader that has committed in its term. */
  electLeader(maxRounds = 300): NodeId {
    for (let round = 0; round < maxRounds; round++) {
      this.deliverAll();
      const l = this.leader();
      if (l !== undefined && this.#raft(l).committedInTerm) return l;
      this.tickAll();
    }
    throw new Error('no leader elected');
  }

  // ---------------------------------------------------------------- checks

  /** Log matching (§5.3) over every pair of nodes (crashed ones by their durable log), plus terms never decreasing along a log. */
  checkLogMatching(): void {
    const views = this.ids.map((id) => ({ id, view: this.#logView(id) }));
    for (const { id, view } of views) {
      for (let k = 1; k < view.entries.length; k++) {
        if ((view.entries[k]?.term ?? 0) < (view.entries[k - 1]?.term ?? 0))
          this.#violation('log-matching', `${id}'s log terms decrease at index ${view.entries[k]?.index}`);
      }
    }
    for (let i = 0; i < views.length; i++) {
      for (let j = i + 1; j < views.length; j++) {
        const a = views[i];
        const b = views[j];
        if (a === undefined || b === undefined) continue;
        this.#checkPair(a.id, a.view, b.id, b.view);
      }
    }
  }

  /** Every member's state machine equals the agreed history at its applied index, and members that applied equally hold equal states. */
  checkMachines(): void {
    for (const id of this.upIds()) {
      const sm = this.#live(id).sm;
      const expected = this.historyValues(sm.applied);
      if (JSON.stringify(expected) !== JSON.stringify(sm.values)) {
        this.#violation('state-machine-safety', `${id}'s state at ${sm.applied} is [${sm.values.join(',')}], the agreed history is [${expected.join(',')}]`);
      }
    }
  }

  checkAll(): void {
    this.checkLogMatching();
    this.checkMachines();
  }

  // ---------------------------------------------------------------- internals

  #node(id: NodeId): SimNode {
    const n = this.#nodes.get(id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  #live(id: NodeId): Live {
    const live = this.#node(id).live;
    if (live === undefined) throw new Error(`${id} is down`);
    return live;
  }

  #raft(id: NodeId): RaftNode {
    return this.#live(id).raft;
  }

  #begin(action: string): void {
    this.stepNo++;
    this.action = action;
  }

  #violation(check: CheckName, detail: string): void {
    const v = new SafetyViolation(check, this.stepNo, this.action, detail);
    if (!this.#skip.has(check)) throw v;
    this.suppressed.push(v);
  }

  #config(id: NodeId, incarnation: number): RaftConfig {
    const o = this.opts;
    // Only defined keys: RaftNode spreads the config over its defaults, so an explicit
    // `undefined` would override a default.
    const optional: Partial<RaftConfig> = {};
    if (o.preVote !== undefined) Object.assign(optional, { preVote: o.preVote });
    if (o.checkQuorum !== undefined) Object.assign(optional, { checkQuorum: o.checkQuorum });
    if (o.maxEntriesPerAppend !== undefined) Object.assign(optional, { maxEntriesPerAppend: o.maxEntriesPerAppend });
    if (o.maxAppendBytes !== undefined) Object.assign(optional, { maxAppendBytes: o.maxAppendBytes });
    if (o.maxUncommittedBytes !== undefined) Object.assign(optional, { maxUncommittedBytes: o.maxUncommittedBytes });
    if (o.maxInflight !== undefined) Object.assign(optional, { maxInflight: o.maxInflight });
    if (o.snapshotWindow !== undefined) Object.assign(optional, { snapshotWindow: o.snapshotWindow });
    return {
      id,
      electionTicks: o.electionTicks ?? 10,
      electionJitterTicks: o.electionJitterTicks ?? 5,
      heartbeatTicks: o.heartbeatTicks ?? 2,
      random: prng(hashString(`${o.seed ?? 1}/${id}/${incarnation}`)),
      snapshotChunkBytes: o.snapshotChunkBytes ?? 64,
      unsafe: new Set(o.unsafe ?? []),
      ...optional,
    };
  }

  #start(id: NodeId): void {
    const node = this.#node(id);
    node.incarnation++;
    const d = node.durable;
    const raft = new RaftNode(this.#config(id, node.incarnation), { hardState: d.hardState, snapshot: d.snapshot, entries: [...d.entries] });
    let sm = new ListMachine();
    if (d.snapshot !== undefined) {
      sm = ListMachine.restore(d.snapshot.data);
      this.#checkRestored(id, sm);
    }
    node.live = { raft, sm, proposals: new Map(), reads: new Map() };
  }

  #deliver(m: RaftMessage): void {
    if (this.isCut(m.from, m.to) || !this.#nodes.has(m.to) || !this.isUp(m.to)) {
      this.stats.dropped++;
      // A transport would notice the broken link: tell the sender so it stops streaming into it.
      if (this.isUp(m.from) && this.isCut(m.from, m.to)) {
        this.#raft(m.from).reportUnreachable(m.to);
        this.#afterInput(m.from);
      }
      return;
    }
    this.stats.delivered++;
    this.#raft(m.to).step(m);
    this.#afterInput(m.to);
  }

  /** After any input: observe the role, drain every Ready, run the periodic checks. */
  #afterInput(id: NodeId): void {
    this.#observe(id);
    this.#drain(id);
    const every = this.opts.logMatchingEvery ?? 0;
    if (every > 0 && this.stepNo % every === 0) this.checkLogMatching();
    if (this.#net.length > (this.opts.maxInFlight ?? 20_000)) throw new Error(`more than ${this.opts.maxInFlight ?? 20_000} messages in flight`);
  }

  /** Election safety and leader completeness are checked the moment a node is seen leading a term. */
  #observe(id: NodeId): void {
    const node = this.#node(id);
    const raft = this.#raft(id);
    if (raft.term < node.maxTerm) this.#violation('durability', `${id}'s term went back from ${node.maxTerm} to ${raft.term}`);
    node.maxTerm = raft.term;
    if (raft.role !== 'leader') return;
    const known = this.#leaders.get(raft.term);
    if (known === undefined) {
      this.#leaders.set(raft.term, id);
      this.#checkLeaderCompleteness(id);
    } else if (known !== id) {
      this.#violation('election-safety', `${known} and ${id} both lead term ${raft.term}`);
    }
  }

  /**
   * Raft's Leader Completeness: an entry committed in a term holds in the log of every leader
   * of a later term. Checked for the entries known to be committed before this leader's term
   * (`appliedInTerm` below it). A leader of an older term elected late (its votes delayed)
   * need not hold what a newer term committed; checking every applied entry flagged that.
   */
  #checkLeaderCompleteness(id: NodeId): void {
    const raft = this.#raft(id);
    const log = raft.log;
    for (const [index, a] of this.#applied) {
      if (a.appliedInTerm >= raft.term) continue; // maybe committed in this term or later
      if (index <= log.offset) continue; // compacted into its snapshot: held
      const e = log.entry(index);
      if (e === undefined || e.term !== a.term || dataKey(e.data) !== a.key) {
        const got = e === undefined ? 'nothing' : `${dataKey(e.data)} (term ${e.term})`;
        this.#violation(
          'leader-completeness',
          `${id} leads term ${this.#raft(id).term} but holds ${got} at ${index}, where ${a.by} applied ${a.key} (term ${a.term})`,
        );
      }
    }
  }

  #drain(id: NodeId): void {
    const node = this.#node(id);
    for (let guard = 0; ; guard++) {
      const live = node.live;
      if (live === undefined || !live.raft.hasReady()) break;
      if (guard > 10_000) throw new Error(`${id}: hasReady() never settles`);
      const rd = live.raft.takeReady();
      this.#persist(node, rd);
      if (rd.snapshot?.installed === true) this.#install(node, rd.snapshot.snapshot);
      for (const m of rd.messages) this.#send(m);
      for (const e of rd.committed) this.#apply(node, e);
      for (const rs of rd.readStates) {
        const rec = live.reads.get(rs.id);
        if (rec === undefined) continue;
        rec.status = 'ready';
        rec.index = rs.index;
      }
      for (const readId of rd.readsFailed) {
        const rec = live.reads.get(readId);
        if (rec === undefined) continue;
        rec.status = 'failed';
        live.reads.delete(readId);
      }
      this.#serveReads(node);
      if (rd.softState?.role === 'leader') this.#observe(id);
      this.#maybeAutoCompact(node);
    }
    this.#checkDurableMatchesMemory(node);
  }

  #persist(node: SimNode, rd: Ready): void {
    const d = node.durable;
    if (rd.hardState !== undefined) {
      const hs = rd.hardState;
      const old = d.hardState;
      if (hs.term < old.term) this.#violation('durability', `${node.id} persisted term ${hs.term} after ${old.term}`);
      if (hs.term === old.term && old.vote !== undefined && hs.vote !== old.vote) {
        this.#violation('durability', `${node.id} changed its durable vote in term ${hs.term} from ${old.vote} to ${hs.vote}`);
      }
      if (hs.vote !== undefined) this.#recordVote(node.id, hs.term, hs.vote);
      d.hardState = hs;
    }
    if (rd.log !== undefined) {
      const { from, entries } = rd.log;
      d.entries = [...d.entries.filter((e) => e.index < from), ...entries];
    }
    if (rd.snapshot !== undefined) {
      const snap = rd.snapshot.snapshot;
      d.snapshot = snap;
      d.entries = d.entries.filter((e) => e.index > snap.meta.index);
    }
    const base = d.snapshot?.meta.index ?? 0;
    for (const [k, e] of d.entries.entries()) {
      if (e.index !== base + 1 + k)
        this.#violation('durability', `${node.id}'s durable log has a gap: index ${e.index} at position ${k} after snapshot ${base}`);
    }
  }

  /** What a crash would keep is what the node works from (the Ready contract lost nothing). */
  #checkDurableMatchesMemory(node: SimNode): void {
    const live = node.live;
    if (live === undefined) return;
    const d = node.durable;
    const log = live.raft.log;
    const base = d.snapshot?.meta.index ?? 0;
    if (base !== log.offset) this.#violation('durability', `${node.id}: durable snapshot at ${base}, in-memory log offset ${log.offset}`);
    const mem = log.all();
    if (mem.length !== d.entries.length) this.#violation('durability', `${node.id}: ${d.entries.length} entries on disk, ${mem.length} in memory`);
    for (const [k, e] of mem.entries()) {
      const onDisk = d.entries[k];
      if (onDisk?.index !== e.index || onDisk.term !== e.term) this.#violation('durability', `${node.id}: entry ${e.index} differs on disk`);
    }
    if (d.hardState.term !== live.raft.term) this.#violation('durability', `${node.id}: term ${live.raft.term} in memory, ${d.hardState.term} on disk`);
  }

  #install(node: SimNode, snap: Snapshot): void {
    const live = node.live;
    if (live === undefined) return;
    if (snap.meta.index < live.sm.applied)
      this.#violation('state-machine-safety', `${node.id} installs a snapshot at ${snap.meta.index} behind its applied index ${live.sm.applied}`);
    live.sm = ListMachine.restore(snap.data);
    if (live.sm.applied !== snap.meta.index)
      this.#violation('state-machine-safety', `${node.id}: snapshot meta says ${snap.meta.index}, its data ${live.sm.applied}`);
    this.#checkRestored(node.id, live.sm);
    // Proposals the snapshot skipped over: the client cannot tell what happened to them.
    for (const [index, p] of live.proposals) {
      if (index > snap.meta.index) continue;
      p.status = 'unknown';
      live.proposals.delete(index);
    }
    this.stats.snapshotsInstalled++;
  }

  #checkRestored(id: NodeId, sm: ListMachine): void {
    const expected = this.historyValues(sm.applied);
    if (JSON.stringify(expected) !== JSON.stringify(sm.values)) {
      this.#violation(
        'state-machine-safety',
        `${id} restored a snapshot at ${sm.applied} holding [${sm.values.join(',')}]; the agreed history is [${expected.join(',')}]`,
      );
    }
  }

  #send(m: RaftMessage): void {
    // Votes are recorded as they leave: a reply is a promise even if the voter forgets it.
    if (m.type === 'voteResp' && m.granted && !m.pre) this.#recordVote(m.from, m.term, m.to);
    if (m.type === 'vote' && !m.pre) this.#recordVote(m.from, m.term, m.from);
    this.#net.push({ seq: this.#seq++, msg: m });
  }

  #recordVote(voter: NodeId, term: number, candidate: NodeId): void {
    const key = `${voter}@${term}`;
    const prev = this.#votes.get(key);
    if (prev === undefined) this.#votes.set(key, candidate);
    else if (prev !== candidate) this.#violation('durability', `${voter} voted for both ${prev} and ${candidate} in term ${term}`);
  }

  #apply(node: SimNode, e: Entry): void {
    const live = node.live;
    if (live === undefined) return;
    const id = node.id;
    if (e.index !== live.sm.applied + 1) this.#violation('state-machine-safety', `${id} applies ${e.index} right after ${live.sm.applied}`);
    const key = dataKey(e.data);
    const prev = this.#applied.get(e.index);
    if (prev === undefined) this.#applied.set(e.index, { term: e.term, key, by: id, appliedInTerm: live.raft.term });
    else if (prev.appliedInTerm > live.raft.term) prev.appliedInTerm = live.raft.term;
    if (prev !== undefined && (prev.term !== e.term || prev.key !== key)) {
      this.#violation('state-machine-safety', `${id} applies ${key} (term ${e.term}) at ${e.index}, where ${prev.by} applied ${prev.key} (term ${prev.term})`);
    }
    if (e.data.kind === 'command') {
      const at = this.#appliedValue.get(key);
      if (at === undefined) this.#appliedValue.set(key, e.index);
      else if (at !== e.index) this.#violation('state-machine-safety', `${key} applied at both ${at} and ${e.index}`);
    }
    live.sm.apply(e);
    this.appliedMax = Math.max(this.appliedMax, e.index);
    const p = live.proposals.get(e.index);
    if (p !== undefined) {
      live.proposals.delete(e.index);
      if (p.term === e.term) {
        p.status = 'acked';
        this.ackedMax = Math.max(this.ackedMax, e.index);
      } else {
        p.status = 'lost';
      }
    }
  }

  #serveReads(node: SimNode): void {
    const live = node.live;
    if (live === undefined) return;
    for (const [readId, rec] of live.reads) {
      if (rec.status !== 'ready' || rec.index === undefined || live.sm.applied < rec.index) continue;
      live.reads.delete(readId);
      rec.status = 'served';
      rec.result = { applied: live.sm.applied, register: live.sm.register, count: live.sm.values.length };
      this.stats.readsServed++;
      if (rec.result.applied < rec.k) {
        this.#violation(
          'linearizable-read',
          `read #${rec.id} on ${rec.node} (started at step ${rec.step}) saw the state at ${rec.result.applied}, but index ${rec.k} was ${this.opts.strictReads === true ? 'applied' : 'acknowledged to a client'} before it started`,
        );
      }
    }
  }

  #maybeAutoCompact(node: SimNode): void {
    const every = this.opts.compactEvery;
    const live = node.live;
    if (every === undefined || live === undefined) return;
    if (live.sm.applied - live.raft.log.offset < every) return;
    live.raft.compact(live.sm.applied, live.sm.snapshot());
    this.stats.compactions++;
  }

  #logView(id: NodeId): { offset: number; entries: readonly Entry[] } {
    const node = this.#node(id);
    if (node.live !== undefined) return { offset: node.live.raft.log.offset, entries: node.live.raft.log.all() };
    return { offset: node.durable.snapshot?.meta.index ?? 0, entries: node.durable.entries };
  }

  #checkPair(aId: NodeId, a: { offset: number; entries: readonly Entry[] }, bId: NodeId, b: { offset: number; entries: readonly Entry[] }): void {
    const at = (v: typeof a, i: number): Entry | undefined => v.entries[i - v.offset - 1];
    const lo = Math.max(a.offset, b.offset) + 1;
    const hi = Math.min(a.offset + a.entries.length, b.offset + b.entries.length);
    let top = 0;
    for (let i = hi; i >= lo; i--) {
      if (at(a, i)?.term === at(b, i)?.term) {
        top = i;
        break;
      }
    }
    for (let i = lo; i <= top; i++) {
      const ea = at(a, i);
      const eb = at(b, i);
      if (ea === undefined || eb === undefined || ea.term !== eb.term || dataKey(ea.data) !== dataKey(eb.data)) {
        this.#violation('log-matching', `${aId} and ${bId} agree on (index ${top}, term ${at(a, top)?.term}) but differ at ${i}`);
      }
    }
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** A one-line rendering of a message, for step labels and failure reports. */
export function describe(m: RaftMessage): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'vote':
      return `${head}${m.pre ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastIndex}/${m.lastTerm}`;
    case 'voteResp':
      return `${head}${m.pre ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append':
      return `${head} prev=${m.prevIndex}/${m.prevTerm} n=${m.entries.length} commit=${m.commit}`;
    case 'appendResp':
      return `${head} ${m.success ? 'ok' : 'reject'} index=${m.index} hint=${m.hintIndex}/${m.hintTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.commit} round=${m.round}`;
    case 'heartbeatResp':
      return `${head} round=${m.round}`;
    case 'snapshot':
      return `${head} at=${m.meta.index} off=${m.offset}/${m.total}`;
    case 'snapshotResp':
      return `${head} at=${m.index} received=${m.received}`;
    case 'timeoutNow':
      return head;
  }
}
