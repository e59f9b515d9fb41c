import type { ApplyContext, Group, StateMachine } from '../api/groups.ts';
import type { Network } from '../api/network.ts';
import { TimeoutError } from '../core/errors.ts';
import type { PlantedGroupBugs } from '../core/groups/group.ts';
import type { UnsafeRaftVariant } from '../core/raft/types.ts';
import { intBetween, type Rng } from '../core/util/rng.ts';
import { raftSafetyChecker } from '../net-sim/checkers/groups.ts';
import type { CounterInput, CounterOutput, Operation, RegisterInput, RegisterOutput } from '../net-sim/checkers/linearizability.ts';
import { type FaultPlan, QUIET_PLAN, swarmPlan } from '../net-sim/fault-plan.ts';
import { rngStream } from '../net-sim/rng.ts';
import type { Simulation } from '../net-sim/simulation.ts';
import { checkRegisterAndCounter, countSnapshotInstalls, within } from './group-workload.ts';
import { joinLimits, SCENARIO_DISCOVERY_TIMING, type Scenario, type ScenarioOptions, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * `raft-chaos`: one group of five voters under swarm faults — partitions, crashes and
 * restarts, clock skew and jumps, slow links, and for about a third of the seeds message
 * loss, duplication and reordering — plus faults aimed at Raft (the leader killed every few
 * seconds, voters crashing mid-election: `raftNemesis`), with two clients per node writing a register, adding
 * to a counter and reading both linearizably (strong queries), from every node, one of them
 * with a deadline on every call, and a third that only reads.
 *
 * The group forms on a quiet network first (every node must be bonded before the first
 * configuration: `bootstrapExpect` = all), so there is one history; startup splits are
 * `raft-startup-split`'s subject. Then a minute of faults, then quiet again.
 *
 * Checked: Raft safety from the events (`raft-safety`: one leader per term, one entry per
 * index, leader completeness); linearizability of the register and counter histories
 * (Porcupine-style, `net-sim/checkers/linearizability.ts`), with every call whose outcome the
 * client could not know (a crash mid-call) allowed to have happened or not; liveness: within
 * `LIVENESS_BOUND_MS` of the faults stopping, every node executes a command and all end
 * with the same applied index and state.
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const FORM_BY_MS = 15_000;
const FAULTS_MS = 60_000;
const AFTER_FAULTS_MS = 10_000;
const LIVENESS_BOUND_MS = 40_000;
const FINAL_BOUND_MS = 20_000;
const LEADER_KILL_EVERY_MS = { min: 5_000, max: 15_000 } as const;
const NEMESIS_POLL_MS = 50;
/**
 * A run commits ~1,000 entries: compacting every 200 puts snapshots under the faults (a restart
 * loads one, a lagging member installs one over a bond), and keeps restarts from replaying the
 * whole log. The default, 10,000, would never be reached.
 */
const SNAPSHOT_EVERY_ENTRIES = 200;
const ELECTION_CRASH_PROBABILITY = 0.5;
const CLIENTS_PER_NODE = 2;
const PAUSE_MS = { min: 20, max: 250 } as const;
/** A bound on the whole run (a stuck one ends here with SimulationLimitError, a failure). */
const MAX_SIMULATED_MS = 10 * 60_000;

type ChaosCommand = { readonly op: 'write'; readonly v: number } | { readonly op: 'add'; readonly d: number };
interface ChaosState {
  readonly reg: number | null;
  readonly ctr: number;
}

/** A register and a counter; `add` returns the new counter, so histories carry it. */
export class ChaosMachine implements StateMachine<ChaosCommand, null, ChaosState> {
  readonly signature = 'mosaik-ts/scenario/raft-chaos/1';
  reg: number | null = null;
  ctr = 0;
  apply(c: ChaosCommand, _ctx: ApplyContext): number | undefined {
    if (c.op === 'write') {
      this.reg = c.v;
      return undefined;
    }
    this.ctr += c.d;
    return this.ctr;
  }
  query(): ChaosState {
    return { reg: this.reg, ctr: this.ctr };
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ reg: this.reg, ctr: this.ctr }));
  }
  restore(snapshot: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(snapshot)) as ChaosState;
    this.reg = s.reg;
    this.ctr = s.ctr;
  }
}

