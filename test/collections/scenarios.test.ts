import { describe, expect, it } from 'vitest';
import { encodeEnvelope, ReplicatedState, type StateMachine } from '../../core/groups/state-machine.ts';
import { msgpackDatumCodec } from '../../core/streams/datum-codec.ts';
import { collectionsCatchup } from '../../scenarios/collections-catchup.ts';
import { collectionsChaos } from '../../scenarios/collections-chaos.ts';

// A few seeds of each collection scenario; campaigns are for the CLI:
// `node tools/bin/mosaik.js sim campaign collections-chaos --seeds 1-500 --jobs 1`.
const TIMEOUT_MS = 180_000;

describe('collections-chaos', () => {
  it(
    'passes on a few seeds: raft safety, a linearizable Map, every log replayed against plain models, identical replicas',
    async () => {
      for (const seed of [1, 2, 3]) {
        const r = await collectionsChaos.run({ seed });
        expect(r.violations, `seed ${seed}`).toEqual([]);
        expect((r.details.map as { linearizable: unknown }).linearizable, `seed ${seed}`).toBe(true);
        const collections = r.details.collections as Record<string, { ok: number; samples: number }>;
        expect(Object.keys(collections).sort()).toEqual(['cell', 'map', 'once', 'pq', 'set', 'vec']);
        for (const [kind, c] of Object.entries(collections)) {
          expect(c.ok, `seed ${seed} ${kind}`).toBeGreaterThan(50);
          expect(c.samples, `seed ${seed} ${kind}`).toBeGreaterThan(50);
        }
      }
    },
    TIMEOUT_MS,
  );

  it(
    'catches map-cas-without-compare: told swapped where the log says not, and the Map history is not linearizable',
    async () => {
      const r = await collectionsChaos.run({ seed: 1, plantedBugs: ['map-cas-without-compare'] });
      expect(r.ok).toBe(false);
      const messages = r.violations.map((v) => v.message);
      expect(messages.some((m) => /^map: .* was told swapped:true; replaying the log gives swapped:false/.test(m))).toBe(true);
      expect(messages.some((m) => /map history is not linearizable/.test(m))).toBe(true);
    },
    TIMEOUT_MS,
  );

  it(
    'catches follower-read-without-readindex: stale strong reads break the Map history',
    async () => {
      const r = await collectionsChaos.run({ seed: 2, plantedBugs: ['follower-read-without-readindex'] });
      expect(r.ok).toBe(false);
      expect(r.violations.some((v) => v.checker === 'collections-chaos' && /map history is not linearizable/.test(v.message))).toBe(true);
    },
    TIMEOUT_MS,
  );
});

describe('collections-catchup', () => {
  it(
    'readers join late and catch up from snapshots; every node ends byte-identical',
    async () => {
      for (const seed of [1, 2]) {
        const r = await collectionsCatchup.run({ seed });
        expect(r.violations, `seed ${seed}`).toEqual([]);
        expect(r.details.entries).toBe(10_000);
        const readers = r.details.readers as { catchUpMs: number | undefined; entriesAtJoin: number }[];
        for (const reader of readers) expect(reader.catchUpMs, `seed ${seed}`).toBeTypeOf('number');
        // The last reader joined after the fill: it caught up all of it.
        expect(readers[readers.length - 1]?.entriesAtJoin).toBe(10_000);
      }
    },
    TIMEOUT_MS,
  );
});

describe('a retried command applied where its origin only got a snapshot', () => {
  // collections-chaos seed 1 (before the fix): a PriorityQueue `extend` from n0 committed at
  // index 489 while n0 was cut off; n0 then installed a snapshot covering it, resent it (same
  // sequence number), and the copy at 533 was skipped as a duplicate, resolving the call with
  // index 533 and no result (a compareExchange would have said swapped: false).
  it('the duplicate answers with the first apply’s index and result, also from a restored snapshot', () => {
    class Counter implements StateMachine<number, null, number> {
      readonly signature = 'test/counter';
      n = 0;
      apply(by: number): { total: number } {
        this.n += by;
        return { total: this.n };
      }
      query(): number {
        return this.n;
      }
      snapshot(): Uint8Array {
        return new TextEncoder().encode(String(this.n));
      }
      restore(s: Uint8Array): void {
        this.n = Number(new TextDecoder().decode(s));
      }
    }
    const codec = msgpackDatumCodec<number>();
    const genesis = new Counter().snapshot();
    const leader = new ReplicatedState(new Counter(), codec, genesis);
    const cmd = (seq: number, by: number) => encodeEnvelope({ origin: 'n0/1', seq, floor: 0, payload: codec.encode(by) });
    expect(leader.apply(cmd(1, 5), { index: 7, term: 1 })).toEqual({ kind: 'result', origin: 'n0/1', seq: 1, result: { total: 5 } });
    const origin = new ReplicatedState(new Counter(), codec, genesis);
    origin.restore(leader.snapshot());
    const dup = origin.apply(cmd(1, 5), { index: 9, term: 2 });
    expect(dup).toEqual({ kind: 'duplicate', origin: 'n0/1', seq: 1, first: { index: 7, result: { total: 5 } } });
    expect(origin.machine.query(null)).toBe(5);
  });
});
