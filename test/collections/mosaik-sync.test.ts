import type { Network } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import {
  type Applied,
  type Driver,
  eventually,
  expectEverywhere,
  Model,
  mapDriver,
  priorityQueueDriver,
  type ReadColl,
  setDriver,
  setup,
  type ValueOf,
  vecDriver,
  type WriteColl,
} from './helpers.ts';

/**
 * mosaik's collections/sync tests (reference `mosaik-streams-collections.md` §4
 * "collections/sync") for map, set, vec and priority queue, in the simulator: a writer and a
 * reader fill a collection, then late readers catch up. Here catch-up is Raft's: the leader
 * compacts its log into a snapshot every `snapshotEveryEntries` commands, and a member whose
 * next entry was compacted away gets the snapshot in 256 KiB chunks, then the log after it.
 * mosaik's snapshot sync compares wall clocks (its TTL, §6.12); ours uses none, so it must
 * work with a reader's clock an hour off.
 *
 * Sizes stay at 10k items at most (100k belongs to the scenarios and benchmarks).
 */

const KINDS: readonly Driver[] = [mapDriver, setDriver, vecDriver, priorityQueueDriver];
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
/** Values of about 40 bytes, so 10k items make a snapshot of several chunks. */
const padded: ValueOf = (i) => `value-${i}-`.padEnd(40, '.');

/** Writes items `from..to`, `perWrite` to a command (`extend`, or `write` for one); the last version. */
async function fill(w: WriteColl, model: Model, from: number, to: number, perWrite: number): Promise<number> {
  let v = w.version;
  for (let i = from; i < to; i += perWrite) {
    const items = range(i, Math.min(to, i + perWrite));
    v = items.length === 1 || w.extend === undefined ? await w.write(items[0] as number) : await w.extend(items);
    for (const x of items) model.write(x);
  }
  return v;
}

/** The late member caught up from a snapshot: it never applied the first commands one by one. */
function expectSnapshotCatchUp(applied: Applied, late: Network, lastIndex: number): void {
  expect(applied.first(late) ?? Number.POSITIVE_INFINITY).toBeGreaterThan(1);
  expect(applied.count(late)).toBeLessThan(lastIndex);
}

