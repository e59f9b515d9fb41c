import type { Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ApplyContext, ConsensusConfig } from '../../api/groups.ts';
import { Counter, type CounterCommand } from './counter.ts';
import { type CounterGroup, discoverAll, eventually, expectSameState, loneNode, nodeVia, settled, simulation, weakValue } from './helpers.ts';

/**
 * Behaviours beyond mosaik's §4 tests: exactly-once writes across a leader change, leaving,
 * observers, restarts that keep the log, and the calls of a node whose formation lost.
 */

async function formGroup(
  sim: Simulation,
  count: number,
  key: string,
  consensus: Partial<ConsensusConfig> = {},
  machines: Counter[] = Array.from({ length: count }, () => new Counter()),
): Promise<{ nets: Network[]; groups: CounterGroup[] }> {
  const machine = (i: number) => machines[i] as Counter;
  const n0 = loneNode(sim);
  const g0: CounterGroup = n0.groups.join({ key, machine: machine(0), consensus });
  await g0.when.online();
  // The others join the network through n0: in its gossip mesh, they see each other's entries
  // (and so each other's membership) at once, as in production.
  const nets = [n0, ...Array.from({ length: count - 1 }, () => nodeVia(sim, n0))];
  await discoverAll(sim, nets);
  const groups = [g0, ...nets.slice(1).map((n, i) => n.groups.join({ key, machine: machine(i + 1), consensus }) as CounterGroup)];
  await settled(sim, groups, count);
  // Every member bonded with every other: any of them can lead once the first is gone.
  await eventually(sim, () => groups.every((g) => g.members().bonds.length === count - 1), 10_000, 'full mesh of bonds');
  return { nets, groups };
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ name: string; code: string }> {
  try {
    await p;
  } catch (e) {
    return e as { name: string; code: string };
  }
  throw new Error('expected a rejection');
}

/** A counter that also counts the commands it applied (a retried copy skipped as a duplicate is not one). */
class TallyCounter extends Counter {
  applies = 0;
  override apply(command: CounterCommand, ctx: ApplyContext): number {
    this.applies++;
    return super.apply(command, ctx);
  }
}

describe('groups: exactly once across a leader change', () => {
  // Crash the leader at every point around the forward: before it arrives, after it is
  // appended, replicated to some, committed but not acknowledged, acknowledged.
  for (const delayMs of [0, 1, 2, 3, 4, 5, 6, 8, 12, 20]) {
    it(`a follower's execute is applied exactly once when the leader crashes ${delayMs} ms after it`, async () => {
      const { sim, watch } = simulation(100 + delayMs);
      await sim.run(async () => {
        const machines = [new TallyCounter(), new TallyCounter(), new TallyCounter()];
        const { nets, groups } = await formGroup(sim, 3, 'exactly-once', {}, machines);
        const [n0] = nets as [Network];
        const [g0, g1, g2] = groups as [CounterGroup, CounterGroup, CounterGroup];
        await g0.execute({ op: 'inc', by: 1 });
        await g1.when.committed().reaches(g0.committed);

        const pending = g1.execute({ op: 'inc', by: 1000 });
        await sim.sleep(delayMs);
        sim.crash(n0);
        const r = await pending;
        expect(r.result).toBe(1001);
        await g2.when.committed().reaches(r.index);
        await expectSameState(sim, [g1, g2], 1001);
        // Applied once on each: the retried copy, if any got in, was skipped as a duplicate.
        expect(machines.slice(1).map((m) => m.applies)).toEqual([2, 2]);

        // The old leader comes back with whatever it had appended: still once.
        sim.restart(n0);
        await eventually(sim, () => g0.committed >= r.index, 30_000, 'the old leader catches up');
        await expectSameState(sim, [g0, g1, g2], 1001);
        const again = await g1.execute({ op: 'inc', by: 1 });
        expect(again.result).toBe(1002);
        await expectSameState(sim, [g0, g1, g2], 1002);
      });
      watch.expectSafe();
    });
  }
});

