import { type Network, raftSafetyChecker } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { eventually } from '../streams/helpers.ts';
import { Counter } from './counter.ts';
import { type CounterGroup, discoverAll, expectSameState, loneNode, nodeVia, settled, simulation, weakValue } from './helpers.ts';

// `storage: 'memory'` (JoinOptions): a member whose Raft state lives only as long as its
// process. A crash and restart of its node in the simulator is such a process restart: it
// comes back with nothing of the group, as a new member, and catches up from the others,
// where a member on the node's storage replays its own log.
describe("groups: storage 'memory'", () => {
  for (const storage of ['node', 'memory'] as const) {
    it(`a restarted member ${storage === 'node' ? 'replays its own log' : 'comes back empty, as a new member, and catches up'} (storage '${storage}')`, async () => {
      const { sim } = simulation(71);
      const checker = raftSafetyChecker();
      sim.addChecker(checker);
      await sim.run(async () => {
        const n0 = loneNode(sim);
        const nets: Network[] = [n0, nodeVia(sim, n0), nodeVia(sim, n0)];
        await discoverAll(sim, nets);
        const groups = nets.map((n, i) => n.groups.join({ key: 'storage', machine: new Counter(), storage: i === 2 ? storage : 'node' }) as CounterGroup);
        await settled(sim, groups, 3);
        for (let i = 0; i < 5; i++) await (groups[i % 3] as CounterGroup).execute({ op: 'inc', by: 1 });
        await expectSameState(sim, groups, 5);
        const victim = nets[2] as Network;
        const g = groups[2] as CounterGroup;
        const committedBefore = g.committed;

        sim.crash(victim);
        sim.isolate(victim);
        sim.restart(victim);
        await sim.sleep(3_000);
        if (storage === 'node') {
          expect(g.committed).toBe(committedBefore);
          expect(await weakValue(g)).toBe(5);
        } else {
          // Nothing of the group: alone, the new member may form a group of its own (as at a
          // start-up split), which the others' older one overrides once it is back.
          expect(await weakValue(g)).toBe(0);
        }

        sim.heal();
        // Back: the same state everywhere, and the group as it was (three voters: a new
        // member replaces the one that forgot).
        await eventually(sim, () => groups.every((x) => x.members().voters.length === 3 && x.members().learners.length === 0), 60_000, 'three voters again');
        const last = await (groups[0] as CounterGroup).execute({ op: 'inc', by: 10 });
        expect(last.result).toBe(15);
        await expectSameState(sim, groups, 15, 30_000);
      });
      expect(sim.violations).toEqual([]);
    });
  }
});
