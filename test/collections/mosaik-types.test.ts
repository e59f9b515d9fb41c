import type { Network } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { PriorityQueueHandle, PriorityQueueReader, Version } from '../../api/collections.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { eventually, setup } from './helpers.ts';

/**
 * mosaik's per-type collection tests (reference `mosaik-streams-collections.md` §4
 * "Collections", Per type), in the simulator: a writer on one node, a reader on another; every
 * write is checked on the writer and, after `reaches(v)`, on the reader.
 */

/** Checks the reader after `reaches(v)` against the writer and `expected`. */
async function same<T>(r: { when: { reaches(v: Version): Promise<void> } }, v: Version, read: () => T, writerRead: () => T, expected: T): Promise<void> {
  await r.when.reaches(v);
  expect(writerRead()).toEqual(expected);
  expect(read()).toEqual(expected);
}

describe('map (mosaik collections::map)', () => {
  const open = (a: Network, b: Network, name = 'map') => ({
    w: a.collections.map<string, number>(name),
    r: b.collections.map<string, number>(name, { reader: true }),
  });

  it('insert_overwrite and extend_overwrite: upserts keep the key’s place, take the new value', async () => {
    await setup(101, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      const entries = (h: typeof r) => () => [...h.entries()];
      await w.insert('a', 1);
      await w.insert('b', 2);
      let v = await w.insert('a', 10);
      await same(r, v, entries(r), entries(w), [
        ['a', 10],
        ['b', 2],
      ]);
      v = await w.extend([
        ['b', 20],
        ['c', 3],
        ['c', 30],
      ]);
      await same(r, v, entries(r), entries(w), [
        ['a', 10],
        ['b', 20],
        ['c', 30],
      ]);
      expect(r.get('c')).toBe(30);
      expect(r.has('z')).toBe(false);
      expect([...r.keys()]).toEqual(['a', 'b', 'c']);
      expect([...r.values()]).toEqual([10, 20, 30]);
    });
  });

  it('remove_many: removes present keys, ignores absent ones; an empty list appends nothing', async () => {
    await setup(102, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.extend(['a', 'b', 'c', 'd'].map((k, i) => [k, i] as const));
      let v = await w.removeMany(['b', 'd', 'zz']);
      await same(
        r,
        v,
        () => [...r.keys()],
        () => [...w.keys()],
        ['a', 'c'],
      );
      expect(await w.removeMany([])).toBe(v);
      v = await w.remove('a');
      await same(
        r,
        v,
        () => [...r.keys()],
        () => [...w.keys()],
        ['c'],
      );
    });
  });

  it('compare_exchange: success, insert_new_key, remove_key, mismatch_no_change, mismatch_on_missing_key, none_to_none, chained', async () => {
    await setup(103, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      const entries = () => [...r.entries()];
      const mine = () => [...w.entries()];
      // insert_new_key: expected absent.
      let x = await w.compareExchange('k', undefined, 1);
      expect(x.swapped).toBe(true);
      await same(r, x.version, entries, mine, [['k', 1]]);
      // success
      x = await w.compareExchange('k', 1, 2);
      expect(x.swapped).toBe(true);
      await same(r, x.version, entries, mine, [['k', 2]]);
      // mismatch_no_change: committed (a new version), nothing changes.
      const before = w.version;
      x = await w.compareExchange('k', 1, 3);
      expect(x.swapped).toBe(false);
      expect(x.version).toBeGreaterThan(before);
      await same(r, x.version, entries, mine, [['k', 2]]);
      // An absent expectation on a present key does not match either.
      x = await w.compareExchange('k', undefined, 9);
      expect(x.swapped).toBe(false);
      // mismatch_on_missing_key
      x = await w.compareExchange('missing', 1, 2);
      expect(x.swapped).toBe(false);
      await same(r, x.version, entries, mine, [['k', 2]]);
      // none_to_none: absent → absent is a swap that changes nothing.
      x = await w.compareExchange('missing', undefined, undefined);
      expect(x.swapped).toBe(true);
      await same(r, x.version, entries, mine, [['k', 2]]);
      // remove_key
      x = await w.compareExchange('k', 2, undefined);
      expect(x.swapped).toBe(true);
      await same(r, x.version, entries, mine, []);
      // chained: each step expects the previous value.
      let cur: number | undefined;
      for (let i = 0; i < 10; i++) {
        x = await w.compareExchange('c', cur, i);
        expect(x.swapped).toBe(true);
        cur = i;
      }
      await same(
        r,
        x.version,
        () => r.get('c'),
        () => w.get('c'),
        9,
      );
    });
  });

  it('compare_exchange: mixed_with_insert_remove and multiple_keys', async () => {
    await setup(104, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.insert('a', 1);
      expect((await w.compareExchange('a', 1, 2)).swapped).toBe(true);
      await w.remove('a');
      expect((await w.compareExchange('a', 2, 3)).swapped).toBe(false);
      expect((await w.compareExchange('a', undefined, 4)).swapped).toBe(true);
      await w.insert('a', 5);
      expect((await w.compareExchange('a', 4, 6)).swapped).toBe(false);
      for (let k = 0; k < 5; k++) await w.insert(`m${k}`, k);
      const results = [];
      for (let k = 0; k < 5; k++) results.push((await w.compareExchange(`m${k}`, k % 2 === 0 ? k : -1, k * 100)).swapped);
      expect(results).toEqual([true, false, true, false, true]);
      const v = w.version;
      await same(
        r,
        v,
        () => [...r.entries()],
        () => [...w.entries()],
        [
          ['a', 5],
          ['m0', 0],
          ['m1', 1],
          ['m2', 200],
          ['m3', 3],
          ['m4', 400],
        ],
      );
    });
  });

  it('compare_exchange replicates_to_readers (three readers) and catchup (a late reader through a snapshot)', async () => {
    await setup(105, 4, async (_sim, [a, b, c, d]) => {
      const options = { snapshotEveryEntries: 20 };
      const w = (a as Network).collections.map<string, number>('cas', options);
      const readers = [b, c].map((n) => (n as Network).collections.map<string, number>('cas', { ...options, reader: true }));
      await w.when.online();
      let v = 0;
      // Three keys, each chained: key i % 3 holds i − 3 when i is written.
      for (let i = 0; i < 60; i++) {
        const x = await w.compareExchange(`k${i % 3}`, i < 3 ? undefined : i - 3, i);
        expect(x.swapped).toBe(true);
        v = x.version;
      }
      const late = (d as Network).collections.map<string, number>('cas', { ...options, reader: true });
      for (const r of [...readers, late]) {
        await r.when.reaches(v);
        expect([...r.entries()]).toEqual([
          ['k0', 57],
          ['k1', 58],
          ['k2', 59],
        ]);
      }
    });
  });

  it('compare_exchange string_keys: string keys and object values compare by encoding', async () => {
    await setup(106, 2, async (_sim, [a, b]) => {
      const w = (a as Network).collections.map<string, { name: string; n: number }>('strings');
      const r = (b as Network).collections.map<string, { name: string; n: number }>('strings', { reader: true });
      await w.when.online();
      await w.insert('héllo wörld', { name: 'x', n: 1 });
      await w.insert('', { name: 'empty', n: 0 });
      expect((await w.compareExchange('héllo wörld', { name: 'x', n: 1 }, { name: 'y', n: 2 })).swapped).toBe(true);
      // Same fields in another order encode differently: no match.
      expect((await w.compareExchange('héllo wörld', { n: 2, name: 'y' } as { name: string; n: number }, { name: 'z', n: 3 })).swapped).toBe(false);
      const x = await w.compareExchange('', { name: 'empty', n: 0 }, undefined);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => [...r.entries()],
        () => [...w.entries()],
        [['héllo wörld', { name: 'y', n: 2 }]],
      );
    });
  });
});

