import type { Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ApplyContext, ConsensusConfig, StateMachine } from '../../api/groups.ts';
import { Counter, type CounterCommand } from './counter.ts';
import { type CounterGroup, discoverAll, eventually, expectSameState, type GroupWatch, loneNode, nodeVia, settled, simulation, weakValue } from './helpers.ts';

/**
 * mosaik's group tests (reference spec §4: catchup, execute) in the simulator, values
 * checked. Our log also holds configurations and each leader's no-op, so indices are
 * compared with the group's own (settled) index rather than with mosaik's constants.
 */

/** A lone node forms the group; `count - 1` more join it one after the other; all settle as voters. */
async function formGroup(
  sim: Simulation,
  count: number,
  key: string,
  machine: () => StateMachine<CounterCommand, null, number> = () => new Counter(),
  consensus: Partial<ConsensusConfig> = {},
): Promise<{ nets: Network[]; groups: CounterGroup[] }> {
  const n0 = loneNode(sim);
  const g0: CounterGroup = n0.groups.join({ key, machine: machine(), consensus });
  await g0.when.online();
  expect(g0.leader?.equals(n0.peerId)).toBe(true);
  // The others join the network through n0: in its gossip mesh, they see each other's entries
  // (and so each other's membership) at once, as in production.
  const nets = [n0, ...Array.from({ length: count - 1 }, () => nodeVia(sim, n0))];
  await discoverAll(sim, nets);
  const groups = [g0, ...nets.slice(1).map((n) => n.groups.join({ key, machine: machine(), consensus }) as CounterGroup)];
  for (const g of groups) {
    await g.when.online();
    expect(g.leader?.equals(n0.peerId)).toBe(true);
  }
  await settled(sim, groups, count);
  // Every member bonded with every other: any of them can lead once the first is gone.
  await eventually(sim, () => groups.every((g) => g.members().bonds.length === count - 1), 10_000, 'full mesh of bonds');
  return { nets, groups };
}

/** Results of `execute`s ordered by index are the running value: each saw exactly the ones before it. */
function expectRunningValues(start: number, outcomes: { index: number; by: number; result: unknown }[]): void {
  const sorted = [...outcomes].sort((a, b) => a.index - b.index);
  let value = start;
  for (const o of sorted) {
    value += o.by;
    expect(o.result).toBe(value);
  }
  // Consecutive indices: nothing else got in between.
  const first = sorted[0]?.index ?? 0;
  expect(sorted.map((o) => o.index)).toEqual(sorted.map((_, i) => first + i));
}

/**
 * The first index a node reached itself: above 1 means it started from a snapshot (a
 * snapshot installed, or entries applied after one). A snapshot that covers everything
 * leaves no applied entry, only the `group.installed` event: its index + 1 is where the
 * node's own applying would start.
 */
function firstApplied(watch: GroupWatch, net: Network): number | undefined {
  const installed = watch.of('group.installed', net)[0]?.event.index;
  const applied = watch.of('group.applied', net)[0]?.event.index;
  if (installed !== undefined) return installed + 1;
  return applied;
}

/**
 * A counter whose snapshot is large (1.5 KiB per command, every byte checked on restore), so
 * a 200-command state is more than one 256 KiB snapshot chunk.
 */
class BulkyCounter implements StateMachine<CounterCommand, null, number> {
  static readonly BLOCK = 1536;
  readonly signature = 'mosaik-ts/test/bulky-counter/1';
  value = 0;
  count = 0;
  apply(command: CounterCommand, _ctx: ApplyContext): number {
    this.value += command.op === 'inc' ? command.by : -command.by;
    this.count++;
    return this.value;
  }
  query(): number {
    return this.value;
  }
  snapshot(): Uint8Array {
    const out = new Uint8Array(16 + this.count * BulkyCounter.BLOCK);
    const view = new DataView(out.buffer);
    view.setFloat64(0, this.value);
    view.setFloat64(8, this.count);
    for (let i = 16; i < out.length; i++) out[i] = (i * 31 + (i >> 9)) & 0xff;
    return out;
  }
  restore(snapshot: Uint8Array): void {
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    const value = view.getFloat64(0);
    const count = view.getFloat64(8);
    if (snapshot.length !== 16 + count * BulkyCounter.BLOCK) throw new Error(`bulky snapshot of ${snapshot.length} bytes for ${count} commands`);
    for (let i = 16; i < snapshot.length; i++) {
      if (snapshot[i] !== ((i * 31 + (i >> 9)) & 0xff)) throw new Error(`bulky snapshot corrupt at byte ${i}`);
    }
    this.value = value;
    this.count = count;
  }
}

