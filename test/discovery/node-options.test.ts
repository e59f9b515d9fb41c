import { InvalidArgumentError } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

// Discovery's settings at node creation, in the simulator as on real nodes (api/node-options.ts).
// The core asserts on what it is given: a NaN or a negative stopped the node and the whole
// simulation, at start or minutes later, and an interval of 0 spun a node at one instant.

describe('discovery options at node creation', () => {
  it('refuses what the core cannot run with, and takes the edges it can', async () => {
    const sim = new Simulation({ seed: 62 });
    const bad: Record<string, unknown>[] = [
      { discovery: { purgeAfterMs: 0 } },
      { discovery: { purgeAfterMs: Number.NaN } },
      { discovery: { refreshIntervalMs: Number.NaN } },
      { discovery: { refreshIntervalMs: 0 } },
      { discovery: { refreshIntervalMs: Number.POSITIVE_INFINITY } },
      { discovery: { syncIntervalMs: 0 } },
      { discovery: { syncIntervalMs: -5 } },
      { discovery: { rttProbeIntervalMs: Number.NaN } },
      { discovery: { maxTimeDriftMs: -1 } },
      { discovery: { announceBatchMs: Number.NaN } },
      { discovery: { gossipViews: { active: -1 } } },
      { discovery: { gossipViews: { active: 0 } } },
      { discovery: { gossipViews: { passive: 1.5 } } },
      { discovery: { gossipViews: 5 } },
      { discovery: 5 },
      { discovery: { bootstrap: [{}] } },
      { discovery: { tags: ['x'] } },
      { bootstrap: [{}] },
      { bootstrap: 'a' },
      { tags: [''] },
      { tags: [5] },
      { tags: 'a' },
      { handshakeTimeoutMs: Number.NaN },
      { handshakeTimeoutMs: 0 },
    ];
    for (const extra of bad) expect(() => sim.node({ network: 'opts', ...extra }), JSON.stringify(extra)).toThrow(InvalidArgumentError);
    const a = sim.node({
      network: 'opts',
      discovery: { refreshIntervalMs: 100, syncIntervalMs: 100, maxTimeDriftMs: 0, gossipViews: { active: 1, passive: 0 } },
    });
    const b = sim.node({ network: 'opts', bootstrap: [a.addr], tags: ['t'] });
    await sim.run(async () => {
      await sim.sleep(5_000);
      expect(a.discovery.peers().map((p) => p.peerId.hex)).toEqual([b.peerId.hex]);
    });
  });
});