describe.each(KINDS.map((d) => [d.kind, d] as const))('%s: collections/sync', (_kind, driver: Driver) => {
  it.each([
    // [size, snapshotEveryEntries, items per write]
    [1, 100, 1],
    [100, 30, 1],
    [1_000, 100, 5],
    [10_000, 100, 50],
    [10_000, 1_000, 5],
  ])('frozen: %i items, a snapshot every %i commands (%i items a command): a new reader converges exactly', async (size, every, perWrite) => {
    await setup(200 + size + every, 3, async (_sim, [a, b, c], applied) => {
      const options = { snapshotEveryEntries: every };
      const w = driver.writer(a as Network, 'frozen', options, padded);
      const r = driver.reader(b as Network, 'frozen', options);
      await w.when.online();
      const model = new Model(driver, padded);
      const v = await fill(w, model, 0, size, perWrite);
      await expectEverywhere([w, r], v, model.expected);
      const late = driver.reader(c as Network, 'frozen', options);
      await expectEverywhere([w, r, late], v, model.expected);
      expect(late.contents()).toHaveLength(size);
      if (v > 2 * every) expectSnapshotCatchUp(applied, c as Network, v);
    });
  });

  it.each([
    // [initial, extra, snapshotEveryEntries]
    [100, 50, 30],
    [1_000, 500, 100],
  ])('writes_during_sync: %i items, %i more written while a new reader catches up', async (initial, extra, every) => {
    await setup(300 + initial, 3, async (_sim, [a, b, c], applied) => {
      const options = { snapshotEveryEntries: every };
      const w = driver.writer(a as Network, 'during', options);
      const r = driver.reader(b as Network, 'during', options);
      await w.when.online();
      const model = new Model(driver);
      let v = await fill(w, model, 0, initial, 2);
      const late = driver.reader(c as Network, 'during', options);
      // One item a command: many commands while the late reader installs the snapshot.
      v = await fill(w, model, initial, initial + extra, 1);
      await expectEverywhere([w, r, late], v, model.expected);
      expectSnapshotCatchUp(applied, c as Network, v);
    });
  });

  it('empty and single_entry: a new reader of an empty collection, then of one item', async () => {
    await setup(311, 3, async (_sim, [a, b, c]) => {
      const options = { snapshotEveryEntries: 10 };
      const w = driver.writer(a as Network, 'empty', options);
      await w.when.online();
      const late = driver.reader(b as Network, 'empty', options);
      await late.when.online();
      await late.when.reaches(w.version);
      expect(late.contents()).toEqual([]);
      const model = new Model(driver);
      const v = await fill(w, model, 7, 8, 1);
      const late2 = driver.reader(c as Network, 'empty', options);
      await expectEverywhere([w, late, late2], v, model.expected);
      expect(late2.contents()).toHaveLength(1);
    });
  });

  it('reader_before_writer: a reader that opens first, alone, gets everything once a writer comes', async () => {
    await setup(312, 2, async (sim, [a, b]) => {
      const r = driver.reader(b as Network, 'first', { snapshotEveryEntries: 50 });
      await sim.sleep(10_000);
      expect(r.contents()).toEqual([]);
      const w = driver.writer(a as Network, 'first', { snapshotEveryEntries: 50 });
      await w.when.online();
      const model = new Model(driver);
      const v = await fill(w, model, 0, 200, 1);
      await expectEverywhere([w, r], v, model.expected);
    });
  });

  it('extreme batch sizes: a snapshot every command (100 items), and never (10 items)', async () => {
    await setup(313, 3, async (_sim, [a, b, c]) => {
      const w1 = driver.writer(a as Network, 'every-1', { snapshotEveryEntries: 1 });
      const w2 = driver.writer(a as Network, 'every-10k', { snapshotEveryEntries: 10_000 });
      await w1.when.online();
      await w2.when.online();
      const m1 = new Model(driver);
      const m2 = new Model(driver);
      const v1 = await fill(w1, m1, 0, 100, 1);
      const v2 = await fill(w2, m2, 0, 10, 1);
      const late1 = [b, c].map((n) => driver.reader(n as Network, 'every-1', { snapshotEveryEntries: 1 }));
      const late2 = [b, c].map((n) => driver.reader(n as Network, 'every-10k', { snapshotEveryEntries: 10_000 }));
      const v3 = await fill(w1, m1, 100, 120, 1);
      await expectEverywhere([w1, ...late1], Math.max(v1, v3), m1.expected);
      await expectEverywhere([w2, ...late2], v2, m2.expected);
    });
  });

  it('many_readers: five late readers catch up at once from 2 000 items', async () => {
    await setup(314, 7, async (_sim, [a, b, ...rest], applied) => {
      const options = { snapshotEveryEntries: 100 };
      const w = driver.writer(a as Network, 'many', options);
      const r = driver.reader(b as Network, 'many', options);
      await w.when.online();
      const model = new Model(driver);
      const v = await fill(w, model, 0, 2_000, 10);
      const late = rest.map((n) => driver.reader(n, 'many', options));
      await expectEverywhere([w, r, ...late], v, model.expected);
      for (const n of rest) expectSnapshotCatchUp(applied, n, v);
    });
  });

  it('incremental_after_convergence: a caught-up reader then follows write by write', async () => {
    await setup(315, 2, async (_sim, [a, b], applied) => {
      const options = { snapshotEveryEntries: 50 };
      const w = driver.writer(a as Network, 'incremental', options);
      await w.when.online();
      const model = new Model(driver);
      let v = await fill(w, model, 0, 500, 2);
      const late = driver.reader(b as Network, 'incremental', options);
      await expectEverywhere([w, late], v, model.expected);
      const before = applied.count(b as Network);
      for (const i of range(500, 530)) {
        v = await w.write(i);
        model.write(i);
        await expectEverywhere([w, late], v, model.expected);
      }
      if (w.remove !== undefined) {
        v = await w.remove(3);
        model.remove(3);
        await expectEverywhere([w, late], v, model.expected);
      }
      expect(applied.count(b as Network) - before).toBeGreaterThanOrEqual(30);
    });
  });

  it('concurrent_reads_during_sync: every read during catch-up is a state of the history, and it only grows', async () => {
    await setup(316, 2, async (sim, [a, b]) => {
      const options = { snapshotEveryEntries: 100 };
      const w = driver.writer(a as Network, 'reads', options);
      await w.when.online();
      const model = new Model(driver);
      const v = await fill(w, model, 0, 3_000, 10);
      const late = driver.reader(b as Network, 'reads', options);
      const sizes: number[] = [];
      while (late.version < v) {
        const items = late.contents();
        // Items went in in order, ten a command: any state is the first n of them, whole commands.
        expect(items.length % 10).toBe(0);
        expect(items).toEqual(driver.expected(range(0, items.length)));
        expect(items.length).toBeGreaterThanOrEqual(sizes[sizes.length - 1] ?? 0);
        sizes.push(items.length);
        await sim.sleep(5);
      }
      await expectEverywhere([w, late], v, model.expected);
      // It went from nothing to a snapshot at once: never one command at a time from the start.
      expect(sizes[0]).toBe(0);
      expect(new Set(sizes).size).toBeLessThan(10);
    });
  });

  it('clear_and_repopulate and mixed_mutations before a new reader comes', async () => {
    await setup(317, 3, async (_sim, [a, b, c], applied) => {
      const options = { snapshotEveryEntries: 40 };
      const w = driver.writer(a as Network, 'mixed', options);
      const r = driver.reader(b as Network, 'mixed', options);
      await w.when.online();
      const model = new Model(driver);
      await fill(w, model, 0, 300, 3);
      await (w.clear as () => Promise<number>)();
      model.clear();
      let v = await fill(w, model, 1_000, 1_100, 1);
      if (w.remove !== undefined) {
        for (const i of range(1_000, 1_100).filter((i) => i % 3 === 0)) {
          v = await w.remove(i);
          model.remove(i);
        }
        v = await w.remove(424_242); // absent
      }
      v = await fill(w, model, 1_050, 1_080, 4); // overlapping items: duplicates in a vec
      const late = driver.reader(c as Network, 'mixed', options);
      await expectEverywhere([w, r, late], v, model.expected);
      expectSnapshotCatchUp(applied, c as Network, v);
    });
  });

  it('large_values: 100 items of 10 KB (a snapshot of several chunks), a snapshot every 10 commands', async () => {
    await setup(318, 3, async (_sim, [a, b, c], applied) => {
      const options = { snapshotEveryEntries: 10 };
      const big: ValueOf = (i) => `${i}:`.padEnd(10_000, String.fromCharCode(97 + (i % 26)));
      const w = driver.writer(a as Network, 'large', options, big);
      const r = driver.reader(b as Network, 'large', options);
      await w.when.online();
      const model = new Model(driver, big);
      const v = await fill(w, model, 0, 100, 1);
      const late = driver.reader(c as Network, 'large', options);
      await expectEverywhere([w, r, late], v, model.expected);
      expectSnapshotCatchUp(applied, c as Network, v);
    });
  });

  it('recreate_reader: a reader whose node crashes and restarts (its state gone but durable storage) converges again', async () => {
    await setup(319, 3, async (sim, [a, b]) => {
      const options = { snapshotEveryEntries: 50 };
      const w = driver.writer(a as Network, 'recreate', options);
      const r = driver.reader(b as Network, 'recreate', options);
      await w.when.online();
      const model = new Model(driver);
      let v = await fill(w, model, 0, 300, 3);
      await expectEverywhere([w, r], v, model.expected);
      sim.crash(b as Network);
      v = await fill(w, model, 300, 600, 3);
      sim.restart(b as Network);
      v = await fill(w, model, 600, 620, 1);
      await expectEverywhere([w, r], v, model.expected);
    });
  });

  it.each([
    ['+1 h', 3_600_000],
    ['−1 h', -3_600_000],
  ])('clock skew: a late reader whose wall clock is %s off catches up by snapshot and converges (mosaik §6.12 loops forever)', async (_label, skew) => {
    await setup(320 + Math.sign(skew), 4, async (sim, [a, b, c, d], applied) => {
      const options = { snapshotEveryEntries: 100 };
      const w = driver.writer(a as Network, 'skew', options);
      const r = driver.reader(b as Network, 'skew', options);
      await w.when.online();
      const model = new Model(driver);
      let v = await fill(w, model, 0, 2_000, 4);
      sim.skewClock(c as Network, skew);
      const late = driver.reader(c as Network, 'skew', options);
      v = await fill(w, model, 2_000, 2_050, 1);
      await expectEverywhere([w, r, late], v, model.expected);
      expectSnapshotCatchUp(applied, c as Network, v);
      // Now the writer (the leader) is the one off, the other way: two hours between it and
      // the first late reader; a second late reader with a true clock catches up as well.
      sim.skewClock(a as Network, -skew);
      v = await fill(w, model, 2_050, 2_400, 2);
      const late2 = driver.reader(d as Network, 'skew', options);
      v = await fill(w, model, 2_400, 2_420, 1);
      await expectEverywhere([w, r, late, late2], v, model.expected);
      expectSnapshotCatchUp(applied, d as Network, v);
    });
  });
});