describe('vec (mosaik collections::vec)', () => {
  const open = (a: Network, b: Network, name = 'vec') => ({
    w: a.collections.vec<number>(name),
    r: b.collections.vec<number>(name, { reader: true }),
  });

  it('push_front_back_ordering, pop_until_empty', async () => {
    await setup(111, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.pushBack(2);
      await w.pushFront(1);
      await w.pushBack(3);
      let v = await w.pushFront(0);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 1, 2, 3],
      );
      expect([r.front(), r.back(), r.get(2), r.get(4), r.length]).toEqual([0, 3, 2, undefined, 4]);
      expect([r.indexOf(2), r.indexOf(9), r.includes(3)]).toEqual([2, undefined, true]);
      const back = await w.popBack();
      expect(back.value).toBe(3);
      const front = await w.popFront();
      expect(front.value).toBe(0);
      await same(
        r,
        front.version,
        () => [...r],
        () => [...w],
        [1, 2],
      );
      expect((await w.popBack()).value).toBe(2);
      expect((await w.popBack()).value).toBe(1);
      const none = await w.popFront();
      expect(none.value).toBeUndefined();
      v = (await w.popBack()).version;
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [],
      );
      expect([r.front(), r.back(), r.length]).toEqual([undefined, undefined, 0]);
    });
  });

  it('swap_variations (normal, same index, out of bounds: a no-op) and remove_out_of_bounds', async () => {
    await setup(112, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.extend([0, 1, 2, 3, 4]);
      let v = await w.swap(0, 4);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 1, 2, 3, 0],
      );
      v = await w.swap(2, 2);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 1, 2, 3, 0],
      );
      v = await w.swap(1, 5);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 1, 2, 3, 0],
      );
      v = await w.swap(99, 0);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 1, 2, 3, 0],
      );
      v = await w.remove(5);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 1, 2, 3, 0],
      );
      v = await w.remove(1);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [4, 2, 3, 0],
      );
    });
  });

  it('insert_at_positions (0, end = length, middle) and truncate_edge_cases (> length, = length, smaller, 0)', async () => {
    await setup(113, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.insert(0, 10); // into an empty Vec
      await w.insert(0, 0);
      await w.insert(w.length, 30);
      let v = await w.insert(2, 20);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 10, 20, 30],
      );
      v = await w.insert(1, 5);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 5, 10, 20, 30],
      );
      v = await w.truncate(10);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 5, 10, 20, 30],
      );
      v = await w.truncate(5);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 5, 10, 20, 30],
      );
      v = await w.truncate(2);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [0, 5],
      );
      v = await w.truncate(0);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        [],
      );
      await expect(w.truncate(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    });
  });

  it('insert past the end rejects with InvalidArgumentError, changes nothing, and no replica crashes (mosaik §6.8 panics everywhere)', async () => {
    await setup(114, 3, async (sim, [a, b, c]) => {
      const w = (a as Network).collections.vec<string>('vec');
      const w2 = (b as Network).collections.vec<string>('vec');
      const r = (c as Network).collections.vec<string>('vec', { reader: true });
      for (const h of [w, w2, r]) await h.when.online();
      let v = await w.extend(['a', 'b', 'c']);
      await r.when.reaches(v);
      // Checked against the local copy before anything is sent.
      const before = w.version;
      await expect(w.insert(4, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.insert(-1, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.insert(1.5, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.insert(Number.NaN, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(w.version).toBe(before);
      // The local copy was stale when the insert applied: the log decides, on every replica alike.
      const clear = w.clear();
      const late = w.insert(3, 'x').then(
        () => 'resolved',
        (e: unknown) => e,
      );
      v = await clear;
      const outcome = await late;
      expect(outcome).toBeInstanceOf(InvalidArgumentError);
      expect(String(outcome)).toMatch(/out of range when the insert applied/);
      // The same from another writer, whose copy is stale too.
      await w2.when.reaches(v);
      await w2.extend(['p', 'q']);
      const trunc = w.truncate(0);
      const stale = w2.insert(2, 'y').then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await trunc;
      const o2 = await stale;
      // With this seed the truncate (sent first) commits first: the
      // insert applies on an empty Vec, everywhere a committed no-op, and w2's call rejects.
      expect(o2).toBeInstanceOf(InvalidArgumentError);
      // Every replica still applies writes and holds the same contents.
      v = await w2.pushBack('after');
      for (const h of [w, w2, r]) await h.when.reaches(v);
      expect([...r]).toEqual(['after']);
      expect([...w]).toEqual(['after']);
      expect([...w2]).toEqual(['after']);
      await eventually(sim, () => [w, w2, r].every((h) => h.version === v), 5_000, 'all at the last version');
    });
  });
});

describe('set (mosaik collections::set)', () => {
  it('insert_duplicate, extend_with_duplicates, remove_many', async () => {
    await setup(121, 2, async (_sim, [a, b]) => {
      const w = (a as Network).collections.set<string>('set');
      const r = (b as Network).collections.set<string>('set', { reader: true });
      await w.when.online();
      await w.insert('a');
      let v = await w.insert('a');
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        ['a'],
      );
      v = await w.extend(['b', 'a', 'c', 'b', 'c']);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        ['a', 'b', 'c'],
      );
      expect(r.size).toBe(3);
      expect([r.has('b'), r.has('z')]).toEqual([true, false]);
      v = await w.removeMany(['a', 'zz', 'c']);
      await same(
        r,
        v,
        () => [...r],
        () => [...w],
        ['b'],
      );
      expect(await w.removeMany([])).toBe(v);
    });
  });

  it('subset_check: isSubsetOf across handles (writer and reader, two collections)', async () => {
    await setup(122, 2, async (_sim, [a, b]) => {
      const big = (a as Network).collections.set<number>('big');
      const small = (a as Network).collections.set<number>('small');
      const bigR = (b as Network).collections.set<number>('big', { reader: true });
      const smallR = (b as Network).collections.set<number>('small', { reader: true });
      await big.when.online();
      await small.when.online();
      // Two empty sets: each a subset of the other.
      expect(small.isSubsetOf(big)).toBe(true);
      const vb = await big.extend([1, 2, 3, 4, 5]);
      let vs = await small.extend([2, 4]);
      await bigR.when.reaches(vb);
      await smallR.when.reaches(vs);
      expect(small.isSubsetOf(big)).toBe(true);
      expect(smallR.isSubsetOf(bigR)).toBe(true);
      expect(smallR.isSubsetOf(big)).toBe(true);
      expect(bigR.isSubsetOf(smallR)).toBe(false);
      expect(bigR.isSubsetOf(bigR)).toBe(true);
      vs = await small.insert(9);
      await smallR.when.reaches(vs);
      expect(smallR.isSubsetOf(bigR)).toBe(false);
      expect(small.isSubsetOf(big)).toBe(false);
    });
  });
});

describe('cell (mosaik collections::cell)', () => {
  it('overwrite_keeps_latest, clear_then_write, clear_empty, write_clear_cycle', async () => {
    await setup(131, 2, async (_sim, [a, b]) => {
      const w = (a as Network).collections.cell<string>('cell');
      const r = (b as Network).collections.cell<string>('cell', { reader: true });
      await w.when.online();
      let v = await w.clear(); // clear_empty
      await same(
        r,
        v,
        () => r.read(),
        () => w.read(),
        undefined,
      );
      await w.write('a');
      await w.write('b');
      v = await w.write('c');
      await same(
        r,
        v,
        () => r.read(),
        () => w.read(),
        'c',
      );
      v = await w.clear();
      await same(
        r,
        v,
        () => r.read(),
        () => w.read(),
        undefined,
      );
      v = await w.write('d');
      await same(
        r,
        v,
        () => r.read(),
        () => w.read(),
        'd',
      );
      for (let i = 0; i < 5; i++) {
        v = await w.write(`x${i}`);
        await same(
          r,
          v,
          () => r.read(),
          () => w.read(),
          `x${i}`,
        );
        v = await w.clear();
        await same(
          r,
          v,
          () => r.read(),
          () => w.read(),
          undefined,
        );
      }
    });
  });

  it('compare_exchange: success, from_none, to_none, mismatch_no_change, mismatch_on_empty, none_to_none, chained, mixed_with_write_clear', async () => {
    await setup(132, 2, async (_sim, [a, b]) => {
      const w = (a as Network).collections.cell<number>('cell');
      const r = (b as Network).collections.cell<number>('cell', { reader: true });
      await w.when.online();
      // mismatch_on_empty
      let x = await w.compareExchange(1, 2);
      expect(x.swapped).toBe(false);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        undefined,
      );
      // none_to_none
      x = await w.compareExchange(undefined, undefined);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        undefined,
      );
      // from_none
      x = await w.compareExchange(undefined, 1);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        1,
      );
      // success
      x = await w.compareExchange(1, 2);
      expect(x.swapped).toBe(true);
      // mismatch_no_change
      const before = w.version;
      x = await w.compareExchange(1, 3);
      expect(x.swapped).toBe(false);
      expect(x.version).toBeGreaterThan(before);
      expect((await w.compareExchange(undefined, 3)).swapped).toBe(false);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        2,
      );
      // to_none
      x = await w.compareExchange(2, undefined);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        undefined,
      );
      // chained
      let cur: number | undefined;
      for (let i = 10; i < 20; i++) {
        x = await w.compareExchange(cur, i);
        expect(x.swapped).toBe(true);
        cur = i;
      }
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        19,
      );
      // mixed_with_write_clear
      await w.write(100);
      expect((await w.compareExchange(19, 0)).swapped).toBe(false);
      expect((await w.compareExchange(100, 101)).swapped).toBe(true);
      await w.clear();
      expect((await w.compareExchange(101, 0)).swapped).toBe(false);
      x = await w.compareExchange(undefined, 7);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => r.read(),
        () => w.read(),
        7,
      );
    });
  });

  it('compare_exchange replicates_to_readers (two) and catchup (a late reader through a snapshot)', async () => {
    await setup(133, 4, async (_sim, [a, b, c, d]) => {
      const options = { snapshotEveryEntries: 20 };
      const w = (a as Network).collections.cell<number>('cell', options);
      const readers = [b, c].map((n) => (n as Network).collections.cell<number>('cell', { ...options, reader: true }));
      await w.when.online();
      let v = 0;
      for (let i = 0; i < 50; i++) v = (await w.compareExchange(i === 0 ? undefined : i - 1, i)).version;
      const late = (d as Network).collections.cell<number>('cell', { ...options, reader: true });
      for (const r of [...readers, late]) {
        await r.when.reaches(v);
        expect(r.read()).toBe(49);
      }
    });
  });
});

