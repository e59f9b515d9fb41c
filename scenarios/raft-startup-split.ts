import type { Network } from '../api/network.ts';
import { compareFormations } from '../core/groups/formation.ts';
import { DEFAULT_CONSENSUS } from '../core/groups/group-id.ts';
import { intBetween } from '../core/util/rng.ts';
import { raftSafetyChecker } from '../net-sim/checkers/groups.ts';
import { type FaultPlan, QUIET_PLAN, swarmPlan } from '../net-sim/fault-plan.ts';
import { rngStream } from '../net-sim/rng.ts';
import { SIM_EPOCH_MS } from '../net-sim/sim-node.ts';
import { type ChaosGroup, type ClientOp, checkRegisterAndCounter, errorCounts, GroupProbe, histories, runClient, waitUntil, within } from './group-workload.ts';
import { ChaosMachine, GROUP_PLANTED_BUGS, groupBugsOf } from './raft-chaos.ts';
import { joinLimits, SCENARIO_DISCOVERY_TIMING, type Scenario, type ScenarioOptions, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * `raft-startup-split`: the group's members start on the two sides of a partition (sizes
 * and which nodes, from the seed: 2|3 or 1|4 with the default 5 nodes), join at once and
 * cannot hear each other until the partition heals, 10 to 30 s in (seed). Odd seeds use
 * `bootstrapExpect` 1, so each side forms a formation of its own; on half of them the
 * bootstrap delay is also cut from 3 s to under one, so members form before they have
 * bonded, several formations to a side, which then merge. Even seeds use 3, so only a side
 * of three or more may form. Two clients per node write, add and read on both sides throughout.
 * When the partition heals, the formations meet and the earlier one (smaller `formedAtMs`,
 * then id: see core/groups/formation.ts) must win: the others' members emit
 * `group.formationLost`, fail their pending calls with FormationLostError, wipe their state
 * and join it as new members.
 *
 * Faults: the start-up partition, clock skew of up to ±3 s on about half the nodes (so the
 * formation formed first in real time is not always the earlier by the clocks), and the
 * seed's link latencies; no nemesis. `--faults none`: the partition only, on a quiet LAN.
 *
 * Checked: Raft safety within each formation (`raft-safety`); before the heal, no node of a
 * side smaller than `bootstrapExpect` belongs to a formation; within `CONVERGE_BOUND_MS` of
 * the heal every node is in one formation, the earliest of all that formed; every formation
 * lost says the winner is earlier, and every node seen in a formation other than the winner
 * reported losing it; calls fail with FormationLostError only on nodes that lost their
 * formation, and only calls made there; at the end every node has applied the same index
 * and holds the same state; and the operations called while the calling node was in the
 * winning formation are linearizable (calls that may have reached a leader and then failed,
 * or never returned, may have happened or not; calls made in a losing formation are left
 * out: their history was discarded).
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const CLIENTS_PER_NODE = 2;
const HEAL_MS = { min: 10_000, max: 30_000 } as const;
const CLIENTS_AFTER_HEAL_MS = 20_000;
/** After the heal: time for every node to end up in one formation. */
const CONVERGE_BOUND_MS = 40_000;
/** After the clients stop: time for every node to apply the same index. */
const SETTLE_BOUND_MS = 30_000;
const SKEW_MAX_MS = 3_000;
const PAUSE_MS = { min: 20, max: 250 } as const;
const MAX_SIMULATED_MS = 5 * 60_000;
const KEY = 'raft-startup-split';

/** The seed's network (latencies, timeouts) with no nemesis: the partition is the scenario's own. */
export function splitPlan(options: ScenarioOptions): FaultPlan {
  if (options.faults === 'none') return QUIET_PLAN;
  return { ...swarmPlan(rngStream(options.seed, 'swarm')), nemesis: undefined };
}

/** `bootstrapExpect` by seed: 1 for odd seeds (both sides form), 3 for even ones (only a side of three or more). */
export function splitBootstrapExpect(seed: number): number {
  return Math.abs(seed) % 2 === 1 ? 1 : 3;
}