describe('collections/sync extras', () => {
  it('map: overwrite_keys and extend_with_overlapping_keys before a new reader; it gets the last values', async () => {
    await setup(331, 3, async (_sim, [a, b, c]) => {
      const options = { snapshotEveryEntries: 50 };
      const w = (a as Network).collections.map<number, string>('overwrite', options);
      const r = (b as Network).collections.map<number, string>('overwrite', { ...options, reader: true });
      await w.when.online();
      for (let round = 0; round < 5; round++) {
        for (let k = 0; k < 20; k++) await w.insert(k, `r${round}-${k}`);
        await w.extend(range(10, 30).map((k) => [k, `x${round}-${k}`] as const));
      }
      const v = await w.removeMany([0, 1, 999]);
      const late = (c as Network).collections.map<number, string>('overwrite', { ...options, reader: true });
      const expected = [...range(2, 10).map((k) => [k, `r4-${k}`]), ...range(10, 30).map((k) => [k, `x4-${k}`])];
      for (const h of [w, r, late] as const) {
        await h.when.reaches(v);
        expect([...h.entries()]).toEqual(expected);
      }
    });
  });

  it('set: insert_duplicates, remove_nonexistent_values, string_elements before a new reader', async () => {
    await setup(332, 3, async (_sim, [a, b, c]) => {
      const options = { snapshotEveryEntries: 50 };
      const w = (a as Network).collections.set<string>('strings', options);
      const r = (b as Network).collections.set<string>('strings', { ...options, reader: true });
      await w.when.online();
      const words = range(0, 40).map((i) => `wörd ${i} ${'✓'.repeat(i % 5)}`);
      for (const x of [...words, ...words]) await w.insert(x);
      await w.removeMany(['nope', 'nada']);
      const v = await w.remove(words[0] as string);
      const late = (c as Network).collections.set<string>('strings', { ...options, reader: true });
      for (const h of [w, r, late] as const) {
        await h.when.reaches(v);
        expect([...h]).toEqual(words.slice(1));
      }
    });
  });

  it('priority queue: overwrite_keys, remove_range_sync, min_max_after_sync', async () => {
    await setup(333, 3, async (_sim, [a, b, c]) => {
      const options = { snapshotEveryEntries: 50 };
      const w = (a as Network).collections.priorityQueue<number, string, number>('pq', options);
      const r = (b as Network).collections.priorityQueue<number, string, number>('pq', { ...options, reader: true });
      await w.when.online();
      for (let i = 0; i < 100; i++) await w.insert(i, `k${i % 40}`, i); // 40 keys, moved again and again
      await w.removeRange({ from: 70, to: 80, inclusive: false });
      const v = await w.removeRange({ to: 65 });
      const late = (c as Network).collections.priorityQueue<number, string, number>('pq', { ...options, reader: true });
      const expected = [...range(66, 70), ...range(80, 100)].map((i) => [i, `k${i % 40}`, i]);
      for (const h of [w, r, late] as const) {
        await h.when.reaches(v);
        expect([...h.entries()]).toEqual(expected);
        expect([h.min(), h.max(), h.size]).toEqual([[66, 'k26', 66], [99, 'k19', 99], 24]);
      }
    });
  });

  it('reaches(v) resolves when a snapshot install alone brings a late reader to v (no entry applied after it)', async () => {
    // Regression: the install emitted no event, so `when.reaches` (woken by group events)
    // waited for the next applied entry, forever on a quiet collection.
    await setup(335, 2, async (sim, [a, b], applied) => {
      const options = { snapshotEveryEntries: 1 };
      const w = (a as Network).collections.map<number, number>('quiet', options);
      await w.when.online();
      let v = 0;
      for (let i = 0; i < 50; i++) v = await w.insert(i, i * i);
      const late = (b as Network).collections.map<number, number>('quiet', { ...options, reader: true });
      const outcome = await Promise.race([late.when.reaches(v).then(() => 'reached'), sim.sleep(20_000).then(() => 'stuck')]);
      expect(outcome).toBe('reached');
      expect(late.size).toBe(50);
      expect([...late.entries()]).toEqual([...w.entries()]);
      expect(applied.count(b as Network)).toBe(0);
    });
  });

  it('eventually converges even with every handle polled, not awaited (expectConverged-style)', async () => {
    await setup(334, 3, async (sim, [a, b, c]) => {
      const handles: ReadColl[] = [];
      const w = vecDriver.writer(a as Network, 'polled', { snapshotEveryEntries: 20 });
      handles.push(w, vecDriver.reader(b as Network, 'polled', { snapshotEveryEntries: 20 }));
      await w.when.online();
      const model = new Model(vecDriver);
      await fill(w, model, 0, 100, 1);
      handles.push(vecDriver.reader(c as Network, 'polled', { snapshotEveryEntries: 20 }));
      await eventually(sim, () => handles.every((h) => h.contents().length === 100), 30_000, 'all 100');
      for (const h of handles) expect(h.contents()).toEqual(model.expected);
    });
  });
});