const RAFT_BUGS: Readonly<Record<string, UnsafeRaftVariant>> = {
  'vote-without-log-check': 'vote-without-log-check',
  'commit-previous-term': 'commit-previous-term',
  'vote-not-persisted': 'vote-not-persisted',
  'read-without-quorum': 'read-without-quorum',
};

export function groupBugsOf(names: readonly string[] | undefined): PlantedGroupBugs {
  const raft = new Set((names ?? []).map((n) => RAFT_BUGS[n]).filter((v): v is UnsafeRaftVariant => v !== undefined));
  return {
    raft,
    followerReadsWithoutReadIndex: names?.includes('follower-read-without-readindex') ?? false,
    timeoutsClaimNotApplied: names?.includes('timeout-claims-not-applied') ?? false,
  };
}

export const GROUP_PLANTED_BUGS = {
  'vote-without-log-check': 'Raft grants votes without the log up-to-date check',
  'commit-previous-term': "a leader commits an earlier term's entries by counting replicas and appends no no-op (Figure 8)",
  'vote-not-persisted': 'Raft replies to a vote before the vote is durable: a restart forgets it',
  'read-without-quorum': 'a leader serves ReadIndex reads without confirming its leadership with a heartbeat round',
  'follower-read-without-readindex': 'a follower answers strong queries from its own state',
  'timeout-claims-not-applied': 'a call past its deadline says its command never reached a leader (mayHaveApplied false) even when it did',
  'ack-before-sync':
    "nodes' storage reports writes stored before they are (a lying fsync), on a slow disk with power failures (as --faults slow-disk): a crash takes back acknowledged writes and votes",
} as const;

/** The seed's fault plan: swarm faults, plus message-level stress for about a third of the seeds. */
export function chaosPlan(options: ScenarioOptions): FaultPlan {
  if (options.faults === 'none') return QUIET_PLAN;
  const plan = swarmPlan(rngStream(options.seed, 'swarm'));
  const r = rngStream(options.seed, 'stress');
  if (r.float() >= 1 / 3) return plan;
  return { ...plan, stress: { lossProbability: 0.002 + r.float() * 0.02, duplicateProbability: r.float() * 0.01, reorderProbability: r.float() * 0.01 } };
}

type RegOp = Operation<RegisterInput, RegisterOutput>;
type CtrOp = Operation<CounterInput, CounterOutput>;

interface History {
  readonly reg: RegOp[];
  readonly ctr: CtrOp[];
  ok: number;
  unknown: number;
  offline: number;
  /** Calls of the impatient clients that timed out, and of those the commands that never reached a leader. */
  timedOut: number;
  timedOutUnsent: number;
}