export const raftStartupSplit: Scenario = {
  name: 'raft-startup-split',
  description:
    'members start split by a partition (bootstrapExpect 1 on odd seeds, 3 on even), clients on both sides, heal after 10-30 s: the earlier formation wins, losers report formationLost and rejoin; Raft safety per formation, one formation and state after the heal, linearizable winning history',
  defaultNodes: 5,
  plantedBugs: GROUP_PLANTED_BUGS,
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 5;
    if (!Number.isInteger(count) || count < 3) throw new RangeError(`raft-startup-split needs at least 3 nodes, got ${count}`);
    const sim = scenarioSimulation(options, { faults: splitPlan(options), maxSimulatedMs: MAX_SIMULATED_MS });
    sim.addChecker(raftSafetyChecker());
    const probe = new GroupProbe((net) => sim.indexOf(net));
    sim.addChecker(probe);
    const problems: { message: string; atMs: number }[] = [];
    const problem = (message: string) => problems.push({ message, atMs: sim.now });
    const plantedBugs = { groups: groupBugsOf(options.plantedBugs) };

    const rng = rngStream(options.seed, 'split');
    const expect = Math.min(count, splitBootstrapExpect(options.seed));
    const small = intBetween(rng, 1, Math.floor(count / 2));
    const sizeA = rng.float() < 0.5 ? small : count - small;
    const healAt = intBetween(rng, HEAL_MS.min, HEAL_MS.max);
    // With bootstrapExpect 1, half the seeds also cut the bootstrap delay to under a second:
    // members then form before they have bonded, several formations to a side.
    const hasty = expect === 1 && rng.float() < 0.5;
    const bootstrapDelayMs = hasty ? intBetween(rng, 0, 1_000) : DEFAULT_CONSENSUS.bootstrapDelayMs;
    const clientsStop = healAt + CLIENTS_AFTER_HEAL_MS;
    // Side A is nodes 0..sizeA-1, side B the rest. Each node bootstraps from the first node of
    // its side and from node 0, so after the heal side B's hint leads it to side A.
    const nets: Network[] = [];
    for (let i = 0; i < count; i++) {
      const boot = i < sizeA ? [nets[0]] : [nets[sizeA], nets[0]];
      const bootstrap = boot.filter((n): n is Network => n !== undefined).map((n) => n.addr);
      nets.push(sim.node({ network: KEY, bootstrap, discovery: TIMING, plantedBugs }));
    }
    const sideA = nets.slice(0, sizeA);
    const sideB = nets.slice(sizeA);
    sim.partition(sideA, sideB);
    const skews: Record<string, number> = {};
    if (options.faults !== 'none')
      for (const [i, net] of nets.entries()) {
        if (rng.float() >= 0.5) continue;
        const ms = intBetween(rng, -SKEW_MAX_MS, SKEW_MAX_MS);
        sim.skewClock(net, ms);
        skews[`n${i}`] = ms;
      }

    const ops: ClientOp[] = [];
    const details: Record<string, unknown> = {};
    const sides = { A: sideA.map((_, i) => `n${i}`), B: sideB.map((_, i) => `n${sizeA + i}`) };
    let winner: string | undefined;
    await sim.run(async () => {
      const groups: ChaosGroup[] = nets.map((net) =>
        net.groups.join({
          key: KEY,
          machine: new ChaosMachine(),
          bootstrapExpect: expect,
          maxVoters: 5,
          consensus: { bootstrapDelayMs },
          ...joinLimits(options),
        }),
      );
      const loops: Promise<void>[] = [];
      for (const [i, net] of nets.entries()) {
        for (let k = 0; k < CLIENTS_PER_NODE; k++) {
          const id = `n${i}.${k + 1}`;
          loops.push(
            runClient({
              sim,
              net,
              group: () => groups[i],
              id,
              clientNo: i * CLIENTS_PER_NODE + k + 1,
              rng: rngStream(options.seed, `client/${id}`),
              ops,
              stopAt: () => clientsStop,
              pauseMs: PAUSE_MS,
              tag: () => probe.observe(net),
            }),
          );
        }
      }

      // The split: watch who forms.
      await sim.sleep(healAt);
      for (const net of nets) probe.observe(net);
      const formedBefore = (side: readonly Network[]) => [...new Set(side.flatMap((net) => probe.nodeFormations.get(sim.indexOf(net)) ?? []))];
      details.beforeHeal = { A: formedBefore(sideA), B: formedBefore(sideB) };
      for (const [name, side] of [
        ['A', sideA],
        ['B', sideB],
      ] as const) {
        if (side.length >= expect) continue;
        for (const net of side) {
          const seen = probe.nodeFormations.get(sim.indexOf(net)) ?? [];
          if (seen.length > 0)
            problem(
              `n${sim.indexOf(net)}, on side ${name} of ${side.length} node(s), was in formation ${seen.join(',')} before the heal, though bootstrapExpect is ${expect}`,
            );
        }
      }
      sim.heal();

      // One formation, within the bound.
      const one = () => {
        const fs = nets.map((net) => probe.observe(net));
        return fs.every((f) => f !== undefined && f === fs[0]) ? fs[0] : undefined;
      };
      if (await waitUntil(sim, healAt + CONVERGE_BOUND_MS, () => one() !== undefined)) {
        winner = one();
        details.convergedAfterHealMs = sim.now - healAt;
      } else
        problem(
          `${CONVERGE_BOUND_MS} ms after the heal the nodes are still in different formations: ${nets.map((net) => `n${sim.indexOf(net)}=${probe.observe(net) ?? 'none'}`).join(' ')}`,
        );

      let settled = false;
      void Promise.all(loops).then(() => {
        settled = true;
      });
      if (!(await waitUntil(sim, clientsStop + SETTLE_BOUND_MS, () => settled, 500)))
        problem(`client calls still pending ${SETTLE_BOUND_MS} ms after the clients stopped`);

      // A last command everyone must apply; then one applied index and one state.
      const deadline = sim.now + SETTLE_BOUND_MS;
      let last: { index: number } | undefined;
      while (last === undefined && sim.now < deadline) {
        for (const g of groups) {
          if (sim.now >= deadline) break;
          last = await within(sim, 5_000, g.execute({ op: 'add', d: 0 }));
          if (last !== undefined) break;
        }
        if (last === undefined) await sim.sleep(500);
      }
      if (last === undefined) problem('the final command did not commit');
      const lastIndex = last?.index ?? 0;
      const applied = () => nets.map((net) => probe.group(net)?.raft.log.applied ?? -1);
      const same = await waitUntil(sim, deadline, () => {
        const a = applied();
        return new Set(a).size === 1 && (a[0] ?? 0) >= lastIndex;
      });
      if (!same) problem(`the nodes did not apply the same index within ${SETTLE_BOUND_MS} ms: ${applied().join(',')} (last command at ${lastIndex})`);
      const states = await Promise.all(
        groups.map((g) =>
          g
            .query(null, 'weak')
            .then((r) => JSON.stringify(r.result))
            .catch(() => 'unreadable'),
        ),
      );
      if (new Set(states).size !== 1) problem(`the nodes ended with different states: ${states.join(' | ')}`);
      details.finalState = states[0];
      details.finalApplied = applied();
      details.finalVoters = (groups[0]?.members().voters ?? []).length;
    });

    // The winner is the earliest formation, and every loss was to an earlier one.
    const formations = [...probe.formations.values()];
    const earliest = formations.reduce<(typeof formations)[number] | undefined>((a, f) => (a === undefined || compareFormations(f, a) < 0 ? f : a), undefined);
    if (winner !== undefined && earliest !== undefined && winner !== earliest.hex)
      problem(`the nodes ended in formation ${winner}, but ${earliest.hex} (formed at ${earliest.formedAtMs - SIM_EPOCH_MS} ms by its clock) is earlier`);
    let unverified = 0;
    for (const l of probe.lost) {
      const [lost, won] = [probe.formations.get(l.lost), probe.formations.get(l.winner)];
      if (lost === undefined || won === undefined) unverified++;
      else if (compareFormations(won, lost) >= 0) problem(`n${l.node} gave up formation ${l.lost} for ${l.winner}, which is not earlier`);
      if (winner !== undefined && l.lost === winner) problem(`n${l.node} reported losing the winning formation ${winner}`);
    }
    for (const [node, seen] of probe.nodeFormations) {
      for (const f of seen) {
        if (f === winner) continue;
        if (!probe.lost.some((l) => l.node === node && l.lost === f))
          problem(`n${node} was in formation ${f}, which lost, and never reported group.formationLost for it`);
      }
    }
    const losers = new Set(probe.lost.map((l) => l.node));
    for (const op of ops) {
      if (op.error !== 'FormationLostError') continue;
      if (!losers.has(op.node) || (winner !== undefined && op.tag === winner))
        problem(`n${op.node}'s ${op.kind} called at ${op.call} ms in formation ${op.tag ?? 'none'} failed with FormationLostError`);
    }

    // Linearizability of the winning history.
    const inWinner = (op: ClientOp) => winner !== undefined && op.tag === winner && op.error !== 'FormationLostError';
    const h = histories(ops, inWinner);
    const lin = checkRegisterAndCounter(h, options.checkBudget);
    for (const v of lin.violations) problem(v);
    return scenarioResult(
      raftStartupSplit.name,
      options,
      sim,
      wallStart,
      count,
      {
        ...details,
        bootstrapExpect: expect,
        bootstrapDelayMs,
        sides,
        healAtMs: healAt,
        clockSkewMs: skews,
        formations: formations.map((f) => ({ id: f.hex, formedAtMs: f.formedAtMs - SIM_EPOCH_MS, firstSeenMs: f.firstSeenMs, founder: `n${f.firstNode}` })),
        winner,
        formationLost: probe.lost.map((l) => ({ node: `n${l.node}`, lost: l.lost, winner: l.winner, atMs: l.atMs })),
        formationLossesUnverified: unverified,
        ops: {
          total: ops.length,
          inWinner: ops.filter(inWinner).length,
          ok: h.ok,
          unknown: h.unknown,
          offline: h.offline,
          register: h.reg.length,
          counter: h.ctr.length,
          outcomes: errorCounts(ops),
        },
        linearizability: lin.verdicts,
      },
      problems,
      lin.inconclusive,
    );
  },
};
