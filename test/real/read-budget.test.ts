import { describe, expect, it } from 'vitest';
import { dataFrameHeader, LinkFrameDecoder } from '../../net-real/link-framing.ts';
import { CHUNK_OVERHEAD_BYTES, ReadBudget, readBudgetLimits } from '../../net-real/read-budget.ts';

const conn = () => ({ held: 0 });

describe('ReadBudget', () => {
  it('drops a connection past its own bound, and only it', () => {
    const budget = new ReadBudget<{ held: number }>(1000, 10_000);
    const a = conn();
    const b = conn();
    expect(budget.change(a, 600)).toEqual([]);
    expect(budget.change(b, 900)).toEqual([]);
    expect(budget.change(a, 401)).toEqual([{ conn: a, bound: 'connection' }]);
    expect(a.held).toBe(0);
    expect(budget.total).toBe(900);
  });

  it('past the node bound, drops the largest holders until back under', () => {
    const budget = new ReadBudget<{ held: number }>(1000, 2000);
    const [a, b, c] = [conn(), conn(), conn()];
    budget.change(a, 900);
    budget.change(b, 500);
    budget.change(c, 550);
    // c grows to 650: 2,050 over all. a holds the most and goes, though c went over.
    expect(budget.change(c, 100)).toEqual([{ conn: a, bound: 'node' }]);
    expect(budget.total).toBe(1150);
    expect([a.held, b.held, c.held]).toEqual([0, 500, 650]);
  });

  it('gives back what links release, and forgets a connection that is gone', () => {
    const budget = new ReadBudget<{ held: number }>(1000, 2000);
    const a = conn();
    for (let i = 0; i < 50; i++) {
      expect(budget.change(a, 900)).toEqual([]);
      budget.change(a, -900);
    }
    budget.change(a, 700);
    budget.forget(a);
    expect(budget.total).toBe(0);
    expect(a.held).toBe(0);
  });

  it('limits from options: defaults, and bounds that could not hold one largest frame are refused', () => {
    expect(readBudgetLimits(8 * 1024 * 1024)).toEqual({ maxPartialBytesPerConnection: 64 * 1024 * 1024, maxPartialBytes: 512 * 1024 * 1024 });
    expect(readBudgetLimits(64 * 1024 * 1024).maxPartialBytesPerConnection).toBe(2 * (65 * 1024 * 1024));
    expect(() => readBudgetLimits(8 * 1024 * 1024, { maxPartialBytesPerConnection: 8 * 1024 * 1024 })).toThrow(/at least maxFrameBytes/);
    expect(() => readBudgetLimits(128 * 1024, { maxPartialBytesPerConnection: 4 * 1024 * 1024, maxPartialBytes: 2 * 1024 * 1024 })).toThrow(/at least/);
  });
});

describe('LinkFrameDecoder.heldBytes', () => {
  it('counts an unfinished frame with an overhead per chunk, so a peer sending a byte at a time is charged for its chunks', () => {
    const decoder = new LinkFrameDecoder(1 << 20);
    decoder.push(dataFrameHeader(10_000));
    const afterHeader = decoder.heldBytes;
    for (let i = 0; i < 1000; i++) decoder.push(new Uint8Array(1));
    expect(decoder.heldBytes - afterHeader).toBe(1000 * (1 + CHUNK_OVERHEAD_BYTES));
    // A 1-byte chunk costs V8 a few hundred bytes (view, buffer, backing store): the charge must be of that order.
    expect(CHUNK_OVERHEAD_BYTES).toBeGreaterThanOrEqual(128);
    decoder.push(new Uint8Array(10_000 - 1000));
    expect(decoder.heldBytes).toBe(0); // complete: handed on, nothing held
  });
});
