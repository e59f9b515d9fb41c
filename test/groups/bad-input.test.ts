import { type ApplyContext, ApplyError, type DatumCodec, type Group, InvalidArgumentError, QueryError, type StateMachine } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { GroupWatch } from './helpers.ts';

// What a group does with bad input from its application: a query that throws, a command
// that throws inside a batch, and arguments that are not what they claim to be. Each gets a
// typed error; the node and the group go on.

type Command = { readonly op: 'add'; readonly n: number } | { readonly op: 'refuse' };
type Query = 'sum' | 'throw';

/** Sums what it is given; `refuse` throws in apply, the `throw` query throws in query. */
class Summer implements StateMachine<Command, Query, number> {
  readonly signature = 'test/bad-input/1';
  sum = 0;
  /** While set, `snapshot` throws. */
  brokenSnapshots = false;
  apply(command: Command, _ctx: ApplyContext): number {
    if (command.op === 'refuse') throw new Error('refused by the machine');
    this.sum += command.n;
    return this.sum;
  }
  query(query: Query): number {
    if (query === 'throw') throw new Error('no such query');
    return this.sum;
  }
  snapshot(): Uint8Array {
    if (this.brokenSnapshots) throw new Error('snapshot broke');
    return new TextEncoder().encode(String(this.sum));
  }
  restore(snapshot: Uint8Array): void {
    this.sum = Number(new TextDecoder().decode(snapshot));
  }
}

type SummerGroup = Group<Command, Query, number>;

async function withGroup(
  seed: number,
  body: (s: { sim: Simulation; nets: Network[]; leader: SummerGroup; follower: SummerGroup; machines: Summer[]; watch: GroupWatch }) => Promise<void>,
): Promise<void> {
  const sim = new Simulation({ seed });
  const watch = new GroupWatch(sim);
  const a = sim.node({ network: 'bad-input' });
  const nets = [a, sim.node({ network: 'bad-input', bootstrap: [a.addr] }), sim.node({ network: 'bad-input', bootstrap: [a.addr] })];
  const machines = nets.map(() => new Summer());
  await sim.run(async () => {
    const groups = nets.map((net, i) =>
      net.groups.join({ key: 'bad-input', machine: machines[i] as Summer, bootstrapExpect: 3, consensus: { snapshotEveryEntries: 5 } }),
    );
    await Promise.all(groups.map((g) => g.when.online()));
    const leader = groups.find((g) => g.isLeader);
    const follower = groups.find((g) => !g.isLeader);
    if (leader === undefined || follower === undefined) throw new Error('no leader and follower');
    await body({ sim, nets, leader, follower, machines, watch });
  });
  watch.expectSafe();
}

