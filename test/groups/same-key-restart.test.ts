import { SecretKey } from 'mosaik';
import { type Network, raftSafetyChecker, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { converged, eventually } from '../streams/helpers.ts';
import { Counter } from './counter.ts';

/**
 * A process of the real driver that restarts with the same secret key starts from empty
 * storage and incarnation 0, like the first time. Its commands must still count: the
 * replicated state dedups commands by (origin, sequence number), and an origin made of the
 * peer id and incarnation alone came back identical, so the new life's commands 1, 2, ...
 * were skipped as duplicates of the old life's and `execute` resolved with old results.
 * Here the restart is a second simulated node built from the same key (fresh storage,
 * incarnation 0), the first one crashed for good.
 */
describe('groups: a node back with the same key and fresh storage', () => {
  it("has its commands applied, not taken for its former life's", async () => {
    const sim = new Simulation({ seed: 3 });
    const key = SecretKey.fromSeed('same-key-restart');
    const a = sim.node({ network: 'same-key' });
    const b = sim.node({ network: 'same-key', bootstrap: [a.addr] });
    const c = sim.node({ network: 'same-key', bootstrap: [a.addr], secretKey: key });
    await sim.run(async () => {
      await converged(sim, [a, b, c]);
      const join = (n: Network) => n.groups.join({ key: 'counter', machine: new Counter() });
      const [ga, gb, gc] = [join(a), join(b), join(c)];
      await Promise.all([ga, gb, gc].map((g) => g.when.online()));
      for (let i = 0; i < 5; i++) expect((await gc.execute({ op: 'inc', by: 1 })).result).toBe(i + 1);

      sim.crash(c);
      const c2 = sim.node({ network: 'same-key', bootstrap: [a.addr], secretKey: key });
      const gc2 = join(c2);
      await gc2.when.online();
      const r = await gc2.execute({ op: 'inc', by: 100 });
      expect(r.result).toBe(105);
      await eventually(sim, () => ga.committed >= r.index && gb.committed >= r.index, 30_000, 'the others apply it');
      expect((await ga.query(null, 'strong')).result).toBe(105);
      expect((await gb.query(null, 'weak')).result).toBe(105);
    });
  });

  it('is not counted as the voter it was: a write only it and one other held survives', async () => {
    // Raft assumes a voter never forgets. Here B forgets: a write is committed by A and B
    // alone (C cut off), B comes back with an empty store under the same key, and A is cut
    // off. If the new B answered as the old voter, C (without the write) could win B's vote
    // and lead without it, and the write would be lost. It must not: C gets no leader until
    // A is back, and every node ends with the write.
    const sim = new Simulation({ seed: 5 });
    const checker = raftSafetyChecker();
    sim.addChecker(checker);
    const key = SecretKey.fromSeed('amnesiac-voter');
    const a = sim.node({ network: 'amnesia' });
    const b = sim.node({ network: 'amnesia', bootstrap: [a.addr], secretKey: key });
    const c = sim.node({ network: 'amnesia', bootstrap: [a.addr] });
    await sim.run(async () => {
      await converged(sim, [a, b, c]);
      const join = (n: Network) => n.groups.join({ key: 'counter', machine: new Counter() });
      const [ga, gb, gc] = [join(a), join(b), join(c)];
      await eventually(sim, () => [ga, gb, gc].every((g) => g.members().voters.length === 3 && g.leader !== undefined), 30_000, 'three voters');

      sim.isolate(c);
      // Whoever leads of A and B takes the write; C never sees it.
      await eventually(sim, () => ga.isLeader || gb.isLeader, 30_000, 'A or B leads');
      const written = await (ga.isLeader ? ga : gb).execute({ op: 'inc', by: 10 });
      expect(written.result).toBe(10);
      await eventually(sim, () => ga.committed >= written.index && gb.committed >= written.index, 10_000, 'A and B apply it');
      expect(gc.committed).toBeLessThan(written.index);

      sim.crash(b);
      sim.heal();
      sim.isolate(a);
      const b2 = sim.node({ network: 'amnesia', bootstrap: [c.addr], secretKey: key });
      const gb2 = join(b2);
      await sim.sleep(20_000);
      // C and the new B are a majority of peers but not of members: no leader without A.
      expect(gc.isLeader).toBe(false);
      expect(gb2.isLeader).toBe(false);

      sim.heal();
      const after = await eventually(sim, () => ga.leader !== undefined && gc.leader !== undefined, 30_000, 'a leader again').then(() =>
        (ga.isLeader ? ga : gc).execute({ op: 'inc', by: 1 }),
      );
      expect(after.result).toBe(11);
      await eventually(sim, () => [ga, gc, gb2].every((g) => g.committed >= after.index), 60_000, 'everyone applies');
      for (const g of [ga, gc, gb2]) expect((await g.query(null, 'weak')).result).toBe(11);
      // The old B is gone from the configuration; the new one took a place as a member.
      await eventually(sim, () => ga.members().voters.length === 3 && ga.members().learners.length === 0, 60_000, 'three voters again');
    });
    expect(sim.finishCheckers()).toEqual([]);
  }, 60_000);
});
