import type { Network } from '../api/network.ts';
import type { Checker } from '../net-sim/checker.ts';
import type { Simulation } from '../net-sim/simulation.ts';
import { SCENARIO_DISCOVERY_TIMING, type Scenario, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * Discovery scenarios, on the shared scenario timing (`SCENARIO_DISCOVERY_TIMING`: purge
 * after 300 s, which must exceed the refresh interval plus any clock skew between peers,
 * since entry versions are the owner's wall clock). The departure scenario, free of clock
 * faults, refreshes every 15 s and purges after 60 s.
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const DEPARTURE_TIMING = { ...TIMING, purgeAfterMs: 60_000, refreshIntervalMs: 15_000 } as const;
const WARMUP_MS = 60_000;
/** How long after faults stop every live node must have converged. */
const CONVERGE_BOUND_MS = 120_000;
/** After converging, catalogs must stay complete for longer than a purge period: refreshes must keep every entry alive. */
const STAY_CONVERGED_MS = TIMING.purgeAfterMs + 30_000;

/** Every live node knows exactly the other live nodes, each at least at `minVersion` (its version when the quiet phase began). */
function divergence(sim: Simulation, nets: readonly Network[], minVersion: Map<string, { start: number; update: number }>): string | undefined {
  const live = nets.filter((n) => sim.isUp(n));
  for (const n of live) {
    const known = new Map(n.discovery.peers().map((p) => [p.peerId.hex, p]));
    for (const other of live) {
      if (other === n) continue;
      const entry = known.get(other.peerId.hex);
      if (!entry) return `n${sim.indexOf(n)} does not know n${sim.indexOf(other)}`;
      const min = minVersion.get(other.peerId.hex);
      if (min && (entry.version.start < min.start || (entry.version.start === min.start && entry.version.update < min.update))) {
        return `n${sim.indexOf(n)} holds an old entry of n${sim.indexOf(other)}`;
      }
    }
    const liveIds = new Set(live.map((l) => l.peerId.hex));
    for (const id of known.keys())
      if (!liveIds.has(id) && nets.some((x) => x.peerId.hex === id && sim.isUp(x))) return `n${sim.indexOf(n)} knows a node that is not live`;
  }
  return undefined;
}

/** No node ever learns of a node of another network. */
const isolation: Checker = {
  name: 'discovery-isolation',
  onEvent(view, net, event) {
    if ((event.type === 'discovery.discovered' || event.type === 'discovery.updated') && !event.entry.network.equals(net.networkId)) {
      view.violate('discovery-isolation', `${net.peerId.short} admitted ${event.entry.peerId.short} of network ${event.entry.network.short}`);
    }
  },
};

export const discoveryConverge: Scenario = {
  name: 'discovery-converge',
  description: 'N nodes bootstrap from one peer under swarm faults; after the faults stop, every catalog holds every live node at its latest version',
  defaultNodes: 10,
  plantedBugs: { 'no-refresh': 'nodes never refresh their entries, so peers purge them while they are alive' },
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 10;
    if (!Number.isInteger(count) || count < 2) throw new RangeError(`discovery-converge needs at least 2 nodes, got ${count}`);
    const sim = scenarioSimulation(options);
    const discovery = { ...TIMING, plantedBugs: { noRefresh: options.plantedBugs?.includes('no-refresh') ?? false } };
    const boot = sim.node({ network: 'converge', discovery });
    const nets = [boot, ...Array.from({ length: count - 1 }, () => sim.node({ network: 'converge', bootstrap: [boot.addr], discovery }))];
    sim.addChecker(isolation);
    const problems: { message: string; atMs: number }[] = [];
    let convergedAfterMs: number | undefined;
    await sim.run(async () => {
      await sim.sleep(WARMUP_MS);
      sim.quiesce();
      const quietAt = sim.now;
      const minVersion = new Map(nets.map((n) => [n.peerId.hex, n.discovery.me().version]));
      while (sim.now - quietAt <= CONVERGE_BOUND_MS) {
        if (divergence(sim, nets, minVersion) === undefined) {
          convergedAfterMs = sim.now - quietAt;
          break;
        }
        await sim.sleep(500);
      }
      if (convergedAfterMs === undefined)
        problems.push({ message: `not converged ${CONVERGE_BOUND_MS} ms after faults stopped: ${divergence(sim, nets, minVersion)}`, atMs: sim.now });
      // And it stays converged for two purge periods (entries are refreshed, nobody is purged).
      for (let t = 0; t < STAY_CONVERGED_MS; t += 5_000) {
        await sim.sleep(5_000);
        const off = divergence(sim, nets, new Map());
        if (off) {
          problems.push({ message: `lost convergence: ${off}`, atMs: sim.now });
          break;
        }
      }
    });
    const sent = sim.stats.messages;
    return scenarioResult('discovery-converge', options, sim, wallStart, count, { convergedAfterMs, messagesPerNode: Math.round(sent / count) }, problems);
  },
};

export const discoveryDeparture: Scenario = {
  name: 'discovery-departure',
  description: 'a node that leaves (closed or crashed for good) is purged from every catalog and reported departed',
  defaultNodes: 6,
  plantedBugs: {},
  async run(options) {
    const wallStart = performance.now();
    const count = Math.max(3, options.nodes ?? 6);
    const sim = scenarioSimulation(options, { faults: 'none' });
    const boot = sim.node({ network: 'departure', discovery: DEPARTURE_TIMING });
    const nets = [boot, ...Array.from({ length: count - 1 }, () => sim.node({ network: 'departure', bootstrap: [boot.addr], discovery: DEPARTURE_TIMING }))];
    const problems: { message: string; atMs: number }[] = [];
    const departed = new Map<Network, Set<string>>(nets.map((n) => [n, new Set()]));
    await sim.run(async () => {
      for (const n of nets) {
        void (async () => {
          for await (const e of n.discovery.events()) if (e.type === 'departed') departed.get(n)?.add(e.peer.hex);
        })();
      }
      await Promise.all(nets.map((n) => n.discovery.when.peers(count - 1)));
      const [closed, crashed] = [nets[count - 1] as Network, nets[count - 2] as Network];
      const leftAt = sim.now;
      await closed.close();
      sim.crash(crashed);
      const bound = DEPARTURE_TIMING.purgeAfterMs + 2 * DEPARTURE_TIMING.refreshIntervalMs;
      await sim.sleep(bound);
      for (const n of nets.slice(0, count - 2)) {
        for (const gone of [closed, crashed]) {
          if (!departed.get(n)?.has(gone.peerId.hex))
            problems.push({ message: `n${sim.indexOf(n)} never saw n${sim.indexOf(gone)} depart within ${bound} ms`, atMs: sim.now });
          if (n.discovery.peers().some((p) => p.peerId.equals(gone.peerId)))
            problems.push({ message: `n${sim.indexOf(n)} still lists n${sim.indexOf(gone)}`, atMs: sim.now });
        }
      }
      if (sim.now - leftAt < bound) problems.push({ message: 'run too short', atMs: sim.now });
    });
    return scenarioResult('discovery-departure', options, sim, wallStart, count, {}, problems);
  },
};

export const discoveryIsolation: Scenario = {
  name: 'discovery-isolation',
  description: 'two networks on one simulated wire, bootstrapped across each other, never mix',
  defaultNodes: 8,
  plantedBugs: {},
  async run(options) {
    const wallStart = performance.now();
    const count = Math.max(4, options.nodes ?? 8);
    const sim = scenarioSimulation(options);
    sim.addChecker(isolation);
    const a0 = sim.node({ network: 'red', discovery: TIMING });
    const b0 = sim.node({ network: 'blue', discovery: TIMING });
    const nets = [a0, b0];
    for (let i = 2; i < count; i++) {
      // Every node is given both networks' bootstrap peers: the wrong one must refuse it.
      nets.push(sim.node({ network: i % 2 === 0 ? 'red' : 'blue', bootstrap: [a0.addr, b0.addr], discovery: TIMING }));
    }
    const problems: { message: string; atMs: number }[] = [];
    await sim.run(async () => {
      await sim.sleep(WARMUP_MS);
      sim.quiesce();
      await sim.sleep(CONVERGE_BOUND_MS);
      for (const n of nets) {
        if (!sim.isUp(n)) continue;
        const mates = nets.filter((o) => o !== n && o.networkId.equals(n.networkId) && sim.isUp(o));
        const known = n.discovery.peers();
        if (known.length !== mates.length)
          problems.push({ message: `n${sim.indexOf(n)} knows ${known.length} peers, its network has ${mates.length} others`, atMs: sim.now });
      }
    });
    return scenarioResult('discovery-isolation', options, sim, wallStart, count, {}, problems);
  },
};