describe('groups: leave', () => {
  it('pending calls fail with GroupClosedError; the others drop the member from the configuration', async () => {
    const { sim, watch } = simulation(31);
    await sim.run(async () => {
      const { nets, groups } = await formGroup(sim, 4, 'leave');
      const [n0, n1, n2, n3] = nets as [Network, Network, Network, Network];
      const [g0, g1, g2, g3] = groups as [CounterGroup, CounterGroup, CounterGroup, CounterGroup];
      await g0.execute({ op: 'inc', by: 5 });
      await g3.when.committed().reaches(g0.committed);

      // A follower leaves with calls in flight.
      const pendingWrite = g3.execute({ op: 'inc', by: 100 });
      const pendingRead = g3.query(null, 'strong');
      const waiting = g3.when.committed().reaches(g0.committed + 1_000);
      await g3.leave();
      for (const p of [pendingWrite, pendingRead, waiting]) expect((await rejection(p)).name).toBe('GroupClosedError');
      // And every call after it.
      expect((await rejection(g3.execute({ op: 'inc', by: 1 }))).name).toBe('GroupClosedError');
      expect((await rejection(g3.query(null, 'weak'))).name).toBe('GroupClosedError');
      expect((await rejection(g3.when.online())).name).toBe('GroupClosedError');
      await g3.leave(); // idempotent

      const rest = [g0, g1, g2];
      const hex = (ns: Network[]) => ns.map((n) => n.peerId.hex).sort();
      await eventually(
        sim,
        () => rest.every((g) => [...g.members().voters, ...g.members().learners].sort().join() === hex([n0, n1, n2]).join()),
        10_000,
        'n3 out of the configuration',
      );
      await eventually(sim, () => rest.every((g) => !g.members().bonds.some((b) => b.equals(n3.peerId))), 10_000, 'bonds to n3 closed');
      // The in-flight write may or may not have been applied (its caller cannot know); the others agree either way.
      const value = await weakValue(g0);
      expect([5, 105]).toContain(value);
      await expectSameState(sim, rest, value);

      // The leader leaves: it hands leadership over at once (no election timeout), and is dropped too.
      const before = sim.now;
      await g0.leave();
      await eventually(sim, () => g1.leader !== undefined && !g1.leader.equals(n0.peerId) && g2.leader?.equals(g1.leader) === true, 5_000, 'handover');
      expect(sim.now - before).toBeLessThan(1_000);
      await eventually(
        sim,
        () => [g1, g2].every((g) => [...g.members().voters, ...g.members().learners].sort().join() === hex([n1, n2]).join()),
        10_000,
        'n0 out of the configuration',
      );
      expect((await g2.execute({ op: 'inc', by: 1 })).result).toBe(value + 1);
      await expectSameState(sim, [g1, g2], value + 1);
    });
    watch.expectSafe();
  });

  it('closing the node fails pending and later calls with GroupClosedError (API.md), and leave() after it resolves', async () => {
    const { sim, watch } = simulation(33);
    await sim.run(async () => {
      const { nets, groups } = await formGroup(sim, 3, 'close');
      const [g0, g1, g2] = groups as [CounterGroup, CounterGroup, CounterGroup];
      await g0.execute({ op: 'inc', by: 5 });
      await g2.when.committed().reaches(g0.committed);

      const pendingWrite = g2.execute({ op: 'inc', by: 100 });
      const pendingRead = g2.query(null, 'strong');
      const waiting = g2.when.committed().reaches(g0.committed + 1_000);
      await (nets[2] as Network).close();
      for (const p of [pendingWrite, pendingRead, waiting]) expect((await rejection(p)).name).toBe('GroupClosedError');
      expect((await rejection(g2.execute({ op: 'inc', by: 1 }))).name).toBe('GroupClosedError');
      expect((await rejection(g2.query(null, 'weak'))).name).toBe('GroupClosedError');
      expect((await rejection(g2.transferLeadership())).name).toBe('GroupClosedError');
      expect((await rejection(g2.when.online())).name).toBe('GroupClosedError');
      await g2.leave(); // nothing left to leave: resolves

      // The other two go on (the in-flight write may or may not have landed).
      const value = (await g1.execute({ op: 'inc', by: 1 })).result as number;
      expect([6, 106]).toContain(value);
      await expectSameState(sim, [g0, g1], value);
    });
    watch.expectSafe();
  });
});

