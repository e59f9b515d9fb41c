import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, bytesFromKey, bytesKey } from '../../core/collections/bytes-key.ts';
import type {
  Bytes,
  CellCommand,
  MapCommand,
  OnceCommand,
  Priority,
  PriorityQueueCommand,
  SetCommand,
  VecCommand,
  WriteResult,
} from '../../core/collections/commands.ts';
import { CellMachine, MapMachine, OnceMachine, PriorityQueueMachine, SetMachine, VecMachine } from '../../core/collections/index.ts';

/**
 * Table tests of every operation of every collection machine, including mosaik's per-type
 * cases (tests/collections/*.rs, reference §4) run directly against the machines.
 */

type Val = number | string;
const e = (v: Val): Bytes => encode(v);
const d = (b: Bytes | undefined): unknown => (b === undefined ? undefined : decode(b));

/** A result with its `taken` bytes decoded. */
function res(r: WriteResult | undefined): unknown {
  if (r === undefined) return undefined;
  return r.taken === undefined || r.taken === null ? { ...r } : { ...r, taken: d(r.taken) };
}

// ---- helpers per machine ------------------------------------------------------------

function newMap(): MapMachine & { run(c: MapCommand): unknown; obj(): [unknown, unknown][] } {
  const m = new MapMachine('test/map') as MapMachine & { run(c: MapCommand): unknown; obj(): [unknown, unknown][] };
  m.run = (c) => res(m.apply(c, { index: 1, term: 1 }));
  m.obj = () => [...m.entries()].map(([k, v]) => [d(k), d(v)]);
  return m;
}
const mIns = (k: Val, v: Val): MapCommand => ({ op: 'insert', k: e(k), v: e(v) });
const mExt = (...es: [Val, Val][]): MapCommand => ({ op: 'extend', entries: es.map(([k, v]) => [e(k), e(v)] as const) });
const mRem = (...ks: Val[]): MapCommand => ({ op: 'remove', keys: ks.map(e) });
const mCas = (k: Val, expected: Val | null, next: Val | null): MapCommand => ({
  op: 'cas',
  k: e(k),
  expected: expected === null ? null : e(expected),
  next: next === null ? null : e(next),
});

function newVec(): VecMachine & { run(c: VecCommand): unknown; arr(): unknown[] } {
  const m = new VecMachine('test/vec') as VecMachine & { run(c: VecCommand): unknown; arr(): unknown[] };
  m.run = (c) => res(m.apply(c));
  m.arr = () => [...m.values()].map(d);
  return m;
}
const vBack = (v: Val): VecCommand => ({ op: 'pushBack', v: e(v) });
const vFront = (v: Val): VecCommand => ({ op: 'pushFront', v: e(v) });
const vExt = (...vs: Val[]): VecCommand => ({ op: 'extend', vs: vs.map(e) });

function newSet(): SetMachine & { run(c: SetCommand): unknown; arr(): unknown[] } {
  const m = new SetMachine('test/set') as SetMachine & { run(c: SetCommand): unknown; arr(): unknown[] };
  m.run = (c) => res(m.apply(c));
  m.arr = () => [...m.values()].map(d);
  return m;
}
const sIns = (v: Val): SetCommand => ({ op: 'insert', v: e(v) });
const sExt = (...vs: Val[]): SetCommand => ({ op: 'extend', vs: vs.map(e) });
const sRem = (...vs: Val[]): SetCommand => ({ op: 'remove', vs: vs.map(e) });

function newCell(): CellMachine & { run(c: CellCommand): unknown; val(): unknown } {
  const m = new CellMachine('test/cell') as CellMachine & { run(c: CellCommand): unknown; val(): unknown };
  m.run = (c) => res(m.apply(c));
  m.val = () => d(m.read());
  return m;
}
const cWrite = (v: Val): CellCommand => ({ op: 'write', v: e(v) });
const cCas = (expected: Val | null, next: Val | null): CellCommand => ({
  op: 'cas',
  expected: expected === null ? null : e(expected),
  next: next === null ? null : e(next),
});

type Pq = PriorityQueueMachine & { run(c: PriorityQueueCommand): unknown; asc(): unknown[]; desc(): unknown[]; val(k: Val): unknown; pri(k: Val): unknown };
function newPq(capacity?: number): Pq {
  const m = new PriorityQueueMachine('test/depq', capacity) as Pq;
  m.run = (c) => res(m.apply(c));
  m.asc = () => [...m.entries()].map(([p, k, v]) => [p, d(k), d(v)]);
  m.desc = () => [...m.entriesDesc()].map(([p, k, v]) => [p, d(k), d(v)]);
  m.val = (k) => d(m.get(e(k))?.v);
  m.pri = (k) => m.getPriority(e(k));
  return m;
}
const pIns = (p: Priority, k: Val, v: Val): PriorityQueueCommand => ({ op: 'insert', p, k: e(k), v: e(v) });
const pExt = (...es: [Priority, Val, Val][]): PriorityQueueCommand => ({ op: 'extend', entries: es.map(([p, k, v]) => [p, e(k), e(v)] as const) });
const pRem = (...ks: Val[]): PriorityQueueCommand => ({ op: 'remove', keys: ks.map(e) });
const pRange = (from: Priority | null, to: Priority | null, inclusive: boolean): PriorityQueueCommand => ({ op: 'removeRange', from, to, inclusive });
const pCas = (k: Val, expected: Val, next: Val | null): PriorityQueueCommand => ({
  op: 'casValue',
  k: e(k),
  expected: e(expected),
  next: next === null ? null : e(next),
});
const minOf = (m: Pq): unknown => {
  const x = m.min();
  return x === undefined ? undefined : [x[0], d(x[1]), d(x[2])];
};
const maxOf = (m: Pq): unknown => {
  const x = m.max();
  return x === undefined ? undefined : [x[0], d(x[1]), d(x[2])];
};

/** Fills with priorities 10..50 (keys 1..5, values key×100), as mosaik's tests do. */
const FIVE: PriorityQueueCommand = pExt([10, 1, 100], [20, 2, 200], [30, 3, 300], [40, 4, 400], [50, 5, 500]);

// ---- bytes-key ----------------------------------------------------------------------

describe('bytes-key', () => {
  it('is injective and invertible, short and long', () => {
    for (const n of [0, 1, 63, 64, 65, 8191, 8192, 8193, 20_000]) {
      const b = new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
      const key = bytesKey(b);
      expect(key.length).toBe(n);
      expect(bytesEqual(bytesFromKey(key), b)).toBe(true);
    }
    expect(bytesKey(new Uint8Array([0, 255]))).not.toBe(bytesKey(new Uint8Array([255, 0])));
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
  });
});

// ---- Map ----------------------------------------------------------------------------

