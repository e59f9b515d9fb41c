import { describe, expect, it } from 'vitest';
import { discoveryConverge, discoveryDeparture, discoveryIsolation } from '../../scenarios/discovery.ts';

// A few seeds each here; the 200-seed campaigns run from the CLI
// (`npx mosaik sim campaign discovery-converge --seeds 1-200`).
describe('discovery scenarios', () => {
  it('discovery-converge holds over seeds 1-5 under swarm faults', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = await discoveryConverge.run({ seed });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.details.convergedAfterMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('its checker catches a planted bug: entries that are never refreshed get purged while alive', async () => {
    const result = await discoveryConverge.run({ seed: 1, plantedBugs: ['no-refresh'] });
    expect(result.ok).toBe(false);
    expect(result.violations.some((v) => /does not know/.test(v.message))).toBe(true);
  });

  it('discovery-departure: closed and crashed nodes are purged and reported departed (seeds 1-4)', async () => {
    for (let seed = 1; seed <= 4; seed++) expect((await discoveryDeparture.run({ seed })).violations, `seed ${seed}`).toEqual([]);
  });

  it('discovery-isolation: two networks on one wire never mix (seeds 1-4)', async () => {
    for (let seed = 1; seed <= 4; seed++) expect((await discoveryIsolation.run({ seed })).violations, `seed ${seed}`).toEqual([]);
  });
});
