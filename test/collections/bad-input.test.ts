import { type DatumCodec, EncodingError, InvalidArgumentError } from 'mosaik';
import { describe, expect, it } from 'vitest';
import { msgpackDatumCodec } from '../../core/streams/datum-codec.ts';
import { rejection } from '../groups/helpers.ts';
import { eventually, setup } from './helpers.ts';

// What collections do with bad input from their application: values changed after a read,
// arguments of the wrong kind, options a second handle brings, codecs that fail. Each gets
// a typed error at the caller, before anything is written, and the replicas stay equal.

const at = <T>(xs: readonly T[], i: number): T => xs[i] as T;

function threw(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('collections: bad input', () => {
  it('changing what a read returned changes nothing replicated: compareExchange decides the same on every replica', async () => {
    await setup(31, 3, async (sim, nets) => {
      const maps = nets.map((n) => n.collections.map<string, Uint8Array>('alias'));
      await Promise.all(maps.map((m) => m.when.online()));
      const v = await at(maps, 0).insert('k', new Uint8Array([1, 2, 3]));
      await Promise.all(maps.map((m) => m.when.reaches(v)));
      const got = at(maps, 1).get('k') as Uint8Array;
      got[0] = 99; // the application's own copy
      for (const [, value] of at(maps, 1).entries()) value[1] = 98;
      for (const value of at(maps, 1).values()) value[2] = 97;
      expect([...(at(maps, 1).get('k') as Uint8Array)]).toEqual([1, 2, 3]);
      const r = await at(maps, 0).compareExchange('k', new Uint8Array([1, 2, 3]), new Uint8Array([7]));
      expect(r.swapped).toBe(true);
      await eventually(sim, () => maps.every((m) => m.version >= r.version), 10_000, 'the swap everywhere');
      for (const m of maps) expect([...(m.get('k') as Uint8Array)]).toEqual([7]);

      const cell = at(nets, 2).collections.cell<{ buf: Uint8Array }>('alias-cell');
      await cell.when.online();
      await cell.write({ buf: new Uint8Array([5, 5]) });
      (cell.read() as { buf: Uint8Array }).buf[0] = 0;
      expect([...(cell.read() as { buf: Uint8Array }).buf]).toEqual([5, 5]);
    });
  });

  it('Once.awaitValue resolves when the value set decodes to undefined', async () => {
    await setup(32, 1, async (_sim, [a]) => {
      const mp = msgpackDatumCodec<unknown>();
      const codec: DatumCodec<unknown> = {
        encode: (v) => (v === undefined ? new Uint8Array(0) : mp.encode(v)),
        decode: (b) => (b.length === 0 ? undefined : mp.decode(b)),
      };
      const once = (a as NonNullable<typeof a>).collections.once<unknown>('undefined-once', { codec });
      await once.when.online();
      const waiting = once.awaitValue();
      expect((await once.write(undefined)).set).toBe(true);
      expect(await waiting).toBeUndefined();
    });
  });

  it('Vec indices, queue ranges and lists of the wrong kind are refused before anything is written', async () => {
    await setup(33, 1, async (_sim, [a]) => {
      const net = a as NonNullable<typeof a>;
      const vec = net.collections.vec<string>('bad-vec');
      const pq = net.collections.priorityQueue<number, string, string>('bad-pq');
      const map = net.collections.map<string, string>('bad-map');
      const set = net.collections.set<string>('bad-set');
      await Promise.all([vec.when.online(), pq.when.online(), map.when.online(), set.when.online()]);
      await vec.extend(['a', 'b', 'c']);
      await pq.extend([
        [1, 'a', 'x'],
        [5, 'b', 'y'],
        [10, 'c', 'z'],
      ]);
      const before = vec.version;
      const refused: Promise<unknown>[] = [
        ...[-1, Number.NaN, 0.5, '0' as unknown as number].flatMap((i) => [vec.swap(i, 0), vec.swap(0, i), vec.remove(i)]),
        pq.removeRange(5 as never),
        pq.removeRange(null as never),
        pq.removeRange({ from: 5, to: 10, inclusive: 'true' as never }),
        vec.extend(null as never),
        vec.extend(5 as never),
        map.extend(null as never),
        map.extend([null] as never),
        map.extend([['only-a-key']] as never),
        map.removeMany(null as never),
        set.extend(5 as never),
        set.removeMany(null as never),
        pq.extend([null] as never),
        pq.removeKeys(null as never),
      ];
      for (const p of refused) expect(await rejection(p)).toBeInstanceOf(InvalidArgumentError);
      expect(threw(() => set.isSubsetOf(null as never))).toBeInstanceOf(InvalidArgumentError);
      expect(threw(() => set.isSubsetOf(map as never))).toBeInstanceOf(InvalidArgumentError);
      // Nothing of it reached the log, and the contents are as they were.
      expect(vec.version).toBe(before);
      expect([...vec]).toEqual(['a', 'b', 'c']);
      expect([...pq.entries()].map(([p]) => p)).toEqual([1, 5, 10]);
    });
  });

  it('options are checked on every handle, a second one of a collection included', async () => {
    await setup(34, 1, async (_sim, [a]) => {
      const c = (a as NonNullable<typeof a>).collections;
      const first = c.map<string, number>('opts');
      await first.when.online();
      const bad: unknown[] = [
        null,
        5,
        { snapshotEveryEntries: Number.NaN },
        { snapshotEveryEntries: 0 },
        { snapshotEveryEntries: 1.5 },
        { sync: { chunkBytes: 0 } },
        { sync: { chunksInFlight: 1000 } },
        { sync: 5 },
        { storage: 'disk' },
        { storage: 5 },
        { reader: 'yes' },
        { reader: 1 },
        { typeTag: 5 },
        { typeTag: Symbol('t') },
        { typeTag: '' },
        { requireTickets: ['x'] },
        { requireTickets: 'ab' },
        { requireTickets: 5 },
        { timeoutMs: 0 },
      ];
      for (const options of bad)
        expect(
          threw(() => c.map('opts', options as never)),
          JSON.stringify(String(options)),
        ).toBeInstanceOf(InvalidArgumentError);
      for (const capacity of [0, 1.5, '5', true, [3], 2 ** 53, Number.NaN])
        expect(threw(() => c.priorityQueue('pq', { capacity: capacity as never }))).toBeInstanceOf(InvalidArgumentError);
      expect(threw(() => c.priorityQueue('pq', null as never))).toBeInstanceOf(InvalidArgumentError);
      // The handle that was fine still is.
      expect(await first.insert('x', 1)).toBeGreaterThan(0);
    });
  });

  it("a stored value the handle's codec cannot decode is an EncodingError (the codec's error as cause), on reads and pops", async () => {
    await setup(35, 1, async (_sim, [a]) => {
      const net = a as NonNullable<typeof a>;
      const writer = net.collections.vec<string>('undecodable');
      await writer.when.online();
      await writer.pushBack('x');
      const failing: DatumCodec<string> = {
        encode: (v) => new TextEncoder().encode(v),
        decode: () => {
          throw new Error('decode boom');
        },
      };
      const reader = net.collections.vec<string>('undecodable', { codec: failing });
      const error = threw(() => reader.get(0));
      expect(error).toBeInstanceOf(EncodingError);
      expect((error as EncodingError).cause).toBeInstanceOf(Error);
      expect(threw(() => [...reader])).toBeInstanceOf(EncodingError);
      // The pop applied everywhere; the caller learns the value did not decode.
      expect(await rejection(reader.popBack())).toBeInstanceOf(EncodingError);
      expect(writer.length).toBe(0);
    });
  });
});
