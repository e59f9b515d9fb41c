import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap, DeadlineQueue } from '../../core/util/deadline-queue.ts';

type Op = { readonly push: readonly [number, number] } | { readonly pop: true };

/** Runs `ops` on a DeadlineQueue and on a sorted list; returns both pop sequences. */
function runBoth(ops: readonly Op[], q: DeadlineQueue | DeadlineHeap = new DeadlineQueue()): { got: [number, number][]; want: [number, number][] } {
  const model: [number, number][] = [];
  const got: [number, number][] = [];
  const want: [number, number][] = [];
  for (const op of ops) {
    if ('push' in op) {
      q.push(op.push[0], op.push[1]);
      model.push([op.push[0], op.push[1]]);
      model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    } else {
      const head = model.shift();
      expect(q.size).toBe(head ? model.length + 1 : 0);
      if (head) {
        want.push(head);
        got.push([q.peekAt() as number, q.peekId()]);
      } else expect(q.peekAt()).toBeUndefined();
      q.pop();
    }
  }
  return { got, want };
}

// Few distinct deadlines, so that ties (broken by id) are common.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 30 })).map((push) => ({ push })) },
  { weight: 2, arbitrary: fc.constant({ pop: true as const }) },
);

describe('DeadlineQueue', () => {
  for (const [name, make] of [
    ['DeadlineQueue', () => new DeadlineQueue()],
    ['its heap alone', () => new DeadlineHeap()],
  ] as const) {
    it(`pops in (deadline, id) order whatever the push order (${name})`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
          const { got, want } = runBoth(ops, make());
          expect(got).toEqual(want);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('stays ordered across the FIFO compaction of a long, mostly in-order run', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 5_000; i++) {
      ops.push({ push: [i + (i % 7 === 0 ? -40 : 0), i] });
      if (i % 3 !== 0) ops.push({ pop: true });
    }
    const { got, want } = runBoth(ops);
    expect(got).toEqual(want);
  });

  it('clear empties both parts', () => {
    const q = new DeadlineQueue();
    q.push(10, 1);
    q.push(5, 2); // out of order: the heap
    q.clear();
    expect(q.size).toBe(0);
    expect(q.peekAt()).toBeUndefined();
    q.push(3, 3);
    expect([q.peekAt(), q.peekId()]).toEqual([3, 3]);
  });
});
