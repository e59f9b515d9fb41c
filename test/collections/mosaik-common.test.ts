import type { Network } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { ALL_DRIVERS, type Driver, eventually, expectConverged, expectEverywhere, Model, type ReadColl, setup, type WriteColl } from './helpers.ts';

/**
 * mosaik's common collection tests (reference `mosaik-streams-collections.md` §4
 * "Collections", Common), for every kind, in the simulator. Items are numbered: item `i` is
 * key `k{i}` / element or value `v{i}` (priority `i % 7` in a priority queue); a `Model` of
 * the present items gives the expected contents, and every replica must hold exactly them, in
 * the same order.
 */

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Writes items one at a time, each awaited; the last version. */
async function writeAll(w: WriteColl, model: Model, items: readonly number[]): Promise<number> {
  let v = w.version;
  for (const i of items) {
    v = await w.write(i);
    model.write(i);
  }
  return v;
}

/** Kinds with extend / remove / clear. */
const withExtend = ALL_DRIVERS.filter((d) => d.kind !== 'cell' && d.kind !== 'once');
const withRemove = ALL_DRIVERS.filter((d) => d.kind === 'map' || d.kind === 'set' || d.kind === 'priorityQueue');
const withClear = ALL_DRIVERS.filter((d) => d.kind !== 'once');

describe.each(ALL_DRIVERS.map((d) => [d.kind, d] as const))('%s: common cases (mosaik collections)', (_kind, driver: Driver) => {
  it('smoke_no_catchup: every operation, the reader checked after reaches(v)', async () => {
    await setup(1, 2, async (_sim, [a, b]) => {
      const w = driver.writer(a as Network, 'smoke');
      const r = driver.reader(b as Network, 'smoke');
      await w.when.online();
      await r.when.online();
      const model = new Model(driver);
      const check = (v: number) => expectEverywhere([w, r], v, model.expected);
      expect(w.contents()).toEqual([]);
      for (const i of [1, 2, 3]) {
        const v = await w.write(i);
        model.write(i);
        await check(v);
      }
      // A second write of a present item (once: a later write changes nothing).
      let v = await w.write(2);
      model.write(2);
      await check(v);
      if (w.extend !== undefined) {
        v = await w.extend([4, 5, 6]);
        for (const i of [4, 5, 6]) model.write(i);
        await check(v);
      }
      if (w.remove !== undefined) {
        v = await w.remove(2);
        model.remove(2);
        await check(v);
      }
      if (w.clear !== undefined) {
        v = await w.clear();
        model.clear();
        await check(v);
        v = await w.write(7);
        model.write(7);
        await check(v);
      }
      expect(r.version).toBe(w.version);
    });
  });

  it('catchup_single_reader: a late reader converges after 120 writes (through a snapshot), the writer continuing', async () => {
    await setup(2, 2, async (_sim, [a, b]) => {
      const options = { snapshotEveryEntries: 50 };
      const w = driver.writer(a as Network, 'catchup', options);
      await w.when.online();
      const model = new Model(driver);
      await writeAll(w, model, range(0, 120));
      const r = driver.reader(b as Network, 'catchup', options);
      // The writer goes on while the reader catches up.
      const more = writeAll(w, model, range(120, 150));
      await r.when.online();
      const v = await more;
      await expectEverywhere([w, r], v, model.expected);
    });
  });

  it('multiple_readers: three readers see every write', async () => {
    await setup(3, 4, async (_sim, [a, ...rest]) => {
      const w = driver.writer(a as Network, 'readers');
      const readers = rest.map((n) => driver.reader(n, 'readers'));
      await w.when.online();
      for (const r of readers) await r.when.online();
      const model = new Model(driver);
      const v = await writeAll(w, model, range(0, 30));
      await expectEverywhere([w, ...readers], v, model.expected);
    });
  });

  it('catchup_multiple_readers: three late readers converge after 120 writes', async () => {
    await setup(4, 4, async (_sim, [a, ...rest]) => {
      const options = { snapshotEveryEntries: 40 };
      const w = driver.writer(a as Network, 'late-readers', options);
      await w.when.online();
      const model = new Model(driver);
      let v = await writeAll(w, model, range(0, 120));
      const readers = rest.map((n) => driver.reader(n, 'late-readers', options));
      v = await writeAll(w, model, range(120, 130));
      await expectEverywhere([w, ...readers], v, model.expected);
    });
  });

  it('multiple_writers: two writers and a reader; sequential then concurrent writes, the same contents everywhere', async () => {
    await setup(5, 3, async (sim, [a, b, c]) => {
      const w1 = driver.writer(a as Network, 'writers');
      const w2 = driver.writer(b as Network, 'writers');
      const r = driver.reader(c as Network, 'writers');
      for (const h of [w1, w2, r]) await h.when.online();
      const model = new Model(driver);
      let v = 0;
      for (const i of range(0, 20)) {
        v = await (i % 2 === 0 ? w1 : w2).write(i);
        model.write(i);
      }
      await expectEverywhere([w1, w2, r], v, model.expected);
      // Concurrent: Raft picks one order, the same everywhere.
      await Promise.all([...range(20, 40).map((i) => w1.write(i)), ...range(40, 60).map((i) => w2.write(i))]);
      await expectConverged(sim, [w1, w2, r]);
      if (driver.kind !== 'cell' && driver.kind !== 'once') expect(w1.contents()).toHaveLength(60);
    });
  });

  it('many_writers_many_readers: three writers, two readers, concurrent writes', async () => {
    await setup(6, 5, async (sim, nets) => {
      const writers = nets.slice(0, 3).map((n) => driver.writer(n, 'many'));
      const readers = nets.slice(3).map((n) => driver.reader(n, 'many'));
      for (const h of [...writers, ...readers]) await h.when.online();
      await Promise.all(writers.flatMap((w, j) => range(0, 15).map((i) => w.write(j * 100 + i))));
      await expectConverged(sim, [...writers, ...readers]);
      if (driver.kind !== 'cell' && driver.kind !== 'once') expect(readers[0]?.contents()).toHaveLength(45);
    });
  });

  it('late_writer_catchup: a writer that joins after 120 writes catches up, then writes', async () => {
    await setup(7, 3, async (_sim, [a, b, c]) => {
      const options = { snapshotEveryEntries: 50 };
      const w1 = driver.writer(a as Network, 'late-writer', options);
      const r = driver.reader(c as Network, 'late-writer', options);
      await w1.when.online();
      const model = new Model(driver);
      let v = await writeAll(w1, model, range(0, 120));
      const w2 = driver.writer(b as Network, 'late-writer', options);
      await w2.when.online();
      await w2.when.reaches(v);
      expect(w2.contents()).toEqual(model.expected);
      v = await writeAll(w2, model, range(120, 130));
      v = await writeAll(w1, model, range(130, 135));
      await expectEverywhere([w1, w2, r], v, model.expected);
    });
  });

  it('writer_reads_own_writes: a resolved write is in the writer’s copy at once, on a follower writer too', async () => {
    await setup(8, 2, async (_sim, [a, b]) => {
      const w1 = driver.writer(a as Network, 'own');
      const w2 = driver.writer(b as Network, 'own');
      await w1.when.online();
      await w2.when.online();
      const model = new Model(driver);
      for (const i of range(0, 10)) {
        const w = i % 2 === 0 ? w1 : w2;
        const v = await w.write(i);
        model.write(i);
        expect(w.version).toBeGreaterThanOrEqual(v);
        expect(w.contents()).toEqual(model.expected);
      }
    });
  });
});

