import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quorumIndex } from '../../core/raft/progress.ts';

// The commit rule's quorum index: the largest index that a majority of voters has. The
// model is the definition itself, checked against every candidate.

function model(matches: readonly number[]): number {
  if (matches.length === 0) return 0;
  const candidates = [0, ...matches];
  return Math.max(...candidates.filter((c) => matches.filter((m) => m >= c).length > matches.length / 2));
}

describe('quorumIndex', () => {
  it('is the largest index a majority has reached', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { maxLength: 9 }), (matches) => {
        const voters = matches.map((_, i) => `v${i}`);
        expect(quorumIndex(voters, (v) => matches[Number(v.slice(1))] as number)).toBe(model(matches));
      }),
      { numRuns: 2_000 },
    );
  });

  it('examples: ties, one voter, a lagging majority', () => {
    const q = (...m: number[]) =>
      quorumIndex(
        m.map((_, i) => String(i)),
        (v) => m[Number(v)] as number,
      );
    expect(q()).toBe(0);
    expect(q(7)).toBe(7);
    expect(q(5, 5, 5)).toBe(5);
    expect(q(9, 1, 1)).toBe(1);
    expect(q(9, 8, 1)).toBe(8);
    expect(q(9, 8, 1, 1)).toBe(1); // two of four is not a majority
    expect(q(9, 8, 7, 1, 1)).toBe(7);
  });
});
