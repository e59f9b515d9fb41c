import type { Network } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ApplyContext, StateMachine } from '../../api/groups.ts';
import { compareFormations } from '../../core/groups/formation.ts';
import { Digest } from '../../core/identity/digest.ts';
import { Counter } from './counter.ts';
import { type CounterGroup, discoverAll, eventually, expectSameState, loneNode, nodeVia, settled, simulation, weakValue } from './helpers.ts';

/**
 * mosaik's group tests (reference spec §4: bonds, builder, feed, leader) in the simulator,
 * with values checked wherever mosaik leaves them unchecked. Indices differ from mosaik's:
 * our log also holds the first configuration, each leader's no-op and membership changes,
 * so the tests compare indices with each other rather than with mosaik's constants.
 */

/** mosaik's default machine when none is given: does nothing. */
class NoOp implements StateMachine<null, null, null> {
  readonly signature = 'mosaik-ts/test/noop/1';
  apply(_command: null, _ctx: ApplyContext): undefined {
    return undefined;
  }
  query(): null {
    return null;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

const sortedHex = (ids: readonly { hex: string }[]): string[] => ids.map((p) => p.hex).sort();

describe('mosaik groups::bonds', () => {
  it('members_can_see_each_other: each member bonds with exactly its group peers', async () => {
    const { sim, watch } = simulation(11);
    const n0 = loneNode(sim);
    const [n1, n2, n3] = [nodeVia(sim, n0), nodeVia(sim, n0), nodeVia(sim, n0)] as [Network, Network, Network];
    await sim.run(async () => {
      await discoverAll(sim, [n0, n1, n2, n3]);
      const start = sim.now;
      const join = (n: Network, key: string) => n.groups.join({ key, machine: new Counter() });
      // group1: n0, n1; group2: n0, n2, n3; group3: n1, n2
      const expected: [CounterGroup, Network, Network[]][] = [
        [join(n0, 'group1secret'), n0, [n1]],
        [join(n1, 'group1secret'), n1, [n0]],
        [join(n0, 'group2secret'), n0, [n2, n3]],
        [join(n2, 'group2secret'), n2, [n0, n3]],
        [join(n3, 'group2secret'), n3, [n0, n2]],
        [join(n1, 'group3secret'), n1, [n2]],
        [join(n2, 'group3secret'), n2, [n1]],
      ];
      const holds = () => expected.every(([g, , peers]) => sortedHex(g.members().bonds).join() === sortedHex(peers.map((p) => p.peerId)).join());
      await eventually(sim, holds, 5_000, 'bonds formed');
      // mosaik gives bonds 5 s; here they form in well under one catalog exchange.
      expect(sim.now - start).toBeLessThanOrEqual(5_000);
      // And stay so: nobody bonds across groups later either.
      await sim.sleep(10_000);
      expect(holds()).toBe(true);
      // Three groups, three ids, and each forms: every group gets one leader among its members.
      expect(new Set(expected.map(([g]) => g.id.hex)).size).toBe(3);
      await Promise.all(expected.map(([g]) => g.when.leaderElected()));
      for (const [g, , peers] of expected) {
        expect([g, ...peers].length).toBe(g.members().voters.length);
      }
    });
    watch.expectSafe();
  });
});

describe('mosaik groups::builder', () => {
  it('group_id_derived_from_config: key, machine signature and heartbeat settings name the group', async () => {
    const { sim, watch } = simulation(12);
    const nets = Array.from({ length: 8 }, () => loneNode(sim));
    const n = (i: number) => nets[i] as Network;
    const base = { key: 'builder-secret', machine: new Counter() } as const;
    await sim.run(async () => {
      const g0 = n(0).groups.join(base);
      // Same key and machine signature (another instance): same id, whatever the local options.
      expect(n(1).groups.join({ key: 'builder-secret', machine: new Counter() }).id.hex).toBe(g0.id.hex);
      expect(n(2).groups.join({ ...base, leadership: 'reluctant', bootstrapExpect: 2, maxVoters: 3 }).id.hex).toBe(g0.id.hex);
      // The key as a digest of the same secret is the same key.
      expect(n(3).groups.join({ ...base, key: Digest.from('builder-secret') }).id.hex).toBe(g0.id.hex);
      // Timing that is each node's own business does not change the id (mosaik: election timeout).
      expect(
        n(4).groups.join({
          ...base,
          consensus: { electionTimeoutMs: 5_000, electionTimeoutJitterMs: 100, bootstrapDelayMs: 1_000, forwardTimeoutMs: 500, snapshotEveryEntries: 7 },
        }).id.hex,
      ).toBe(g0.id.hex);

      // Different key, different machine, different heartbeat settings: different groups.
      const others = [
        n(5).groups.join({ ...base, key: 'another-secret' }),
        n(5).groups.join({ key: 'builder-secret', machine: new NoOp() }),
        n(6).groups.join({ ...base, consensus: { heartbeatMs: 250 } }),
        n(6).groups.join({ ...base, consensus: { heartbeatJitterMs: 0 } }),
        n(7).groups.join({ ...base, consensus: { maxMissedHeartbeats: 3 } }),
      ];
      expect(new Set([g0, ...others].map((g) => g.id.hex)).size).toBe(others.length + 1);

      // The ids decide who bonds: the five same-id nodes bond with each other, nobody else.
      await discoverAll(sim, nets);
      await eventually(sim, () => g0.members().bonds.length === 4, 10_000, 'same-id nodes bond');
      expect(sortedHex(g0.members().bonds)).toEqual(sortedHex([1, 2, 3, 4].map((i) => n(i).peerId)));
      await g0.when.leaderElected();
      await sim.sleep(5_000);
      for (const g of others) expect(g.members().bonds).toEqual([]);
      expect(g0.members().bonds).toHaveLength(4);
    });
    watch.expectSafe();
  });
});

describe('mosaik groups::feed', () => {
  it('smoke: a lone node self-elects; a joiner follows; feed and executeMany from the follower', async () => {
    const { sim, watch } = simulation(13);
    const n0 = loneNode(sim);
    await sim.run(async () => {
      const g0: CounterGroup = n0.groups.join({ key: 'feed-secret', machine: new Counter() });
      expect(g0.leader).toBeUndefined();
      await g0.when.online();
      expect(g0.isLeader).toBe(true);
      expect(g0.leader?.equals(n0.peerId)).toBe(true);

      const n1 = loneNode(sim);
      await discoverAll(sim, [n0, n1]);
      const g1: CounterGroup = n1.groups.join({ key: 'feed-secret', machine: new Counter() });
      await g1.when.online();
      expect(g1.isLeader).toBe(false);
      expect(g1.leader?.equals(n0.peerId)).toBe(true);
      await settled(sim, [g0, g1], 2);
      const base = g0.committed;

      // From the follower: feed resolves with the index the leader gave it (not yet applied).
      const f1 = await g1.feed({ op: 'inc', by: 1 });
      const f2 = await g1.feed({ op: 'inc', by: 2 });
      expect(f1.index).toBe(base + 1);
      expect(f2.index).toBe(base + 2);
      const many = await g1.executeMany([
        { op: 'inc', by: 3 },
        { op: 'inc', by: 4 },
        { op: 'inc', by: 5 },
      ]);
      expect(many.range).toEqual({ start: base + 3, end: base + 5 });
      expect(many.results).toEqual([6, 10, 15]);
      // executeMany resolves after the local apply: read-your-writes at once.
      expect(g1.committed).toBeGreaterThanOrEqual(base + 5);

      await g0.when.committed().reaches(base + 5);
      await g1.when.committed().reaches(base + 5);
      expect(g0.committed).toBe(base + 5);
      expect(g1.committed).toBe(base + 5);
      expect(await weakValue(g0)).toBe(15);
      expect(await weakValue(g1)).toBe(15);
      expect((await g1.query(null, 'weak')).at).toBe(base + 5);
    });
    watch.expectSafe();
  });
});

describe('mosaik groups::leader', () => {
  for (const drop of ['crash', 'close'] as const) {
    it(`is_elected: joiners follow without an election; after the leader is dropped (${drop}) exactly one new leader`, async () => {
      const { sim, watch } = simulation(drop === 'crash' ? 14 : 15);
      const key = 'secret1';
      const n0 = loneNode(sim);
      await sim.run(async () => {
        const g0: CounterGroup = n0.groups.join({ key, machine: new Counter() });
        // No leader before the bootstrap delay.
        expect(g0.leader).toBeUndefined();
        expect(g0.isLeader).toBe(false);
        await sim.sleep(1_000);
        expect(g0.leader).toBeUndefined();
        await g0.when.leaderElected();
        expect(g0.isLeader).toBe(true);
        expect(g0.leader?.equals(n0.peerId)).toBe(true);
        const term = watch.roles(n0).at(-1)?.term;
        expect(term).toBeDefined();
        await g0.execute({ op: 'inc', by: 7 });

        const n1 = loneNode(sim);
        await discoverAll(sim, [n0, n1]);
        const g1: CounterGroup = n1.groups.join({ key, machine: new Counter() });
        await g1.when.leaderElected();
        expect(g1.leader?.equals(n0.peerId)).toBe(true);
        expect(g1.isLeader).toBe(false);

        const n2 = loneNode(sim);
        await discoverAll(sim, [n0, n1, n2]);
        const g2: CounterGroup = n2.groups.join({ key, machine: new Counter() });
        await g2.when.leaderElected();
        expect(g2.leader?.equals(n0.peerId)).toBe(true);
        expect(g2.isLeader).toBe(false);
        await settled(sim, [g0, g1, g2], 3);

        // Without an election: n0 stayed leader in its first term, the joiners only ever followed it in that term
        // (before that a joiner is at term 1, the term of the formation's first configuration, which it writes
        // itself as entry 1, following no one).
        for (const r of watch.roles(n0)) expect(r.term).toBe(term);
        for (const n of [n1, n2]) {
          const followed = watch.of('group.role', n).filter((s) => s.event.leader !== undefined);
          expect(followed.length).toBeGreaterThan(0);
          for (const s of followed) expect(s.event.term).toBe(term);
          for (const r of watch.roles(n)) expect(r.term === term || r.term === 1).toBe(true);
        }
        expect(watch.roles(n0).map((r) => r.role)).toEqual(['leader']);
        for (const n of [n1, n2]) expect(watch.roles(n).every((r) => r.role === 'follower')).toBe(true);
        await expectSameState(sim, [g0, g1, g2], 7);

        // Drop the leader: the other two agree on one new leader.
        if (drop === 'crash') sim.crash(n0);
        else await n0.close();
        await eventually(
          sim,
          () => g1.leader !== undefined && !g1.leader.equals(n0.peerId) && g2.leader?.equals(g1.leader) === true,
          drop === 'crash' ? 20_000 : 2_000,
          'a new leader',
        );
        const newLeader = g1.leader;
        expect(g1.isLeader !== g2.isLeader).toBe(true);
        const leaders = watch.of('group.role').filter((s) => s.event.role === 'leader' && s.net !== n0);
        expect(new Set(leaders.map((s) => s.net))).toEqual(new Set([g1.isLeader ? n1 : n2]));
        const newTerm = leaders.at(-1)?.event.term ?? 0;
        expect(newTerm).toBeGreaterThan(term ?? 0);

        // It works: a write from the follower among the two.
        const follower = g1.isLeader ? g2 : g1;
        expect((await follower.execute({ op: 'inc', by: 1 })).result).toBe(8);

        // A late node follows the new leader, no election.
        const n3 = loneNode(sim);
        await discoverAll(sim, [n1, n2, n3]);
        const g3: CounterGroup = n3.groups.join({ key, machine: new Counter() });
        await g3.when.leaderElected();
        expect(g3.leader?.equals(newLeader as NonNullable<typeof newLeader>)).toBe(true);
        expect(g3.isLeader).toBe(false);
        await expectSameState(sim, [g1, g2, g3], 8);
        expect(watch.roles(n3).every((r) => r.role === 'follower' && (r.term === newTerm || r.term === 1))).toBe(true);
        expect(watch.of('group.role', n3).some((s) => s.event.leader !== undefined && s.event.term === newTerm)).toBe(true);
      });
      watch.expectSafe();
      expect(sim.now).toBeLessThan(60_000);
    });
  }

  it('rivals_with_same_log_pos: three undiscovered self-elected leaders converge on one, identical state', async () => {
    const { sim, watch } = simulation(16);
    const nets = [loneNode(sim), loneNode(sim), loneNode(sim)];
    const [n0, n1, n2] = nets as [Network, Network, Network];
    await sim.run(async () => {
      const groups = nets.map((n) => n.groups.join({ key: 'rivals', machine: new Counter() })) as CounterGroup[];
      // Nobody knows anybody: each forms its own history and leads it.
      await Promise.all(groups.map((g) => g.when.isLeader()));
      const formations = nets.map((n, i) => watch.core(n, groups[i] as CounterGroup)?.formation);
      expect(formations.every((f) => f !== undefined)).toBe(true);
      expect(new Set(groups.map((g) => g.committed)).size).toBe(1); // same log position
      // The winner is decided by the formation records alone: the earlier (then smaller id).
      const order = formations.map((f, i) => ({ f: f as NonNullable<typeof f>, i })).sort((a, b) => compareFormations(a.f, b.f));
      const winner = nets[order[0]?.i ?? -1] as Network;

      await discoverAll(sim, [n0, n1, n2]);
      const start = sim.now;
      await eventually(sim, () => groups.every((g) => g.leader?.equals(winner.peerId) === true), 10_000, 'one leader');
      expect(sim.now - start).toBeLessThanOrEqual(10_000);
      await settled(sim, groups, 3);

      // Each loser reported the history it dropped once: its first configuration and its no-op.
      // (A loser may yield twice, when it meets a second, earlier formation after the first:
      // the second time it has nothing to lose.)
      const lost = watch.of('group.formationLost');
      expect(new Set(lost.map((s) => s.net))).toEqual(new Set(nets.filter((n) => n !== winner)));
      const dropped = lost.filter((s) => s.event.lastIndex > 0);
      expect(dropped.map((s) => s.net).sort((a, b) => sim.indexOf(a) - sim.indexOf(b))).toEqual(nets.filter((n) => n !== winner));
      for (const s of dropped) expect(s.event.lastIndex).toBe(2);

      // One history from now on: writes from every node land in it, all replicas equal.
      for (const [i, g] of groups.entries()) await g.execute({ op: 'inc', by: i + 1 });
      await expectSameState(sim, groups, 6);
    });
    watch.expectSafe();
  });

  it('rivals_with_different_log_pos: the earlier formation wins, the losers report their writes, all end identical', async () => {
    const { sim, watch } = simulation(17);
    const n0 = loneNode(sim);
    await sim.run(async () => {
      const key = 'rivals-log';
      const g0: CounterGroup = n0.groups.join({ key, machine: new Counter() });
      await g0.when.isLeader();
      const r0 = await g0.executeMany([
        { op: 'inc', by: 3 },
        { op: 'inc', by: 2 },
        { op: 'inc', by: 1 },
      ]);
      expect(r0.results).toEqual([3, 5, 6]);
      expect(g0.committed).toBe(r0.range.end);

      // n1 and n2 form their own histories later, without discovery.
      const n1 = loneNode(sim);
      const g1: CounterGroup = n1.groups.join({ key, machine: new Counter() });
      await g1.when.isLeader();
      const r1 = await g1.execute({ op: 'inc', by: 100 });
      expect(r1.result).toBe(100);
      const n2 = loneNode(sim);
      const g2: CounterGroup = n2.groups.join({ key, machine: new Counter() });
      await g2.when.isLeader();
      expect(g2.leader?.equals(n2.peerId)).toBe(true);
      const lastIndex1 = g1.committed;
      const lastIndex2 = g2.committed;

      await discoverAll(sim, [n0, n1, n2]);
      await eventually(sim, () => [g0, g1, g2].every((g) => g.leader?.equals(n0.peerId) === true), 10_000, 'all follow n0');
      await settled(sim, [g0, g1, g2], 3);

      // The losers said so, with how much of their history they dropped (n1's write included)...
      // (A loser that first met the other loser yields twice; the second time it drops nothing.)
      const lost = watch.of('group.formationLost');
      expect(lost.some((s) => s.net === n0)).toBe(false);
      const dropped = lost.filter((s) => s.event.lastIndex > 0).map((s) => [s.net, s.event.lastIndex]);
      expect(dropped).toHaveLength(2);
      expect(dropped).toEqual(
        expect.arrayContaining([
          [n1, lastIndex1],
          [n2, lastIndex2],
        ]),
      );
      const winner = watch.core(n0, g0)?.formation;
      const winnerHex = Buffer.from(winner?.id ?? [])
        .toString('hex')
        .slice(0, 10);
      expect(lost.at(-1)?.event.winner).toBe(winnerHex);
      for (const [i, g] of [g0, g1, g2].entries()) expect(watch.core([n0, n1, n2][i] as Network, g)?.formation).toEqual(winner);
      // ... and it was not merged: everyone holds n0's history, 6, not 106.
      await expectSameState(sim, [g0, g1, g2], 6);
      // n1's write, applied in its lost history, never shows up in the kept one.
      const kept = watch.of('group.applied').filter((s) => s.event.formation === winnerHex);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.some((s) => s.event.id.startsWith(`${n1.peerId.hex}/`))).toBe(false);

      // The group works on: a write from each node, all equal.
      await g1.execute({ op: 'inc', by: 10 });
      await g2.execute({ op: 'inc', by: 20 });
      await g0.execute({ op: 'dec', by: 1 });
      await expectSameState(sim, [g0, g1, g2], 35);
    });
    watch.expectSafe();
  });
});
