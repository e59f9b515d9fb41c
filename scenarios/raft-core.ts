import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { UnsafeRaftVariant } from '../core/raft/types.ts';
import { AssertionError } from '../core/util/assert.ts';
import type { Violation } from '../net-sim/checker.ts';
import { type Cluster, SafetyViolation } from '../net-sim/raft-cluster/cluster.ts';
import { clusterFor, formatSchedule, generateSchedule, LivenessFailure, runScheduleOn } from '../net-sim/raft-cluster/schedule.ts';
import type { Scenario, ScenarioOptions, ScenarioResult } from './scenario.ts';

/**
 * `raft-core`: the Raft machines alone (`core/raft`), 3 or 5 voters and a spare, driven by a
 * schedule the seed draws (net-sim/raft-cluster/schedule.ts): deliveries in any order, drops,
 * duplicates, partitions, crashes that keep or lose in-flight messages, pauses, proposals,
 * reads, compaction, transfers and membership changes, with swarm weights, then a heal and
 * a final write that must reach every node. The cluster driver checks election safety,
 * state-machine safety, log matching, leader completeness, linearizable reads and durability
 * at every step.
 *
 * Why beside `raft-chaos`: there the machines run under groups, bonds and real-shaped links,
 * where a crash drops the messages in flight and a candidate never asks twice in one term.
 * Some unsafe variants need exactly such a message (a vote request that outlives a voter's
 * restart), so they cannot show there however long the campaign; here every message is
 * a free-standing packet the schedule may deliver late, twice, or never.
 *
 * Time is logical (ticks), so `simulatedMs` is 0; `details.ticks` counts them. The trace
 * hash covers the schedule, every node's final state and the applied history.
 */

const RAFT_BUGS: Readonly<Record<string, UnsafeRaftVariant>> = {
  'vote-without-log-check': 'vote-without-log-check',
  'commit-previous-term': 'commit-previous-term',
  'vote-not-persisted': 'vote-not-persisted',
  'read-without-quorum': 'read-without-quorum',
};

export const raftCore: Scenario = {
  name: 'raft-core',
  description: 'the Raft machines alone under seeded schedules of deliveries, drops, duplicates, partitions, crashes and membership changes',
  defaultNodes: 5,
  plantedBugs: {
    'vote-without-log-check': 'Raft grants votes without the log up-to-date check',
    'commit-previous-term': "a leader commits an earlier term's entries by counting replicas and appends no no-op (Figure 8)",
    'vote-not-persisted': 'Raft replies to a vote before the vote is durable: a restart forgets it',
    'read-without-quorum': 'a leader serves ReadIndex reads without confirming its leadership with a heartbeat round',
  },
  run: async (options) => runRaftCore(options),
};

function runRaftCore(options: ScenarioOptions): ScenarioResult {
  const wallStart = performance.now();
  const unsafe = (options.plantedBugs ?? []).map((name) => RAFT_BUGS[name]).filter((v): v is UnsafeRaftVariant => v !== undefined);
  const { shape, weights, actions } = generateSchedule(options.seed);
  const schedule = formatSchedule(shape, actions);
  const violations: Violation[] = [];
  const cluster = clusterFor(shape, { unsafe });
  try {
    runScheduleOn(cluster, actions);
  } catch (e) {
    violations.push(violationOf(e));
  }
  const trace = traceOf(schedule, cluster, violations);
  return {
    scenario: raftCore.name,
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    traceHash: trace.hash,
    simulatedMs: 0,
    wallMs: Math.round(performance.now() - wallStart),
    events: actions.length + cluster.stats.delivered,
    messages: cluster.stats.delivered,
    nodes: shape.voters + 1,
    details: {
      voters: shape.voters,
      actions: actions.length,
      ticks: cluster.stats.ticks,
      weights,
      delivered: cluster.stats.delivered,
      dropped: cluster.stats.dropped,
      crashes: cluster.stats.crashes,
      snapshotsInstalled: cluster.stats.snapshotsInstalled,
      readsServed: cluster.stats.readsServed,
      acked: cluster.proposals.filter((p) => p.status === 'acked').length,
      terms: Math.max(0, ...cluster.upIds().map((id) => cluster.raft(id).term)),
      // The same schedule runs under vitest, where a debugger and the harness's own trace are at hand.
      ...(violations.length > 0 && {
        schedule,
        replayInTests: `${unsafe.length > 0 ? `RAFT_UNSAFE=${unsafe[0]} ` : ''}RAFT_REPLAY='${schedule}' npx vitest run test/raft/raft.property.test.ts -t RAFT_REPLAY`,
      }),
    },
    inconclusive: [],
    ...(options.keepTrace && { trace: trace.lines }),
  };
}

/** A safety check (or the core's own assertion) is a violation; so is a cluster that does not recover. */
function violationOf(e: unknown): Violation {
  if (e instanceof SafetyViolation) return { checker: `raft-core/${e.check}`, message: e.message, atMs: 0 };
  if (e instanceof AssertionError) return { checker: 'raft-core/assertion', message: e.message, atMs: 0 };
  if (e instanceof LivenessFailure) return { checker: 'raft-core/liveness', message: e.message, atMs: 0 };
  throw e;
}

function traceOf(schedule: string, cluster: Cluster, violations: readonly Violation[]): { hash: string; lines: string[] } {
  const lines = [schedule];
  for (const id of cluster.ids) {
    if (!cluster.isUp(id)) {
      lines.push(`${id} down`);
      continue;
    }
    const r = cluster.raft(id);
    lines.push(`${id} ${r.role} term=${r.term} last=${r.log.lastIndex()} commit=${r.log.commit} applied=${cluster.machine(id).applied}`);
  }
  for (const [index, { term, key }] of cluster.appliedLog()) lines.push(`applied ${index} t${term} ${key}`);
  for (const v of violations) lines.push(`violation ${v.checker}: ${v.message}`);
  return { hash: bytesToHex(blake3(new TextEncoder().encode(lines.join('\n')))), lines };
}