describe('mosaik groups::catchup', () => {
  it('one_leader_one_follower_small: a joiner catches up, then writes', async () => {
    const { sim, watch } = simulation(21);
    const n0 = loneNode(sim);
    await sim.run(async () => {
      const g0: CounterGroup = n0.groups.join({ key: 'catchup-small', machine: new Counter() });
      await g0.when.isLeader();
      const commands: CounterCommand[] = [
        { op: 'inc', by: 1 },
        { op: 'inc', by: 2 },
        { op: 'inc', by: 4 },
        { op: 'dec', by: 1 },
      ];
      const results = [];
      for (const c of commands) results.push((await g0.execute(c)).result);
      expect(results).toEqual([1, 3, 7, 6]);
      const leaderIndex = g0.committed;

      const n1 = loneNode(sim);
      await discoverAll(sim, [n0, n1]);
      const g1: CounterGroup = n1.groups.join({ key: 'catchup-small', machine: new Counter() });
      await g1.when.leaderElected();
      expect(g1.leader?.equals(n0.peerId)).toBe(true);
      const start = sim.now;
      await g1.when.committed().reaches(leaderIndex);
      expect(sim.now - start).toBeLessThanOrEqual(10_000);
      expect(await weakValue(g1)).toBe(6);
      await settled(sim, [g0, g1], 2);

      const r = await g1.executeMany([
        { op: 'inc', by: 1 },
        { op: 'inc', by: 1 },
      ]);
      expect(r.results).toEqual([7, 8]);
      expect(r.range.end - r.range.start).toBe(1);
      expect(g1.committed).toBeGreaterThanOrEqual(r.range.end);
      await g0.when.committed().reaches(r.range.end);
      await expectSameState(sim, [g0, g1], 8);
      expect(firstApplied(watch, n1)).toBe(1); // a short log: replayed, no snapshot
    });
    watch.expectSafe();
  });

  const variants = [
    { name: 'log replay (no snapshot)', snapshotEveryEntries: 10_000, bulky: false },
    { name: 'snapshot every 7', snapshotEveryEntries: 7, bulky: false },
    { name: 'snapshot every 50', snapshotEveryEntries: 50, bulky: false },
    { name: 'snapshot every 50, state > one 256 KiB chunk', snapshotEveryEntries: 50, bulky: true },
  ];
  for (const v of variants) {
    it(`one_leader_one_follower_large [${v.name}]: 200 commands, a joiner catches up, writes 200, a third joins`, async () => {
      const { sim, watch } = simulation(22);
      const consensus = { snapshotEveryEntries: v.snapshotEveryEntries };
      const machine = () => (v.bulky ? new BulkyCounter() : new Counter());
      const key = 'catchup-large';
      const n0 = loneNode(sim);
      await sim.run(async () => {
        const g0: CounterGroup = n0.groups.join({ key, machine: machine(), consensus });
        await g0.when.isLeader();
        for (let i = 0; i < 200; i++) await g0.execute({ op: 'inc', by: i });
        expect(await weakValue(g0)).toBe(19_900);
        const leaderIndex = g0.committed;
        const snapshotBytes = () => watch.core(n0, g0)?.raft.snapshot?.data.length ?? 0;
        if (v.bulky) expect(snapshotBytes()).toBeGreaterThan(256 * 1024); // the joiner gets it in chunks

        const n1 = loneNode(sim);
        await discoverAll(sim, [n0, n1]);
        const g1: CounterGroup = n1.groups.join({ key, machine: machine(), consensus });
        await g1.when.committed().reaches(leaderIndex);
        expect(await weakValue(g1)).toBe(19_900);
        if (v.snapshotEveryEntries < 200) expect(firstApplied(watch, n1)).toBeGreaterThan(v.snapshotEveryEntries);
        else expect(firstApplied(watch, n1)).toBe(1);
        await settled(sim, [g0, g1], 2);

        const r = await g1.executeMany(Array.from({ length: 200 }, (_, i) => ({ op: 'inc', by: i }) as const));
        expect(r.range.end - r.range.start).toBe(199);
        expect(r.results.at(-1)).toBe(39_800);
        expect(g1.committed).toBeGreaterThanOrEqual(r.range.end); // at once
        expect(await weakValue(g1)).toBe(39_800);

        await g0.when.committed().reaches(r.range.end);
        if (v.bulky) expect(snapshotBytes()).toBeGreaterThan(2 * 256 * 1024);
        const n2 = loneNode(sim);
        await discoverAll(sim, [n0, n1, n2]);
        const g2: CounterGroup = n2.groups.join({ key, machine: machine(), consensus });
        await g2.when.committed().reaches(r.range.end);
        if (v.snapshotEveryEntries < 400) expect(firstApplied(watch, n2)).toBeGreaterThan(200);
        await settled(sim, [g0, g1, g2], 3);
        await expectSameState(sim, [g0, g1, g2], 39_800);
      });
      watch.expectSafe();
    });
  }
});

