/**
 * Benchmark: the simulator running ping-mesh with 50 nodes. Not a test: it prints figures,
 * it asserts nothing. Three operating points:
 *  - saturated: every node keeps several pings in flight back to back on a quiet network, to
 *    measure delivered messages per second of wall time (each one encoded by the sender's
 *    machine, carried, decoded and schema-checked by the receiver's, as in a real run);
 *  - heartbeat: a quiet network where each node pings one random peer per second for twenty
 *    simulated minutes, a background load like membership heartbeats, to measure simulated
 *    time per wall time: over the whole run, over its first ten minutes (start-up: links
 *    opening, code warming up) and over the last ten alone (the steady state);
 *  - scenario: the `ping-mesh` scenario itself (swarm faults, two pingers per node pausing
 *    50-1000 ms between pings), to measure how much faster than real time it runs.
 * Run: npm run bench [-- --nodes 50 --seconds 20 --in-flight 8 --seed 1 --only saturated|heartbeat|scenario]
 * (`--only` runs one operating point, for profiling it alone.)
 */
import { intBetween } from '../../core/util/rng.ts';
import { rngStream } from '../../net-sim/rng.ts';
import { Simulation } from '../../net-sim/simulation.ts';
import { runPingMesh } from '../../scenarios/ping-mesh.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';

const { flags } = parseArgs(process.argv.slice(2), {
  nodes: 'string',
  seconds: 'string',
  'in-flight': 'string',
  seed: 'string',
  json: 'boolean',
  only: 'string',
});
const nodes = parseInteger(flags.nodes, '--nodes', 2) ?? 50;
const simulatedSeconds = parseInteger(flags.seconds, '--seconds', 1) ?? 20;
const inFlight = parseInteger(flags['in-flight'], '--in-flight', 1) ?? 8;
const seed = parseInteger(flags.seed, '--seed') ?? 1;
const only = flags.only;
if (only !== undefined && !['saturated', 'heartbeat', 'scenario'].includes(only)) throw new Error(`--only takes saturated, heartbeat or scenario, got ${only}`);
const runs = (point: string) => only === undefined || only === point;

/** Simulated time over wall time for one stretch of a run. */
function stretch(simulatedMs: number, wallMs: number) {
  return { simulatedMs, wallMs: Math.round(wallMs), simulatedPerWall: Math.round(simulatedMs / wallMs) };
}

/**
 * `markSeconds`: also measure the stretches before and after that simulated time on their
 * own (simulated and wall time; messages after it): after it, start-up is behind (the links
 * are open and the code is warm).
 */
async function saturated(inFlightPerNode: number, pauseMs: number, seconds: number, markSeconds?: number) {
  const sim = new Simulation({ seed, faults: 'none', ...scenarioCrypto });
  const nets = Array.from({ length: nodes }, () => sim.node({ network: 'bench' }));
  const rng = rngStream(seed, 'bench');
  const endMs = seconds * 1_000;
  let answered = 0;
  const cpu = process.cpuUsage();
  const wallStart = performance.now();
  let mark: { readonly wallMs: number; readonly simulatedMs: number; readonly messages: number } | undefined;
  await sim.run(async () => {
    const loop = async (from: (typeof nets)[number], self: number) => {
      while (sim.now < endMs) {
        let to = intBetween(rng, 0, nodes - 2);
        if (to >= self) to++;
        await from.ping((nets[to] as (typeof nets)[number]).addr);
        answered++;
        if (pauseMs > 0) await sim.sleep(pauseMs);
      }
    };
    const marker = async () => {
      if (markSeconds === undefined) return;
      await sim.sleep(markSeconds * 1_000);
      mark = { wallMs: performance.now(), simulatedMs: sim.now, messages: sim.stats.messages };
    };
    await Promise.all([...nets.flatMap((n, i) => Array.from({ length: inFlightPerNode }, () => loop(n, i))), marker()]);
  });
  const wallEnd = performance.now();
  const wallMs = wallEnd - wallStart;
  const used = process.cpuUsage(cpu);
  const { messages, events } = sim.stats;
  return {
    nodes,
    inFlightPerNode,
    simulatedMs: sim.now,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((used.user + used.system) / 1_000),
    pingsAnswered: answered,
    messages,
    events,
    messagesPerWallSecond: Math.round(messages / (wallMs / 1_000)),
    simulatedPerWall: Math.round(sim.now / wallMs),
    ...(mark && {
      beforeMark: stretch(mark.simulatedMs, mark.wallMs - wallStart),
      afterMark: { ...stretch(sim.now - mark.simulatedMs, wallEnd - mark.wallMs), messages: messages - mark.messages },
    }),
  };
}

