import { describe, expect, it } from 'vitest';
import { UncommittedProposals } from '../../core/raft/uncommitted.ts';

describe("a leader's uncommitted proposals", () => {
  it('are released as the commit index passes each proposal, not before', () => {
    const own = new UncommittedProposals();
    own.add(3, 10, 100); // entries ..10
    own.add(3, 12, 50); // entries 11..12
    expect(own.bytes(3)).toBe(150);
    own.commit(9);
    expect(own.bytes(3)).toBe(150);
    own.commit(11); // the second proposal is half committed: still held
    expect(own.bytes(3)).toBe(50);
    own.commit(12);
    expect(own.bytes(3)).toBe(0);
  });

  it('count for nothing in another term, and a new term starts from none', () => {
    const own = new UncommittedProposals();
    own.add(3, 10, 100);
    expect(own.bytes(4)).toBe(0);
    own.add(5, 11, 7);
    expect(own.bytes(5)).toBe(7);
    expect(own.bytes(3)).toBe(0);
  });

  it('stay exact over many proposals (the released ones are dropped as it goes)', () => {
    const own = new UncommittedProposals();
    let held = 0;
    let committed = 0;
    for (let i = 1; i <= 10_000; i++) {
      own.add(1, i, i % 7);
      held += i % 7;
      if (i % 3 === 0 && i > 5) {
        for (let k = committed + 1; k <= i - 5; k++) held -= k % 7;
        committed = i - 5;
        own.commit(committed);
      }
      expect(own.bytes(1)).toBe(held);
    }
  });
});