describe('when.current(): a linearizable read on any handle', () => {
  it('a reader that is behind the write just acknowledged holds it once current() resolves', async () => {
    await setup(336, 3, async (_sim, [a, b, c]) => {
      const w = (a as Network).collections.map<string, number>('current');
      const readers = [b, c].map((n) => (n as Network).collections.map<string, number>('current', { reader: true }));
      await w.when.online();
      for (const r of readers) await r.when.online();
      let behind = 0;
      for (let i = 1; i <= 10; i++) {
        const v = await w.insert('k', i);
        for (const r of readers) {
          // Right after the writer's call resolves, a remote copy may not have the write yet...
          if (r.version < v) behind++;
          // ...and after current() it must.
          const at = await r.when.current();
          expect(at).toBeGreaterThanOrEqual(v);
          expect(r.version).toBeGreaterThanOrEqual(v);
          expect(r.get('k')).toBe(i);
        }
      }
      // The test means something only if some reads would have been stale without it.
      expect(behind).toBeGreaterThan(0);
      // compareExchange's `expected` and `next` are optional (API.md): absent for absent swaps, changing nothing.
      expect((await w.compareExchange('none')).swapped).toBe(true);
      expect(w.has('none')).toBe(false);
    });
  });
});

describe('sync: how a lagging member is sent the snapshot', () => {
  /** The largest frame delivered to `to` after `fromLine`, from a kept trace (`deliver L1 n0>n2 #5 1234B`). */
  const largestFrameTo = (trace: readonly string[], fromLine: number, to: number) =>
    Math.max(
      0,
      ...trace
        .slice(fromLine)
        .map((l) => / deliver L\d+ n\d+>n(\d+) #\d+ (\d+)B$/.exec(l))
        .filter((m) => m !== null && Number(m[1]) === to)
        .map((m) => Number((m as RegExpExecArray)[2])),
    );

  it.each([
    [undefined, 100_000], // the default, 256 KiB chunks: the ~300 KB snapshot goes in two
    [{ chunkBytes: 8_192, chunksInFlight: 2 }, 8_192 + 512], // small chunks, each in a frame of its own
  ])('sync %j: a late reader converges, and no frame to it is larger than a chunk and its envelope (bound %d)', async (sync, bound) => {
    const { Simulation } = await import('mosaik/sim');
    const sim = new Simulation({ seed: 337, keepTrace: true });
    const nets = [sim.node({ network: 'sync' })];
    nets.push(sim.node({ network: 'sync', bootstrap: [nets[0]?.addr as string] }), sim.node({ network: 'sync', bootstrap: [nets[0]?.addr as string] }));
    const [a, , c] = nets as [Network, Network, Network];
    await sim.run(async () => {
      while (!nets.every((n) => n.discovery.peers().length === 2)) await sim.sleep(100);
      // A snapshot after every command: the late reader gets the snapshot and no entries, so its large frames are chunks.
      const options = { snapshotEveryEntries: 1, ...(sync && { sync }) };
      const w = a.collections.map<number, string>('big', options);
      await w.when.online();
      let v = 0;
      for (let i = 0; i < 30; i++) v = await w.extend(Array.from({ length: 100 }, (_, k) => [i * 100 + k, 'x'.repeat(100)] as [number, string]));
      const mark = sim.trace.length;
      const late = c.collections.map<number, string>('big', { ...options, reader: true });
      await late.when.reaches(v);
      expect(late.size).toBe(3_000);
      const largest = largestFrameTo(sim.trace, mark, sim.indexOf(c));
      if (sync) expect(largest).toBeLessThanOrEqual(bound);
      else expect(largest).toBeGreaterThan(bound);
    });
  });

  it('bad sync settings are refused', async () => {
    const { Simulation } = await import('mosaik/sim');
    const sim = new Simulation({ seed: 338 });
    const a = sim.node({ network: 'sync' });
    expect(() => a.collections.map('x', { sync: { chunkBytes: 100 } })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
    expect(() => a.collections.map('x', { sync: { chunkBytes: 64 * 1024 * 1024 } })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
    expect(() => a.collections.map('x', { sync: { chunksInFlight: 0 } })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
  });
});
