import { describe, expect, it } from 'vitest';
import { streamsFanout } from '../../scenarios/streams.ts';

// More seeds: `npx mosaik sim campaign streams-fanout --seeds 1-200`.
describe('streams-fanout scenario', () => {
  it('holds over seeds 1-4 under swarm faults', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const result = await streamsFanout.run({ seed });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.details.delivered as number).toBeGreaterThan(0);
    }
  });

  it('the FIFO-per-link checker catches a planted reordering of the producer queue', async () => {
    for (const seed of [1, 2]) {
      const result = await streamsFanout.run({ seed, plantedBugs: ['reorder-queue'] });
      expect(result.ok, `seed ${seed}`).toBe(false);
      expect(result.violations.some((v) => v.checker === 'streams-fifo-per-link' && /reordered/.test(v.message))).toBe(true);
    }
  });

  it('is deterministic: one seed, one trace hash; another seed, another', async () => {
    const [a, b, c] = [await streamsFanout.run({ seed: 6 }), await streamsFanout.run({ seed: 6 }), await streamsFanout.run({ seed: 7 })];
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.details).toEqual(b.details);
    expect(c.traceHash).not.toBe(a.traceHash);
  });
});
