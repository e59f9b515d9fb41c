import { FullError, InvalidArgumentError, OversizedError } from 'mosaik';
import { type FaultPlan, type Network, QUIET_PLAN, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { JoinOptions } from '../../api/groups.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { Counter, type CounterCommand } from './counter.ts';
import { type CounterGroup, GroupWatch } from './helpers.ts';

// A node bounds the calls it has in flight on a group (`maxPendingCalls`, `maxPendingBytes`):
// past either, a call fails at once with FullError, before it reaches a leader, so it is
// never applied, and the node takes calls again as soon as some settle.

/** 50 ms between any two members: calls stay in flight long enough to pile up. */
const SLOW_LINKS: FaultPlan = { ...QUIET_PLAN, latencyMsMin: 50, latencyMsMax: 50, jitterMsMax: 0 };

type Limits = Pick<JoinOptions<CounterCommand, null, number>, 'maxPendingCalls' | 'maxPendingBytes' | 'maxUncommittedBytes'>;

/** Three members on slow links, every one with these limits; `body` gets a follower's handle (and all of them). */
async function withFollower<T>(
  seed: number,
  limits: Limits,
  body: (follower: CounterGroup, groups: CounterGroup[], machines: Counter[], sim: Simulation) => Promise<T>,
): Promise<T> {
  const sim = new Simulation({ seed, faults: SLOW_LINKS, ...scenarioCrypto });
  const watch = new GroupWatch(sim);
  const a = sim.node({ network: 'limits' });
  const nets: Network[] = [a, sim.node({ network: 'limits', bootstrap: [a.addr] }), sim.node({ network: 'limits', bootstrap: [a.addr] })];
  const machines = nets.map(() => new Counter());
  const out = await sim.run(async () => {
    const groups = nets.map((net, i) => net.groups.join({ key: 'limits', machine: machines[i] as Counter, bootstrapExpect: 3, ...limits }) as CounterGroup);
    await Promise.all(groups.map((g) => g.when.online()));
    const follower = groups.find((g) => !g.isLeader) as CounterGroup;
    return body(follower, groups, machines, sim);
  });
  watch.expectSafe();
  return out;
}

/** Settles every promise; the values of those that resolved and the errors of those that failed. */
async function settle<T>(calls: readonly Promise<T>[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const all = await Promise.allSettled(calls);
  return {
    ok: all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    failed: all.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
}

/** Waits until every member has applied `value` increments. */
async function untilAll(sim: Simulation, machines: readonly Counter[], value: number): Promise<void> {
  while (machines.some((m) => m.value !== value)) await sim.sleep(10);
}

describe('calls in flight are bounded', () => {
  it('past maxPendingCalls a call fails at once with FullError and is never applied; the ones taken all apply', async () => {
    await withFollower(1, { maxPendingCalls: 100 }, async (follower, _groups, machines, sim) => {
      const started = sim.now;
      const calls = Array.from({ length: 150 }, () => follower.execute({ op: 'inc', by: 1 }));
      const refusedAt: number[] = [];
      for (const c of calls.slice(100)) c.catch(() => refusedAt.push(sim.now));
      const { ok, failed } = await settle(calls);
      expect(ok).toHaveLength(100);
      expect(failed).toHaveLength(50);
      for (const e of failed) {
        expect(e).toBeInstanceOf(FullError);
        expect((e as FullError).code).toBe('FULL');
      }
      // Refused without a round trip: the links alone take 50 ms each way.
      expect(Math.max(...refusedAt) - started).toBeLessThan(50);
      // Exactly the 100 taken ones were applied, once each, everywhere; the refused ones never.
      expect(ok.map((r) => r.result as number).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      await untilAll(sim, machines, 100);
      await sim.sleep(3_000); // past the forward timeout: nothing more turns up
      expect(machines.map((m) => m.value)).toEqual([100, 100, 100]);
      expect(follower.status()?.stats.callsRefusedFull).toBe(50);
      expect(follower.status()?.pendingCalls).toBe(0);
      // Room again once they settled.
      const again = await settle(Array.from({ length: 100 }, () => follower.execute({ op: 'inc', by: 1 })));
      expect(again.failed).toHaveLength(0);
    });
  });

  it('strong queries and feeds count; a feed frees its place once the leader has it, a timed-out call at its deadline', async () => {
    await withFollower(2, { maxPendingCalls: 10 }, async (follower, _groups, machines, sim) => {
      const reads = Array.from({ length: 6 }, () => follower.query(null, 'strong'));
      const feeds = Array.from({ length: 4 }, () => follower.feed({ op: 'inc', by: 1 }));
      await expect(follower.execute({ op: 'inc', by: 1 })).rejects.toBeInstanceOf(FullError);
      await expect(follower.query(null, 'strong')).rejects.toBeInstanceOf(FullError);
      // A weak query is answered from local state at once: it never waits, so it never counts.
      await expect(follower.query(null, 'weak')).resolves.toMatchObject({ result: 0 });
      await Promise.all([...reads, ...feeds]);
      expect(follower.status()?.pendingCalls).toBe(0);
      await untilAll(sim, machines, 4);

      // Ten calls with a deadline shorter than a round trip: each fails with TimeoutError and frees its place.
      const short = await settle(Array.from({ length: 10 }, () => follower.execute({ op: 'inc', by: 1 }, { timeoutMs: 20 })));
      expect(short.failed.map((e) => (e as Error).name)).toEqual(Array(10).fill('TimeoutError'));
      expect(follower.status()?.pendingCalls).toBe(0);
      await expect(follower.execute({ op: 'inc', by: 1 })).resolves.toMatchObject({ result: expect.any(Number) });
    });
  });

  it('past maxPendingBytes a call fails with FullError; one larger than the whole budget with OversizedError', async () => {
    await withFollower(3, { maxPendingBytes: 3000 }, async (follower, _groups, machines, sim) => {
      // ~600 bytes encoded each, 224 more for its envelope: three fit in 3,000 bytes, the fourth does not.
      const padded = (): CounterCommand => ({ op: 'inc', by: 1, pad: 'x'.repeat(580) }) as CounterCommand;
      const calls = Array.from({ length: 4 }, () => follower.execute(padded()));
      const { ok, failed } = await settle(calls);
      expect(ok).toHaveLength(3);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toBeInstanceOf(FullError);
      await expect(follower.execute({ op: 'inc', by: 1, pad: 'x'.repeat(2900) } as CounterCommand)).rejects.toBeInstanceOf(OversizedError);
      // Many small commands count for their envelopes: 20 one-command calls of ~10 bytes take
      // ~4.7 KB in flight, more than 3,000 bytes.
      const small = await settle(Array.from({ length: 20 }, () => follower.execute({ op: 'inc', by: 1 })));
      expect(small.failed.length).toBeGreaterThan(0);
      expect(small.failed.every((e) => e instanceof FullError)).toBe(true);
      expect(small.ok.length).toBeGreaterThanOrEqual(10); // ~237 bytes each: 12 fit
      expect(small.ok.length).toBeLessThan(14);
      await untilAll(sim, machines, 3 + small.ok.length);
      expect(follower.status()?.pendingCalls).toBe(0);
    });
  });

  it('a collection passes its limits to its group', async () => {
    const sim = new Simulation({ seed: 4, faults: SLOW_LINKS, ...scenarioCrypto });
    const a = sim.node({ network: 'limits' });
    const b = sim.node({ network: 'limits', bootstrap: [a.addr] });
    await sim.run(async () => {
      const leader = a.collections.map<string, number>('m');
      await leader.when.online();
      const m = b.collections.map<string, number>('m', { maxPendingCalls: 5 });
      await m.when.online();
      const { ok, failed } = await settle(Array.from({ length: 8 }, (_, i) => m.insert(`k${i}`, i)));
      expect(ok).toHaveLength(5);
      expect(failed.every((e) => e instanceof FullError)).toBe(true);
      await leader.when.reaches(Math.max(...ok));
      expect([...leader.keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    });
  });

  it('bad limits are refused at join with InvalidArgumentError', () => {
    const sim = new Simulation({ seed: 5, ...scenarioCrypto });
    const net = sim.node({ network: 'limits' });
    for (const bad of [
      { maxPendingCalls: 0 },
      { maxPendingCalls: 1.5 },
      { maxPendingCalls: '10' },
      { maxPendingBytes: 1023 },
      { maxPendingBytes: Number.NaN },
      { maxUncommittedBytes: 0 },
      { maxUncommittedBytes: 2.5 },
      { maxUncommittedBytes: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => net.groups.join({ key: 'limits', machine: new Counter(), ...(bad as Limits) }), JSON.stringify(bad)).toThrow(InvalidArgumentError);
      expect(() => net.collections.map('m', bad as Limits), JSON.stringify(bad)).toThrow(InvalidArgumentError);
    }
  });
});

describe('a leader bounds the commands it has proposed and not committed (maxUncommittedBytes)', () => {
  it('past it, proposals wait and are proposed again once commits make room: every call applies once, and the leader never holds more', async () => {
    await withFollower(4, { maxUncommittedBytes: 2048 }, async (follower, groups, machines, sim) => {
      const leader = groups.find((g) => g.isLeader) as CounterGroup;
      let held = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          held = Math.max(held, leader.status()?.uncommittedBytes ?? 0);
          await sim.sleep(1);
        }
      })();
      // 100 calls on each member at once: the followers' are forwarded, the leader's proposed where they are made.
      const started = sim.now;
      const calls = groups.flatMap((g) => Array.from({ length: 100 }, () => g.execute({ op: 'inc', by: 1 })));
      const { ok, failed } = await settle(calls);
      // 2.15 s here: refused calls go again as the leader commits. (A follower that ignored
      // the refusal would wait out its forward timeout each time: 20.5 s.)
      expect(sim.now - started).toBeLessThan(3_000);
      sampling = false;
      await sampler;
      expect(failed).toHaveLength(0);
      expect(ok.map((r) => r.result as number).sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      // The bound was reached, and held.
      expect(held).toBeGreaterThan(1024);
      expect(held).toBeLessThanOrEqual(2048);
      const stats = leader.status()?.stats;
      expect(stats?.proposalsRefusedFull).toBeGreaterThan(0);
      // 28 here: a follower forwards at most `maxUncommittedBytes` unanswered, after a
      // refusal sends two for each one taken, and the leader then keeps half the room for
      // forwards. (Without that half: 88. Forwarding the whole burst at once: 380. Sending
      // all it holds whenever the leader takes one: 1,082, in 2.7 s.)
      expect(stats?.proposalsRefusedFull).toBeLessThan(150);
      expect(follower.status()?.stats.proposalsRefusedFull).toBe(0); // counted where refused: on the leader
      expect(leader.status()?.uncommittedBytes).toBe(0);
      await untilAll(sim, machines, 300);
      await sim.sleep(3_000); // past the forward timeout: nothing applies twice
      expect(machines.map((m) => m.value)).toEqual([300, 300, 300]);
      for (const g of groups) expect(g.status()?.pendingCalls).toBe(0);
    });
  });

  it("a leader's own sustained load does not starve its followers' calls: while they wait, it keeps half the room for them", async () => {
    await withFollower(4, { maxUncommittedBytes: 2048 }, async (follower, groups, machines, sim) => {
      const leader = groups.find((g) => g.isLeader) as CounterGroup;
      // 40 clients on the leader, each making its next call as soon as the last returns:
      // more than the room holds, all the time.
      let running = true;
      let leaderCalls = 0;
      const loops = Array.from({ length: 40 }, async () => {
        while (running) {
          await leader.execute({ op: 'inc', by: 1 });
          leaderCalls++;
        }
      });
      await sim.sleep(500);
      const started = sim.now;
      const atStart = leaderCalls;
      const took: number[] = [];
      const { ok, failed } = await settle(
        Array.from({ length: 10 }, () => follower.execute({ op: 'inc', by: 1 }, { timeoutMs: 5_000 }).then(() => took.push(sim.now - started))),
      );
      // 0.4-0.6 s here. (A leader that proposed its own calls whenever it committed took all
      // the room: every one of these timed out, while it applied ~190 of its own a second.)
      expect(failed).toHaveLength(0);
      expect(ok).toHaveLength(10);
      expect(Math.max(...took)).toBeLessThan(2_000);
      expect(leaderCalls - atStart).toBeGreaterThan(50); // and the leader's own still went on
      running = false;
      await Promise.all(loops);
      await untilAll(sim, machines, leaderCalls + 10);
      await sim.sleep(3_000); // nothing applies twice
      expect(machines.map((m) => m.value)).toEqual([leaderCalls + 10, leaderCalls + 10, leaderCalls + 10]);
    });
  });

  it('by default (128 MiB) the same burst is taken at once', async () => {
    await withFollower(4, {}, async (_follower, groups, machines, sim) => {
      const leader = groups.find((g) => g.isLeader) as CounterGroup;
      const started = sim.now;
      const { failed } = await settle(groups.flatMap((g) => Array.from({ length: 100 }, () => g.execute({ op: 'inc', by: 1 }))));
      expect(sim.now - started).toBeLessThan(1_000);
      expect(failed).toHaveLength(0);
      expect(leader.status()?.stats.proposalsRefusedFull).toBe(0);
      await untilAll(sim, machines, 300);
    });
  });
});