describe('MapMachine', () => {
  it('smoke: every operation and read', () => {
    const m = newMap();
    expect(m.size).toBe(0);
    expect(m.get(e('a'))).toBeUndefined();
    expect(m.has(e('a'))).toBe(false);
    expect(m.run(mIns('a', 1))).toBeUndefined();
    expect(m.run(mExt(['b', 2], ['c', 3]))).toBeUndefined();
    expect(m.size).toBe(3);
    expect(d(m.get(e('b')))).toBe(2);
    expect(m.has(e('c'))).toBe(true);
    expect(m.obj()).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect([...m.keys()].map(d)).toEqual(['a', 'b', 'c']);
    expect([...m.values()].map(d)).toEqual([1, 2, 3]);
    expect(m.run(mRem('b'))).toBeUndefined();
    expect(m.obj()).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    expect(m.run({ op: 'clear' })).toBeUndefined();
    expect(m.size).toBe(0);
    expect(m.obj()).toEqual([]);
  });

  it('insert_overwrite keeps the key in place; remove then insert moves it to the end', () => {
    const m = newMap();
    m.run(mExt(['a', 1], ['b', 2], ['c', 3]));
    m.run(mIns('b', 20));
    expect(m.obj()).toEqual([
      ['a', 1],
      ['b', 20],
      ['c', 3],
    ]);
    m.run(mRem('b'));
    m.run(mIns('b', 21));
    expect(m.obj()).toEqual([
      ['a', 1],
      ['c', 3],
      ['b', 21],
    ]);
  });

  it('extend_overwrite, extend_empty, remove_nonexistent, remove_many, remove_all_entries, clear_then_rebuild', () => {
    const m = newMap();
    m.run(mExt(['a', 1], ['b', 2]));
    m.run(mExt(['b', 9], ['c', 3], ['a', 8]));
    expect(m.obj()).toEqual([
      ['a', 8],
      ['b', 9],
      ['c', 3],
    ]);
    m.run(mExt());
    expect(m.size).toBe(3);
    m.run(mRem('zz'));
    expect(m.size).toBe(3);
    m.run(mRem('a', 'zz', 'c'));
    expect(m.obj()).toEqual([['b', 9]]);
    m.run(mRem('b'));
    expect(m.size).toBe(0);
    m.run(mExt(['x', 1], ['y', 2]));
    m.run({ op: 'clear' });
    m.run(mIns('z', 3));
    expect(m.obj()).toEqual([['z', 3]]);
  });

  it('extend with a repeated key: the last value wins, at the first place', () => {
    const m = newMap();
    m.run(mExt(['a', 1], ['b', 2], ['a', 3]));
    expect(m.obj()).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  describe('compare_exchange', () => {
    it('success: Some == Some sets the new value', () => {
      const m = newMap();
      m.run(mIns('k', 1));
      expect(m.run(mCas('k', 1, 2))).toEqual({ swapped: true });
      expect(d(m.get(e('k')))).toBe(2);
    });
    it('insert_new_key: expected None on a missing key inserts (at the end)', () => {
      const m = newMap();
      m.run(mIns('a', 0));
      expect(m.run(mCas('k', null, 1))).toEqual({ swapped: true });
      expect(m.obj()).toEqual([
        ['a', 0],
        ['k', 1],
      ]);
    });
    it('remove_key: next None removes', () => {
      const m = newMap();
      m.run(mExt(['k', 1], ['j', 2]));
      expect(m.run(mCas('k', 1, null))).toEqual({ swapped: true });
      expect(m.has(e('k'))).toBe(false);
      expect(m.obj()).toEqual([['j', 2]]);
    });
    it('mismatch_no_change', () => {
      const m = newMap();
      m.run(mIns('k', 1));
      expect(m.run(mCas('k', 5, 2))).toEqual({ swapped: false });
      expect(m.run(mCas('k', 5, null))).toEqual({ swapped: false });
      expect(m.run(mCas('k', null, 2))).toEqual({ swapped: false });
      expect(m.obj()).toEqual([['k', 1]]);
    });
    it('mismatch_on_missing_key', () => {
      const m = newMap();
      expect(m.run(mCas('k', 1, 2))).toEqual({ swapped: false });
      expect(m.run(mCas('k', 1, null))).toEqual({ swapped: false });
      expect(m.size).toBe(0);
    });
    it('none_to_none: matches on a missing key and leaves it missing', () => {
      const m = newMap();
      expect(m.run(mCas('k', null, null))).toEqual({ swapped: true });
      expect(m.size).toBe(0);
    });
    it('same value: swaps, keeps the place', () => {
      const m = newMap();
      m.run(mExt(['a', 1], ['b', 2]));
      expect(m.run(mCas('a', 1, 1))).toEqual({ swapped: true });
      expect(m.obj()).toEqual([
        ['a', 1],
        ['b', 2],
      ]);
    });
    it('chained', () => {
      const m = newMap();
      expect(m.run(mCas('k', null, 1))).toEqual({ swapped: true });
      expect(m.run(mCas('k', 1, 2))).toEqual({ swapped: true });
      expect(m.run(mCas('k', 2, 3))).toEqual({ swapped: true });
      expect(m.run(mCas('k', 2, 4))).toEqual({ swapped: false });
      expect(m.run(mCas('k', 3, null))).toEqual({ swapped: true });
      expect(m.size).toBe(0);
    });
    it('mixed_with_insert_remove', () => {
      const m = newMap();
      m.run(mIns('k', 1));
      expect(m.run(mCas('k', 1, 2))).toEqual({ swapped: true });
      m.run(mIns('k', 10));
      expect(m.run(mCas('k', 2, 3))).toEqual({ swapped: false });
      expect(m.run(mCas('k', 10, 11))).toEqual({ swapped: true });
      m.run(mRem('k'));
      expect(m.run(mCas('k', 11, 12))).toEqual({ swapped: false });
      expect(m.run(mCas('k', null, 12))).toEqual({ swapped: true });
      expect(d(m.get(e('k')))).toBe(12);
    });
    it('multiple_keys: each key compared on its own', () => {
      const m = newMap();
      m.run(mExt(['a', 1], ['b', 1], ['c', 1]));
      expect(m.run(mCas('a', 1, 2))).toEqual({ swapped: true });
      expect(m.run(mCas('b', 2, 3))).toEqual({ swapped: false });
      expect(m.run(mCas('c', 1, null))).toEqual({ swapped: true });
      expect(m.obj()).toEqual([
        ['a', 2],
        ['b', 1],
      ]);
    });
    it('string_keys and values compare encoded bytes (1 and "1" differ)', () => {
      const m = newMap();
      m.run(mIns('1', 'one'));
      m.run(mIns(1, 1));
      expect(m.size).toBe(2);
      expect(m.run(mCas('1', 1, 'x'))).toEqual({ swapped: false });
      expect(m.run(mCas('1', 'one', 'uno'))).toEqual({ swapped: true });
      expect(d(m.get(e('1')))).toBe('uno');
      expect(d(m.get(e(1)))).toBe(1);
    });
  });
});

// ---- Vec ----------------------------------------------------------------------------

describe('VecMachine', () => {
  it('smoke: reads on empty and full', () => {
    const m = newVec();
    expect(m.length).toBe(0);
    expect(m.get(0)).toBeUndefined();
    expect(m.front()).toBeUndefined();
    expect(m.back()).toBeUndefined();
    expect(m.indexOf(e(1))).toBeUndefined();
    expect(m.includes(e(1))).toBe(false);
    m.run(vExt(1, 2, 3, 2));
    expect(m.length).toBe(4);
    expect(d(m.get(1))).toBe(2);
    expect(m.get(4)).toBeUndefined();
    expect(m.get(-1)).toBeUndefined();
    expect(m.get(1.5)).toBeUndefined();
    expect(d(m.front())).toBe(1);
    expect(d(m.back())).toBe(2);
    expect(m.indexOf(e(2))).toBe(1);
    expect(m.indexOf(e('2'))).toBeUndefined();
    expect(m.includes(e(3))).toBe(true);
    m.run({ op: 'clear' });
    expect(m.arr()).toEqual([]);
  });

  it('push_front_back_ordering', () => {
    const m = newVec();
    m.run(vBack(1));
    m.run(vBack(2));
    m.run(vFront(0));
    m.run(vFront(-1));
    m.run(vBack(3));
    expect(m.arr()).toEqual([-1, 0, 1, 2, 3]);
  });

  it('pop_until_empty: pops return the element taken, then null', () => {
    const m = newVec();
    m.run(vExt(1, 2, 3));
    expect(m.run({ op: 'popBack' })).toEqual({ taken: 3 });
    expect(m.run({ op: 'popFront' })).toEqual({ taken: 1 });
    expect(m.run({ op: 'popBack' })).toEqual({ taken: 2 });
    expect(m.length).toBe(0);
    expect(m.run({ op: 'popBack' })).toEqual({ taken: null });
    expect(m.run({ op: 'popFront' })).toEqual({ taken: null });
    expect(m.length).toBe(0);
  });

  it('swap_variations: normal, same index, out of bounds is a no-op', () => {
    const m = newVec();
    m.run(vExt('a', 'b', 'c'));
    expect(m.run({ op: 'swap', i: 0, j: 2 })).toBeUndefined();
    expect(m.arr()).toEqual(['c', 'b', 'a']);
    m.run({ op: 'swap', i: 1, j: 1 });
    expect(m.arr()).toEqual(['c', 'b', 'a']);
    m.run({ op: 'swap', i: 0, j: 3 });
    m.run({ op: 'swap', i: 5, j: 1 });
    m.run({ op: 'swap', i: 9, j: 9 });
    expect(m.arr()).toEqual(['c', 'b', 'a']);
  });

  it('insert_at_positions: 0, end (= length), middle; past the end is outOfRange and changes nothing', () => {
    const m = newVec();
    expect(m.run({ op: 'insert', i: 0, v: e('b') })).toBeUndefined();
    m.run({ op: 'insert', i: 0, v: e('a') });
    m.run({ op: 'insert', i: 2, v: e('d') });
    m.run({ op: 'insert', i: 2, v: e('c') });
    expect(m.arr()).toEqual(['a', 'b', 'c', 'd']);
    m.run({ op: 'insert', i: 1, v: e('a2') });
    m.run({ op: 'insert', i: 4, v: e('c2') });
    expect(m.arr()).toEqual(['a', 'a2', 'b', 'c', 'c2', 'd']);
    expect(m.run({ op: 'insert', i: 7, v: e('x') })).toEqual({ outOfRange: true });
    expect(m.run({ op: 'insert', i: 1_000_000, v: e('x') })).toEqual({ outOfRange: true });
    expect(m.arr()).toEqual(['a', 'a2', 'b', 'c', 'c2', 'd']);
    expect(newVec().run({ op: 'insert', i: 1, v: e('x') })).toEqual({ outOfRange: true });
  });

  it('truncate_edge_cases: > length, = length, smaller, 0', () => {
    const m = newVec();
    m.run(vExt(1, 2, 3, 4));
    m.run({ op: 'truncate', len: 10 });
    expect(m.arr()).toEqual([1, 2, 3, 4]);
    m.run({ op: 'truncate', len: 4 });
    expect(m.arr()).toEqual([1, 2, 3, 4]);
    m.run({ op: 'truncate', len: 2 });
    expect(m.arr()).toEqual([1, 2]);
    m.run({ op: 'truncate', len: 0 });
    expect(m.arr()).toEqual([]);
    m.run(vBack(9));
    expect(m.arr()).toEqual([9]);
  });

  it('remove: returns the element; out of bounds is a no-op', () => {
    const m = newVec();
    m.run(vExt(1, 2, 3, 4, 5));
    expect(m.run({ op: 'remove', i: 1 })).toEqual({ taken: 2 });
    expect(m.run({ op: 'remove', i: 3 })).toEqual({ taken: 5 });
    expect(m.run({ op: 'remove', i: 0 })).toEqual({ taken: 1 });
    expect(m.arr()).toEqual([3, 4]);
    expect(m.run({ op: 'remove', i: 2 })).toEqual({ taken: null });
    expect(m.run({ op: 'remove', i: 99 })).toEqual({ taken: null });
    expect(m.arr()).toEqual([3, 4]);
  });

  it('the ring buffer wraps and grows: interleaved ends and middle edits against an array', () => {
    const m = newVec();
    const ref: number[] = [];
    for (let n = 0; n < 3000; n++) {
      const r = (n * 2654435761) >>> 0;
      switch (r % 7) {
        case 0:
        case 1:
          m.run(vFront(n));
          ref.unshift(n);
          break;
        case 2:
        case 3:
          m.run(vBack(n));
          ref.push(n);
          break;
        case 4: {
          const i = ref.length === 0 ? 0 : r % (ref.length + 1);
          m.run({ op: 'insert', i, v: e(n) });
          ref.splice(i, 0, n);
          break;
        }
        case 5:
          if (ref.length > 0) {
            const i = r % ref.length;
            expect(m.run({ op: 'remove', i })).toEqual({ taken: ref[i] });
            ref.splice(i, 1);
          }
          break;
        default:
          expect(m.run({ op: r % 2 === 0 ? 'popFront' : 'popBack' })).toEqual({ taken: (r % 2 === 0 ? ref.shift() : ref.pop()) ?? null });
      }
    }
    expect(m.arr()).toEqual(ref);
    for (let i = 0; i < ref.length; i += 37) expect(d(m.get(i))).toBe(ref[i]);
  });
});

// ---- Set ----------------------------------------------------------------------------

describe('SetMachine', () => {
  it('insert_duplicate: one element, its place kept', () => {
    const m = newSet();
    m.run(sIns('a'));
    m.run(sIns('b'));
    m.run(sIns('a'));
    expect(m.size).toBe(2);
    expect(m.arr()).toEqual(['a', 'b']);
  });

  it('extend_with_duplicates', () => {
    const m = newSet();
    m.run(sExt(1, 2, 2, 3, 1));
    expect(m.arr()).toEqual([1, 2, 3]);
    m.run(sExt());
    expect(m.size).toBe(3);
  });

  it('remove, remove_many, remove_nonexistent, remove then insert moves to the end, clear', () => {
    const m = newSet();
    m.run(sExt(1, 2, 3, 4));
    m.run(sRem(9));
    expect(m.size).toBe(4);
    m.run(sRem(2));
    expect(m.has(e(2))).toBe(false);
    m.run(sIns(2));
    expect(m.arr()).toEqual([1, 3, 4, 2]);
    m.run(sRem(1, 4, 99));
    expect(m.arr()).toEqual([3, 2]);
    m.run({ op: 'clear' });
    expect(m.size).toBe(0);
    expect(m.has(e(3))).toBe(false);
  });

  it('elements compare by encoding: 1 and "1" are two elements', () => {
    const m = newSet();
    m.run(sExt(1, '1'));
    expect(m.size).toBe(2);
    expect(m.has(e('1'))).toBe(true);
  });

  it('subset_check', () => {
    const a = newSet();
    const b = newSet();
    expect(a.isSubsetOf(b)).toBe(true);
    b.run(sExt(1, 2, 3));
    expect(a.isSubsetOf(b)).toBe(true);
    expect(b.isSubsetOf(a)).toBe(false);
    a.run(sExt(3, 1));
    expect(a.isSubsetOf(b)).toBe(true);
    expect(b.isSubsetOf(a)).toBe(false);
    a.run(sIns(2));
    expect(a.isSubsetOf(b)).toBe(true);
    expect(b.isSubsetOf(a)).toBe(true);
    a.run(sIns(4));
    expect(a.isSubsetOf(b)).toBe(false);
    expect(b.isSubsetOf(a)).toBe(true);
    expect(a.isSubsetOf(a)).toBe(true);
  });
});

// ---- Cell ---------------------------------------------------------------------------

describe('CellMachine', () => {
  it('overwrite_keeps_latest, clear_then_write, clear_empty, write_clear_cycle', () => {
    const m = newCell();
    expect(m.read()).toBeUndefined();
    expect(m.run({ op: 'clear' })).toBeUndefined();
    expect(m.read()).toBeUndefined();
    expect(m.run(cWrite(1))).toBeUndefined();
    m.run(cWrite(2));
    expect(m.val()).toBe(2);
    m.run({ op: 'clear' });
    expect(m.read()).toBeUndefined();
    m.run(cWrite('x'));
    expect(m.val()).toBe('x');
    for (let i = 0; i < 5; i++) {
      m.run(cWrite(i));
      expect(m.val()).toBe(i);
      m.run({ op: 'clear' });
      expect(m.read()).toBeUndefined();
    }
  });

  it('compare_exchange: success, from_none, to_none, mismatch_no_change, mismatch_on_empty, none_to_none', () => {
    const m = newCell();
    expect(m.run(cCas(1, 2))).toEqual({ swapped: false }); // mismatch_on_empty
    expect(m.read()).toBeUndefined();
    expect(m.run(cCas(null, null))).toEqual({ swapped: true }); // none_to_none
    expect(m.read()).toBeUndefined();
    expect(m.run(cCas(null, 1))).toEqual({ swapped: true }); // from_none
    expect(m.val()).toBe(1);
    expect(m.run(cCas(null, 5))).toEqual({ swapped: false });
    expect(m.run(cCas(7, 5))).toEqual({ swapped: false }); // mismatch_no_change
    expect(m.run(cCas(7, null))).toEqual({ swapped: false });
    expect(m.val()).toBe(1);
    expect(m.run(cCas(1, 2))).toEqual({ swapped: true }); // success
    expect(m.val()).toBe(2);
    expect(m.run(cCas(2, null))).toEqual({ swapped: true }); // to_none
    expect(m.read()).toBeUndefined();
  });

  it('compare_exchange chained and mixed_with_write_clear', () => {
    const m = newCell();
    m.run(cWrite(0));
    for (let i = 0; i < 5; i++) expect(m.run(cCas(i, i + 1))).toEqual({ swapped: true });
    expect(m.val()).toBe(5);
    m.run(cWrite(10));
    expect(m.run(cCas(5, 6))).toEqual({ swapped: false });
    expect(m.run(cCas(10, 11))).toEqual({ swapped: true });
    m.run({ op: 'clear' });
    expect(m.run(cCas(11, 12))).toEqual({ swapped: false });
    expect(m.run(cCas(null, 12))).toEqual({ swapped: true });
    expect(m.val()).toBe(12);
  });
});

// ---- Once ---------------------------------------------------------------------------

describe('OnceMachine', () => {
  it('first write wins; later writes commit but change nothing', () => {
    const m = new OnceMachine('test/once');
    const w = (v: Val): OnceCommand => ({ op: 'write', v: e(v) });
    expect(m.read()).toBeUndefined();
    expect(m.apply(w('first'))).toEqual({ swapped: true });
    expect(d(m.read())).toBe('first');
    expect(m.apply(w('second'))).toEqual({ swapped: false });
    expect(m.apply(w('first'))).toEqual({ swapped: false });
    expect(d(m.read())).toBe('first');
  });
});

// ---- PriorityQueue ------------------------------------------------------------------

describe('PriorityQueueMachine', () => {
  it('smoke_no_catchup: every operation and read', () => {
    const m = newPq();
    expect(m.size).toBe(0);
    expect(m.capacity).toBe(Number.POSITIVE_INFINITY);
    expect(m.get(e(1))).toBeUndefined();
    expect(m.getPriority(e(1))).toBeUndefined();
    expect(m.has(e(1))).toBe(false);
    expect(m.min()).toBeUndefined();
    expect(m.max()).toBeUndefined();
    expect(m.minPriority()).toBeUndefined();
    expect(m.maxPriority()).toBeUndefined();
    expect(m.asc()).toEqual([]);
    expect(m.desc()).toEqual([]);

    m.run(pIns(10, 1, 100));
    expect(m.size).toBe(1);
    expect(m.val(1)).toBe(100);
    expect(m.pri(1)).toBe(10);
    expect(m.has(e(1))).toBe(true);
    expect(m.has(e(2))).toBe(false);
    expect(minOf(m)).toEqual([10, 1, 100]);
    expect(maxOf(m)).toEqual([10, 1, 100]);

    m.run(pIns(5, 2, 200));
    m.run(pIns(20, 3, 300));
    expect(minOf(m)).toEqual([5, 2, 200]);
    expect(maxOf(m)).toEqual([20, 3, 300]);
    expect(m.minPriority()).toBe(5);
    expect(m.maxPriority()).toBe(20);

    m.run(pIns(15, 1, 150)); // insert overwrites
    expect(m.size).toBe(3);
    expect(m.val(1)).toBe(150);
    expect(m.pri(1)).toBe(15);

    m.run(pExt([1, 4, 400], [30, 5, 500], [8, 6, 600]));
    expect(m.size).toBe(6);
    expect(m.minPriority()).toBe(1);
    expect(m.maxPriority()).toBe(30);
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([1, 5, 8, 15, 20, 30]);
    expect(m.desc().map((x) => (x as unknown[])[0])).toEqual([30, 20, 15, 8, 5, 1]);

    m.run(pRem(4));
    expect(m.size).toBe(5);
    expect(m.has(e(4))).toBe(false);
    expect(m.minPriority()).toBe(5);

    m.run({ op: 'clear' });
    expect(m.size).toBe(0);
    expect(m.min()).toBeUndefined();
    expect(m.max()).toBeUndefined();
  });

  it('insert_overwrite cleans up the old bucket', () => {
    const m = newPq();
    m.run(pIns(10, 1, 100));
    m.run(pIns(99, 1, 999));
    expect(m.val(1)).toBe(999);
    expect(m.pri(1)).toBe(99);
    expect(m.size).toBe(1);
    expect(m.minPriority()).toBe(99);
    expect(m.maxPriority()).toBe(99);
  });

  it('update_priority keeps the value; a missing key is a no-op', () => {
    const m = newPq();
    m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
    expect(m.run({ op: 'updatePriority', k: e(1), p: 50 })).toBeUndefined();
    expect(m.val(1)).toBe(100);
    expect(m.pri(1)).toBe(50);
    expect(m.size).toBe(3);
    expect(m.minPriority()).toBe(20);
    expect(m.maxPriority()).toBe(50);
    m.run({ op: 'updatePriority', k: e(999), p: 1 });
    expect(m.size).toBe(3);
    expect(m.get(e(999))).toBeUndefined();
  });

  it('update_value keeps the priority; a missing key is a no-op', () => {
    const m = newPq();
    m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
    expect(m.run({ op: 'updateValue', k: e(2), v: e(999) })).toBeUndefined();
    expect(m.val(2)).toBe(999);
    expect(m.pri(2)).toBe(20);
    m.run({ op: 'updateValue', k: e(999), v: e(42) });
    expect(m.size).toBe(3);
    expect(m.get(e(999))).toBeUndefined();
  });

  it('remove_range: ..25, 45.., 20..=40, .. (from inclusive, to exclusive unless inclusive)', () => {
    const m = newPq();
    m.run(FIVE);
    m.run(pRange(null, 25, false)); // ..25
    expect(m.size).toBe(3);
    expect(m.get(e(1))).toBeUndefined();
    expect(m.get(e(2))).toBeUndefined();
    expect(m.val(3)).toBe(300);
    expect(m.minPriority()).toBe(30);
    m.run(pRange(45, null, false)); // 45..
    expect(m.size).toBe(2);
    expect(m.get(e(5))).toBeUndefined();
    expect(m.maxPriority()).toBe(40);

    m.run({ op: 'clear' });
    m.run(FIVE);
    m.run(pRange(20, 40, true)); // 20..=40
    expect(m.asc()).toEqual([
      [10, 1, 100],
      [50, 5, 500],
    ]);
    m.run(pRange(null, null, false)); // ..
    expect(m.size).toBe(0);
  });

  it('remove_range bounds: exclusive end, exact bounds, empty and inverted ranges', () => {
    const m = newPq();
    m.run(FIVE);
    m.run(pRange(20, 40, false)); // 20..40
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([10, 40, 50]);
    m.run(pRange(41, 49, true)); // nothing in between
    m.run(pRange(50, 10, true)); // inverted: nothing
    m.run(pRange(40, 40, false)); // empty half-open range
    expect(m.size).toBe(3);
    m.run(pRange(40, 40, true)); // 40..=40
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([10, 50]);
    m.run(pRange(null, 10, true)); // ..=10
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([50]);
  });

  it('remove_range_empty, remove_nonexistent, remove_keys, remove_all_entries', () => {
    const m = newPq();
    m.run(pRange(null, 100, false));
    expect(m.size).toBe(0);
    m.run(pIns(10, 1, 100));
    expect(m.size).toBe(1);
    m.run({ op: 'clear' });

    m.run(FIVE);
    m.run(pRem(999));
    expect(m.size).toBe(5);
    m.run(pRem(2, 4, 5));
    expect(m.asc()).toEqual([
      [10, 1, 100],
      [30, 3, 300],
    ]);
    expect(m.minPriority()).toBe(10);
    expect(m.maxPriority()).toBe(30);
    m.run(pRem(1, 99, 100));
    expect(m.asc()).toEqual([[30, 3, 300]]);
    m.run(pRem());
    expect(m.size).toBe(1);
    m.run(pRem(3));
    expect(m.size).toBe(0);
    expect(m.min()).toBeUndefined();
    m.run(pIns(42, 4, 400));
    expect(m.asc()).toEqual([[42, 4, 400]]);
  });

  it('extend_overwrite and extend_empty', () => {
    const m = newPq();
    m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
    m.run(pExt([99, 2, 999], [88, 3, 888], [40, 4, 400]));
    expect(m.size).toBe(4);
    expect([m.val(1), m.pri(1), m.val(2), m.pri(2), m.val(3), m.pri(3), m.val(4)]).toEqual([100, 10, 999, 99, 888, 88, 400]);
    m.run(pExt());
    expect(m.size).toBe(4);
  });

  it('same_priority_bucket: oldest first in both directions; buckets empty out', () => {
    const m = newPq();
    m.run(pExt([10, 1, 100], [10, 2, 200], [10, 3, 300], [20, 4, 400], [20, 5, 500]));
    expect(m.minPriority()).toBe(10);
    expect(minOf(m)).toEqual([10, 1, 100]);
    expect(maxOf(m)).toEqual([20, 4, 400]);
    expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([1, 2, 3, 4, 5]);
    expect(m.desc().map((x) => (x as unknown[])[1])).toEqual([4, 5, 1, 2, 3]);
    // a value change keeps the place; a move goes last in the new bucket and back again
    m.run({ op: 'updateValue', k: e(1), v: e(101) });
    m.run(pIns(10, 2, 201));
    expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([1, 2, 3, 4, 5]);
    m.run({ op: 'updatePriority', k: e(1), p: 20 });
    m.run({ op: 'updatePriority', k: e(1), p: 10 });
    expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([2, 3, 1, 4, 5]);
    m.run(pRem(2));
    expect(m.minPriority()).toBe(10);
    m.run(pRem(1, 3));
    expect(m.minPriority()).toBe(20);
    expect(m.size).toBe(2);
  });

  it('iter_ordering_after_mutations', () => {
    const m = newPq();
    m.run(pExt([50, 1, 100], [10, 2, 200], [30, 3, 300], [20, 4, 400], [40, 5, 500]));
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([10, 20, 30, 40, 50]);
    expect(m.desc().map((x) => (x as unknown[])[0])).toEqual([50, 40, 30, 20, 10]);
    m.run(pRem(3));
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([10, 20, 40, 50]);
    expect(m.desc().map((x) => (x as unknown[])[0])).toEqual([50, 40, 20, 10]);
    m.run({ op: 'updatePriority', k: e(2), p: 45 });
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([20, 40, 45, 50]);
  });

  describe('compare_exchange_value', () => {
    it('success and preserves_priority', () => {
      const m = newPq();
      m.run(pExt([5, 1, 100], [10, 2, 200], [20, 3, 300]));
      expect(m.run(pCas(2, 200, 250))).toEqual({ swapped: true });
      expect(m.val(2)).toBe(250);
      expect(m.pri(2)).toBe(10);
      expect(m.minPriority()).toBe(5);
      expect(m.maxPriority()).toBe(20);
      expect(m.asc()).toEqual([
        [5, 1, 100],
        [10, 2, 250],
        [20, 3, 300],
      ]);
    });
    it('remove', () => {
      const m = newPq();
      m.run(pExt([10, 1, 100], [20, 2, 200]));
      expect(m.run(pCas(1, 100, null))).toEqual({ swapped: true });
      expect(m.has(e(1))).toBe(false);
      expect(m.asc()).toEqual([[20, 2, 200]]);
    });
    it('mismatch', () => {
      const m = newPq();
      m.run(pIns(10, 1, 100));
      expect(m.run(pCas(1, 999, 200))).toEqual({ swapped: false });
      expect(m.run(pCas(1, 999, null))).toEqual({ swapped: false });
      expect(m.asc()).toEqual([[10, 1, 100]]);
    });
    it('missing_key', () => {
      const m = newPq();
      expect(m.run(pCas(1, 100, 200))).toEqual({ swapped: false });
      expect(m.size).toBe(0);
      m.run(pIns(10, 1, 100));
      expect(m.run(pCas(99, 100, 200))).toEqual({ swapped: false });
      expect(m.size).toBe(1);
      expect(m.get(e(99))).toBeUndefined();
    });
    it('chained', () => {
      const m = newPq();
      m.run(pIns(10, 1, 100));
      expect(m.run(pCas(1, 100, 200))).toEqual({ swapped: true });
      expect(m.run(pCas(1, 200, 300))).toEqual({ swapped: true });
      expect(m.run(pCas(1, 300, null))).toEqual({ swapped: true });
      expect(m.size).toBe(0);
    });
    it('mixed_with_mutations', () => {
      const m = newPq();
      m.run(pIns(10, 1, 100));
      expect(m.run(pCas(1, 100, 200))).toEqual({ swapped: true });
      m.run({ op: 'updateValue', k: e(1), v: e(300) });
      expect(m.run(pCas(1, 300, 400))).toEqual({ swapped: true });
      m.run({ op: 'updatePriority', k: e(1), p: 50 });
      expect(m.run(pCas(1, 400, 500))).toEqual({ swapped: true });
      expect(m.pri(1)).toBe(50);
      expect(m.run(pCas(1, 500, null))).toEqual({ swapped: true });
      expect(m.size).toBe(0);
      m.run(pIns(1, 1, 10));
      expect(m.asc()).toEqual([[1, 1, 10]]);
    });
    it('remove_affects_minmax', () => {
      const m = newPq();
      m.run(pExt([5, 1, 100], [10, 2, 200], [20, 3, 300]));
      m.run(pCas(1, 100, null));
      expect([m.minPriority(), m.maxPriority(), m.size]).toEqual([10, 20, 2]);
      m.run(pCas(3, 300, null));
      expect([m.minPriority(), m.maxPriority(), m.size]).toEqual([10, 10, 1]);
    });
  });

  describe('bounded (capacity 3)', () => {
    it('bounded_evicts_lowest_priority', () => {
      const m = newPq(3);
      expect(m.capacity).toBe(3);
      m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
      m.run(pIns(40, 4, 400));
      expect(m.size).toBe(3);
      expect(m.get(e(1))).toBeUndefined();
      expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([2, 3, 4]);
    });
    it('bounded_insert_lower_than_all: the new entry is the one evicted', () => {
      const m = newPq(3);
      m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
      m.run(pIns(5, 4, 400));
      expect(m.size).toBe(3);
      expect(m.get(e(4))).toBeUndefined();
      expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([1, 2, 3]);
    });
    it('bounded_extend_evicts_multiple', () => {
      const m = newPq(3);
      m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
      m.run(pExt([40, 4, 400], [50, 5, 500], [5, 6, 600]));
      expect(m.size).toBe(3);
      expect(m.asc().map((x) => (x as unknown[])[1])).toEqual([3, 4, 5]);
      const n = newPq(3);
      n.run(pExt([1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5, 5, 5], [6, 6, 6]));
      expect(n.asc().map((x) => (x as unknown[])[1])).toEqual([4, 5, 6]);
    });
    it('bounded_update_priority_no_eviction', () => {
      const m = newPq(3);
      m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
      m.run({ op: 'updatePriority', k: e(1), p: 100 });
      m.run({ op: 'updatePriority', k: e(2), p: 1 });
      expect(m.size).toBe(3);
      expect(m.asc()).toEqual([
        [1, 2, 200],
        [30, 3, 300],
        [100, 1, 100],
      ]);
    });
    it('bounded_upsert_no_eviction', () => {
      const m = newPq(3);
      m.run(pExt([10, 1, 100], [20, 2, 200], [30, 3, 300]));
      m.run(pIns(100, 1, 111));
      m.run(pIns(1, 3, 333));
      m.run(pExt([2, 2, 222]));
      expect(m.size).toBe(3);
      expect(m.asc()).toEqual([
        [1, 3, 333],
        [2, 2, 222],
        [100, 1, 111],
      ]);
    });
    it('ties in the lowest bucket evict its oldest entry', () => {
      const m = newPq(2);
      m.run(pExt([10, 'a', 1], [10, 'b', 2], [10, 'c', 3]));
      expect(m.asc().map((x) => (x as unknown[])[1])).toEqual(['b', 'c']);
      m.run(pIns(20, 'd', 4));
      expect(m.asc().map((x) => (x as unknown[])[1])).toEqual(['c', 'd']);
    });
    it('capacity 0 keeps nothing; a bad capacity throws at construction', () => {
      const m = newPq(0);
      m.run(pIns(1, 1, 1));
      expect(m.size).toBe(0);
      for (const bad of [-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY]) expect(() => new PriorityQueueMachine('x', bad)).toThrow(RangeError);
    });
  });

  it('priorities: strings by code units, numbers by value, numbers before strings; -0 is 0', () => {
    const m = newPq();
    m.run(pExt(['b', 1, 1], [2, 2, 2], ['a', 3, 3], [-1.5, 4, 4], ['B', 5, 5], [10, 6, 6], ['', 7, 7], [Number.POSITIVE_INFINITY, 8, 8]));
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([-1.5, 2, 10, Number.POSITIVE_INFINITY, '', 'B', 'a', 'b']);
    m.run(pRange(3, 'B', true));
    expect(m.asc().map((x) => (x as unknown[])[0])).toEqual([-1.5, 2, 'a', 'b']);
    const z = newPq();
    z.run(pIns(-0, 1, 1));
    z.run(pIns(0, 2, 2));
    expect(Object.is(z.minPriority(), 0)).toBe(true);
    expect(z.asc()).toEqual([
      [0, 1, 1],
      [0, 2, 2],
    ]);
    expect(z.snapshot()).toEqual(
      (() => {
        const y = newPq();
        y.run(pExt([0, 1, 1], [0, 2, 2]));
        return y.snapshot();
      })(),
    );
  });

  it('a large extend (its new priorities merged in once) ends exactly as the same inserts one by one, moves within the batch and capacity included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(fc.integer({ min: -20, max: 20 }), fc.constantFrom('a', 'b', 'zz')), fc.integer({ min: 0, max: 60 }), fc.integer()), {
          // Past 32 entries an extend batches; a capacity it could reach on the way does not.
          minLength: 20,
          maxLength: 150,
        }),
        fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 0, max: 60 }), fc.integer()), { maxLength: 20 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 60, 25),
        (batch, before, capacity) => {
          const extended = newPq(capacity);
          const oneByOne = newPq(capacity);
          for (const m of [extended, oneByOne]) for (const [p, k, v] of before) m.run(pIns(p, k, v));
          extended.run(pExt(...batch));
          for (const [p, k, v] of batch) oneByOne.run(pIns(p, k, v));
          expect(extended.asc()).toEqual(oneByOne.asc());
          expect(extended.desc()).toEqual(oneByOne.desc());
          expect(extended.snapshot()).toEqual(oneByOne.snapshot());
          // The order is whole: a range removal and min/max see every priority.
          extended.run(pRange(-5, 5, true));
          oneByOne.run(pRange(-5, 5, true));
          expect(extended.asc()).toEqual(oneByOne.asc());
          expect(minOf(extended)).toEqual(minOf(oneByOne));
          expect(maxOf(extended)).toEqual(maxOf(oneByOne));
        },
      ),
      { numRuns: 300, seed: 20261127 },
    );
  });
});