/** One client: a sequential loop of writes, adds and strong reads on one node, recording a history. */
async function client(
  sim: Simulation,
  net: Network,
  group: () => Group<ChaosCommand, null, ChaosState>,
  id: string,
  clientNo: number,
  rng: Rng,
  history: History,
  stopAt: () => number,
  readsOnly: boolean,
  deadlines: Rng | undefined,
): Promise<void> {
  let n = 0;
  // History entries are written out as literals: spreading a shared op object into them was
  // a slow copy, and the most expensive line of this loop.
  while (sim.now < stopAt()) {
    await sim.sleep(intBetween(rng, PAUSE_MS.min, PAUSE_MS.max));
    if (!sim.isUp(net)) continue;
    const roll = readsOnly ? 1 : rng.float();
    const call = sim.now;
    const options = deadlines === undefined ? undefined : { timeoutMs: impatience(deadlines) };
    if (roll < 0.4) {
      const v = clientNo * 1_000_000 + ++n; // unique across clients: the checker can tell writes apart
      const input: RegisterInput = { kind: 'write', value: v };
      try {
        await group().execute({ op: 'write', v }, options);
        history.reg.push({ client: id, input, call, ret: sim.now, output: undefined });
        history.ok++;
      } catch (e) {
        countTimeout(history, e);
        if (didNotHappen(e)) history.offline++;
        else {
          history.reg.push({ client: id, input, call, ret: undefined, output: undefined });
          history.unknown++;
        }
      }
    } else if (roll < 0.7) {
      const d = intBetween(rng, 1, 3);
      const input: CounterInput = { kind: 'add', delta: d };
      try {
        const r = await group().execute({ op: 'add', d }, options);
        history.ctr.push({ client: id, input, call, ret: sim.now, output: r.result as number });
        history.ok++;
      } catch (e) {
        countTimeout(history, e);
        if (didNotHappen(e)) history.offline++;
        else {
          history.ctr.push({ client: id, input, call, ret: undefined, output: undefined });
          history.unknown++;
        }
      }
    } else {
      try {
        const { result } = await group().query(null, 'strong', options);
        history.reg.push({ client: id, input: { kind: 'read' }, call, ret: sim.now, output: result.reg });
        history.ctr.push({ client: id, input: { kind: 'read' }, call, ret: sim.now, output: result.ctr });
        history.ok++;
      } catch (e) {
        countTimeout(history, e);
        history.offline++; // a failed read has no effect: nothing to record
      }
    }
  }
}

/**
 * Faults aimed at Raft, besides the seed's swarm faults (Jepsen's "kill the leader"): every
 * few seconds the leader is crashed and restarted shortly after, or cut off from the others
 * for a few seconds (then every partition heals), and while an election
 * runs a voter may crash and come back within it (a vote it forgot would show). Both drive
 * the histories — entries on a minority, terms changing hands quickly — that the Figure 8
 * and durable-vote bugs need.
 */
async function raftNemesis(
  sim: Simulation,
  nets: readonly Network[],
  groups: readonly Group<ChaosCommand, null, ChaosState>[],
  rng: Rng,
  done: () => boolean,
): Promise<void> {
  const bounce = (net: Network, downMs: number) => {
    sim.crash(net);
    void sim.sleep(downMs).then(() => {
      if (!sim.isUp(net)) sim.restart(net);
    });
  };
  let nextLeaderKill = sim.now + intBetween(rng, LEADER_KILL_EVERY_MS.min, LEADER_KILL_EVERY_MS.max);
  /** At most one mid-election crash per election (a candidate's term). */
  let lastElectionHit = -1;
  while (!done()) {
    await sim.sleep(NEMESIS_POLL_MS);
    const killLeader = sim.now >= nextLeaderKill;
    // Most polls find no leader to kill and no election: they look without building anything.
    if (!killLeader && !nets.some((n, i) => sim.isUp(n) && groups[i]?.role === 'candidate')) continue;
    const up = nets.map((n, i) => ({ n, g: groups[i] as Group<ChaosCommand, null, ChaosState> })).filter(({ n }) => sim.isUp(n));
    if (killLeader) {
      nextLeaderKill = sim.now + intBetween(rng, LEADER_KILL_EVERY_MS.min, LEADER_KILL_EVERY_MS.max);
      const leader = up.find(({ g }) => g.isLeader);
      if (leader && rng.float() < 0.5) bounce(leader.n, intBetween(rng, 300, 3_000));
      else if (leader) {
        // Cut the leader off instead: it lives on, believing it leads, while the others elect
        // a new one (the stale-read and lost-lease histories).
        sim.isolate(leader.n);
        void sim.sleep(intBetween(rng, 1_000, 5_000)).then(() => sim.heal());
      }
    } else {
      // An election runs (the check above).
      const term = Math.max(...up.map(({ g }) => g.term));
      if (term === lastElectionHit) continue;
      lastElectionHit = term;
      if (rng.float() >= ELECTION_CRASH_PROBABILITY) continue;
      const voters = up.filter(({ g }) => g.role === 'follower');
      const victim = voters[intBetween(rng, 0, voters.length - 1)];
      if (victim) bounce(victim.n, intBetween(rng, 20, 400));
    }
  }
}