describe.each(withClear.map((d) => [d.kind, d] as const))('%s: clear (mosaik collections)', (_kind, driver: Driver) => {
  it('clear_then_rebuild: fill, clear, fill again', async () => {
    await setup(11, 2, async (_sim, [a, b]) => {
      const w = driver.writer(a as Network, 'rebuild');
      const r = driver.reader(b as Network, 'rebuild');
      await w.when.online();
      const model = new Model(driver);
      let v = await writeAll(w, model, range(0, 20));
      await expectEverywhere([w, r], v, model.expected);
      v = await (w.clear as () => Promise<number>)();
      model.clear();
      await expectEverywhere([w, r], v, []);
      v = await writeAll(w, model, range(100, 115));
      await expectEverywhere([w, r], v, model.expected);
      // Clearing an empty collection is fine too.
      await (w.clear as () => Promise<number>)();
      v = await (w.clear as () => Promise<number>)();
      await expectEverywhere([w, r], v, []);
    });
  });
});

describe.each(withExtend.map((d) => [d.kind, d] as const))('%s: extend (mosaik collections)', (_kind, driver: Driver) => {
  it('extend_empty: resolves with the current version and appends nothing', async () => {
    await setup(12, 2, async (sim, [a, b]) => {
      const w = driver.writer(a as Network, 'extend-empty');
      const r = driver.reader(b as Network, 'extend-empty');
      await w.when.online();
      const model = new Model(driver);
      const v = await writeAll(w, model, [1, 2]);
      await r.when.reaches(v);
      const extend = w.extend as (is: readonly number[]) => Promise<number>;
      expect(await extend([])).toBe(v);
      await sim.sleep(2_000);
      expect(w.version).toBe(v);
      expect(r.version).toBe(v);
      await expectEverywhere([w, r], v, model.expected);
      // An empty extend on an empty collection as well.
      const empty = driver.writer(a as Network, 'extend-empty-2');
      await empty.when.online();
      const v0 = empty.version;
      expect(await (empty.extend as typeof extend)([])).toBe(v0);
      expect(empty.contents()).toEqual([]);
    });
  });
});

describe.each(withRemove.map((d) => [d.kind, d] as const))('%s: remove (mosaik collections)', (_kind, driver: Driver) => {
  it('remove_nonexistent: removing an absent item commits and changes nothing', async () => {
    await setup(13, 2, async (_sim, [a, b]) => {
      const w = driver.writer(a as Network, 'remove-none');
      const r = driver.reader(b as Network, 'remove-none');
      await w.when.online();
      const remove = w.remove as (i: number) => Promise<number>;
      let v = await remove(99);
      await expectEverywhere([w, r], v, []);
      const model = new Model(driver);
      await writeAll(w, model, [1, 2, 3]);
      const before = w.version;
      v = await remove(99);
      expect(v).toBeGreaterThan(before);
      await expectEverywhere([w, r], v, model.expected);
    });
  });

  it('remove_all: removing every item one by one leaves it empty everywhere', async () => {
    await setup(14, 3, async (_sim, [a, b, c]) => {
      const w = driver.writer(a as Network, 'remove-all');
      const readers: ReadColl[] = [driver.reader(b as Network, 'remove-all'), driver.reader(c as Network, 'remove-all')];
      await w.when.online();
      const model = new Model(driver);
      let v = await writeAll(w, model, range(0, 12));
      await expectEverywhere([w, ...readers], v, model.expected);
      const remove = w.remove as (i: number) => Promise<number>;
      for (const i of [5, 0, 11, 3, 1, 2, 4, 6, 7, 8, 9, 10]) {
        v = await remove(i);
        model.remove(i);
        await expectEverywhere([w, ...readers], v, model.expected);
      }
      expect(model.items).toEqual([]);
      await eventually(_sim, () => readers.every((r) => r.contents().length === 0), 1_000, 'empty');
    });
  });
});
