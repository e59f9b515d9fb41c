import type { Network } from '../api/network.ts';
import { MosaikError } from '../core/errors.ts';
import { intBetween } from '../core/util/rng.ts';
import { CloseCode } from '../core/wire/close-codes.ts';
import type { Checker } from '../net-sim/checker.ts';
import { rngStream } from '../net-sim/rng.ts';
import { type Scenario, type ScenarioOptions, type ScenarioResult, scenarioResult, scenarioSimulation, WIRE_BUGS, wireBugOf } from './scenario.ts';

/**
 * ping-mesh: N nodes ping each other at random under swarm faults (safety phase), then the
 * faults stop and every node must reach every other (liveness phase).
 *
 * Invariants:
 * - every ping settles, answered or failed with a typed error, within its timeout, and no
 *   request is left pending at the end;
 * - reliable links deliver each frame once, in order (checked by the wire model), and no
 *   link is ever closed for a protocol violation;
 * - once faults stop and links settle, every ping between live nodes is answered.
 */
export const PING_TIMEOUT_MS = 2_000;
const SAFETY_PHASE_MS = 60_000;
const PINGERS_PER_NODE = 2;

export const pingMesh: Scenario = {
  name: 'ping-mesh',
  description: 'N nodes ping each other under swarm faults; every ping settles, links stay FIFO, all pairs recover',
  defaultNodes: 5,
  plantedBugs: {
    'drop-replies-after-restart': 'a restarted node stops answering pings',
    'reply-twice': 'every ping is answered twice',
    ...WIRE_BUGS,
  },
  run: runPingMesh,
};

interface Tally {
  sent: number;
  answered: number;
  failed: Record<string, number>;
  rttMsMax: number;
}

export async function runPingMesh(options: ScenarioOptions): Promise<ScenarioResult> {
  const wallStart = performance.now();
  const nodeCount = options.nodes ?? pingMesh.defaultNodes;
  if (!Number.isInteger(nodeCount) || nodeCount < 2) throw new RangeError(`ping-mesh needs at least 2 nodes, got ${nodeCount}`);
  const bugs = options.plantedBugs ?? [];
  const sim = scenarioSimulation(options, { ...(wireBugOf(bugs) && { plantedWireBug: wireBugOf(bugs) }) });
  const pingBugs = { dropRepliesAfterRestart: bugs.includes('drop-replies-after-restart'), replyTwice: bugs.includes('reply-twice') };
  const nets = Array.from({ length: nodeCount }, () => sim.node({ network: 'ping-mesh', plantedBugs: { ping: pingBugs } }));
  const rng = rngStream(options.seed, 'workload');
  const tally: Tally = { sent: 0, answered: 0, failed: {}, rttMsMax: 0 };
  const name = (n: Network) => `n${sim.indexOf(n)}`;

  sim.addChecker(noProtocolViolations);
  const violations: { atMs: number; message: string }[] = [];
  const record = (message: string) => violations.push({ atMs: sim.now, message });

  // One ping, checked: it settles, with a typed outcome, within its timeout. On storage that
  // takes time to sync, a node's outputs wait in order behind its writes (discovery's, here):
  // the one under way and the next, so a settlement may come up to two syncs late.
  const settleBoundMs = PING_TIMEOUT_MS + 2 * (sim.plan.syncMs?.max ?? 0);
  const pingChecked = async (from: Network, to: Network): Promise<{ ok: true } | { ok: false; error: string }> => {
    const startedAt = sim.now;
    tally.sent++;
    try {
      const { rttMs } = await from.ping(to.addr, { timeoutMs: PING_TIMEOUT_MS });
      tally.answered++;
      tally.rttMsMax = Math.max(tally.rttMsMax, rttMs);
      return { ok: true };
    } catch (error) {
      const label = error instanceof MosaikError ? error.name : `untyped ${String(error)}`;
      tally.failed[label] = (tally.failed[label] ?? 0) + 1;
      if (!(error instanceof MosaikError)) record(`${name(from)} -> ${name(to)} ping failed with an untyped error: ${String(error)}`);
      return { ok: false, error: label };
    } finally {
      const elapsed = sim.now - startedAt;
      if (elapsed > settleBoundMs) record(`${name(from)} -> ${name(to)} ping settled after ${elapsed} ms (timeout ${PING_TIMEOUT_MS}, bound ${settleBoundMs})`);
    }
  };
  await sim.run(async () => {
    // Safety phase: every node runs a few pingers under the nemesis.
    const pinger = async (from: Network) => {
      while (sim.now < SAFETY_PHASE_MS) {
        const others = nets.filter((n) => n !== from);
        const to = others[intBetween(rng, 0, others.length - 1)] as Network;
        await pingChecked(from, to);
        await sim.sleep(intBetween(rng, 50, 1_000));
      }
    };
    await Promise.all(nets.flatMap((n) => Array.from({ length: PINGERS_PER_NODE }, () => pinger(n))));

    // Liveness phase: faults stop; once stale links have timed out, every pair must work.
    sim.quiesce();
    await sim.sleep(sim.plan.idleTimeoutMs + sim.plan.connectTimeoutMs + 2 * PING_TIMEOUT_MS);
    await Promise.all(
      nets.map(async (from) => {
        for (const to of nets) {
          if (to === from) continue;
          const outcome = await pingChecked(from, to);
          if (!outcome.ok) record(`liveness: ${name(from)} -> ${name(to)} failed after faults stopped: ${outcome.error}`);
        }
      }),
    );
    // Let in-flight frames land so the trace covers the end of every exchange.
    await sim.sleep(PING_TIMEOUT_MS);
  });

  for (const net of nets) {
    const pending = sim.pendingRequests(net);
    if (pending > 0) record(`${name(net)} still has ${pending} requests pending at the end`);
  }
  return scenarioResult(
    pingMesh.name,
    options,
    sim,
    wallStart,
    nodeCount,
    { pings: tally, linksLost: sim.stats.linksLost, faultsInjected: Object.fromEntries(sim.nemesis?.injected ?? []) },
    violations,
  );
}

/** No well-behaved node ever closes a link for a protocol violation on a reliable network. */
const noProtocolViolations: Checker = {
  name: 'no-protocol-violations',
  onEvent(view, net, event) {
    if (event.type === 'link.down' && event.code === CloseCode.ProtocolViolation && event.by === 'local') {
      view.violate('no-protocol-violations', `${net.peerId.short} closed link ${event.link} to ${event.peer.short}: ${event.reason}`);
    }
  },
};
