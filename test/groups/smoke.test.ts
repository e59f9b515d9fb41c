import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { cluster, converged } from '../streams/helpers.ts';
import { Counter } from './counter.ts';

describe('groups in the simulator: smoke', () => {
  it('three nodes form one group, execute from a follower, strong query', async () => {
    const sim = new Simulation({ seed: 1 });
    const nets = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const groups = nets.map((n) => n.groups.join({ key: 'secret', machine: new Counter() }));
      await Promise.all(groups.map((g) => g.when.leaderElected()));
      const leader = groups.find((g) => g.isLeader);
      expect(leader).toBeDefined();
      const follower = groups.find((g) => !g.isLeader);
      if (!follower) throw new Error('no follower');
      await follower.when.online();
      const r = await follower.execute({ op: 'inc', by: 5 });
      expect(r.result).toBe(5);
      const q = await follower.query(null, 'strong');
      expect(q.result).toBe(5);
      for (const g of groups) await g.when.committed().reaches(r.index);
      for (const g of groups) expect((await g.query(null, 'weak')).result).toBe(5);
      for (const g of groups) expect(g.members().voters).toHaveLength(3);
    });
  });
});