async function scenario() {
  const result = await runPingMesh({ seed, nodes });
  return {
    nodes,
    ok: result.ok,
    simulatedMs: result.simulatedMs,
    wallMs: result.wallMs,
    messages: result.messages,
    messagesPerWallSecond: Math.round(result.messages / (result.wallMs / 1_000)),
    simulatedPerWall: Math.round(result.simulatedMs / result.wallMs),
  };
}

const heapBefore = process.memoryUsage().heapUsed;
const sat = runs('saturated') ? await saturated(inFlight, 0, simulatedSeconds) : undefined;
// Twenty simulated minutes, reported whole and for each half alone. The first ten carry
// the start-up: every node opens links to its 49 peers over the first 100 s or so (each
// link open costs about as much as five pings), and the code warms up. The last ten are
// the steady state of a long simulation.
const beat = runs('heartbeat') ? await saturated(1, 1_000, 1_200, 600) : undefined;
const scen = runs('scenario') ? await scenario() : undefined;
const report = {
  node: process.version,
  saturated: sat,
  heartbeat: beat,
  scenario: scen,
  heapUsedMb: Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6),
};
if (flags.json) {
  console.log(JSON.stringify(report));
} else {
  console.log(`ping-mesh benchmark, seed ${seed}, ${nodes} nodes (${process.version})`);
  if (sat)
    console.log(
      `  saturated (${inFlight} pings in flight per node, quiet network): ${sat.messagesPerWallSecond.toLocaleString('en-US')} delivered messages/s wall; ` +
        `${sat.messages.toLocaleString('en-US')} messages in ${sat.wallMs} ms wall (${sat.cpuMs} ms CPU) for ${sat.simulatedMs} ms simulated (${sat.simulatedPerWall}x)`,
    );
  if (beat)
    console.log(
      `  heartbeat (1 ping per node per second, quiet network): ${beat.simulatedPerWall.toLocaleString('en-US')}x simulated/wall; ` +
        `${beat.simulatedMs} ms simulated in ${beat.wallMs} ms wall, ${beat.messages.toLocaleString('en-US')} messages` +
        (beat.beforeMark && beat.afterMark
          ? `\n    first ${beat.beforeMark.simulatedMs / 60_000} simulated minutes (links opening, code warming up): ${beat.beforeMark.simulatedPerWall.toLocaleString('en-US')}x (${beat.beforeMark.wallMs} ms wall)` +
            `; the rest alone (steady state): ${beat.afterMark.simulatedPerWall.toLocaleString('en-US')}x (${beat.afterMark.simulatedMs} ms simulated in ${beat.afterMark.wallMs} ms wall)`
          : ''),
    );
  if (scen)
    console.log(
      `  scenario (swarm faults, paced workload): ${scen.simulatedPerWall.toLocaleString('en-US')}x simulated/wall; ` +
        `${scen.simulatedMs} ms simulated in ${scen.wallMs} ms wall, ${scen.messages.toLocaleString('en-US')} messages (${scen.messagesPerWallSecond.toLocaleString('en-US')}/s), ok=${scen.ok}`,
    );
}
