import { OfflineError } from 'mosaik';
import {
  type CounterInput,
  type CounterOutput,
  checkLinearizable,
  counterModel,
  type FaultPlan,
  type Network,
  type Operation,
  QUIET_PLAN,
  Simulation,
} from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ConsensusConfig } from '../../core/groups/group-id.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { Counter } from './counter.ts';
import { type CounterGroup, GroupWatch } from './helpers.ts';

// Many calls in flight at once. Each must be applied once: a call is proposed a second time
// only when its first copy may have been lost, never because the group is busy. (A retried
// copy is skipped as a duplicate, so a second proposal is safe, but under load it doubled
// the log: a follower that fell behind and caught up by snapshot left every call the
// snapshot covered waiting for the forward timeout, and applies slower than that timeout
// had every call in flight proposed again.)

interface Burst {
  /** Every call's result (the counter after its increment), in the order they resolved. */
  readonly results: number[];
  /** Applied entries that were skipped as duplicates, on any member. */
  readonly duplicates: number;
  /** Snapshots installed from the leader, on any member. */
  readonly installs: number;
  /** Each member's counter at the end. */
  readonly values: number[];
  /** Virtual ms from the first call to the last result. */
  readonly tookMs: number;
}

/** 50 ms between any two members, no jitter. */
const SLOW_LINKS: FaultPlan = { ...QUIET_PLAN, latencyMsMin: 50, latencyMsMax: 50, jitterMsMax: 0 };

/** Three nodes on one network, Raft's safety watched, not yet in any group. */
function threeNodes(seed: number, faults: FaultPlan = QUIET_PLAN): { sim: Simulation; watch: GroupWatch; nets: Network[] } {
  const sim = new Simulation({ seed, faults, ...scenarioCrypto });
  const watch = new GroupWatch(sim);
  const a = sim.node({ network: 'load' });
  return { sim, watch, nets: [a, sim.node({ network: 'load', bootstrap: [a.addr] }), sim.node({ network: 'load', bootstrap: [a.addr] })] };
}

/** Each node joins the counter group with its machine; resolves once every member is online. */
async function joinAll(nets: readonly Network[], machines: readonly Counter[], consensus?: Partial<ConsensusConfig>): Promise<CounterGroup[]> {
  const groups = nets.map((net, i) => net.groups.join({ key: 'load', machine: machines[i] as Counter, bootstrapExpect: 3, consensus }) as CounterGroup);
  await Promise.all(groups.map((g) => g.when.online()));
  return groups;
}

/** Applied entries skipped as duplicates, on any member. */
function duplicatesSeen(watch: GroupWatch): number {
  return watch.events.filter((e) => e.event.type === 'group.applied' && e.event.id.endsWith(':dup')).length;
}

/**
 * Three members and increments spread over all three: `calls` issued at once, or with
 * `forMs`, `calls` clients each calling again as soon as its call resolves, for that long.
 * Then every member's state.
 */
async function load(
  seed: number,
  calls: number,
  consensus: Partial<ConsensusConfig>,
  { faults = QUIET_PLAN, forMs }: { faults?: FaultPlan; forMs?: number } = {},
): Promise<Burst> {
  const { sim, watch, nets } = threeNodes(seed, faults);
  const machines = nets.map(() => new Counter());
  const out = await sim.run(async () => {
    const groups = await joinAll(nets, machines, consensus);
    const started = sim.now;
    const results: number[] = [];
    await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        const g = groups[i % groups.length] as CounterGroup;
        do results.push((await g.execute({ op: 'inc', by: 1 })).result as number);
        while (forMs !== undefined && sim.now - started < forMs);
      }),
    );
    const tookMs = sim.now - started;
    // Every member applies everything (followers hear of the last commit a little later).
    while (machines.some((m) => m.value !== results.length)) await sim.sleep(10);
    return { results, tookMs };
  });
  watch.expectSafe();
  return {
    ...out,
    duplicates: duplicatesSeen(watch),
    installs: watch.events.filter((e) => e.event.type === 'group.installed').length,
    values: machines.map((m) => m.value),
  };
}

/** Each call saw its own increment: the results are 1..n, once each. */
function expectEachAppliedOnce(results: readonly number[]): void {
  expect([...results].sort((x, y) => x - y)).toEqual(Array.from({ length: results.length }, (_, i) => i + 1));
}