describe("groups: leadership 'observer'", () => {
  it('replicates and forwards writes but never votes, campaigns or leads', async () => {
    const { sim, watch } = simulation(32);
    await sim.run(async () => {
      const { nets, groups } = await formGroup(sim, 3, 'observer');
      const [n0, n1, n2] = nets as [Network, Network, Network];
      const [g0, g1, g2] = groups as [CounterGroup, CounterGroup, CounterGroup];
      const n3 = loneNode(sim);
      await discoverAll(sim, [n0, n1, n2, n3]);
      const g3: CounterGroup = n3.groups.join({ key: 'observer', machine: new Counter(), leadership: 'observer' });
      await settled(sim, [g0, g1, g2, g3], 3, 1);
      expect(g3.members().learners).toEqual([n3.peerId.hex]);

      const w = await g3.execute({ op: 'inc', by: 9 });
      expect(w.result).toBe(9);
      await expectSameState(sim, [g0, g1, g2, g3], 9);

      // The leader dies; the voters elect another; the observer stays out, even once the dead
      // voter is due for replacement (replaceVoterAfterMs) and voters are fewer than maxVoters.
      sim.crash(n0);
      await eventually(sim, () => g1.leader !== undefined && !g1.leader.equals(n0.peerId), 20_000, 'new leader');
      await sim.sleep(40_000);
      expect(g3.members().voters).not.toContain(n3.peerId.hex);
      expect(g3.members().learners).toContain(n3.peerId.hex);
      expect(watch.roles(n3).every((r) => r.role === 'follower')).toBe(true);
      expect((await g3.execute({ op: 'inc', by: 1 })).result).toBe(10);
      await expectSameState(sim, [g1, g2, g3], 10);
    });
    watch.expectSafe();
  });

  it('an observer whose only voter crashed names no leader and fails calls with OfflineError; it follows the voter again after its restart', async () => {
    const { sim, watch } = simulation(34);
    await sim.run(async () => {
      const { nets, groups } = await formGroup(sim, 1, 'observer-lone-voter');
      const [n0] = nets as [Network];
      const [g0] = groups as [CounterGroup];
      const n1 = loneNode(sim);
      await discoverAll(sim, [n0, n1]);
      const g1: CounterGroup = n1.groups.join({ key: 'observer-lone-voter', machine: new Counter(), leadership: 'observer' });
      await settled(sim, [g0, g1], 1, 1);
      expect((await g1.execute({ op: 'inc', by: 5 })).result).toBe(5);

      sim.crash(n0);
      // Nobody campaigns (the observer never does), so nothing else would tell it: it named
      // the crashed voter as leader for ever, and its calls waited on a leader that was gone.
      await eventually(sim, () => g1.leader === undefined, 10_000, 'the observer forgets the crashed leader');
      expect(g1.status()?.online).toBe(false);
      expect((await rejection(g1.execute({ op: 'inc', by: 1 }))).name).toBe('OfflineError');

      sim.restart(n0); // its handles rejoin, from its own log
      await eventually(sim, () => g1.leader?.equals(n0.peerId) === true, 30_000, 'the observer follows the restarted voter');
      expect((await g1.execute({ op: 'inc', by: 1 })).result).toBe(6);
      await expectSameState(sim, [g0, g1], 6);
    });
    watch.expectSafe();
  });

  it('an observer alone never forms a group', async () => {
    const { sim, watch } = simulation(33);
    const n0 = loneNode(sim);
    await sim.run(async () => {
      const g: CounterGroup = n0.groups.join({ key: 'observer-alone', machine: new Counter(), leadership: 'observer' });
      await sim.sleep(30_000);
      expect(g.leader).toBeUndefined();
      expect(g.committed).toBe(0);
      expect(g.members().voters).toEqual([]);
      expect((await rejection(g.execute({ op: 'inc', by: 1 }))).name).toBe('OfflineError');
      expect(watch.roles(n0)).toEqual([]);
    });
  });
});