describe('bad input to a group', () => {
  it("a query that throws fails with QueryError (the machine's error as cause), weak or strong, and the node goes on", async () => {
    await withGroup(1, async ({ leader, follower }) => {
      await follower.execute({ op: 'add', n: 5 });
      for (const g of [follower, leader])
        for (const consistency of ['weak', 'strong'] as const) {
          const error = await g.query('throw', consistency).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(QueryError);
          expect((error as QueryError).cause).toBeInstanceOf(Error);
          expect((error as QueryError).message).toContain('no such query');
        }
      // Before, a strong read's query threw out of the node in the middle of a Ready.
      expect((await follower.execute({ op: 'add', n: 1 })).result).toBe(6);
      expect((await follower.query('sum', 'strong')).result).toBe(6);
    });
  });

  it('a machine whose snapshot throws: the log is kept whole, group.snapshotFailed says so, calls go on; compaction resumes once it works', async () => {
    await withGroup(6, async ({ sim, follower, machines, watch }) => {
      for (const m of machines) m.brokenSnapshots = true;
      for (let i = 1; i <= 12; i++) expect((await follower.execute({ op: 'add', n: 1 })).result).toBe(i);
      await sim.sleep(1_000);
      expect(machines.map((m) => m.sum)).toEqual([12, 12, 12]);
      const failed = watch.of('group.snapshotFailed');
      expect(new Set(failed.map((f) => f.net)).size).toBe(3); // every node tried
      expect(failed.every((f) => f.event.error === 'snapshot broke')).toBe(true);
      expect(failed.length).toBeGreaterThan(3); // and tried again, 5 entries later
      expect(follower.status()?.stats.snapshotFailures).toBeGreaterThanOrEqual(1);
      expect(follower.status()?.snapshotIndex).toBe(0);
      for (const m of machines) m.brokenSnapshots = false;
      for (let i = 13; i <= 20; i++) await follower.execute({ op: 'add', n: 1 });
      await sim.sleep(1_000);
      expect(follower.status()?.snapshotIndex).toBeGreaterThan(0);
    });
  });

  it('a command its codec cannot decode fails with ApplyError once, on every replica alike, and the log moves on', async () => {
    // Before, such an entry was skipped as undecodable and never settled: its origin took it
    // for another's, proposed it again, and so on for ever (hundreds of entries a second).
    const sim = new Simulation({ seed: 7 });
    const watch = new GroupWatch(sim);
    const a = sim.node({ network: 'bad-codec' });
    const nets = [a, sim.node({ network: 'bad-codec', bootstrap: [a.addr] }), sim.node({ network: 'bad-codec', bootstrap: [a.addr] })];
    const text = new TextDecoder();
    const codec: DatumCodec<Command> = {
      encode: (c) => new TextEncoder().encode(JSON.stringify(c)),
      decode: (b) => {
        const c = JSON.parse(text.decode(b)) as Command & { n?: number };
        if (c.op === 'add' && c.n === 13) throw new Error('13 does not decode');
        return c;
      },
    };
    const machines = nets.map(() => new Summer());
    await sim.run(async () => {
      const groups = nets.map((net, i) => net.groups.join({ key: 'bad-codec', machine: machines[i] as Summer, codec, bootstrapExpect: 3 }));
      await Promise.all(groups.map((g) => g.when.online()));
      const g = groups.find((x) => !x.isLeader) as SummerGroup;
      const before = (await g.execute({ op: 'add', n: 1 })).index;
      const error = await g.execute({ op: 'add', n: 13 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplyError);
      expect(String(error)).toContain('the command does not decode: 13 does not decode');
      const many = await g.executeMany([
        { op: 'add', n: 2 },
        { op: 'add', n: 13 },
        { op: 'add', n: 3 },
      ]);
      expect(many.results[1]).toBeInstanceOf(ApplyError);
      expect(many.range.start).toBe(before + 2);
      await sim.sleep(2_000);
      expect(g.committed).toBe(before + 4); // nothing proposed again
      expect(machines.map((m) => m.sum)).toEqual([6, 6, 6]);
    });
    watch.expectSafe();
  });

  it('a query with a consistency other than weak or strong is InvalidArgumentError', async () => {
    await withGroup(2, async ({ follower }) => {
      await expect(follower.query('sum', 'eventual' as 'weak')).rejects.toBeInstanceOf(InvalidArgumentError);
    });
  });

  it('executeMany: a command whose apply throws gets an ApplyError in its place; the others apply, alike everywhere', async () => {
    await withGroup(3, async ({ sim, follower, machines }) => {
      const r = await follower.executeMany([{ op: 'add', n: 1 }, { op: 'refuse' }, { op: 'add', n: 2 }]);
      expect(r.results).toHaveLength(3);
      expect(r.results[0]).toBe(1);
      expect(r.results[1]).toBeInstanceOf(ApplyError);
      expect(r.results[2]).toBe(3);
      expect(r.range.end - r.range.start).toBe(2);
      await expect(follower.execute({ op: 'refuse' })).rejects.toBeInstanceOf(ApplyError);
      await sim.sleep(1_000);
      expect(machines.map((m) => m.sum)).toEqual([3, 3, 3]);
    });
  });

  it('transferLeadership to something that is not a PeerId, or to a peer outside the group, is InvalidArgumentError', async () => {
    await withGroup(4, async ({ sim, leader }) => {
      await expect(leader.transferLeadership('not a peer' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
      const stranger = sim.node({ network: 'bad-input' });
      await expect(leader.transferLeadership(stranger.peerId)).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(leader.isLeader).toBe(true);
    });
  });

  it('transferLeadership to the leader itself resolves: it leads already (before: InvalidArgumentError, "not a voter")', async () => {
    await withGroup(4, async ({ sim, nets, leader, follower }) => {
      const self = nets.find((n) => leader.leader?.equals(n.peerId) === true);
      if (self === undefined) throw new Error('no leader node');
      await expect(leader.transferLeadership(self.peerId)).resolves.toBeUndefined();
      await sim.sleep(3_000);
      expect(leader.isLeader).toBe(true);
      expect((await follower.execute({ op: 'add', n: 1 })).result).toBe(1);
    });
  });

  it('join: a key that is not a string or Digest, or a machine without its methods, is InvalidArgumentError at once', () => {
    const sim = new Simulation({ seed: 5 });
    const net = sim.node({ network: 'bad-input' });
    expect(() => net.groups.join({ key: 42 as never, machine: new Summer() })).toThrow(InvalidArgumentError);
    expect(() => net.groups.join({ key: 'k' } as never)).toThrow(InvalidArgumentError);
    const { restore: _, ...noRestore } = { signature: 's', apply: () => 0, query: () => 0, snapshot: () => new Uint8Array(), restore: () => {} };
    expect(() => net.groups.join({ key: 'k', machine: noRestore as never })).toThrow(InvalidArgumentError);
    expect(() => net.groups.join({ key: 'k', machine: { ...noRestore, restore: () => {}, signature: 7 } as never })).toThrow(InvalidArgumentError);
  });

  it('join and idOf: ticket validators that are not validators, and counts that are not counts, are InvalidArgumentError', () => {
    const sim = new Simulation({ seed: 5 });
    const net = sim.node({ network: 'bad-input' });
    // Before: an AssertionError from deep in the id's derivation, or a TypeError.
    for (const requireTickets of [['x'], 'ab', 5, [null]]) {
      expect(() => net.groups.join({ key: 'k', machine: new Summer(), requireTickets: requireTickets as never })).toThrow(InvalidArgumentError);
      expect(() => net.groups.idOf({ key: 'k', machine: new Summer(), requireTickets: requireTickets as never })).toThrow(InvalidArgumentError);
    }
    for (const consensus of [5, { snapshotEveryEntries: 0 }, { snapshotEveryEntries: 1.5 }, { maxMissedHeartbeats: 0 }, { heartbeatMs: '100' }])
      expect(() => net.groups.join({ key: 'k', machine: new Summer(), consensus: consensus as never })).toThrow(InvalidArgumentError);
  });
});
