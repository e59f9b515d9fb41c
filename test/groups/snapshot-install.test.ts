import { describe, expect, it } from 'vitest';
import { encodeEnvelope, ReplicatedState, type StateMachine } from '../../core/groups/state-machine.ts';
import { msgpackDatumCodec } from '../../core/streams/datum-codec.ts';

// A snapshot from the leader reaches the state machine before Raft takes it (group.ts
// `installSnapshot`), through `tryRestore`: one that cannot be restored must leave the
// replica exactly as it was, so that Raft can refuse it and the node keeps running.

/** A list of numbers whose restore writes as it parses: bad input leaves it half restored. */
class List implements StateMachine<number, null, readonly number[]> {
  readonly signature = 'test/list';
  items: number[] = [];
  apply(n: number): number {
    this.items.push(n);
    return this.items.length;
  }
  query(): readonly number[] {
    return [...this.items];
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(this.items.join(','));
  }
  restore(s: Uint8Array): void {
    this.items = [];
    for (const part of new TextDecoder()
      .decode(s)
      .split(',')
      .filter((p) => p !== '')) {
      const n = Number(part);
      if (!Number.isInteger(n)) throw new Error(`not a number: ${part}`);
      this.items.push(n);
    }
  }
}

const codec = msgpackDatumCodec<number>();
const cmd = (seq: number, n: number) => encodeEnvelope({ origin: 'n0/1', seq, floor: 0, payload: codec.encode(n) });

function replica(...items: number[]): ReplicatedState<number, null, readonly number[]> {
  const r = new ReplicatedState(new List(), codec, new List().snapshot());
  for (const [i, n] of items.entries()) r.apply(cmd(i + 1, n), { index: i + 1, term: 1 });
  return r;
}

describe('ReplicatedState.tryRestore', () => {
  it('takes a good snapshot, sessions included', () => {
    const source = replica(1, 2, 3);
    const target = replica(9);
    expect(target.tryRestore(source.snapshot())).toBeUndefined();
    expect(target.machine.query(null)).toEqual([1, 2, 3]);
    // The sessions came along: a retry of seq 2 is a duplicate with its first result.
    expect(target.apply(cmd(2, 2), { index: 4, term: 1 })).toEqual({ kind: 'duplicate', origin: 'n0/1', seq: 2, first: { index: 2, result: 2 } });
  });

  it('refuses bytes that are not a snapshot, and changes nothing', () => {
    const target = replica(4, 5);
    const before = target.snapshot();
    const good = replica(1).snapshot();
    for (const bad of [Uint8Array.of(), Uint8Array.of(0xc1), good.subarray(0, good.length - 1), Uint8Array.of(...good, 0)]) {
      expect(target.tryRestore(bad)).toMatch(/does not decode/);
      expect(target.snapshot()).toEqual(before);
    }
  });

  it('puts the machine back when its restore throws halfway', () => {
    const target = replica(4, 5);
    const before = target.snapshot();
    // A well-formed snapshot whose machine bytes the machine refuses after writing part of them.
    const hostile = replica(1, 2).snapshot();
    const machineBytes = new TextEncoder().encode('1,2');
    const at = hostile.findIndex((_, i) => machineBytes.every((b, j) => hostile[i + j] === b));
    expect(at).toBeGreaterThan(0);
    hostile[at + 2] = 'x'.charCodeAt(0); // "1,x"
    expect(target.tryRestore(hostile)).toMatch(/cannot restore it: not a number: x/);
    expect(target.machine.query(null)).toEqual([4, 5]);
    expect(target.snapshot()).toEqual(before);
  });
});