describe('mosaik groups::execute', () => {
  it('no_catchup_weak_query: writes from leader and followers, the leader killed, writes go on', async () => {
    const { sim, watch } = simulation(23);
    await sim.run(async () => {
      const { nets, groups } = await formGroup(sim, 3, 'execute-weak');
      const [n0] = nets as [Network];
      const [g0, g1, g2] = groups as [CounterGroup, CounterGroup, CounterGroup];
      const base = g0.committed;

      expect((await g0.execute({ op: 'inc', by: 3 })).index).toBe(base + 1);
      expect((await g0.execute({ op: 'inc', by: 4 })).index).toBe(base + 2);
      expect(g0.committed).toBe(base + 2);
      expect(await g0.query(null, 'strong')).toEqual({ result: 7, at: base + 2 });
      for (const g of [g1, g2]) {
        await g.when.committed().reaches(base + 2);
        expect(await g.query(null, 'weak')).toEqual({ result: 7, at: base + 2 });
      }

      const r = await g1.execute({ op: 'dec', by: 2 });
      expect(r).toEqual({ index: base + 3, result: 5 });
      for (const g of groups) await g.when.committed().reaches(base + 3);
      for (const g of groups) expect(await weakValue(g)).toBe(5);

      // Kill the leader: both followers agree on one new leader.
      sim.crash(n0);
      await eventually(sim, () => g1.leader !== undefined && !g1.leader.equals(n0.peerId) && g2.leader?.equals(g1.leader) === true, 20_000, 'new leader');
      expect(g1.isLeader !== g2.isLeader).toBe(true);

      const m1 = await g1.executeMany([
        { op: 'inc', by: 10 },
        { op: 'dec', by: 2 },
        { op: 'inc', by: 3 },
      ]);
      expect(m1.results).toEqual([15, 13, 16]);
      expect(m1.range.start).toBeGreaterThan(base + 3); // after the new leader's no-op
      const m2 = await g2.executeMany([
        { op: 'inc', by: 20 },
        { op: 'dec', by: 4 },
        { op: 'dec', by: 1 },
      ]);
      expect(m2.results).toEqual([36, 32, 31]);
      expect(m2.range).toEqual({ start: m1.range.end + 1, end: m1.range.end + 3 });
      await g1.when.committed().reaches(m2.range.end);
      expect(g1.committed).toBe(m2.range.end);
      expect(g2.committed).toBe(m2.range.end);
      expect(await weakValue(g1)).toBe(31);
      expect(await weakValue(g2)).toBe(31);
    });
    watch.expectSafe();
  });

  it('no_catchup_strong_query: a follower’s strong read equals the leader’s and costs a round trip more', async () => {
    const { sim, watch } = simulation(24);
    await sim.run(async () => {
      const { groups } = await formGroup(sim, 3, 'execute-strong');
      const [g0, g1] = groups as [CounterGroup, CounterGroup];
      const base = g0.committed;
      await g0.execute({ op: 'inc', by: 3 });
      await g0.execute({ op: 'inc', by: 4 });

      const timed = async (f: () => Promise<{ result: number; at: number }>) => {
        const start = sim.now;
        const r = await f();
        return { ...r, ms: sim.now - start };
      };
      const leaderStrong = await timed(() => g0.query(null, 'strong'));
      expect(leaderStrong).toMatchObject({ result: 7, at: base + 2 });
      await g1.when.committed().reaches(base + 2);
      const followerWeak = await timed(() => g1.query(null, 'weak'));
      expect(followerWeak).toMatchObject({ result: 7, at: base + 2 });
      const followerStrong = await timed(() => g1.query(null, 'strong'));
      expect(followerStrong).toMatchObject({ result: 7, at: base + 2 });
      expect(followerStrong.ms).toBeGreaterThan(leaderStrong.ms);
      expect(followerStrong.ms).toBeGreaterThan(followerWeak.ms);

      // Linearizable: right after a write completes on the leader, a follower's strong read sees it,
      // whether or not the follower has applied it yet.
      for (let i = 1; i <= 5; i++) {
        const w = await g0.execute({ op: 'inc', by: 1 });
        const strong = await g1.query(null, 'strong');
        expect(strong.result).toBe(7 + i);
        expect(strong.at).toBeGreaterThanOrEqual(w.index);
      }
    });
    watch.expectSafe();
  });

  it('execute_is_send_sync_via_joinset: 5 concurrent executes on the leader and 5 on a follower', async () => {
    const { sim, watch } = simulation(25);
    await sim.run(async () => {
      const { groups } = await formGroup(sim, 2, 'joinset-execute');
      const [g0, g1] = groups as [CounterGroup, CounterGroup];
      const base = g0.committed;
      const calls = [...Array.from({ length: 5 }, () => ({ g: g0, by: 5 })), ...Array.from({ length: 5 }, () => ({ g: g1, by: 10 }))];
      const outcomes = await Promise.all(calls.map(async ({ g, by }) => ({ by, ...(await g.execute({ op: 'inc', by })) })));
      expectRunningValues(0, outcomes);
      expect(Math.min(...outcomes.map((o) => o.index))).toBe(base + 1);
      await g0.when.committed().reaches(base + 10);
      await g1.when.committed().reaches(base + 10);
      expect(g0.committed).toBe(base + 10);
      expect(g1.committed).toBe(base + 10);
      expect(await weakValue(g0)).toBe(75);
      expect(await weakValue(g1)).toBe(75);
    });
    watch.expectSafe();
  });

  it('execute_many_is_send_sync_via_joinset: 4 concurrent batches, 2 on the leader and 2 on a follower', async () => {
    const { sim, watch } = simulation(26);
    await sim.run(async () => {
      const { groups } = await formGroup(sim, 2, 'joinset-many');
      const [g0, g1] = groups as [CounterGroup, CounterGroup];
      const base = g0.committed;
      const inc = (by: number): CounterCommand => ({ op: 'inc', by });
      const batches: [CounterGroup, CounterCommand[]][] = [
        [g0, [inc(5), inc(5)]],
        [g0, [inc(10), inc(5), inc(5)]],
        [g1, [inc(5), inc(5)]],
        [g1, [inc(5), inc(5)]],
      ];
      const outcomes = await Promise.all(batches.map(async ([g, cs]) => ({ cs, ...(await g.executeMany(cs)) })));
      // Each batch at consecutive indices, the batches side by side, covering 9 indices.
      const perCommand = outcomes.flatMap((o) => o.cs.map((c, k) => ({ index: o.range.start + k, by: c.by, result: o.results[k] })));
      for (const o of outcomes) expect(o.range.end - o.range.start).toBe(o.cs.length - 1);
      expectRunningValues(0, perCommand);
      expect(Math.min(...perCommand.map((o) => o.index))).toBe(base + 1);
      await g0.when.committed().reaches(base + 9);
      await g1.when.committed().reaches(base + 9);
      expect(g0.committed).toBe(base + 9);
      expect(g1.committed).toBe(base + 9);
      expect(await weakValue(g0)).toBe(50);
      expect(await weakValue(g1)).toBe(50);
    });
    watch.expectSafe();
  });

  it('query_is_send_sync_via_joinset: 12 concurrent weak and strong queries on the leader and a follower', async () => {
    const { sim, watch } = simulation(27);
    await sim.run(async () => {
      const { groups } = await formGroup(sim, 2, 'joinset-query');
      const [g0, g1] = groups as [CounterGroup, CounterGroup];
      const w = await g1.execute({ op: 'inc', by: 30 });
      await g0.when.committed().reaches(w.index);
      const queries = [g0, g1].flatMap((g) => (['weak', 'strong'] as const).flatMap((c) => [1, 2, 3].map(() => g.query(null, c))));
      expect(queries).toHaveLength(12);
      const results = await Promise.all(queries);
      for (const r of results) expect(r).toEqual({ result: 30, at: w.index });
    });
    watch.expectSafe();
  });
});
