import { InvalidArgumentError, TimeoutError } from 'mosaik';
import type { Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { setup } from '../collections/helpers.ts';
import { Counter } from './counter.ts';
import { type CounterGroup, eventually, expectSameState, type GroupWatch, rejection, simulation, weakValue } from './helpers.ts';

// Deadlines on group calls (`timeoutMs` per call, `callTimeoutMs` per handle): a call that
// has not settled by then fails with TimeoutError, in virtual time, and the node stops
// working on it. What the error says about the command's fate must be true: a command a
// leader took may still commit, and does here once the partition heals.

interface Three {
  readonly sim: Simulation;
  readonly nets: Network[];
  readonly groups: CounterGroup[];
  /** Each member's machine: its value is what that member applied. */
  readonly machines: Counter[];
  readonly leader: number;
  readonly follower: number;
  readonly watch: GroupWatch;
}

/** Three members of one counter group, formed together; `leader` and `follower` index `nets` and `groups`. */
async function withThree(
  seed: number,
  callTimeoutMs: number | undefined,
  body: (t: Three) => Promise<void>,
  extra: { readonly maxUncommittedBytes?: number } = {},
): Promise<void> {
  const { sim, watch } = simulation(seed);
  const a = sim.node({ network: 'deadlines' });
  const nets = [a, sim.node({ network: 'deadlines', bootstrap: [a.addr] }), sim.node({ network: 'deadlines', bootstrap: [a.addr] })];
  const machines = nets.map(() => new Counter());
  await sim.run(async () => {
    const groups = nets.map(
      (net, i) =>
        net.groups.join({
          key: 'deadlines',
          machine: at(machines, i),
          bootstrapExpect: 3,
          ...(callTimeoutMs !== undefined && { callTimeoutMs }),
          ...extra,
        }) as CounterGroup,
    );
    await Promise.all(groups.map((g) => g.when.online()));
    await groups[0]?.execute({ op: 'inc', by: 1 }, { timeoutMs: 60_000 });
    await expectSameState(sim, groups, 1);
    const leader = groups.findIndex((g) => g.isLeader);
    const follower = groups.findIndex((g) => !g.isLeader);
    await body({ sim, nets, groups, machines, leader, follower, watch });
  });
  watch.expectSafe();
}

const at = <T>(xs: readonly T[], i: number): T => xs[i] as T;

describe('deadlines on group calls', () => {
  it('a leader cut off from its followers: execute fails with TimeoutError at its deadline; the command it appended commits once after the heal', async () => {
    await withThree(11, undefined, async ({ sim, nets, groups, machines, leader }) => {
      const g = at(groups, leader);
      sim.partition(
        [at(nets, leader)],
        nets.filter((_, i) => i !== leader),
      );
      const started = sim.now;
      const error = await rejection(g.execute({ op: 'inc', by: 5 }, { timeoutMs: 300 }));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(sim.now - started).toBe(300);
      expect((error as TimeoutError).message).toMatch(/appended at index \d+ but not applied here: it may still be applied/);
      expect((error as TimeoutError).mayHaveApplied).toBe(true);
      expect(g.status()?.pendingCalls).toBe(0);
      expect(g.status()?.stats.callTimeouts).toBe(1);
      // Nothing was lost: the entry was in the leader's log and commits once the others hear of it.
      sim.heal();
      await eventually(sim, () => machines.every((m) => m.value === 6), 10_000, 'the appended command applied everywhere');
      await expectSameState(sim, groups, 6);
      expect((await at(groups, (leader + 1) % 3).execute({ op: 'inc', by: 1 }, { timeoutMs: 10_000 })).result).toBe(7);
    });
  });

  it('a cut-off leader short of room: the calls it appended may still apply and do; the ones that waited for room say they never will, and do not', async () => {
    await withThree(
      12,
      undefined,
      async ({ sim, nets, groups, machines, leader }) => {
        const g = at(groups, leader);
        sim.partition(
          [at(nets, leader)],
          nets.filter((_, i) => i !== leader),
        );
        const errors = await Promise.all(Array.from({ length: 10 }, () => rejection(g.execute({ op: 'inc', by: 1 }, { timeoutMs: 300 }))));
        for (const e of errors) expect(e).toBeInstanceOf(TimeoutError);
        const appended = errors.filter((e) => (e as TimeoutError).mayHaveApplied === true).length;
        const waited = errors.filter((e) => (e as TimeoutError).mayHaveApplied === false).length;
        // A command's envelope is ~130 bytes here: the leader took two, or three, and refused the rest.
        expect(appended).toBeGreaterThanOrEqual(1);
        expect(appended).toBeLessThanOrEqual(3);
        expect(waited).toBe(10 - appended);
        expect(g.status()?.stats.proposalsRefusedFull).toBeGreaterThan(0);
        sim.heal();
        // Exactly the appended ones apply: the others were in no log.
        await eventually(sim, () => machines.every((m) => m.value === 1 + appended), 10_000, 'the appended commands applied everywhere');
        await sim.sleep(5_000);
        await expectSameState(sim, groups, 1 + appended);
      },
      { maxUncommittedBytes: 300 },
    );
  });

  it('an isolated follower: execute, feed and a strong query time out, each saying how far it got; the group goes on and agrees after the heal', async () => {
    await withThree(12, undefined, async ({ sim, nets, groups, follower }) => {
      const g = at(groups, follower);
      sim.isolate(at(nets, follower));
      const started = sim.now;
      const [executed, fed, read] = await Promise.all([
        rejection(g.execute({ op: 'inc', by: 2 }, { timeoutMs: 400 })),
        rejection(g.feed({ op: 'inc', by: 3 }, { timeoutMs: 500 })),
        rejection(g.query(null, 'strong', { timeoutMs: 600 })),
      ]);
      expect(sim.now - started).toBe(600);
      for (const e of [executed, fed, read]) expect(e).toBeInstanceOf(TimeoutError);
      // The forwards left the node: the leader may have taken them.
      expect((executed as Error).message).toMatch(/timed out before a leader acknowledged the command: it may still be applied/);
      expect((executed as TimeoutError).mayHaveApplied).toBe(true);
      expect((read as TimeoutError).mayHaveApplied).toBeUndefined();
      expect((fed as Error).message).toMatch(/timed out before a leader acknowledged the command/);
      expect((read as Error).message).toMatch(/strong query timed out \(no leader confirmed its read index\)/);
      expect(g.status()?.pendingCalls).toBe(0);
      expect(g.status()?.stats.callTimeouts).toBe(3);
      // A weak query has nothing to wait for: a deadline does not touch it.
      expect((await g.query(null, 'weak', { timeoutMs: 1 })).result).toBe(1);
      // The others go on meanwhile.
      const other = at(
        groups,
        groups.findIndex((x, i) => i !== follower && x.isLeader),
      );
      expect((await other.execute({ op: 'inc', by: 10 }, { timeoutMs: 10_000 })).result).toBeGreaterThanOrEqual(11);
      sim.heal();
      await eventually(sim, () => g.status()?.online === true, 30_000, 'the follower back');
      const value = (await g.execute({ op: 'inc', by: 100 }, { timeoutMs: 30_000 })).result as number;
      // Whatever became of the timed-out commands, each applied at most once, the same everywhere.
      expect([111, 113, 114, 116]).toContain(value);
      await expectSameState(sim, groups, value);
    });
  });

  it('strong reads fail each at its own deadline, in whatever order the deadlines fall; reads without one wait on', async () => {
    await withThree(13, undefined, async ({ sim, nets, groups, follower }) => {
      const g = at(groups, follower);
      sim.isolate(at(nets, follower));
      const started = sim.now;
      const failedAt: number[] = [];
      // Made in one order, due in the reverse one, with reads without a deadline among them.
      const timed = [500, 400, 300, 200, 100].map((timeoutMs, i) =>
        g.query(null, 'strong', { timeoutMs }).then(
          () => expect.unreachable(`read ${i} answered while cut off`),
          (e: unknown) => {
            expect(e).toBeInstanceOf(TimeoutError);
            failedAt[i] = sim.now - started;
          },
        ),
      );
      const untimed = [g.query(null, 'strong'), g.query(null, 'strong')];
      await Promise.all(timed);
      expect(failedAt).toEqual([500, 400, 300, 200, 100]);
      expect(g.status()?.pendingCalls).toBe(2);
      sim.heal();
      for (const r of await Promise.all(untimed)) expect(r.result).toBe(1);
      expect(g.status()?.pendingCalls).toBe(0);
    });
  });

  it('a command that never reached a leader (proposals refused while leadership moves) times out as not applied, and never applies', async () => {
    await withThree(17, undefined, async ({ sim, nets, groups, machines, leader, follower }) => {
      // The target cannot hear the leader, so the transfer stays pending (until an election
      // timeout) and the leader refuses proposals meanwhile, as etcd's does.
      sim.partition([at(nets, follower)], [at(nets, leader)]);
      await at(groups, leader).transferLeadership(at(nets, follower).peerId);
      const error = await rejection(at(groups, leader).execute({ op: 'inc', by: 50 }, { timeoutMs: 200 }));
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).mayHaveApplied).toBe(false);
      expect((error as TimeoutError).message).toBe('timed out before the command reached a leader: not applied');
      sim.heal();
      await sim.sleep(10_000);
      const { result } = await at(groups, follower).execute({ op: 'inc', by: 1 }, { timeoutMs: 20_000 });
      expect(result).toBe(2);
      await expectSameState(sim, groups, 2);
      expect(machines.map((m) => m.value)).toEqual([2, 2, 2]);
    });
  });

  it("the handle's callTimeoutMs applies to every call; a call's own timeoutMs overrides it", async () => {
    await withThree(13, 250, async ({ sim, nets, groups, follower }) => {
      const g = at(groups, follower);
      sim.isolate(at(nets, follower));
      const started = sim.now;
      expect(await rejection(g.execute({ op: 'inc', by: 2 }))).toBeInstanceOf(TimeoutError);
      expect(sim.now - started).toBe(250);
      // A longer deadline of its own outlasts the partition.
      const patient = g.execute({ op: 'inc', by: 4 }, { timeoutMs: 20_000 });
      await sim.sleep(1_000);
      sim.heal();
      const { result } = await patient;
      expect([5, 7]).toContain(result);
      await expectSameState(sim, groups, result as number);
    });
  });

  it('a call that settles in time is not touched by its deadline', async () => {
    await withThree(14, 500, async ({ sim, groups, follower, leader }) => {
      for (const g of [at(groups, follower), at(groups, leader)]) {
        await g.execute({ op: 'inc', by: 1 });
        await g.query(null, 'strong');
      }
      await sim.sleep(2_000); // past every deadline armed above
      for (const g of groups) expect(g.status()?.stats.callTimeouts).toBe(0);
      expect(await weakValue(at(groups, leader))).toBe(3);
    });
  });

  it('bad deadlines are refused with InvalidArgumentError, nothing sent', async () => {
    await withThree(15, undefined, async ({ nets, groups, leader }) => {
      const g = at(groups, leader);
      const bad: unknown[] = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '100', null];
      for (const timeoutMs of bad) {
        const options = { timeoutMs } as { timeoutMs: number };
        expect(await rejection(g.execute({ op: 'inc', by: 1 }, options))).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(g.executeMany([{ op: 'inc', by: 1 }], options))).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(g.feed({ op: 'inc', by: 1 }, options))).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(g.query(null, 'strong', options))).toBeInstanceOf(InvalidArgumentError);
        expect(() => at(nets, 0).groups.join({ key: 'other', machine: new Counter(), callTimeoutMs: timeoutMs as number })).toThrow(InvalidArgumentError);
        expect(() => at(nets, 0).collections.map('m', { timeoutMs: timeoutMs as number })).toThrow(InvalidArgumentError);
      }
      expect(await rejection(g.execute({ op: 'inc', by: 1 }, 5 as never))).toBeInstanceOf(InvalidArgumentError);
      // The largest deadline is fine, and none of the refused calls reached the log.
      expect((await g.execute({ op: 'inc', by: 1 }, { timeoutMs: 2 ** 31 - 1 })).result).toBe(2);
    });
  });
});

describe('deadlines on collection writes', () => {
  it("a map handle's timeoutMs bounds its writes and when.current(); another handle without one is not affected", async () => {
    await setup(16, 3, async (sim, nets) => {
      const maps = nets.map((n) => n.collections.map<string, number>('deadlines', { timeoutMs: 300 }));
      await Promise.all(maps.map((m) => m.when.online()));
      await at(maps, 0).insert('a', 1);
      await eventually(sim, () => maps.every((m) => m.get('a') === 1), 10_000, 'a everywhere');
      const lone = at(nets, 2);
      sim.isolate(lone);
      const m = at(maps, 2);
      const started = sim.now;
      expect(await rejection(m.insert('b', 2))).toBeInstanceOf(TimeoutError);
      expect(sim.now - started).toBe(300);
      expect(await rejection(m.when.current())).toBeInstanceOf(TimeoutError);
      const patient = lone.collections.map<string, number>('deadlines');
      const write = patient.insert('c', 3);
      await sim.sleep(1_000);
      sim.heal();
      const version = await write;
      await eventually(sim, () => maps.every((x) => x.version >= version && x.get('c') === 3), 20_000, 'c everywhere');
    });
  });
});