describe('once (mosaik collections::once)', () => {
  it('multiple_writers: the first committed write wins everywhere; later writes commit and change nothing', async () => {
    await setup(141, 3, async (_sim, [a, b, c]) => {
      const w1 = (a as Network).collections.once<string>('once');
      const w2 = (b as Network).collections.once<string>('once');
      const r = (c as Network).collections.once<string>('once', { reader: true });
      for (const h of [w1, w2, r]) await h.when.online();
      const [x1, x2] = await Promise.all([w1.write('from-1'), w2.write('from-2')]);
      expect([x1.set, x2.set].filter(Boolean)).toHaveLength(1);
      const winner = x1.set ? 'from-1' : 'from-2';
      expect(x1.version).not.toBe(x2.version);
      const later = await w1.write('later');
      expect(later.set).toBe(false);
      expect(later.version).toBeGreaterThan(Math.max(x1.version, x2.version));
      for (const h of [w1, w2, r]) {
        await h.when.reaches(later.version);
        expect(h.read()).toBe(winner);
      }
    });
  });

  it('await_value: blocks until written, then resolves on every node (at once when already set)', async () => {
    await setup(142, 3, async (sim, [a, b, c]) => {
      const w = (a as Network).collections.once<number>('once');
      const r = (b as Network).collections.once<number>('once', { reader: true });
      await w.when.online();
      await r.when.online();
      let got: number | undefined;
      const waiting = r.awaitValue().then((x) => {
        got = x;
      });
      await sim.sleep(3_000);
      expect(got).toBeUndefined();
      const t = sim.now;
      await w.write(42);
      await waiting;
      expect(got).toBe(42);
      expect(sim.now - t).toBeLessThan(1_000);
      // Already set: resolves without waiting.
      const t2 = sim.now;
      expect(await r.awaitValue()).toBe(42);
      expect(await w.awaitValue()).toBe(42);
      expect(sim.now - t2).toBeLessThan(100);
      // A reader opened later too.
      const late = (c as Network).collections.once<number>('once', { reader: true });
      expect(await late.awaitValue()).toBe(42);
    });
  });
});

