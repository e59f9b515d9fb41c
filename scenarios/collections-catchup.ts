import type { MapHandle, VecHandle } from '../api/collections.ts';
import type { Network } from '../api/network.ts';
import { intBetween, type Rng } from '../core/util/rng.ts';
import { raftSafetyChecker } from '../net-sim/checkers/groups.ts';
import { type FaultPlan, QUIET_PLAN, swarmPlan } from '../net-sim/fault-plan.ts';
import { rngStream } from '../net-sim/rng.ts';
import type { Simulation } from '../net-sim/simulation.ts';
import { enc, groupOf, hex, machineContents } from './collections-chaos.ts';
import { SCENARIO_DISCOVERY_TIMING, type Scenario, type ScenarioOptions, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * `collections-catchup`: a writer fills a Map and a Vec to N entries each while readers join
 * late and catch up from chunked snapshots.
 *
 * Three writers (the groups' voters) on nodes 0–2; node 0 writes, mostly in `extend` batches,
 * with single inserts, overwrites and removes among them (Vec: pushes, pops, a truncate now
 * and then), until the Map holds N entries and the Vec N elements. The other nodes start with
 * the network (discovery is done) but open the collections as readers only later: all but
 * the last at random points of the fill, while writes go on; the last after the fill is
 * complete, so it catches up all N entries at once. `snapshotEveryEntries` is small (the seed
 * picks 8–64 commands), so a late reader's next entry has long been compacted away and it
 * gets the state as a snapshot in 256 KiB chunks. For about half of the seeds a reader
 * crashes in the middle of its catch-up and restarts a little later.
 *
 * N: 10 000 by default; seeds from 1 000 000 up fill 100 000 (`--seeds 1000000-1000004`),
 * and `MOSAIK_CATCHUP_ENTRIES` sets it for any seed. The network: the seed's latencies (from
 * its swarm plan) without the nemesis, or a quiet LAN with `--faults none` (no crash either).
 *
 * Checked: raft safety; every reader reaches the version the writer had when it joined, and
 * then the final version; at the end every node's snapshots of both machines are byte for
 * byte the same, and their contents equal what the writer's acknowledged commands give in
 * version order (one client, so that order is the order it wrote in); the Map holds N
 * entries, the Vec N elements.
 *
 * Figures (details): per reader, the simulated time from opening the collection to having
 * applied the writer's version at that moment (`catchUpMs`), and the full catch-up of the
 * reader that joined last (`fullCatchUpMs`: N entries).
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const WRITERS = 3;
const DEFAULT_ENTRIES = 10_000;
const LARGE_ENTRIES = 100_000;
const LARGE_SEEDS_FROM = 1_000_000;
const FORM_BY_MS = 30_000;
const CATCH_UP_BOUND_MS = 60_000;
const MAX_SIMULATED_MS = 30 * 60_000;

/** The entries for a seed: 10k; 100k from seed 1 000 000; `MOSAIK_CATCHUP_ENTRIES` overrides. */
export function catchupEntries(seed: number): number {
  const env = Number(process.env.MOSAIK_CATCHUP_ENTRIES);
  if (Number.isInteger(env) && env > 0) return env;
  return seed >= LARGE_SEEDS_FROM ? LARGE_ENTRIES : DEFAULT_ENTRIES;
}

/** The seed's latencies and connect/idle timeouts, without the nemesis or stress. */
function catchupPlan(options: ScenarioOptions): FaultPlan {
  if (options.faults === 'none') return QUIET_PLAN;
  return { ...swarmPlan(rngStream(options.seed, 'swarm')), nemesis: undefined, stress: undefined };
}

interface Reader {
  readonly node: number;
  readonly net: Network;
  /** Opens the collections; set when it joins. */
  map: MapHandle<string, string> | undefined;
  vec: VecHandle<string> | undefined;
  joinAtMs: number | undefined;
  /** The writer's versions when it joined. */
  targets: { map: number; vec: number } | undefined;
  entriesAtJoin: number;
  catchUpMs: number | undefined;
  crashedAtMs: number | undefined;
}

/** Resolves the virtual time at which both conditions held, or undefined after `ms`. */
async function waitUntil(sim: Simulation, ms: number, test: () => boolean, stepMs = 5): Promise<number | undefined> {
  const until = sim.now + ms;
  while (sim.now < until) {
    if (test()) return sim.now;
    await sim.sleep(stepMs);
  }
  return test() ? sim.now : undefined;
}

/** The writer's model: plain Map and array over hex, in the order the writes were acknowledged. */
class Model {
  readonly map = new Map<string, string>();
  vec: string[] = [];
}

export const collectionsCatchup: Scenario = {
  name: 'collections-catchup',
  description:
    'a writer fills a Map and a Vec to N entries (10k; 100k for seeds ≥ 1 000 000) with small snapshotEveryEntries while readers join late and catch up from chunked snapshots (one reader crashing mid-catch-up for half the seeds): byte-identical snapshots everywhere, catch-up times',
  defaultNodes: 5,
  plantedBugs: {},
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 5;
    if (!Number.isInteger(count) || count < WRITERS + 1) throw new RangeError(`collections-catchup needs at least ${WRITERS + 1} nodes, got ${count}`);
    const entries = catchupEntries(options.seed);
    const sim = scenarioSimulation(options, { faults: catchupPlan(options), maxSimulatedMs: MAX_SIMULATED_MS });
    sim.addChecker(raftSafetyChecker());
    const findings: { message: string; atMs: number }[] = [];
    const problem = (message: string) => findings.push({ message, atMs: sim.now });
    const rng: Rng = rngStream(options.seed, 'catchup');
    const snapshotEveryEntries = intBetween(rng, 8, 64);
    const maxBatch = Math.max(50, Math.round(entries / intBetween(rng, 20, 60)));
    const crashReader = options.faults !== 'none' && rng.float() < 0.5;
    const nets: Network[] = [];
    for (let i = 0; i < count; i++) nets.push(sim.node({ network: 'collections-catchup', bootstrap: nets.slice(0, 1).map((n) => n.addr), discovery: TIMING }));
    const readers: Reader[] = nets.slice(WRITERS).map((net, i) => ({
      node: WRITERS + i,
      net,
      map: undefined,
      vec: undefined,
      joinAtMs: undefined,
      targets: undefined,
      entriesAtJoin: 0,
      catchUpMs: undefined,
      crashedAtMs: undefined,
    }));
    // Join points, as fractions of the fill: the last reader after it.
    const joinAt = readers.map((_, i) => (i === readers.length - 1 ? Number.POSITIVE_INFINITY : 0.2 + rng.float() * 0.7)).sort((a, b) => a - b);
    const crashVictim = crashReader ? intBetween(rng, 0, readers.length - 1) : -1;
    const details: Record<string, unknown> = { entries, snapshotEveryEntries, maxBatch, crashReader: crashReader ? WRITERS + crashVictim : undefined };
    const model = new Model();
    let fillMs: number | undefined;
    let fillWallMs: number | undefined;

    await sim.run(async () => {
      const opts = { snapshotEveryEntries };
      const maps = nets.slice(0, WRITERS).map((net) => net.collections.map<string, string>('catchup.map', opts));
      const vecs = nets.slice(0, WRITERS).map((net) => net.collections.vec<string>('catchup.vec', opts));
      const formed = await waitUntil(
        sim,
        FORM_BY_MS,
        () =>
          [...maps, ...vecs].every((h) => groupOf(h).leader !== undefined && groupOf(h).members().voters.length === WRITERS) &&
          new Set(maps.map((h) => groupOf(h).leader?.hex)).size === 1 &&
          new Set(vecs.map((h) => groupOf(h).leader?.hex)).size === 1,
        100,
      );
      if (formed === undefined) {
        problem(`the writers did not form both groups within ${FORM_BY_MS} ms`);
        return;
      }
      details.formedAtMs = formed;
      const map = maps[0] as MapHandle<string, string>;
      const vec = vecs[0] as VecHandle<string>;

      const join = (r: Reader) => {
        r.joinAtMs = sim.now;
        r.targets = { map: map.version, vec: vec.version };
        r.entriesAtJoin = model.map.size;
        r.map = r.net.collections.map<string, string>('catchup.map', { ...opts, reader: true }) as unknown as MapHandle<string, string>;
        r.vec = r.net.collections.vec<string>('catchup.vec', { ...opts, reader: true }) as unknown as VecHandle<string>;
        const { targets } = r;
        const m = r.map;
        const v = r.vec;
        void waitUntil(sim, CATCH_UP_BOUND_MS, () => sim.isUp(r.net) && m.version >= targets.map && v.version >= targets.vec).then((at) => {
          if (at === undefined) problem(`reader n${r.node} did not catch up to versions ${targets.map}/${targets.vec} within ${CATCH_UP_BOUND_MS} ms`);
          else r.catchUpMs = at - (r.joinAtMs as number);
        });
        if (readers.indexOf(r) === crashVictim) {
          // In the middle of its catch-up: after its first bond, before it has it all.
          void (async () => {
            await waitUntil(sim, 20_000, () => groupOf(m).members().bonds.length > 0 || m.version > 0);
            await sim.sleep(intBetween(rng, 0, 200));
            r.crashedAtMs = sim.now;
            sim.crash(r.net);
            await sim.sleep(intBetween(rng, 500, 3_000));
            sim.restart(r.net);
          })();
        }
      };

      // The fill: one client on node 0, so the acknowledged order is the write order.
      const fillStart = sim.now;
      const wallFill = performance.now();
      let n = 0;
      let next = 0;
      const key = (i: number) => `key-${i.toString(36).padStart(6, '0')}`;
      while (model.map.size < entries || model.vec.length < entries) {
        const progress = Math.min(model.map.size, model.vec.length) / entries;
        while (next < readers.length && progress >= (joinAt[next] as number)) join(readers[next++] as Reader);
        const roll = rng.float();
        const value = () => `v${++n}`;
        try {
          if (model.map.size < entries && roll < 0.45) {
            const batch = Math.min(entries - model.map.size, intBetween(rng, 1, maxBatch));
            const kvs: [string, string][] = [];
            for (let i = 0; i < batch; i++) kvs.push([key(model.map.size + i), value()]);
            await map.extend(kvs);
            for (const [k, v] of kvs) model.map.set(hex(enc(k)), hex(enc(v)));
          } else if (model.map.size < entries && roll < 0.55) {
            // A single insert, an overwrite of an earlier key, or a remove and re-insert (which moves the key to the end).
            const i = intBetween(rng, 0, model.map.size);
            const k = key(i);
            if (rng.float() < 0.3 && i < model.map.size) {
              await map.remove(k);
              model.map.delete(hex(enc(k)));
            }
            const v = value();
            await map.insert(k, v);
            model.map.set(hex(enc(k)), hex(enc(v)));
          } else if (model.vec.length < entries && roll < 0.9) {
            const batch = Math.min(entries - model.vec.length, intBetween(rng, 1, maxBatch));
            const vs = Array.from({ length: batch }, value);
            await vec.extend(vs);
            model.vec.push(...vs.map((v) => hex(enc(v))));
          } else if (model.vec.length < entries) {
            const r = rng.float();
            if (r < 0.4) {
              const v = value();
              await vec.pushFront(v);
              model.vec.unshift(hex(enc(v)));
            } else if (r < 0.7) {
              const { value: taken } = await vec.popBack();
              const expected = model.vec.pop();
              if ((taken === undefined ? undefined : hex(enc(taken))) !== expected) problem(`popBack took ${taken}, the model has ${expected}`);
            } else {
              const len = Math.max(0, model.vec.length - intBetween(rng, 1, 20));
              await vec.truncate(len);
              model.vec.length = Math.min(model.vec.length, len);
            }
          }
        } catch (e) {
          // One writer on a network without partitions: a write must not fail.
          problem(`the writer's call failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
          return;
        }
      }
      fillMs = sim.now - fillStart;
      fillWallMs = Math.round(performance.now() - wallFill);
      while (next < readers.length) join(readers[next++] as Reader);

      // Everyone reaches the writer's final versions.
      const target = { map: map.version, vec: vec.version };
      const all = [
        ...maps.map((m, i) => ({ node: i, map: m, vec: vecs[i] as VecHandle<string> })),
        ...readers.map((r) => ({ node: r.node, map: r.map, vec: r.vec })),
      ];
      const done = await waitUntil(
        sim,
        CATCH_UP_BOUND_MS,
        () => all.every((h) => h.map !== undefined && h.vec !== undefined && h.map.version >= target.map && h.vec.version >= target.vec),
        20,
      );
      if (done === undefined) {
        problem(
          `not every node reached versions ${target.map}/${target.vec} within ${CATCH_UP_BOUND_MS} ms: ${all.map((h) => `n${h.node} ${h.map?.version}/${h.vec?.version}`).join(', ')}`,
        );
        return;
      }
      // Conf changes may still come after the writer's last command; wait until versions agree.
      await waitUntil(sim, 10_000, () => new Set(all.map((h) => `${h.map?.version}/${h.vec?.version}`)).size === 1, 50);
      details.finalVersions = all.map((h) => `n${h.node} ${h.map?.version}/${h.vec?.version}`);
      const expectMap = JSON.stringify([...model.map]);
      const expectVec = JSON.stringify(model.vec);
      const snaps = { map: new Set<string>(), vec: new Set<string>() };
      for (const h of all) {
        const m = h.map as MapHandle<string, string>;
        const v = h.vec as VecHandle<string>;
        snaps.map.add(hex(m.machine.snapshot()));
        snaps.vec.add(hex(v.machine.snapshot()));
        if (m.size !== entries || machineContents('map', m) !== expectMap)
          problem(`n${h.node}'s Map (${m.size} entries) differs from what the writer wrote (${entries})`);
        if (v.length !== entries || machineContents('vec', v) !== expectVec)
          problem(`n${h.node}'s Vec (${v.length} elements) differs from what the writer wrote (${entries})`);
      }
      if (snaps.map.size !== 1) problem(`the Map's snapshots differ between nodes (${snaps.map.size} distinct)`);
      if (snaps.vec.size !== 1) problem(`the Vec's snapshots differ between nodes (${snaps.vec.size} distinct)`);
      details.snapshotBytes = { map: ([...snaps.map][0]?.length ?? 0) / 2, vec: ([...snaps.vec][0]?.length ?? 0) / 2 };
    });

    const last = readers[readers.length - 1];
    return scenarioResult(
      collectionsCatchup.name,
      options,
      sim,
      wallStart,
      count,
      {
        ...details,
        fillMs,
        fillWallMs,
        readers: readers.map((r) => ({
          node: r.node,
          joinAtMs: r.joinAtMs,
          entriesAtJoin: r.entriesAtJoin,
          targets: r.targets,
          catchUpMs: r.catchUpMs,
          ...(r.crashedAtMs !== undefined && { crashedAtMs: r.crashedAtMs }),
        })),
        fullCatchUpMs: last?.catchUpMs,
      },
      findings,
    );
  },
};