/** The call was never handed to a leader: it did not happen. */
/**
 * A failed call that certainly had no effect: no leader was known (OfflineError), or its
 * deadline passed before it reached one (the TimeoutError says so, and the checker holds it
 * to that: `--plant-bug timeout-claims-not-applied` makes it lie).
 */
function didNotHappen(e: unknown): boolean {
  return (e instanceof Error && e.name === 'OfflineError') || (e instanceof TimeoutError && e.mayHaveApplied === false);
}

function countTimeout(history: History, e: unknown): void {
  if (!(e instanceof TimeoutError)) return;
  history.timedOut++;
  if (e.mayHaveApplied === false) history.timedOutUnsent++;
}

/** An impatient client's deadline for its next call: from a slow commit to a couple of elections. */
function impatience(rng: Rng): number {
  return intBetween(rng, 1_000, 5_000);
}

export const raftChaos: Scenario = {
  name: 'raft-chaos',
  description:
    'five voters under swarm faults (partitions, crashes, clock skew, message stress for a third of seeds) with clients on every node: Raft safety, linearizable register and counter, liveness after the faults stop',
  defaultNodes: 5,
  plantedBugs: GROUP_PLANTED_BUGS,
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 5;
    if (!Number.isInteger(count) || count < 3) throw new RangeError(`raft-chaos needs at least 3 nodes, got ${count}`);
    const sim = scenarioSimulation(options, {
      faults: chaosPlan(options),
      faultsStartMs: FORM_BY_MS,
      maxSimulatedMs: MAX_SIMULATED_MS,
      // The lying fsync only shows on a disk slower than the round trips it should hold back.
      ...(options.plantedBugs?.includes('ack-before-sync') && { plantedStorageBug: 'ack-before-sync' as const, slowDisk: true }),
    });
    sim.addChecker(raftSafetyChecker());
    const snapshotsInstalled = countSnapshotInstalls(sim);
    const problems: { message: string; atMs: number }[] = [];
    const problem = (message: string) => problems.push({ message, atMs: sim.now });
    const broken = () => sim.violations.length > 0;
    const plantedBugs = { groups: groupBugsOf(options.plantedBugs) };
    const nets: Network[] = [];
    for (let i = 0; i < count; i++)
      nets.push(sim.node({ network: 'raft-chaos', bootstrap: nets.slice(0, 1).map((n) => n.addr), discovery: TIMING, plantedBugs }));
    const history: History = { reg: [], ctr: [], ok: 0, unknown: 0, offline: 0, timedOut: 0, timedOutUnsent: 0 };
    let formedAt: number | undefined;
    let quietAt = 0;
    let livenessAt: number | undefined;
    const details: Record<string, unknown> = {};
    await sim.run(async () => {
      const groups = nets.map((net) =>
        net.groups.join({
          key: 'raft-chaos',
          machine: new ChaosMachine(),
          bootstrapExpect: count,
          maxVoters: 5,
          consensus: { snapshotEveryEntries: SNAPSHOT_EVERY_ENTRIES },
          ...joinLimits(options),
        }),
      );
      while (sim.now < FORM_BY_MS && !groups.every((g) => g.leader !== undefined && g.members().voters.length === Math.min(count, 5))) await sim.sleep(100);
      if (!groups.every((g) => g.leader !== undefined)) problem(`the group did not form within ${FORM_BY_MS} ms on a quiet network`);
      formedAt = sim.now;
      const faultsEnd = FORM_BY_MS + FAULTS_MS;
      const clientsStop = faultsEnd + AFTER_FAULTS_MS;
      const loops: Promise<void>[] = [];
      for (const [i, net] of nets.entries()) {
        // Two mixed clients and one that only reads: a client blocked on a write (its node cut
        // off) reads nothing, and stale reads are exactly what a cut-off node could serve. The
        // second mixed client is impatient: every call has a deadline (`timeoutMs`), so calls
        // are abandoned mid-flight, and what their TimeoutError claims is checked.
        for (let k = 0; k <= CLIENTS_PER_NODE; k++) {
          const id = `${i + 1}.${k + 1}`;
          loops.push(
            client(
              sim,
              net,
              () => groups[i] as Group<ChaosCommand, null, ChaosState>,
              id,
              i * (CLIENTS_PER_NODE + 1) + k + 1,
              rngStream(options.seed, `client/${id}`),
              history,
              () => (broken() ? 0 : clientsStop),
              k === CLIENTS_PER_NODE,
              k === 1 ? rngStream(options.seed, `deadlines/${id}`) : undefined,
            ),
          );
        }
      }
      await raftNemesis(sim, nets, groups, rngStream(options.seed, 'raft-nemesis'), () => sim.now >= faultsEnd || broken());
      // A safety violation ends the run: what follows it proves nothing, and a broken
      // cluster (an unsafe variant) can busy-loop. TigerBeetle's simulator stops there too.
      if (broken()) return;
      sim.quiesce();
      quietAt = sim.now;
      // Liveness: every node gets a command through, then all converge on one state.
      const deadline = quietAt + LIVENESS_BOUND_MS;
      const through = new Set<number>();
      while (sim.now < deadline && through.size < nets.length && !broken()) {
        for (const [i, g] of groups.entries()) {
          if (through.has(i)) continue;
          g.execute({ op: 'add', d: 0 }).then(
            () => through.add(i),
            () => undefined,
          );
        }
        await sim.sleep(1_000);
      }
      if (broken()) return;
      if (through.size < nets.length)
        problem(`after the faults stopped, only ${through.size} of ${nets.length} nodes got a command committed within ${LIVENESS_BOUND_MS} ms`);
      else livenessAt = sim.now - quietAt;
      // Calls still hanging this long after the faults stopped are stuck: report, move on.
      let settled = false;
      void Promise.all(loops).then(() => {
        settled = true;
      });
      const loopsDeadline = clientsStop + LIVENESS_BOUND_MS;
      while (!settled && sim.now < loopsDeadline && !broken()) await sim.sleep(500);
      if (broken()) return;
      if (!settled) problem(`client calls still pending ${LIVENESS_BOUND_MS} ms after the clients stopped`);
      // A last write everyone must apply; then states must be equal.
      const last = await within(sim, FINAL_BOUND_MS, groups[0]?.execute({ op: 'add', d: 0 }), { stepMs: 100, stop: broken });
      if (last !== undefined) {
        const until = sim.now + 20_000;
        while (sim.now < until && !broken() && !groups.every((g) => g.committed >= last.index)) await sim.sleep(100);
        const states = await Promise.all(
          groups.map((g) =>
            g
              .query(null, 'weak')
              .then((r) => JSON.stringify(r.result))
              .catch(() => 'unreadable'),
          ),
        );
        if (new Set(states).size !== 1) problem(`replicas ended with different states: ${states.join(' | ')}`);
        details.finalState = states[0];
      } else problem('the final command did not commit');
      details.finalCommitted = groups.map((g) => g.committed);
      details.snapshotsInstalled = snapshotsInstalled();
      // Since each member's last start (`--max-uncommitted-bytes`).
      details.proposalsRefusedFull = groups.reduce((n, g) => n + (g.status()?.stats.proposalsRefusedFull ?? 0), 0);
    });
    const lin = checkRegisterAndCounter(history, options.checkBudget);
    for (const v of lin.violations) problem(v);
    return scenarioResult(
      raftChaos.name,
      options,
      sim,
      wallStart,
      count,
      {
        ...details,
        formedAtMs: formedAt,
        livenessMs: livenessAt,
        ops: {
          ok: history.ok,
          unknown: history.unknown,
          offline: history.offline,
          timedOut: history.timedOut,
          timedOutUnsent: history.timedOutUnsent,
          register: history.reg.length,
          counter: history.ctr.length,
        },
        linearizability: lin.verdicts,
        stress: sim.plan.stress !== undefined,
      },
      problems,
      lin.inconclusive,
    );
  },
};