describe('many calls in flight', () => {
  it('a follower that falls behind a burst and catches up by snapshot settles the calls the snapshot covers at once, proposing none again', async () => {
    const calls = 6_000;
    const r = await load(1, calls, { snapshotEveryEntries: 500 });
    expect(r.installs, 'a follower caught up by snapshot (what this test is about)').toBeGreaterThan(0);
    expectEachAppliedOnce(r.results);
    expect(r.values).toEqual([calls, calls, calls]);
    expect(r.duplicates).toBe(0);
    // Well under the forward timeout (2 s), which is what the covered calls used to wait for.
    expect(r.tookMs).toBeLessThan(1_000);
  });

  it('calls that take longer than the forward timeout to apply, on slow links, are not proposed again', async () => {
    // 50 ms between any two members: a follower's call is acknowledged by the leader after
    // 100 ms and applied after 200 (the append's round trip, then the commit notice). With a
    // forward timeout of 150 ms, at every heartbeat some acknowledged calls have waited longer
    // than that, while the group applies something every few ms. 60 clients call for 5 s.
    const r = await load(4, 60, { forwardTimeoutMs: 150 }, { faults: SLOW_LINKS, forMs: 5_000 });
    expect(r.results.length).toBeGreaterThan(1_000);
    expectEachAppliedOnce(r.results);
    expect(r.values).toEqual([r.results.length, r.results.length, r.results.length]);
    expect(r.duplicates).toBe(0);
  });

  it('forwards answered slower than the forward timeout (a slow disk) are sent again, but the leader proposes each call once', async () => {
    // The leader answers a forward once its entry is synced, 300 ms here, past the forward
    // timeout (200 ms): a follower's heartbeat that falls in between sends the call again.
    // The leader answers a copy of a call it proposed in this term with the slot it already
    // has. (Before, each copy was a new entry, skipped at apply: 59 of them in these 5 s.)
    const r = await load(2, 30, { forwardTimeoutMs: 200 }, { faults: { ...QUIET_PLAN, syncMs: { min: 300, max: 300 } }, forMs: 5_000 });
    expect(r.results.length).toBeGreaterThan(100);
    expectEachAppliedOnce(r.results);
    expect(r.values).toEqual([r.results.length, r.results.length, r.results.length]);
    expect(r.duplicates).toBe(0);
  });

  it('while its leader cannot commit, a follower does not send again the calls that leader acknowledged in its term', async () => {
    // Five members; the leader and one follower are cut off from the other three, so nothing
    // commits until check-quorum deposes the leader (two election timeouts). The follower's 50
    // calls are acknowledged at once. Sending them again would not help: they sit in this
    // leader's log for as long as it leads this term. (Before, every heartbeat past the forward
    // timeout sent all of them again, and the leader appended each copy.)
    const sim = new Simulation({ seed: 3, faults: QUIET_PLAN, ...scenarioCrypto });
    const watch = new GroupWatch(sim);
    const a = sim.node({ network: 'load' });
    const nets = [a, ...Array.from({ length: 4 }, () => sim.node({ network: 'load', bootstrap: [a.addr] }))];
    const machines = nets.map(() => new Counter());
    await sim.run(async () => {
      const groups = nets.map(
        (net, i) => net.groups.join({ key: 'load', machine: machines[i] as Counter, bootstrapExpect: 5, consensus: { forwardTimeoutMs: 300 } }) as CounterGroup,
      );
      await Promise.all(groups.map((g) => g.when.online()));
      while (groups.some((g) => g.members().voters.length < 5)) await sim.sleep(100);
      const leader = groups.findIndex((g) => g.isLeader);
      const follower = (leader + 1) % 5;
      const side = [nets[leader] as Network, nets[follower] as Network];
      sim.partition(
        side,
        nets.filter((n) => !side.includes(n)),
      );
      const f = groups[follower] as CounterGroup;
      const term = f.status()?.term;
      const calls = Array.from({ length: 50 }, () => f.execute({ op: 'inc', by: 1 }));
      await sim.sleep(500); // acknowledged
      const sentBefore = f.status()?.stats.bondMessagesSent ?? 0;
      await sim.sleep(2_000); // past the forward timeout, several heartbeats, the same leader
      expect(groups[leader]?.isLeader).toBe(true);
      expect(f.status()?.term).toBe(term);
      const sent = (f.status()?.stats.bondMessagesSent ?? 0) - sentBefore;
      expect(sent).toBeLessThan(40); // 16 here (bond heartbeats and the like); 216 before
      sim.heal();
      const results = await Promise.all(calls.map((c) => c.then((r) => r.result as number)));
      expect([...results].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      while (machines.some((m) => m.value !== 50)) await sim.sleep(10);
    });
    watch.expectSafe();
  });

  it('a thousand strong reads and increments in flight at once, from every member: each answered, and the history linearizable', async () => {
    const { sim, watch, nets } = threeNodes(5);
    const history: Operation<CounterInput, CounterOutput>[] = [];
    await sim.run(async () => {
      const groups = await joinAll(
        nets,
        nets.map(() => new Counter()),
      );
      // Two waves, the second made once the first is answered, so reads must see its writes.
      for (let wave = 0; wave < 2; wave++) {
        await Promise.all(
          Array.from({ length: 1_000 }, async (_, i) => {
            const g = groups[i % groups.length] as CounterGroup;
            const call = sim.now;
            if (i % 2 === 0) {
              const r = await g.execute({ op: 'inc', by: 1 });
              history.push({ client: i, input: { kind: 'add', delta: 1 }, call, ret: sim.now, output: r.result as number });
            } else {
              const r = await g.query(null, 'strong');
              history.push({ client: i, input: { kind: 'read' }, call, ret: sim.now, output: r.result });
            }
          }),
        );
      }
    });
    watch.expectSafe();
    expect(history).toHaveLength(2_000);
    expect(checkLinearizable(counterModel, history)).toEqual({ ok: true });
    // The second wave's reads all see the first wave's 500 increments.
    const secondWave = history.slice(1_000).filter((op) => op.input.kind === 'read');
    expect(Math.min(...secondWave.map((op) => op.output as number))).toBeGreaterThanOrEqual(500);
  });

  it('a new leader under load does not get the calls its predecessor acknowledged proposed again', async () => {
    // 50 ms between members: at any moment some acknowledged calls have yet to be applied.
    const { sim, watch, nets } = threeNodes(7, SLOW_LINKS);
    const machines = nets.map(() => new Counter());
    const results: number[] = [];
    const leaders = new Set<string>();
    await sim.run(async () => {
      const groups = await joinAll(nets, machines);
      const started = sim.now;
      // 40 clients on each of the three members, each with a call in flight until 12 s have passed.
      const clients = Array.from({ length: 120 }, async (_, i) => {
        const g = groups[i % groups.length] as CounterGroup;
        while (sim.now - started < 12_000) {
          try {
            results.push((await g.execute({ op: 'inc', by: 1 })).result as number);
          } catch (e) {
            // No leader known for a moment: the call was sent nowhere, so it is safe to retry.
            if (!(e instanceof OfflineError)) throw e;
            await sim.sleep(20);
          }
        }
      });
      // Twice, the leader is cut off mid-load; the other two elect another, and it comes back.
      for (let k = 0; k < 2; k++) {
        await sim.sleep(1_000);
        const leader = groups.findIndex((g) => g.isLeader);
        leaders.add(String(leader));
        sim.partition(
          [nets[leader] as Network],
          nets.filter((_, i) => i !== leader),
        );
        await sim.sleep(4_000);
        sim.heal();
      }
      await Promise.all(clients);
      while (machines.some((m) => m.value !== results.length)) await sim.sleep(10);
      for (const g of groups) if (g.isLeader) leaders.add(String(groups.indexOf(g)));
    });
    watch.expectSafe();
    expect(leaders.size, 'leadership moved').toBeGreaterThan(1);
    expectEachAppliedOnce(results);
    expect(duplicatesSeen(watch)).toBe(0);
  });

  it('strong reads made on a follower that is catching up are answered once it has applied their index', async () => {
    // Syncs of 30 ms: the follower takes the catch-up entries in, then applies them only once
    // they are on its disk, while the leader's answers to its reads are already there.
    const { sim, watch, nets } = threeNodes(6, { ...QUIET_PLAN, syncMs: { min: 30, max: 30 } });
    const reads = await sim.run(async () => {
      const groups = await joinAll(
        nets,
        nets.map(() => new Counter()),
      );
      const lagging = groups.findIndex((g) => !g.isLeader);
      const others = nets.filter((_, i) => i !== lagging);
      sim.partition([nets[lagging] as Network], others);
      const writers = groups.filter((_, i) => i !== lagging);
      await Promise.all(Array.from({ length: 2_000 }, (_, i) => (writers[i % 2] as CounterGroup).execute({ op: 'inc', by: 1 })));
      sim.heal();
      // At once, before the follower has caught up on the 2,000 increments.
      const g = groups[lagging] as CounterGroup;
      const behind = (await g.query(null, 'weak')).result;
      const answers = await Promise.all(Array.from({ length: 500 }, () => g.query(null, 'strong', { timeoutMs: 30_000 })));
      return { behind, values: answers.map((r) => r.result) };
    });
    watch.expectSafe();
    expect(reads.behind, 'the follower was behind when the reads were made').toBeLessThan(2_000);
    expect(Math.min(...reads.values)).toBe(2_000);
  });
});
