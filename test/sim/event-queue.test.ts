import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, type QueueEntry } from '../../net-sim/event-queue.ts';

type Op = { readonly kind: 'push'; readonly atMs: number } | { readonly kind: 'remove'; readonly which: number } | { readonly kind: 'pop' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), atMs: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ kind: fc.constant('remove' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('pop' as const) }),
);

describe('EventQueue', () => {
  it('pops by (time, insertion order), like a sorted list, under pushes, removals and pops', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const queue = new EventQueue<number>();
        // The model: pending events as [atMs, id], kept sorted by time then id (ids increase).
        let model: [number, number][] = [];
        const entries: QueueEntry<number>[] = [];
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            // Like the simulator, nothing is scheduled in the past.
            const atMs = now + o.atMs;
            const id = entries.length;
            entries.push(queue.push(atMs, id));
            model.push([atMs, id]);
            model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          } else if (o.kind === 'remove') {
            if (entries.length === 0) continue;
            const id = o.which % entries.length;
            queue.remove(entries[id] as QueueEntry<number>);
            model = model.filter(([, m]) => m !== id);
          } else {
            const expected = model.shift();
            expect(queue.peekTime()).toBe(expected?.[0]);
            const got = queue.pop();
            expect(got?.item).toBe(expected?.[1]);
            if (expected) now = expected[0];
          }
          expect(queue.size).toBe(model.length);
          expect(queue.peekTime()).toBe(model[0]?.[0]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order when most of a busy instant is cancelled (compaction)', () => {
    const queue = new EventQueue<number>();
    const entries = Array.from({ length: 1_000 }, (_, i) => queue.push(5, i));
    for (let i = 0; i < 1_000; i++) if (i % 10 !== 3) queue.remove(entries[i] as QueueEntry<number>);
    queue.push(5, 1_000);
    const order: number[] = [];
    for (let e = queue.pop(); e; e = queue.pop()) order.push(e.item as number);
    expect(order).toEqual([...Array.from({ length: 100 }, (_, i) => i * 10 + 3), 1_000]);
    expect(queue.size).toBe(0);
  });

  it('a removed or popped entry stays removed; removing twice is a no-op', () => {
    const queue = new EventQueue<string>();
    const a = queue.push(1, 'a');
    const b = queue.push(1, 'b');
    queue.remove(a);
    queue.remove(a);
    expect(queue.pop()?.item).toBe('b');
    queue.remove(b);
    expect(queue.size).toBe(0);
    expect(queue.pop()).toBeUndefined();
    queue.push(1, 'c'); // an instant whose bucket was dropped comes back
    expect(queue.pop()?.item).toBe('c');
  });
});
