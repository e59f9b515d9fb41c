import { EncodingError } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { Counter, type CounterCommand } from '../groups/counter.ts';
import { cluster, converged } from '../streams/helpers.ts';

/**
 * A value its codec cannot encode fails at the caller with EncodingError (API.md), with the
 * codec's error as `cause`, and nothing is sent: the handle keeps working.
 */
const unencodable = () => 1; // msgpack has no encoding for a function

async function encodingFailure(call: () => unknown): Promise<EncodingError> {
  try {
    await call();
  } catch (e) {
    expect(e).toBeInstanceOf(EncodingError);
    return e as EncodingError;
  }
  throw new Error('the call did not fail');
}

describe('EncodingError', () => {
  it('groups: execute, executeMany and feed; the group still takes the next command', async () => {
    const sim = new Simulation({ seed: 41 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const g = a.groups.join({ key: 'enc', machine: new Counter() });
      await g.when.online();
      const bad = { op: 'inc', by: unencodable } as unknown as CounterCommand;
      const e = await encodingFailure(() => g.execute(bad));
      expect(e.code).toBe('ENCODING');
      expect(e.message).toContain('does not encode');
      expect(e.cause).toBeInstanceOf(Error);
      await encodingFailure(() => g.executeMany([{ op: 'inc', by: 1 }, bad]));
      await encodingFailure(() => g.feed(bad));
      // Nothing of the batch with a bad command was applied.
      expect((await g.execute({ op: 'inc', by: 2 })).result).toBe(2);
    });
  });

  it('streams: send and trySend, and a custom codec that returns no bytes', async () => {
    const sim = new Simulation({ seed: 42 });
    const [a, b] = cluster(sim, 2) as [Network, Network];
    await sim.run(async () => {
      await converged(sim, [a, b]);
      const p = a.streams.producer<unknown>('enc');
      const c = b.streams.consumer<unknown>('enc');
      await p.when.subscribed().minimumOf(1);
      await encodingFailure(() => p.send(unencodable));
      await encodingFailure(() => p.trySend(unencodable));
      await p.send('fine');
      expect(await c.recv()).toBe('fine');

      const odd = a.streams.producer<string>('odd', { codec: { encode: (s) => s as unknown as Uint8Array, decode: () => '' } });
      b.streams.consumer<string>('odd');
      await odd.when.subscribed().minimumOf(1);
      const e = await encodingFailure(() => odd.trySend('x'));
      expect(e.message).toContain('returned string');
    });
  });

  it('collections: writes and keyed reads', async () => {
    const sim = new Simulation({ seed: 43 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const m = a.collections.map<unknown, number>('enc');
      await m.when.online();
      await encodingFailure(() => m.insert(unencodable, 1));
      await encodingFailure(() => m.get(unencodable));
      expect(await m.insert('k', 1)).toBeGreaterThan(0);
      expect(m.get('k')).toBe(1);
    });
  });

  it('the default codec refuses what msgpack would store as {} (a Map, a Set, an ArrayBuffer...), nested too; plain data, class instances, dates and typed arrays go through', async () => {
    const sim = new Simulation({ seed: 44 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const m = a.collections.map<unknown, unknown>('lossy');
      await m.when.online();
      // Before, a Map key and a Set key were both {}: the second insert overwrote the first.
      for (const lossy of [new Map([[1, 'a']]), new Set([2]), new ArrayBuffer(8), /x/, new Error('e'), Object(5), { inner: [new Map()] }]) {
        const e = await encodingFailure(() => m.insert(lossy, 1));
        expect(e.message).toMatch(/would store as \{\}/);
        await encodingFailure(() => m.insert('k', lossy));
        await encodingFailure(() => m.get(lossy));
      }
      class Point {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      const fine: unknown[] = [{ a: 1 }, new Point(1, 2), new Date(5), new Int16Array([1, -1]), Object.create(null)];
      for (const [i, value] of fine.entries()) await m.insert(i, value);
      expect(m.get(1)).toEqual({ x: 1, y: 2 });
      expect(m.get(2)).toEqual(new Date(5));
      expect(m.size).toBe(fine.length);
    });
  });
});