// ---- malformed commands ------------------------------------------------------------

describe('malformed commands: undefined, nothing changes, never throws', () => {
  const b = e(1);
  const common: unknown[] = [null, undefined, 42, 'insert', [], {}, { op: 7 }, { op: 'nope' }, { op: 'TakeSnapshot' }];
  const cases: { name: string; make: () => { apply(c: never): unknown; snapshot(): Uint8Array }; fill: unknown[]; bad: unknown[] }[] = [
    {
      name: 'map',
      make: () => new MapMachine('m'),
      fill: [mExt([1, 1], [2, 2])],
      bad: [
        { op: 'insert', k: 'a', v: b },
        { op: 'insert', k: b },
        { op: 'extend', entries: [[b, b], [b]] },
        { op: 'extend', entries: [[b, b], 'x'] },
        { op: 'extend', entries: {} },
        { op: 'remove', keys: [b, 1] },
        { op: 'remove' },
        { op: 'cas', k: b, expected: undefined, next: null },
        { op: 'cas', k: b, expected: null, next: 'x' },
        { op: 'cas', k: null, expected: null, next: null },
      ],
    },
    {
      name: 'vec',
      make: () => new VecMachine('v'),
      fill: [vExt(1, 2, 3)],
      bad: [
        { op: 'pushBack', v: [1] },
        { op: 'pushFront' },
        { op: 'insert', i: -1, v: b },
        { op: 'insert', i: 0.5, v: b },
        { op: 'insert', i: '0', v: b },
        { op: 'insert', i: 0, v: null },
        { op: 'swap', i: -1, j: 0 },
        { op: 'swap', i: 0 },
        { op: 'remove', i: Number.NaN },
        { op: 'remove', i: Number.POSITIVE_INFINITY },
        { op: 'truncate', len: -1 },
        { op: 'truncate', len: 1.5 },
        { op: 'truncate' },
        { op: 'extend', vs: [b, 'x'] },
        { op: 'extend', vs: b },
      ],
    },
    {
      name: 'set',
      make: () => new SetMachine('s'),
      fill: [sExt(1, 2)],
      bad: [
        { op: 'insert', v: 1 },
        { op: 'extend', vs: [b, 2] },
        { op: 'remove', vs: [1] },
        { op: 'remove', vs: b },
      ],
    },
    {
      name: 'cell',
      make: () => new CellMachine('c'),
      fill: [cWrite(1)],
      bad: [{ op: 'write' }, { op: 'write', v: 'x' }, { op: 'cas', expected: 1, next: null }, { op: 'cas', expected: null }],
    },
    {
      name: 'once',
      make: () => new OnceMachine('o'),
      fill: [],
      bad: [{ op: 'write' }, { op: 'write', v: 3 }, { op: 'clear' }, { op: 'cas', expected: null, next: b }],
    },
    {
      name: 'priority queue',
      make: () => new PriorityQueueMachine('p', 2),
      fill: [pExt([1, 1, 1], [2, 2, 2])],
      bad: [
        { op: 'insert', p: Number.NaN, k: b, v: b },
        { op: 'insert', p: null, k: b, v: b },
        { op: 'insert', p: true, k: b, v: b },
        { op: 'insert', p: 1, k: 'k', v: b },
        {
          op: 'extend',
          entries: [
            [0, e(9), b],
            [Number.NaN, b, b],
          ],
        },
        {
          op: 'extend',
          entries: [
            [0, e(9), b],
            [0, b],
          ],
        },
        { op: 'updatePriority', k: b, p: Number.NaN },
        { op: 'updatePriority', k: b },
        { op: 'updateValue', k: b, v: 5 },
        { op: 'casValue', k: b, expected: null, next: null },
        { op: 'casValue', k: b, expected: b, next: 1 },
        { op: 'remove', keys: ['x'] },
        { op: 'removeRange', from: null, to: null },
        { op: 'removeRange', from: Number.NaN, to: null, inclusive: true },
        { op: 'removeRange', from: undefined, to: null, inclusive: true },
        { op: 'removeRange', from: null, to: [1], inclusive: false },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = c.make();
      for (const f of c.fill) m.apply(f as never);
      if (c.name === 'once') m.apply({ op: 'write', v: e('set') } as never);
      const before = m.snapshot();
      for (const bad of [...common, ...c.bad]) {
        expect(m.apply(bad as never), JSON.stringify(bad)).toBeUndefined();
        expect(m.snapshot(), JSON.stringify(bad)).toEqual(before);
      }
    });
  }
});

