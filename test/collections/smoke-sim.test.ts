import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { cluster, converged } from '../streams/helpers.ts';

describe('collections in the simulator: smoke', () => {
  it('a Map writer on one node, a reader on another: insert, reaches, get', async () => {
    const sim = new Simulation({ seed: 1 });
    const [a, b] = cluster(sim, 2) as [Network, Network];
    await sim.run(async () => {
      await converged(sim, [a, b]);
      const m = a.collections.map<string, number>('balances');
      const r = b.collections.map<string, number>('balances', { reader: true });
      await m.when.online();
      const v = await m.insert('alice', 100);
      await r.when.reaches(v);
      expect(r.get('alice')).toBe(100);
      expect(r.size).toBe(1);
      expect([...r.entries()]).toEqual([['alice', 100]]);
      // @ts-expect-error: a reader has no write methods
      r.insert;
    });
  });
});
