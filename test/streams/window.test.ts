import { describe, expect, it } from 'vitest';
import { eventually, withTwo } from './helpers.ts';

describe('streams: the consumer window', () => {
  it('a consumer that does not read holds at most bufferSize datums per producer, however often it reconnects; it reads on afterwards', async () => {
    await withTwo(61, async (sim, a, b, seen) => {
      const p = a.streams.producer<number>('x', { bufferSize: 4, onlineWhen: (c) => c.minimumOf(0) });
      const backoff = { initialMs: 100, maxMs: 1_000, jitter: 0, maxElapsedMs: 1e9 };
      const c = b.streams.consumer<number>('x', { bufferSize: 4, backoff });
      await p.when.subscribed();
      for (let i = 0; i < 200; i++) {
        await p.send(i);
        await sim.sleep(500);
      }
      const reconnects = seen.filter((s) => s.net === b && s.event.type === 'streams.subscribed').length;
      expect(reconnects).toBeGreaterThan(5);
      const held: number[] = [];
      for (let v = c.tryRecv(); v !== undefined; v = c.tryRecv()) held.push(v);
      expect(held).toEqual([0, 1, 2, 3]);
      // With room again, the consumer receives what the producer sends next.
      const later: number[] = [];
      await eventually(
        sim,
        () => {
          if (p.consumers().length > 0) p.trySend(1_000);
          for (let v = c.tryRecv(); v !== undefined; v = c.tryRecv()) later.push(v);
          return later.includes(1_000);
        },
        30_000,
        'a datum after reading',
      );
    });
  });
});
