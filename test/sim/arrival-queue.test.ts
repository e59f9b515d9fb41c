import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Arrival, ArrivalQueue } from '../../net-sim/arrival-queue.ts';

interface Frame extends Arrival {
  readonly id: number;
}

type Op = { readonly kind: 'insert'; readonly atMs: number } | { readonly kind: 'shift' } | { readonly kind: 'clear' };

// Mostly appends in order, as on a reliable link; sometimes an earlier time, as the stress mode's reordering gives.
const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), atMs: fc.integer({ min: 0, max: 12 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('shift' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
  ),
  { maxLength: 300 },
);

/** Runs `ops` on a queue and on the model (a list kept stably sorted by time); returns the first disagreement. */
function disagreement(makeQueue: () => ArrivalQueue<Frame>, list: readonly Op[]): string | undefined {
  const queue = makeQueue();
  let model: Frame[] = [];
  let nextId = 0;
  for (const op of list) {
    if (op.kind === 'insert') {
      const frame: Frame = { atMs: op.atMs, id: nextId++, next: undefined };
      queue.insert(frame);
      // Stable: a frame goes after every frame that arrives at or before its time.
      let i = model.length;
      while (i > 0 && (model[i - 1] as Frame).atMs > frame.atMs) i--;
      model = [...model.slice(0, i), frame, ...model.slice(i)];
    } else if (op.kind === 'shift') {
      const got = queue.shift();
      const want = model.shift();
      if (got !== want) return `shift gave ${got?.id} where ${want?.id} was due`;
    } else {
      queue.clear();
      model = [];
    }
    if (queue.head !== model[0]) return `head ${queue.head?.id}, expected ${model[0]?.id}`;
    if (queue.tail !== model[model.length - 1]) return `tail ${queue.tail?.id}, expected ${model[model.length - 1]?.id}`;
    // Walking the links gives the model's order, and ends at the tail.
    const walked: number[] = [];
    for (let at: Arrival | undefined = queue.head; at !== undefined; at = at.next) walked.push((at as Frame).id);
    if (walked.join() !== model.map((f) => f.id).join()) return `links give [${walked}], expected [${model.map((f) => f.id)}]`;
  }
  return undefined;
}

describe('ArrivalQueue', () => {
  it('keeps frames in arrival-time order, ties in the order they were queued', () => {
    fc.assert(
      fc.property(ops, (list) => {
        expect(disagreement(() => new ArrivalQueue<Frame>(), list)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('the check fails on a queue that puts a frame before others of the same time', () => {
    // Planted: `<` where the queue compares with `<=`, so a tie overtakes the frames already there.
    class TieFirst extends ArrivalQueue<Frame> {
      override insert(item: Frame): void {
        item.next = undefined;
        const tail = this.tail;
        if (tail === undefined) {
          this.head = this.tail = item;
          return;
        }
        if (tail.atMs < item.atMs) {
          tail.next = item;
          this.tail = item;
          return;
        }
        const head = this.head as Frame;
        if (head.atMs >= item.atMs) {
          item.next = head;
          this.head = item;
          return;
        }
        let at: Arrival = head;
        while (at.next !== undefined && at.next.atMs < item.atMs) at = at.next;
        item.next = at.next;
        at.next = item;
      }
    }
    const result = fc.check(
      fc.property(ops, (list) => disagreement(() => new TieFirst(), list) === undefined),
      { numRuns: 500, seed: 7 },
    );
    expect(result.failed).toBe(true);
  });

  it('gives frames back in order and is empty after the last', () => {
    const queue = new ArrivalQueue<Frame>();
    const frames = [0, 1, 1, 2].map((atMs, id): Frame => ({ atMs, id, next: undefined }));
    for (const f of frames) queue.insert(f);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift(), queue.shift()].map((f) => f?.id)).toEqual([0, 1, 2, 3, undefined]);
    expect(queue.head).toBeUndefined();
    expect(queue.tail).toBeUndefined();
  });
});