// ---- snapshots ------------------------------------------------------------------------

describe('snapshot / restore', () => {
  it('restoring a fresh machine’s snapshot (the genesis) empties every machine', () => {
    const map = newMap();
    map.run(mExt([1, 1], [2, 2]));
    map.restore(new MapMachine('x').snapshot());
    expect(map.size).toBe(0);
    const vec = newVec();
    vec.run(vExt(1, 2));
    vec.restore(new VecMachine('x').snapshot());
    expect(vec.length).toBe(0);
    const set = newSet();
    set.run(sExt(1, 2));
    set.restore(new SetMachine('x').snapshot());
    expect(set.size).toBe(0);
    const cell = newCell();
    cell.run(cWrite(1));
    cell.restore(new CellMachine('x').snapshot());
    expect(cell.read()).toBeUndefined();
    const once = new OnceMachine('x');
    once.apply({ op: 'write', v: e(1) });
    once.restore(new OnceMachine('x').snapshot());
    expect(once.read()).toBeUndefined();
    expect(once.apply({ op: 'write', v: e(2) })).toEqual({ swapped: true });
    const pq = newPq(5);
    pq.run(FIVE);
    pq.restore(new PriorityQueueMachine('x', 5).snapshot());
    expect(pq.size).toBe(0);
    expect(pq.min()).toBeUndefined();
  });

  it('keeps iteration order, bucket order and values; the copy is independent', () => {
    const m = newMap();
    m.run(mExt(['c', 3], ['a', 1], ['b', 2]));
    m.run(mIns('a', 10));
    const r = newMap();
    r.restore(m.snapshot());
    expect(r.obj()).toEqual(m.obj());
    r.run(mRem('c'));
    expect(m.size).toBe(3);

    const p = newPq();
    p.run(pExt([10, 'x', 1], [5, 'y', 2], [10, 'z', 3], [10, 'w', 4]));
    p.run({ op: 'updatePriority', k: e('x'), p: 7 });
    p.run({ op: 'updatePriority', k: e('x'), p: 10 });
    const q = newPq();
    q.restore(p.snapshot());
    expect(q.asc()).toEqual(p.asc());
    expect(q.asc().map((x) => (x as unknown[])[1])).toEqual(['y', 'z', 'w', 'x']);
    expect(q.snapshot()).toEqual(p.snapshot());
  });

  it('rejects bytes that are not its snapshot, changing nothing', () => {
    const m = newMap();
    m.run(mIns(1, 1));
    const before = m.snapshot();
    const bad = [
      new Uint8Array([0xc1]),
      new Uint8Array(),
      encode(['set/1', []]),
      encode(['map/1', [[e(1)]]]),
      encode([
        'map/1',
        [
          [e(1), e(1)],
          [e(1), e(2)],
        ],
      ]),
      encode({ items: [] }),
    ];
    for (const s of bad) expect(() => m.restore(s)).toThrow();
    expect(m.snapshot()).toEqual(before);
    const p = newPq();
    expect(() =>
      p.restore(
        encode([
          'depq/1',
          [
            [2, e(1), e(1)],
            [1, e(2), e(2)],
          ],
        ]),
      ),
    ).toThrow(); // out of order
    expect(() =>
      p.restore(
        encode([
          'depq/1',
          [
            [1, e(1), e(1)],
            [2, e(2), e(2)],
            [1, e(3), e(3)],
          ],
        ]),
      ),
    ).toThrow(); // split bucket
    expect(() => p.restore(encode(['depq/1', [[Number.NaN, e(1), e(1)]]]))).toThrow();
    expect(() => new VecMachine('v').restore(encode(['vec/1', [1]]))).toThrow();
    expect(() => new CellMachine('c').restore(encode(['cell/1', [e(1), e(2)]]))).toThrow();
    expect(() => new OnceMachine('o').restore(encode(['cell/1', []]))).toThrow();
  });

  it('a depq snapshot over capacity is trimmed as inserts would', () => {
    const big = newPq();
    big.run(FIVE);
    const small = newPq(2);
    small.restore(big.snapshot());
    expect(small.asc().map((x) => (x as unknown[])[1])).toEqual([4, 5]);
  });

  it('stores private copies of the bytes it is given', () => {
    const k = e('k');
    const v = e('v');
    const m = newMap();
    m.run({ op: 'insert', k, v });
    k.fill(0);
    v.fill(0);
    expect(m.obj()).toEqual([['k', 'v']]);
    const kb = Buffer.from(e('kb'));
    const vb = Buffer.from(e('vb'));
    m.run({ op: 'insert', k: kb, v: vb }); // a Buffer's slice() would alias
    kb.fill(0);
    vb.fill(0);
    expect(m.obj()).toEqual([
      ['k', 'v'],
      ['kb', 'vb'],
    ]);
    expect(Object.getPrototypeOf([...m.values()][1])).toBe(Uint8Array.prototype);
  });
});

