import type { Leadership } from '../api/groups.ts';
import type { Network } from '../api/network.ts';
import { peerOfMember } from '../core/groups/member-id.ts';
import { intBetween, pick } from '../core/util/rng.ts';
import { raftSafetyChecker } from '../net-sim/checkers/groups.ts';
import { type FaultKind, type FaultPlan, QUIET_PLAN, swarmPlan } from '../net-sim/fault-plan.ts';
import { rngStream } from '../net-sim/rng.ts';
import {
  type ChaosGroup,
  type ClientOp,
  checkRegisterAndCounter,
  countSnapshotInstalls,
  errorCounts,
  GroupProbe,
  histories,
  issue,
  runClient,
  waitUntil,
  within,
} from './group-workload.ts';
import { ChaosMachine, GROUP_PLANTED_BUGS, groupBugsOf } from './raft-chaos.ts';
import { joinLimits, SCENARIO_DISCOVERY_TIMING, type Scenario, type ScenarioOptions, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * `raft-membership`: a group whose members come and go. Three nodes form it
 * (`bootstrapExpect` 3); the others join one by one, about every ten seconds, and the
 * leader adds each as a learner and promotes it once caught up, up to five voters; then one
 * voter leaves gracefully (`leave()`), and a little later another voter crashes for good.
 * The leader must take the one that left out at once (it says goodbye, and its discovery
 * entry stops listing the group), and replace the crashed one by a caught-up learner once it
 * has been unreachable `replaceVoterAfterMs`: 10 s here instead of the default 30 s, so the
 * run stays short. A last node joins at a random time as an `observer`: it replicates, and
 * must never be promoted.
 *
 * The leave and the crash each wait until the group is at full strength (five voters, not
 * counting the one that left) and fail the run if it is not within
 * `FULL_STRENGTH_BOUND_MS`. Without that wait the script could ask the impossible: a voter
 * that left still counts towards the quorum until the leader commits its removal, so if
 * faults delay that removal, a crash can leave two of four voters alive. No leader can
 * commit then, and the group stays stuck until someone steps in (an earlier version of this
 * scenario, with denser faults and no wait, ended so on a few seeds in 250).
 *
 * With the default 8 nodes: 3 founders, 4 joiners, 1 observer; at the end 5 members that
 * may vote are alive, so the voters must be exactly those five. Fewer than 8 nodes is
 * refused: the crashed voter can only be replaced by a spare learner, and with 7 there is
 * none left by then.
 *
 * Faults: the group forms on a quiet network. From then until `FAULTS_END_MS` a mild
 * nemesis cuts links (partitions, one-way cuts, isolation), slows them and skews clocks
 * while members join and leave. It uses the seed's swarm plan with three changes: no
 * crashes (the scenario crashes its own voter, which must stay down, so the run ends
 * without `quiesce()`, which would restart it); no fault lasts more than 5 s; and each fault
 * is undone at least 3 s before the next, so there is only ever one. `--faults none` runs
 * the same script on a quiet network.
 *
 * One client per member (the observer too) writes a register, adds to a counter and reads
 * both linearizably, as in `raft-chaos`. Checked: Raft safety (`raft-safety`);
 * linearizability of the register and counter histories (calls the crash or the leave cut
 * short may have happened or not); the observer never in a configuration's voters; every
 * call pending on the leaving node when it left fails with GroupClosedError (one that
 * completed at that same instant is let through), and so does a call after; and within `SETTLE_BOUND_MS` of the faults stopping, every live member has
 * applied the same index and holds the same state, and all see the same voters:
 * min(5, live members that may vote) of them, none of them the node that left, the crashed
 * one or the observer.
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const FOUNDERS = 3;
const MAX_VOTERS = 5;
/** Shorter than the default 30 s, to keep the run short. */
const REPLACE_VOTER_AFTER_MS = 10_000;
/** Small enough that members compact their logs during a run, and new or lagging members catch up from a snapshot. */
const SNAPSHOT_EVERY_ENTRIES = 100;
const FORM_BY_MS = 15_000;
/** Joiners join between these times, evenly spread with some jitter. */
const JOINS_FROM_MS = 18_000;
const JOINS_UNTIL_MS = 58_000;
const FAULTS_END_MS = 110_000;
const CLIENTS_AFTER_FAULTS_MS = 10_000;
/** After the faults stop: time for the configuration and the replicas to settle. */
const SETTLE_BOUND_MS = 60_000;
const PAUSE_MS = { min: 20, max: 250 } as const;
/** Mild faults: one at a time, at most 5 s long, then at least 3 s of calm before the next. */
const MILD_DURATION_MS = 5_000;
const MILD_CALM_MS = 3_000;
/** Before the leave and again before the crash, the group must be back at full strength within this. */
const FULL_STRENGTH_BOUND_MS = 30_000;
const MAX_SIMULATED_MS = 6 * 60_000;
const MIN_NODES = 8;
const KEY = 'raft-membership';

/**
 * The seed's swarm faults made mild: no crashes (the scenario's own), faults of 5 s or less,
 * and never two at once: each is undone at least 3 s before the next (a group of five can
 * lose its quorum to any partition; it needs the calm to elect a leader and commit).
 */
export function membershipPlan(options: ScenarioOptions): FaultPlan {
  if (options.faults === 'none') return QUIET_PLAN;
  const plan = swarmPlan(rngStream(options.seed, 'swarm'));
  const n = plan.nemesis;
  if (n === undefined) return plan;
  let kinds: FaultKind[] = n.kinds.filter((k) => k !== 'crash' && k !== 'power-failure');
  if (kinds.length === 0) kinds = ['slow-link'];
  const durationMsMax = Math.min(n.durationMsMax, MILD_DURATION_MS);
  const intervalMsMin = Math.max(n.intervalMsMin, durationMsMax + MILD_CALM_MS);
  return {
    ...plan,
    nemesis: {
      ...n,
      kinds,
      intervalMsMin,
      intervalMsMax: Math.max(n.intervalMsMax, intervalMsMin),
      durationMsMin: Math.min(n.durationMsMin, durationMsMax),
      durationMsMax,
    },
  };
}

type NodeState = 'idle' | 'member' | 'left' | 'crashed';

export const raftMembership: Scenario = {
  name: 'raft-membership',
  description:
    'members join (learners, then voters up to 5), one voter leaves, one crashes for good and is replaced after replaceVoterAfterMs (10 s), an observer joins and must never vote; mild faults; Raft safety, linearizable register and counter, one final configuration and state',
  defaultNodes: MIN_NODES,
  plantedBugs: GROUP_PLANTED_BUGS,
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? MIN_NODES;
    if (!Number.isInteger(count) || count < MIN_NODES) throw new RangeError(`raft-membership needs at least ${MIN_NODES} nodes, got ${count}`);
    const sim = scenarioSimulation(options, { faults: membershipPlan(options), faultsStartMs: FORM_BY_MS, maxSimulatedMs: MAX_SIMULATED_MS });
    sim.addChecker(raftSafetyChecker());
    const snapshotsInstalled = countSnapshotInstalls(sim);
    const probe = new GroupProbe((net) => sim.indexOf(net));
    sim.addChecker(probe);
    const problems: { message: string; atMs: number }[] = [];
    const problem = (message: string) => problems.push({ message, atMs: sim.now });
    const plantedBugs = { groups: groupBugsOf(options.plantedBugs) };
    const nets: Network[] = [];
    for (let i = 0; i < count; i++) nets.push(sim.node({ network: KEY, bootstrap: nets.slice(0, 1).map((n) => n.addr), discovery: TIMING, plantedBugs }));
    const hexOf = (i: number) => (nets[i] as Network).peerId.hex;
    const indexOfHex = new Map(nets.map((n, i) => [n.peerId.hex, i]));
    /** Node names of peer or member ids. */
    const short = (hexes: readonly string[]) => hexes.map((h) => `n${indexOfHex.get(peerOfMember(h)) ?? '?'}`).join(',');

    // The script, all drawn from the seed.
    const rng = rngStream(options.seed, 'membership');
    const observer = count - 1;
    const joiners = Array.from({ length: count - FOUNDERS - 1 }, (_, k) => FOUNDERS + k);
    const spacing = (JOINS_UNTIL_MS - JOINS_FROM_MS) / joiners.length;
    const joinAt = new Map(joiners.map((i, k) => [i, Math.round(JOINS_FROM_MS + k * spacing + rng.float() * spacing * 0.5)]));
    const leaveAt = JOINS_UNTIL_MS + 4_000 + intBetween(rng, 0, 6_000);
    const crashAt = leaveAt + 12_000 + intBetween(rng, 0, 6_000);
    const observerAt = intBetween(rng, 55_000, 95_000);
    const clientsStop = FAULTS_END_MS + CLIENTS_AFTER_FAULTS_MS;

    const groups: (ChaosGroup | undefined)[] = nets.map(() => undefined);
    const state: NodeState[] = nets.map(() => 'idle');
    const ops: ClientOp[] = [];
    const loops: Promise<void>[] = [];
    const details: Record<string, unknown> = {};
    let left: number | undefined;
    let leftAt: number | undefined;
    let crashed: number | undefined;
    let crashedAt: number | undefined;
    /** How long each step waited for the group to be at full strength. */
    const waits: Record<string, number> = {};

    const join = (i: number, leadership: Leadership = 'normal') => {
      const net = nets[i] as Network;
      groups[i] = net.groups.join({
        key: KEY,
        machine: new ChaosMachine(),
        bootstrapExpect: FOUNDERS,
        maxVoters: MAX_VOTERS,
        leadership,
        consensus: { replaceVoterAfterMs: REPLACE_VOTER_AFTER_MS, snapshotEveryEntries: SNAPSHOT_EVERY_ENTRIES },
        ...joinLimits(options),
      });
      state[i] = 'member';
      loops.push(
        runClient({
          sim,
          net,
          group: () => (state[i] === 'member' ? groups[i] : undefined),
          id: `n${i}`,
          clientNo: i + 1,
          rng: rngStream(options.seed, `client/${i}`),
          ops,
          stopAt: () => clientsStop,
          pauseMs: PAUSE_MS,
        }),
      );
    };
    const members = () => state.flatMap((s, i) => (s === 'member' ? [i] : []));
    /** The voters as the leader (else any member with a leader) sees them. */
    const currentVoters = (): readonly string[] => {
      const live = members().map((i) => groups[i] as ChaosGroup);
      const seer = live.find((g) => g.isLeader) ?? live.find((g) => g.leader !== undefined);
      return seer?.members().voters ?? [];
    };
    /** A voter that is a live member other than the observer, picked by the seed. */
    const pickVoter = (): number | undefined => {
      const candidates = currentVoters()
        .map((h) => indexOfHex.get(h))
        .filter((i): i is number => i !== undefined && state[i] === 'member' && i !== observer)
        .sort((a, b) => a - b);
      return pick(rng, candidates);
    };

    /**
     * Waits (bounded) until the leader's configuration has all five voters, none of them the
     * node that left: so that the crash to come leaves a quorum. (A voter that left counts
     * towards the quorum until the leader has committed its removal; losing one more voter
     * before that can leave a group of four with two live voters, stuck for good.)
     */
    const fullStrength = async (before: string): Promise<void> => {
      const full = () => {
        const v = currentVoters();
        return v.length === MAX_VOTERS && (left === undefined || !v.includes(hexOf(left)));
      };
      const since = sim.now;
      if (!(await waitUntil(sim, since + FULL_STRENGTH_BOUND_MS, full, 250)))
        problem(
          `before ${before}: the group was not back to ${MAX_VOTERS} voters (without the node that left) within ${FULL_STRENGTH_BOUND_MS} ms: ${short(currentVoters())}`,
        );
      waits[before] = sim.now - since;
    };

    const leaveOne = async () => {
      await fullStrength('the leave');
      const i = pickVoter();
      if (i === undefined) {
        problem('no voter to make leave: the group has no leader it agrees on');
        return;
      }
      const g = groups[i] as ChaosGroup;
      // Calls in flight when it leaves: they must fail with GroupClosedError.
      await waitUntil(sim, sim.now + 5_000, () => g.leader !== undefined);
      for (const [k, kind] of (['write', 'add', 'read'] as const).entries()) {
        const arg = kind === 'write' ? 999_000_000 + k : kind === 'add' ? 1 : 0;
        void issue(sim, ops, g, { client: `leave/n${i}/${k}`, node: i }, kind, arg);
      }
      await sim.sleep(1);
      const pending = ops.filter((op) => op.node === i && op.ret === undefined);
      left = i;
      leftAt = sim.now;
      state[i] = 'left';
      const committedAtLeave = g.committed;
      await g.leave();
      await waitUntil(sim, sim.now + 5_000, () => pending.every((op) => op.ret !== undefined));
      for (const op of pending) {
        // One that settled at the very instant of the leave completed just before it (its
        // callbacks had not run yet when the pending ones were listed): not a pending call.
        if (op.ret === leftAt && op.error === undefined) continue;
        // Nor one the node had completed before it left, at an index it had committed then,
        // whose result waited for the node's storage to sync (plans with `syncMs`).
        if (op.error === undefined && op.index !== undefined && op.index <= committedAtLeave) continue;
        if (op.ret === undefined) problem(`n${i} left the group, but its ${op.kind} called at ${op.call} ms is still pending`);
        else if (op.error !== 'GroupClosedError')
          problem(
            `n${i} left the group at ${leftAt} ms; its ${op.kind} called at ${op.call} ms ended at ${op.ret} ms with ${op.error ?? 'success'} instead of GroupClosedError`,
          );
      }
      const after = await g.execute({ op: 'add', d: 0 }).then(
        () => 'success',
        (e: unknown) => (e instanceof Error ? e.name : String(e)),
      );
      if (after !== 'GroupClosedError') problem(`a call on n${i} after it left ended with ${after} instead of GroupClosedError`);
      details.leave = { node: i, atMs: leftAt, pendingCalls: pending.length, callAfter: after };
    };

    const crashOne = async () => {
      await fullStrength('the crash');
      const i = pickVoter();
      if (i === undefined) {
        problem('no voter to crash: the group has no leader it agrees on');
        return;
      }
      crashed = i;
      crashedAt = sim.now;
      state[i] = 'crashed';
      sim.crash(nets[i] as Network);
    };

    await sim.run(async () => {
      for (let i = 0; i < FOUNDERS; i++) join(i);
      const founders = groups.slice(0, FOUNDERS) as ChaosGroup[];
      if (!(await waitUntil(sim, FORM_BY_MS, () => founders.every((g) => g.leader !== undefined && g.members().voters.length === FOUNDERS))))
        problem(`the founders did not form the group within ${FORM_BY_MS} ms on a quiet network`);
      details.formedAtMs = sim.now;

      const script: { at: number; run: () => void | Promise<void> }[] = [
        ...joiners.map((i) => ({ at: joinAt.get(i) ?? 0, run: () => join(i) })),
        { at: observerAt, run: () => join(observer, 'observer') },
        { at: leaveAt, run: leaveOne },
        { at: crashAt, run: crashOne },
      ].sort((a, b) => a.at - b.at);
      for (const step of script) {
        if (sim.now < step.at) await sim.sleep(step.at - sim.now);
        await step.run();
      }
      if (sim.now < FAULTS_END_MS) await sim.sleep(FAULTS_END_MS - sim.now);
      // The faults stop: no quiesce(), which would restart the crashed voter.
      sim.nemesis?.stop();
      sim.heal();
      for (const net of nets) sim.skewClock(net, 0);
      const quietAt = sim.now;
      details.faultsInjected = Object.fromEntries(sim.nemesis?.injected ?? []);

      // Calls still hanging well after the clients stopped are stuck: report, move on.
      let settled = false;
      void Promise.all(loops).then(() => {
        settled = true;
      });
      if (!(await waitUntil(sim, clientsStop + 30_000, () => settled, 500))) problem('client calls still pending 30 s after the clients stopped');

      // One configuration and one state, within the bound.
      const deadline = quietAt + SETTLE_BOUND_MS;
      const live = members();
      const mayVote = live.filter((i) => i !== observer);
      const expected = Math.min(MAX_VOTERS, mayVote.length);
      let last: { index: number } | undefined;
      while (last === undefined && sim.now < deadline) {
        for (const i of live) {
          if (sim.now >= deadline) break;
          last = await within(sim, 5_000, (groups[i] as ChaosGroup).execute({ op: 'add', d: 0 }));
          if (last !== undefined) break;
        }
        if (last === undefined) await sim.sleep(500);
      }
      if (last === undefined) problem(`no live member got a command committed within ${SETTLE_BOUND_MS} ms of the faults stopping`);
      const lastIndex = last?.index ?? 0;
      let why = 'never checked';
      const agreed = await waitUntil(
        sim,
        deadline,
        () => {
          const views = live.map((i) => ({ i, g: probe.group(nets[i] as Network) }));
          const missing = views.filter((v) => v.g === undefined).map((v) => `n${v.i}`);
          if (missing.length > 0) {
            why = `${missing.join(',')} not a member`;
            return false;
          }
          const applied = views.map((v) => v.g?.raft.log.applied ?? 0);
          if (new Set(applied).size !== 1 || (applied[0] ?? 0) < lastIndex) {
            why = `applied indices ${views.map((v, k) => `n${v.i}=${applied[k]}`).join(' ')} (last command at ${lastIndex})`;
            return false;
          }
          const confs = views.map((v) => `${short([...(v.g?.raft.conf.voters ?? [])].sort())}|${short([...(v.g?.raft.conf.learners ?? [])].sort())}`);
          if (new Set(confs).size !== 1) {
            why = `members disagree on the configuration: ${views.map((v, k) => `n${v.i}: ${confs[k]}`).join('; ')}`;
            return false;
          }
          const voters = (views[0]?.g?.raft.conf.voters ?? []).map(peerOfMember);
          const wrong = voters.filter((h) => !mayVote.includes(indexOfHex.get(h) ?? -1));
          if (voters.length !== expected || wrong.length > 0) {
            why = `voters ${short(voters)}: expected ${expected} of the live members that may vote (${mayVote.map((i) => `n${i}`).join(',')})`;
            return false;
          }
          return true;
        },
        250,
      );
      if (!agreed) problem(`${SETTLE_BOUND_MS} ms after the faults stopped, the live members had not settled: ${why}`);
      else details.settledAfterFaultsMs = sim.now - quietAt; // includes the 10 s the clients keep going
      const states = await Promise.all(
        live.map((i) =>
          (groups[i] as ChaosGroup)
            .query(null, 'weak')
            .then((r) => JSON.stringify(r.result))
            .catch(() => 'unreadable'),
        ),
      );
      if (new Set(states).size !== 1) problem(`live members ended with different states: ${live.map((i, k) => `n${i} ${states[k]}`).join(' | ')}`);
      details.finalState = states[0];
      const finalConf = probe.group(nets[live[0] ?? 0] as Network)?.raft.conf;
      details.finalVoters = short(finalConf?.voters ?? []);
      details.finalLearners = short(finalConf?.learners ?? []);
      details.finalApplied = live.map((i) => probe.group(nets[i] as Network)?.raft.log.applied ?? -1);
      details.snapshotsInstalled = snapshotsInstalled();
      // Since each live member's last start (`--max-uncommitted-bytes`).
      details.proposalsRefusedFull = live.reduce((n, i) => n + (groups[i]?.status()?.stats.proposalsRefusedFull ?? 0), 0);
      const confVoters = (finalConf?.voters ?? []).map(peerOfMember);
      if (left !== undefined && confVoters.includes(hexOf(left))) problem(`n${left} left the group but is still a voter`);
      if (crashed !== undefined && confVoters.includes(hexOf(crashed))) problem(`n${crashed} crashed for good but is still a voter`);
    });

    // The observer never voted, in any configuration anyone applied.
    const observerHex = hexOf(observer);
    const confs = [...probe.confs.values()].sort((a, b) => a.index - b.index);
    const asVoter = confs.find((c) => c.voters.includes(observerHex));
    if (asVoter !== undefined)
      problems.push({
        message: `the observer n${observer} is a voter in the configuration at index ${asVoter.index}: ${short(asVoter.voters)}`,
        atMs: asVoter.atMs,
      });
    const removedAt = (i: number | undefined, since: number | undefined) =>
      i === undefined || since === undefined ? undefined : confs.find((c) => c.atMs >= since && !c.voters.includes(hexOf(i)))?.atMs;
    const leftOutAt = removedAt(left, leftAt);
    const replacedAt = removedAt(crashed, crashedAt);

    const h = histories(ops);
    const lin = checkRegisterAndCounter(h, options.checkBudget);
    for (const v of lin.violations) problems.push({ message: v, atMs: sim.now });
    return scenarioResult(
      raftMembership.name,
      options,
      sim,
      wallStart,
      count,
      {
        ...details,
        script: {
          joins: Object.fromEntries(joiners.map((i) => [`n${i}`, joinAt.get(i)])),
          observer: { node: observer, atMs: observerAt },
          left:
            left === undefined ? undefined : { node: left, atMs: leftAt, outOfVotersAfterMs: leftOutAt === undefined ? undefined : leftOutAt - (leftAt ?? 0) },
          crashed:
            crashed === undefined
              ? undefined
              : { node: crashed, atMs: crashedAt, replacedAfterMs: replacedAt === undefined ? undefined : replacedAt - (crashedAt ?? 0) },
        },
        fullStrengthWaitMs: waits,
        configurations: confs.length,
        ops: { ok: h.ok, unknown: h.unknown, offline: h.offline, register: h.reg.length, counter: h.ctr.length, outcomes: errorCounts(ops) },
        linearizability: lin.verdicts,
      },
      problems,
      lin.inconclusive,
    );
  },
};