describe('groups: restart keeps the log', () => {
  for (const snapshotEveryEntries of [10_000, 5]) {
    for (const who of ['follower', 'leader'] as const) {
      it(`a crashed ${who} restarts from its own log${snapshotEveryEntries < 100 ? ' and snapshot' : ''}: same state, nothing applied twice`, async () => {
        const { sim, watch } = simulation(40 + snapshotEveryEntries + (who === 'leader' ? 1 : 0));
        await sim.run(async () => {
          const { nets, groups } = await formGroup(sim, 3, 'restart', { snapshotEveryEntries });
          let value = 0;
          for (let i = 0; i < 12; i++) {
            const by = i + 1;
            value += by;
            expect((await (groups[i % 3] as CounterGroup).execute({ op: 'inc', by })).result).toBe(value);
          }
          await expectSameState(sim, groups, value);
          const victim = who === 'leader' ? 0 : 2;
          const net = nets[victim] as Network;
          const g = groups[victim] as CounterGroup;
          const others = groups.filter((x) => x !== g);
          const committedBefore = g.committed;
          const valueBefore = await weakValue(g);

          // A call in flight on the crashing node is failed, not left hanging.
          const inFlight = g.execute({ op: 'inc', by: 1_000 });
          sim.crash(net);
          expect(['NodeDownError', 'ClosedError']).toContain((await rejection(inFlight)).name);
          const seenBefore = watch.of('group.applied', net).length;

          // The others go on without it.
          await eventually(sim, () => others.some((x) => x.isLeader), 20_000, 'a leader among the others');
          for (let i = 0; i < 6; i++) await (others[i % 2] as CounterGroup).execute({ op: 'inc', by: 1 });
          await expectSameState(sim, others);
          value = await weakValue(others[0] as CounterGroup);
          expect([valueBefore + 6, valueBefore + 1_006]).toContain(value);

          // Restart it cut off from everyone: it can only replay what it stored.
          sim.isolate(net);
          sim.restart(net);
          await eventually(sim, () => g.committed >= committedBefore, 5_000, 'replayed from its own log');
          await sim.sleep(1_000);
          expect(g.committed).toBe(committedBefore);
          expect(await weakValue(g)).toBe(valueBefore);
          const replayed = watch.of('group.applied', net).slice(seenBefore);
          if (snapshotEveryEntries < 100) expect(replayed[0]?.event.index ?? 0).toBeGreaterThan(1);
          else expect(replayed[0]?.event.index).toBe(1);

          // Back on the network: catches up, and the state is the others', not a double count.
          sim.heal();
          await expectSameState(sim, groups, value, 30_000);
          await g.when.leaderElected();
          const last = await g.execute({ op: 'inc', by: 1 });
          expect(last.result).toBe(value + 1);
          await expectSameState(sim, groups, value + 1);
        });
        watch.expectSafe();
      });
    }
  }
});

describe('groups: a lost formation reports its writes', () => {
  it("a loser's committed and pending writes are dropped and reported (formationLost, FormationLostError), never merged", async () => {
    const { sim, watch } = simulation(51);
    await sim.run(async () => {
      const key = 'formation-lost';
      // The earlier formation: n0 alone, 3 writes.
      const n0 = loneNode(sim);
      const g0: CounterGroup = n0.groups.join({ key, machine: new Counter() });
      await g0.when.isLeader();
      for (const by of [1, 2, 3]) await g0.execute({ op: 'inc', by });

      // A later one of two voters (n1, n1b), unaware of n0: one committed write...
      const n1 = loneNode(sim);
      const n1b = loneNode(sim);
      await discoverAll(sim, [n1, n1b]);
      const g1: CounterGroup = n1.groups.join({ key, machine: new Counter(), bootstrapExpect: 2 });
      const g1b: CounterGroup = n1b.groups.join({ key, machine: new Counter(), bootstrapExpect: 2 });
      await settled(sim, [g1, g1b], 2);
      // a is the pair's leader, b its follower.
      const [na, nb, ga, gb] = g1.isLeader ? [n1, n1b, g1, g1b] : [n1b, n1, g1b, g1];
      expect((await gb.execute({ op: 'inc', by: 100 })).result).toBe(100);
      await ga.when.committed().reaches(gb.committed);
      // ... then b crashes, so a's next writes cannot commit: one fed, one executed.
      sim.crash(nb);
      const fed = await ga.feed({ op: 'inc', by: 1_000 });
      const pending = ga.execute({ op: 'inc', by: 10_000 });
      await sim.sleep(500);
      expect(ga.committed).toBeLessThan(fed.index);
      const lastIndex = watch.core(na, ga)?.raft.log.lastIndex() ?? 0;
      expect(lastIndex).toBe(fed.index + 1);

      // a meets n0: a's formation is the later one and loses.
      await discoverAll(sim, [n0, na]);
      expect((await rejection(pending)).name).toBe('FormationLostError');
      const lost = watch.of('group.formationLost', na);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.event.lastIndex).toBe(lastIndex);
      await settled(sim, [g0, ga], 2);
      // Nothing of a's history in the kept one: 6, not 6 + 100 + 1000 + 10000.
      await expectSameState(sim, [g0, ga], 6);

      // b comes back with its stored (losing) history, meets the winner, and yields too.
      sim.restart(nb);
      await discoverAll(sim, [n0, na, nb]);
      await eventually(sim, () => watch.of('group.formationLost', nb).length > 0, 30_000, 'b yields');
      expect(watch.of('group.formationLost', nb)[0]?.event.lastIndex).toBeGreaterThan(gb.committed > 0 ? 0 : -1);
      await settled(sim, [g0, ga, gb], 3);
      await expectSameState(sim, [g0, ga, gb], 6);
      expect((await gb.execute({ op: 'inc', by: 1 })).result).toBe(7);
      await expectSameState(sim, [g0, ga, gb], 7);
    });
    watch.expectSafe();
  });
});
