import type { Network } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { networkCompliance } from './network-suite.ts';

// The simulator driver: a fresh quiet simulation per test; everything runs in virtual time.

let sim: Simulation | undefined;

networkCompliance('sim', {
  async setup(count, { network }) {
    const current = new Simulation({ seed: 1 });
    sim = current;
    const nets: Network[] = Array.from({ length: count }, () => current.node({ network }));
    return {
      nets,
      node: async (other) => current.node({ network: other }),
      run: (fn) => current.run(fn),
      now: () => current.now,
    };
  },
  async teardown() {
    const current = sim;
    sim = undefined;
    if (!current) return;
    await current.run(() => Promise.all(current.networks.map((net) => net.close())));
  },
  // Virtual time: a failure is due exactly at its timeout, never later.
  slackMs: 0,
});