// ---- scale --------------------------------------------------------------------------

describe('scale: 100k entries', () => {
  const N = 100_000;
  it('map, set, vec, priority queue: build, snapshot, restore, drain', () => {
    const map = new MapMachine('m');
    const set = new SetMachine('s');
    const vec = new VecMachine('v');
    const pq = new PriorityQueueMachine('p', N / 2);
    for (let i = 0; i < N; i++) {
      const b = e(i);
      map.apply({ op: 'insert', k: b, v: b });
      set.apply({ op: 'insert', v: b });
      vec.apply(i % 2 === 0 ? { op: 'pushFront', v: b } : { op: 'pushBack', v: b });
      pq.apply({ op: 'insert', p: (i * 7919) % 1000, k: b, v: b });
    }
    expect([map.size, set.size, vec.length, pq.size]).toEqual([N, N, N, N / 2]);
    for (const m of [map, set, vec, pq] as { snapshot(): Uint8Array; restore(s: Uint8Array): void }[]) {
      const s = m.snapshot();
      m.restore(s);
      expect(bytesEqual(m.snapshot(), s)).toBe(true);
    }
    expect(pq.minPriority()).toBe(500);
    pq.apply({ op: 'removeRange', from: null, to: 900, inclusive: false });
    expect(pq.minPriority()).toBe(900);
    for (let i = 0; i < N; i++) {
      const b = e(i);
      map.apply({ op: 'remove', keys: [b] });
      vec.apply({ op: 'popFront' });
      pq.apply({ op: 'remove', keys: [b] });
    }
    expect([map.size, vec.length, pq.size, pq.minPriority()]).toEqual([0, 0, 0, undefined]);
  });
});
