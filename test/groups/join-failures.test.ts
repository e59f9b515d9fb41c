import { AlreadyExistsError, GroupClosedError, InvalidArgumentError } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { Counter } from './counter.ts';

// What a group handle does when its join does not take: a refusal ends the handle, a node
// that is down only delays it.

describe('a group handle whose join does not take', () => {
  it('fails its calls and conditions with the refusal (a group this node joined already)', async () => {
    const sim = new Simulation({ seed: 1 });
    const net = sim.node({ network: 'join-failures' });
    await sim.run(async () => {
      const first = net.groups.join({ key: 'twice', machine: new Counter(), consensus: { bootstrapDelayMs: 50 } });
      const second = net.groups.join({ key: 'twice', machine: new Counter(), consensus: { bootstrapDelayMs: 50 } });
      await expect(second.execute({ op: 'inc', by: 1 })).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(second.when.leaderElected()).rejects.toBeInstanceOf(AlreadyExistsError);
      await first.when.leaderElected();
      // The node's group is the first handle's, and it is online: a refused handle must not
      // read its state as its own.
      const third = net.groups.join({ key: 'twice', machine: new Counter(), consensus: { bootstrapDelayMs: 50 } });
      await expect(third.when.online()).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(third.when.committed().reaches(0)).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await first.execute({ op: 'inc', by: 1 })).result).toBe(1);
    });
  });

  it('made on a closed node: calls and conditions fail with GroupClosedError (the constructor threw a TypeError)', async () => {
    const sim = new Simulation({ seed: 3 });
    const net = sim.node({ network: 'join-failures' });
    await sim.run(async () => {
      await net.close();
      const g = net.groups.join({ key: 'closed', machine: new Counter() });
      await expect(g.execute({ op: 'inc', by: 1 })).rejects.toBeInstanceOf(GroupClosedError);
      await expect(g.when.online()).rejects.toBeInstanceOf(GroupClosedError);
    });
  });

  it('an index that is not an integer >= 0 is InvalidArgumentError (it waited for ever)', async () => {
    const sim = new Simulation({ seed: 4 });
    const net = sim.node({ network: 'join-failures' });
    await sim.run(async () => {
      const g = net.groups.join({ key: 'index', machine: new Counter(), consensus: { bootstrapDelayMs: 50 } });
      for (const i of [Number.NaN, -1, 1.5, 'x' as never]) await expect(g.when.committed().reaches(i)).rejects.toBeInstanceOf(InvalidArgumentError);
      await g.when.committed().reaches(0);
    });
  });

  it('joins once a crashed simulated node restarts, if it was made while the node was down', async () => {
    const sim = new Simulation({ seed: 2 });
    const net = sim.node({ network: 'join-failures' });
    await sim.run(async () => {
      sim.crash(net);
      const g = net.groups.join({ key: 'later', machine: new Counter(), consensus: { bootstrapDelayMs: 50 } });
      await sim.sleep(1_000);
      sim.restart(net);
      await g.when.leaderElected();
      expect((await g.execute({ op: 'inc', by: 2 })).result).toBe(2);
    });
  });
});
