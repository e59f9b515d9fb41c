import { describe, expect, it } from 'vitest';
import { runPingMesh } from '../../scenarios/ping-mesh.ts';

// A short campaign in the suite; the long ones (1-200, 1-1000, --nodes 20) run from the CLI:
//   npx mosaik sim campaign ping-mesh --seeds 1-200
describe('ping-mesh campaign', () => {
  it('holds every invariant over seeds 1-30 under swarm faults', async () => {
    const failed: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const result = await runPingMesh({ seed });
      if (!result.ok) failed.push(`seed ${seed}: ${result.violations.map((v) => v.message).join('; ')}`);
    }
    expect(failed).toEqual([]);
  });

  it('holds with 12 nodes', async () => {
    for (const seed of [1, 2, 3]) {
      const result = await runPingMesh({ seed, nodes: 12 });
      expect(result.violations, `seed ${seed}`).toEqual([]);
    }
  });
});
