import { type Network, Simulation } from 'mosaik/sim';
import { expect } from 'vitest';
import type { Group } from '../../api/groups.ts';
import type { GroupsEvent } from '../../core/groups/group.ts';
import type { GroupsSubsystem } from '../../core/groups/groups.ts';
import type { Group as CoreGroup } from '../../core/groups/index.ts';
import type { CheckerView } from '../../net-sim/checker.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { eventually } from '../streams/helpers.ts';
import type { CounterCommand } from './counter.ts';

export { eventually };

/** The test group handle: the Counter machine. */
export type CounterGroup = Group<CounterCommand, null, number>;

/** One group event as seen from outside, with the node that emitted it. */
export interface SeenGroupEvent {
  readonly net: Network;
  readonly atMs: number;
  readonly event: GroupsEvent;
}

/**
 * Records every group event of the run and checks Raft's safety on the fly, per group and
 * formation: at most one leader per term, and no two nodes applying different entries at one
 * index (a restarted node re-applying its own log must apply the same entries again).
 */
export class GroupWatch {
  readonly events: SeenGroupEvent[] = [];
  readonly violations: string[] = [];
  #view: CheckerView | undefined;
  readonly #leaders = new Map<string, string>();
  readonly #applied = new Map<string, string>();

  constructor(readonly sim: Simulation) {
    sim.addChecker({
      name: 'group-watch',
      onEvent: (view, net, event) => {
        this.#view = view;
        if (!event.type.startsWith('group.')) return;
        const e = event as GroupsEvent;
        this.events.push({ net, atMs: view.nowMs, event: e });
        if (e.type === 'group.role' && e.role === 'leader') {
          const key = `${e.group.hex}/${e.formation}/${e.term}`;
          const other = this.#leaders.get(key);
          if (other !== undefined && other !== net.peerId.hex) this.violations.push(`two leaders in ${key}`);
          this.#leaders.set(key, net.peerId.hex);
        } else if (e.type === 'group.applied') {
          const key = `${e.group.hex}/${e.formation}/${e.index}`;
          const entry = `${e.id}@t${e.term}`;
          const other = this.#applied.get(key);
          if (other !== undefined && other !== entry) this.violations.push(`index ${key}: ${other} and ${entry}`);
          this.#applied.set(key, entry);
        }
      },
    });
  }

  /** Events of one type, optionally from one node. */
  of<T extends GroupsEvent['type']>(type: T, net?: Network): (SeenGroupEvent & { event: Extract<GroupsEvent, { type: T }> })[] {
    return this.events.filter((s) => s.event.type === type && (net === undefined || s.net === net)) as (SeenGroupEvent & {
      event: Extract<GroupsEvent, { type: T }>;
    })[];
  }

  /** Leader-election activity of a node: every role it took, in order. */
  roles(net: Network): { role: string; term: number; formation: string }[] {
    return this.of('group.role', net).map((s) => ({ role: s.event.role, term: s.event.term, formation: s.event.formation }));
  }

  /** The core Group object on a node (its formation, its Raft), or undefined while the node is down. */
  core(net: Network, group: Group<unknown, unknown, unknown> | CounterGroup): CoreGroup | undefined {
    const machine = this.#view?.machineOf(net);
    const sub = machine?.subsystem('groups') as GroupsSubsystem | undefined;
    return sub?.group(group.id);
  }

  expectSafe(): void {
    expect(this.violations).toEqual([]);
  }
}

/** A simulation with the platform's crypto (fast signatures) and a bound on virtual time. */
export function simulation(seed: number, maxSimulatedMs = 15 * 60_000): { sim: Simulation; watch: GroupWatch } {
  const sim = new Simulation({ seed, maxSimulatedMs, ...scenarioCrypto });
  return { sim, watch: new GroupWatch(sim) };
}

/** A node on the test network that knows no one (no bootstrap): it is found only through `discoverAll`. */
export function loneNode(sim: Simulation): Network {
  return sim.node({ network: 'groups-test' });
}

/** A node that joins the network (catalog exchanges and the gossip mesh) through `via`. */
export function nodeVia(sim: Simulation, via: Network): Network {
  return sim.node({ network: 'groups-test', bootstrap: [via.addr] });
}

/** mosaik's `discover_all`: pairwise catalog syncs, then waits until every node knows every other. */
export async function discoverAll(sim: Simulation, nets: readonly Network[]): Promise<void> {
  for (let i = 0; i < nets.length; i++) {
    for (let j = i + 1; j < nets.length; j++) {
      const a = nets[i] as Network;
      const b = nets[j] as Network;
      await a.syncWith(b.addr);
    }
  }
  await eventually(sim, () => nets.every((n) => nets.every((o) => o === n || n.discovery.peers().some((p) => p.peerId.equals(o.peerId)))), 10_000, 'discovery');
}

/** The weak (local) value of a counter group. */
export async function weakValue(g: CounterGroup): Promise<number> {
  return (await g.query(null, 'weak')).result;
}

/**
 * Waits until the groups agree on one leader, every one of them sees `voters` voters and
 * `learners` learners, and all applied the same index: membership changes are done, so the
 * indices of the next commands are predictable.
 */
export async function settled(sim: Simulation, groups: readonly CounterGroup[], voters: number, learners = 0, limitMs = 30_000): Promise<void> {
  const holds = () => {
    const first = groups[0];
    if (first === undefined || first.leader === undefined) return false;
    return groups.every(
      (g) =>
        g.leader?.equals(first.leader as NonNullable<typeof first.leader>) === true &&
        g.members().voters.length === voters &&
        g.members().learners.length === learners &&
        g.committed === first.committed,
    );
  };
  // A configuration takes effect when appended: hold the condition a while, committed unchanged.
  const until = sim.now + limitMs;
  for (;;) {
    await eventually(sim, holds, Math.max(0, until - sim.now), `${groups.length} members settled with ${voters} voters`);
    const committed = groups[0]?.committed;
    await sim.sleep(1_000);
    if (holds() && groups[0]?.committed === committed) return;
    if (sim.now > until) throw new Error(`${groups.length} members did not settle within ${limitMs} ms`);
  }
}

/** Every group has applied the same index and holds the same value, `expected` if given. */
export async function expectSameState(sim: Simulation, groups: readonly CounterGroup[], expected?: number, limitMs = 20_000): Promise<void> {
  await eventually(sim, () => new Set(groups.map((g) => g.committed)).size === 1, limitMs, 'same committed index');
  const values = await Promise.all(groups.map((g) => weakValue(g)));
  expect(new Set(values).size).toBe(1);
  if (expected !== undefined) expect(values[0]).toBe(expected);
}

/** The error `call` rejects with (a call that resolves fails the test). */
export async function rejection(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}
