import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { cluster, converged, eventually } from '../streams/helpers.ts';
import { Counter } from './counter.ts';

describe('groups: leave()', () => {
  it('a voter that leaves stays until the configuration without it commits, so the others never count it', async () => {
    const sim = new Simulation({ seed: 11 });
    const nets = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const gs = nets.map((n) => n.groups.join({ key: 'leave', machine: new Counter(), bootstrapExpect: 3 }));
      await eventually(sim, () => gs.every((g) => g.members().voters.length === 3 && g.leader !== undefined), 30_000, 'three voters');
      const leaverAt = gs.findIndex((g) => !g.isLeader);
      const leaver = gs[leaverAt];
      if (!leaver) throw new Error('no follower');
      const id = nets[leaverAt]?.peerId.hex as string;
      const before = sim.now;
      const leaving = leaver.leave();
      await sim.sleep(1); // the leave has reached the node; the configuration without it has not committed
      // Joining again before the leave is done is refused, and says to wait for it.
      const early = (nets[leaverAt] as Network).groups.join({ key: 'leave', machine: new Counter(), bootstrapExpect: 3 });
      const refused = (await early.when.online().catch((e: unknown) => e)) as Error;
      expect([refused.name, refused.message]).toEqual(['AlreadyExistsError', expect.stringContaining('still leaving')]);
      await leaving;
      // By the time leave() resolves, a configuration without the leaver has committed.
      const stayers = gs.filter((_, i) => i !== leaverAt);
      const leaderOf = stayers.find((g) => g.isLeader);
      expect(leaderOf?.members().voters).not.toContain(id);
      expect(sim.now - before).toBeLessThan(10_000);
      // The two that stay keep committing.
      const r = await (stayers[0] as (typeof gs)[number]).execute({ op: 'inc', by: 2 });
      expect(r.result).toBe(2);
      await expect(leaver.execute({ op: 'inc', by: 1 })).rejects.toMatchObject({ name: 'GroupClosedError' });
    });
  });

  it('the leader that leaves hands over first; the rest elect no one new from scratch and keep going', async () => {
    const sim = new Simulation({ seed: 12 });
    const nets = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const gs = nets.map((n) => n.groups.join({ key: 'leave', machine: new Counter(), bootstrapExpect: 3 }));
      await eventually(sim, () => gs.every((g) => g.members().voters.length === 3 && g.leader !== undefined), 30_000, 'three voters');
      const leaderAt = gs.findIndex((g) => g.isLeader);
      const leader = gs[leaderAt];
      if (!leader) throw new Error('no leader');
      await leader.leave();
      const stayers = gs.filter((_, i) => i !== leaderAt);
      await eventually(sim, () => stayers.some((g) => g.isLeader), 5_000, 'a new leader');
      const r = await (stayers[0] as (typeof gs)[number]).execute({ op: 'inc', by: 3 });
      expect(r.result).toBe(3);
      expect(stayers.every((g) => g.members().voters.length === 2)).toBe(true);
    });
  });

  it('a node that leaves and joins again has its new commands applied, not taken for repeats of its first ones', async () => {
    // Commands are deduplicated by origin and sequence number; the second join numbers its
    // commands from 1 again, so it needs an origin of its own.
    const sim = new Simulation({ seed: 13 });
    const nets = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const join = (n: Network) => n.groups.join({ key: 'rejoin', machine: new Counter(), bootstrapExpect: 3 });
      const gs = nets.map(join);
      await eventually(sim, () => gs.every((g) => g.members().voters.length === 3 && g.leader !== undefined), 30_000, 'three voters');
      const at = gs.findIndex((g) => !g.isLeader);
      const first = gs[at] as (typeof gs)[number];
      for (let i = 1; i <= 3; i++) expect((await first.execute({ op: 'inc', by: 1 })).result).toBe(i);
      await first.leave();
      const again = join(nets[at] as Network);
      await again.when.online();
      const r = await again.execute({ op: 'inc', by: 10 });
      expect(r.result).toBe(13);
      const other = gs.find((_, i) => i !== at) as (typeof gs)[number];
      expect((await other.query(null, 'strong')).result).toBe(13);
    });
  });
});

describe('groups: leave() of the only voter', () => {
  it('with maxVoters 1, the leader that leaves makes a caught-up learner a voter and hands over; the others go on', async () => {
    // Before, the leader closed at once: the learners kept a configuration whose only voter
    // was gone, never elected anyone, and every call on them hung (or timed out) for good.
    const sim = new Simulation({ seed: 14 });
    const nets = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const gs = nets.map((n) => n.groups.join({ key: 'sole', machine: new Counter(), maxVoters: 1 }));
      await eventually(
        sim,
        () => gs.every((g) => g.leader !== undefined && g.members().voters.length === 1 && g.members().learners.length === 2),
        30_000,
        'one voter, two learners',
      );
      const leaderAt = gs.findIndex((g) => g.isLeader);
      const leader = gs[leaderAt] as (typeof gs)[number];
      const stayers = gs.filter((_, i) => i !== leaderAt);
      expect((await (stayers[0] as (typeof gs)[number]).execute({ op: 'inc', by: 1 })).result).toBe(1);
      const before = sim.now;
      await leader.leave();
      expect(sim.now - before).toBeLessThan(10_000);
      await eventually(sim, () => stayers.some((g) => g.isLeader), 10_000, 'a new leader among the learners');
      const r = await (stayers[0] as (typeof gs)[number]).execute({ op: 'inc', by: 2 }, { timeoutMs: 10_000 });
      expect(r.result).toBe(3);
      const gone = (nets[leaderAt] as Network).peerId.hex;
      await eventually(sim, () => stayers.every((g) => g.members().voters.length === 1 && !g.members().voters.includes(gone)), 10_000, 'the leaver removed');
    });
  });
});
