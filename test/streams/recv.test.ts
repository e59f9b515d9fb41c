import { ClosedError } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { withTwo } from './helpers.ts';

/** How a consumer hands datums to the application when several readers wait at once. */
describe('streams: concurrent readers', () => {
  it('concurrent recv() calls are served in call order, one datum each', async () => {
    await withTwo(51, async (sim, a, b) => {
      const p = a.streams.producer<number>('x');
      const c = b.streams.consumer<number>('x');
      await p.when.subscribed();
      const order: string[] = [];
      const first = c.recv().then((v) => order.push(`first:${v}`));
      const second = c.recv().then((v) => order.push(`second:${v}`));
      await sim.sleep(10);
      for (const v of [1, 2, 3]) await p.send(v);
      await Promise.all([first, second]);
      expect(order).toEqual(['first:1', 'second:2']);
      expect(await c.recv()).toBe(3);
    });
  });

  it('every pending recv() rejects with ClosedError on close', async () => {
    await withTwo(52, async (sim, a, b) => {
      a.streams.producer<number>('x');
      const c = b.streams.consumer<number>('x');
      const pending = [c.recv(), c.recv(), c.recv()].map((r) =>
        r.then(
          () => 'resolved',
          (e: unknown) => e,
        ),
      );
      await sim.sleep(10);
      await c.close();
      for (const r of await Promise.all(pending)) expect(r).toBeInstanceOf(ClosedError);
    });
  });

  it('two for-await loops over one consumer share its datums and both end on close', async () => {
    await withTwo(53, async (sim, a, b) => {
      const p = a.streams.producer<number>('x');
      const c = b.streams.consumer<number>('x');
      await p.when.subscribed();
      const got: number[] = [];
      const loop = async () => {
        for await (const v of c) got.push(v);
        return 'ended';
      };
      const loops = [loop(), loop()];
      for (let i = 1; i <= 6; i++) await p.send(i);
      await sim.sleep(100);
      expect(got).toEqual([1, 2, 3, 4, 5, 6]);
      await c.close();
      expect(await Promise.all(loops)).toEqual(['ended', 'ended']);
    });
  });
});

describe('streams: handles of a node that crashes', () => {
  const outcome = (p: PromiseLike<unknown>) =>
    Promise.resolve(p).then(
      () => 'resolved',
      (e: unknown) => (e as Error).name,
    );

  it('a pending recv, for-await loop, when condition or send rejects with NodeDownError; later calls say ClosedError', async () => {
    await withTwo(54, async (sim, a, b) => {
      const p = a.streams.producer<number>('x');
      const c = b.streams.consumer<number>('x');
      const q = b.streams.producer<number>('y', { onlineWhen: (x) => x.minimumOf(3) });
      await p.when.subscribed();
      const loop = (async () => {
        for await (const _ of c) {
        }
      })();
      const pending = [c.recv(), loop, c.when.subscribed().minimumOf(2), c.when.offline(), q.when.online(), q.send(1)].map(outcome);
      await sim.sleep(10);
      sim.crash(b);
      expect(await Promise.all(pending)).toEqual(Array(6).fill('NodeDownError'));
      expect(c.closed).toBe(true);
      await expect(c.recv()).rejects.toBeInstanceOf(ClosedError);
      await expect(c.when.online()).rejects.toBeInstanceOf(ClosedError);
    });
  });

  it('across a crash and restart: pending calls reject at the crash, and the node works again with new handles', async () => {
    await withTwo(55, async (sim, a, b) => {
      const p = a.streams.producer<number>('x');
      const c = b.streams.consumer<number>('x');
      await p.when.subscribed();
      const pending = [c.recv(), c.when.subscribed().minimumOf(2)].map(outcome);
      await sim.sleep(10);
      sim.crash(b);
      await sim.sleep(100);
      sim.restart(b);
      expect(await Promise.all(pending)).toEqual(['NodeDownError', 'NodeDownError']);
      const again = b.streams.consumer<number>('x');
      await again.when.subscribed();
      await p.when.subscribed();
      await p.send(4);
      expect(await again.recv()).toBe(4);
    });
  });
});