describe('priority queue (mosaik collections::depq)', () => {
  type Q = PriorityQueueHandle<number, string, string>;
  type R = PriorityQueueReader<number, string, string>;
  const open = (a: Network, b: Network, name = 'pq', capacity?: number) => {
    const options = capacity === undefined ? {} : { capacity };
    return {
      w: a.collections.priorityQueue<number, string, string>(name, options) as Q,
      r: b.collections.priorityQueue<number, string, string>(name, { ...options, reader: true }) as R,
    };
  };
  const all = (h: R) => () => [...h.entries()];

  it('insert_overwrite, extend_overwrite, same_priority_bucket, iter_ordering_after_mutations', async () => {
    await setup(151, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.insert(5, 'a', 'A');
      await w.insert(5, 'b', 'B');
      await w.insert(1, 'c', 'C');
      let v = await w.insert(5, 'a', 'A2'); // same priority: keeps its place
      await same(r, v, all(r), all(w), [
        [1, 'c', 'C'],
        [5, 'a', 'A2'],
        [5, 'b', 'B'],
      ]);
      v = await w.insert(3, 'b', 'B3'); // moves bucket
      await same(r, v, all(r), all(w), [
        [1, 'c', 'C'],
        [3, 'b', 'B3'],
        [5, 'a', 'A2'],
      ]);
      v = await w.extend([
        [9, 'c', 'C9'],
        [2, 'd', 'D'],
        [2, 'd', 'D2'],
        [5, 'e', 'E'],
      ]);
      await same(r, v, all(r), all(w), [
        [2, 'd', 'D2'],
        [3, 'b', 'B3'],
        [5, 'a', 'A2'],
        [5, 'e', 'E'],
        [9, 'c', 'C9'],
      ]);
      expect([...r.entriesDesc()]).toEqual([
        [9, 'c', 'C9'],
        [5, 'a', 'A2'],
        [5, 'e', 'E'],
        [3, 'b', 'B3'],
        [2, 'd', 'D2'],
      ]);
      expect([r.min(), r.max(), r.size, r.get('e'), r.getPriority('e'), r.has('zz')]).toEqual([[2, 'd', 'D2'], [9, 'c', 'C9'], 5, 'E', 5, false]);
      // iter_ordering_after_mutations
      await w.remove('a');
      await w.updatePriority('d', 7);
      v = await w.insert(5, 'a', 'A');
      await same(r, v, all(r), all(w), [
        [3, 'b', 'B3'],
        [5, 'e', 'E'],
        [5, 'a', 'A'],
        [7, 'd', 'D2'],
        [9, 'c', 'C9'],
      ]);
    });
  });

  it('update_priority, update_value (missing key: a committed no-op), remove_keys', async () => {
    await setup(152, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.extend([
        [1, 'a', 'A'],
        [2, 'b', 'B'],
        [3, 'c', 'C'],
        [4, 'd', 'D'],
      ]);
      await w.updatePriority('a', 10);
      let v = await w.updateValue('b', 'B!');
      await same(r, v, all(r), all(w), [
        [2, 'b', 'B!'],
        [3, 'c', 'C'],
        [4, 'd', 'D'],
        [10, 'a', 'A'],
      ]);
      const before = w.version;
      await w.updatePriority('zz', 1);
      v = await w.updateValue('zz', 'Z');
      expect(v).toBe(before + 2);
      await same(
        r,
        v,
        () => r.size,
        () => w.size,
        4,
      );
      v = await w.removeKeys(['c', 'a', 'nope']);
      await same(r, v, all(r), all(w), [
        [2, 'b', 'B!'],
        [4, 'd', 'D'],
      ]);
      expect(await w.removeKeys([])).toBe(v);
    });
  });

  it('remove_range (..25, 45.., 20..=40, ..) and remove_range_empty', async () => {
    await setup(153, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      const fill = () => w.extend(Array.from({ length: 7 }, (_, i) => [i * 10, `k${i * 10}`, `v${i * 10}`] as const)); // 0, 10, …, 60
      const prios = () => [...r.entries()].map((e) => e[0]);
      await fill();
      let v = await w.removeRange({ to: 25, inclusive: false });
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [30, 40, 50, 60]);
      v = await w.removeRange({ from: 45 });
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [30, 40]);
      await w.clear();
      await fill();
      v = await w.removeRange({ from: 20, to: 40, inclusive: true });
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [0, 10, 50, 60]);
      v = await w.removeRange({ from: 20, to: 40 }); // nothing left in it
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [0, 10, 50, 60]);
      v = await w.removeRange({ from: 40, to: 20 }); // an empty range
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [0, 10, 50, 60]);
      v = await w.removeRange({ to: 10, inclusive: true });
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), [50, 60]);
      v = await w.removeRange();
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), []);
      v = await w.removeRange(); // on an empty queue
      await same(r, v, prios, () => [...w.entries()].map((e) => e[0]), []);
      expect([r.min(), r.max()]).toEqual([undefined, undefined]);
    });
  });

  it('compare_exchange_value: success, remove, mismatch, missing_key, chained, preserves_priority, mixed_with_mutations, remove_affects_minmax', async () => {
    await setup(154, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network);
      await w.when.online();
      await w.extend([
        [1, 'lo', 'L'],
        [5, 'mid', 'M'],
        [9, 'hi', 'H'],
      ]);
      let x = await w.compareExchangeValue('mid', 'M', 'M2');
      expect(x.swapped).toBe(true);
      x = await w.compareExchangeValue('mid', 'M', 'M3');
      expect(x.swapped).toBe(false);
      x = await w.compareExchangeValue('nope', 'M', 'M3');
      expect(x.swapped).toBe(false);
      await same(r, x.version, all(r), all(w), [
        [1, 'lo', 'L'],
        [5, 'mid', 'M2'],
        [9, 'hi', 'H'],
      ]);
      // chained, keeping the priority
      let cur = 'M2';
      for (let i = 0; i < 5; i++) {
        x = await w.compareExchangeValue('mid', cur, `M${i + 10}`);
        expect(x.swapped).toBe(true);
        cur = `M${i + 10}`;
      }
      await same(
        r,
        x.version,
        () => r.getPriority('mid'),
        () => w.getPriority('mid'),
        5,
      );
      // remove_affects_minmax
      x = await w.compareExchangeValue('hi', 'H', undefined);
      expect(x.swapped).toBe(true);
      await same(
        r,
        x.version,
        () => r.max(),
        () => w.max(),
        [5, 'mid', 'M14'],
      );
      x = await w.compareExchangeValue('lo', 'L', undefined);
      await same(
        r,
        x.version,
        () => r.min(),
        () => w.min(),
        [5, 'mid', 'M14'],
      );
      // mixed_with_mutations
      await w.updatePriority('mid', 2);
      await w.updateValue('mid', 'U');
      expect((await w.compareExchangeValue('mid', 'M14', 'no')).swapped).toBe(false);
      x = await w.compareExchangeValue('mid', 'U', 'V');
      expect(x.swapped).toBe(true);
      await same(r, x.version, all(r), all(w), [[2, 'mid', 'V']]);
    });
  });

  it('compare_exchange_value replicates_to_readers and catchup (a late reader through a snapshot)', async () => {
    await setup(155, 4, async (_sim, [a, b, c, d]) => {
      const options = { snapshotEveryEntries: 20 };
      const w = (a as Network).collections.priorityQueue<number, string, number>('pq', options);
      const readers = [b, c].map((n) => (n as Network).collections.priorityQueue<number, string, number>('pq', { ...options, reader: true }));
      await w.when.online();
      await w.extend([
        [3, 'x', 0],
        [1, 'y', 0],
      ]);
      let v = 0;
      for (let i = 0; i < 40; i++) v = (await w.compareExchangeValue(i % 2 === 0 ? 'x' : 'y', Math.floor(i / 2), Math.floor(i / 2) + 1)).version;
      const late = (d as Network).collections.priorityQueue<number, string, number>('pq', { ...options, reader: true });
      for (const r of [...readers, late]) {
        await r.when.reaches(v);
        expect([...r.entries()]).toEqual([
          [1, 'y', 20],
          [3, 'x', 20],
        ]);
      }
    });
  });

  it('bounded (capacity 3): evicts_lowest_priority, insert_lower_than_all, extend_evicts_multiple, update_priority and upsert never evict', async () => {
    await setup(156, 2, async (_sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network, 'bounded', 3);
      await w.when.online();
      expect([w.capacity, r.capacity]).toEqual([3, 3]);
      await w.extend([
        [10, 'a', 'A'],
        [20, 'b', 'B'],
        [30, 'c', 'C'],
      ]);
      let v = await w.insert(40, 'd', 'D');
      await same(r, v, all(r), all(w), [
        [20, 'b', 'B'],
        [30, 'c', 'C'],
        [40, 'd', 'D'],
      ]);
      v = await w.insert(5, 'low', 'X'); // the new entry itself goes
      await same(r, v, all(r), all(w), [
        [20, 'b', 'B'],
        [30, 'c', 'C'],
        [40, 'd', 'D'],
      ]);
      v = await w.extend([
        [50, 'e', 'E'],
        [60, 'f', 'F'],
      ]);
      await same(r, v, all(r), all(w), [
        [40, 'd', 'D'],
        [50, 'e', 'E'],
        [60, 'f', 'F'],
      ]);
      v = await w.updatePriority('f', 1);
      await same(r, v, all(r), all(w), [
        [1, 'f', 'F'],
        [40, 'd', 'D'],
        [50, 'e', 'E'],
      ]);
      v = await w.insert(0, 'e', 'E0'); // upsert
      await same(r, v, all(r), all(w), [
        [0, 'e', 'E0'],
        [1, 'f', 'F'],
        [40, 'd', 'D'],
      ]);
      // Same priority bucket: the oldest entry of the lowest priority goes.
      v = await w.insert(40, 'g', 'G');
      await same(r, v, all(r), all(w), [
        [1, 'f', 'F'],
        [40, 'd', 'D'],
        [40, 'g', 'G'],
      ]);
    });
  });

  it('bounded (capacity 5): the capacity is part of the id; an unbounded reader of the name is another queue', async () => {
    await setup(157, 2, async (sim, [a, b]) => {
      const { w, r } = open(a as Network, b as Network, 'five', 5);
      const unbounded = (b as Network).collections.priorityQueue<number, string, string>('five', { reader: true });
      await w.when.online();
      const v = await w.extend(Array.from({ length: 8 }, (_, i) => [i, `k${i}`, `v${i}`] as const));
      await same(
        r,
        v,
        () => [...r.entries()].map((e) => e[0]),
        () => [...w.entries()].map((e) => e[0]),
        [3, 4, 5, 6, 7],
      );
      await sim.sleep(3_000);
      expect(unbounded.size).toBe(0);
      expect(unbounded.capacity).toBe(Number.POSITIVE_INFINITY);
      expect(() => (a as Network).collections.priorityQueue('bad', { capacity: 0 })).toThrow(InvalidArgumentError);
    });
  });

  it('a NaN priority is InvalidArgumentError, before anything is sent (the machine would drop the command as malformed)', async () => {
    await setup(158, 2, async (_sim, [a, b]) => {
      const { w } = open(a as Network, b as Network, 'nan');
      await w.when.online();
      const before = await w.insert(1, 'k', 'v');
      await expect(w.insert(Number.NaN, 'k2', 'v')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(
        w.extend([
          [2, 'k2', 'v'],
          [Number.NaN, 'k3', 'v'],
        ]),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.updatePriority('k', Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.removeRange({ from: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(w.removeRange({ to: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(w.version).toBe(before);
      expect([...w.entries()]).toEqual([[1, 'k', 'v']]);
    });
  });
});

describe('collection names', () => {
  it('a name that is neither a string nor a StoreId is InvalidArgumentError', async () => {
    await setup(159, 1, async (_sim, [a]) => {
      expect(() => (a as Network).collections.map(5 as never)).toThrow(InvalidArgumentError);
      expect(() => (a as Network).collections.vec(undefined as never)).toThrow(InvalidArgumentError);
    });
  });
});
