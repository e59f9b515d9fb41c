import { describe, expect, it } from 'vitest';
import { runPingMesh } from '../../scenarios/ping-mesh.ts';

// A checker is trusted only after it has been seen to fail: each planted bug below must be
// caught, by the checker meant to catch it, and the same seeds must pass without the bug.
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

describe('ping-mesh checkers catch planted bugs', () => {
  it('the same seeds pass with no bug planted', async () => {
    for (const seed of SEEDS) {
      const result = await runPingMesh({ seed });
      expect(result.violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('drop-replies-after-restart fails liveness exactly when the seed crashed a node', async () => {
    let caught = 0;
    for (const seed of SEEDS) {
      const result = await runPingMesh({ seed, plantedBugs: ['drop-replies-after-restart'] });
      const injected = result.details.faultsInjected as Record<string, number>;
      // A power failure crashes (and restarts) a majority at once.
      const crashes = (injected.crash ?? 0) + (injected['power-failure'] ?? 0);
      expect(result.ok, `seed ${seed} (crashes: ${crashes})`).toBe(crashes === 0);
      if (!result.ok) {
        caught++;
        expect(result.violations.every((v) => v.message.startsWith('liveness:'))).toBe(true);
      }
    }
    expect(caught).toBeGreaterThan(0);
  });

  it('reply-twice is caught as a protocol violation on every seed', async () => {
    for (const seed of SEEDS.slice(0, 4)) {
      const result = await runPingMesh({ seed, plantedBugs: ['reply-twice'] });
      expect(result.ok).toBe(false);
      expect(result.violations.some((v) => v.checker === 'no-protocol-violations' && /pong id \d+ after \d+/.test(v.message))).toBe(true);
    }
  });

  it('a wire that reorders or duplicates frames on reliable links is caught', async () => {
    for (const bug of ['wire-reorder', 'wire-duplicate']) {
      for (const seed of SEEDS.slice(0, 4)) {
        const result = await runPingMesh({ seed, plantedBugs: [bug] });
        expect(
          result.violations.some((v) => v.checker === 'reliable-links'),
          `${bug} seed ${seed}`,
        ).toBe(true);
      }
    }
  });
});
