import { describe, expect, it } from 'vitest';
import { streamsChurn } from '../../scenarios/streams-churn.ts';

// More seeds: `npx mosaik sim campaign streams-churn --seeds 1-200`.
describe('streams-churn scenario', () => {
  it('holds over seeds 1-3 under swarm faults and churn', async () => {
    for (const seed of [1, 2, 3]) {
      const result = await streamsChurn.run({ seed });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.details.delivered as number).toBeGreaterThan(0);
      expect(result.details.churnActions as number).toBeGreaterThan(10);
      expect(result.details.convergedAfterMs).toBeTypeOf('number');
    }
  });

  it('the FIFO-per-link checker catches a planted reordering of the producer queue', async () => {
    const result = await streamsChurn.run({ seed: 1, plantedBugs: ['reorder-queue'] });
    expect(result.ok).toBe(false);
    expect(result.violations.some((v) => v.checker === 'streams-fifo-per-link' && /reordered/.test(v.message))).toBe(true);
  });

  it('the tag-eligibility check catches consumers whose require is not re-evaluated on catalog changes', async () => {
    const result = await streamsChurn.run({ seed: 1, plantedBugs: ['stale-require'] });
    expect(result.ok).toBe(false);
    expect(
      result.violations.some(
        (v) => v.checker === 'streams-churn' && /^tag-eligibility: .* after its catalog showed the producer without the tag/.test(v.message),
      ),
    ).toBe(true);
  });

  it('is deterministic: one seed, one trace hash', async () => {
    const [a, b] = [await streamsChurn.run({ seed: 5 }), await streamsChurn.run({ seed: 5 })];
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.details).toEqual(b.details);
  });
});
