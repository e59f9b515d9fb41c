import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../core/collections/bytes-key.ts';
import type { Bytes, Priority, WriteResult } from '../../core/collections/commands.ts';
import { CellMachine, MapMachine, OnceMachine, PriorityQueueMachine, SetMachine, VecMachine } from '../../core/collections/index.ts';

/**
 * Model-based tests: each machine, fed random commands (and malformed ones), must agree
 * after every step with a plain model over decoded values whose semantics are obviously
 * right (arrays searched with ===). Then: snapshot → restore into a fresh (or a dirty)
 * machine gives identical reads and iteration, and keeps agreeing under further commands;
 * two machines fed the same commands give byte-identical snapshots.
 */

type Val = number | string;
const e = (v: Val): Bytes => encode(v);
const d = (b: Bytes): unknown => decode(b);

/** Few distinct values, so keys collide and compare-and-swaps sometimes match. */
const VALUES: readonly Val[] = [-2, -1, 0, 1, 2, 3, 'a', 'b', 'c', '1'];
const val: fc.Arbitrary<Val> = fc.constantFrom(...VALUES);
const valOrNull: fc.Arbitrary<Val | null> = fc.option(val, { nil: null, freq: 3 });
const b1 = e(1);

/** Machine results with `taken` decoded, as the model states them. */
function norm(r: unknown): unknown {
  if (r === undefined) return undefined;
  const w = r as WriteResult;
  return w.taken === undefined || w.taken === null ? { ...w } : { ...w, taken: d(w.taken) };
}

/** Commands that are not of the machine's shape: applying one changes nothing and gives undefined. */
const commonMalformed: unknown[] = [null, 7, 'clear', [], {}, { op: 3 }, { op: 'bogus' }, { op: 'extend' }, { op: 'remove' }];

interface Machine {
  apply(c: never): unknown;
  snapshot(): Uint8Array;
  restore(s: Uint8Array): void;
}

/** One machine under test: how to build it and its model, generate and encode commands, and read both alike. */
interface Spec<M extends Machine, Model, Cmd> {
  readonly name: string;
  /** Extra parameters drawn per run (the priority queue's capacity). */
  readonly params: fc.Arbitrary<number>;
  make(param: number): M;
  model(param: number): Model;
  readonly command: fc.Arbitrary<Cmd | { readonly raw: unknown }>;
  encode(c: Cmd): unknown;
  /** Applies to the model; returns the result the machine must give. */
  step(model: Model, c: Cmd): unknown;
  /** Everything observable through the machine's read methods, decoded. */
  read(m: M): unknown;
  readModel(model: Model): unknown;
}

function raw(x: unknown): { readonly raw: unknown } {
  return { raw: x };
}
const isRaw = (c: unknown): c is { readonly raw: unknown } => typeof c === 'object' && c !== null && 'raw' in c;

function applyBoth<M extends Machine, Model, Cmd>(spec: Spec<M, Model, Cmd>, m: M, model: Model, c: Cmd | { readonly raw: unknown }): void {
  if (isRaw(c)) {
    const before = m.snapshot();
    expect(m.apply(c.raw as never)).toBeUndefined();
    expect(bytesEqual(m.snapshot(), before)).toBe(true);
    return;
  }
  const got = norm(m.apply(spec.encode(c) as never));
  expect(got).toEqual(spec.step(model, c));
}

// ---- Map ----------------------------------------------------------------------------

type MapCmd =
  | { op: 'insert'; k: Val; v: Val }
  | { op: 'extend'; entries: [Val, Val][] }
  | { op: 'remove'; keys: Val[] }
  | { op: 'clear' }
  | { op: 'cas'; k: Val; expected: Val | null; next: Val | null };
type MapModel = [Val, Val][];

const mapSpec: Spec<MapMachine, MapModel, MapCmd> = {
  name: 'Map',
  params: fc.constant(0),
  make: () => new MapMachine('test/map'),
  model: () => [],
  command: fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('insert' as const), k: val, v: val }), weight: 5 },
    fc.record({ op: fc.constant('extend' as const), entries: fc.array(fc.tuple(val, val), { maxLength: 4 }) }),
    fc.record({ op: fc.constant('remove' as const), keys: fc.array(val, { maxLength: 3 }) }),
    { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('cas' as const), k: val, expected: valOrNull, next: valOrNull }), weight: 4 },
    fc.constantFrom(
      ...[...commonMalformed, { op: 'insert', k: 1, v: b1 }, { op: 'extend', entries: [[b1, b1], [b1]] }, { op: 'cas', k: b1, expected: 0, next: null }].map(
        raw,
      ),
    ),
  ),
  encode: (c) => {
    switch (c.op) {
      case 'insert':
        return { op: 'insert', k: e(c.k), v: e(c.v) };
      case 'extend':
        return { op: 'extend', entries: c.entries.map(([k, v]) => [e(k), e(v)]) };
      case 'remove':
        return { op: 'remove', keys: c.keys.map(e) };
      case 'clear':
        return c;
      case 'cas':
        return { op: 'cas', k: e(c.k), expected: c.expected === null ? null : e(c.expected), next: c.next === null ? null : e(c.next) };
    }
  },
  step: (m, c) => {
    const set = (k: Val, v: Val): void => {
      const i = m.findIndex(([x]) => x === k);
      if (i < 0) m.push([k, v]);
      else m[i] = [k, v];
    };
    switch (c.op) {
      case 'insert':
        set(c.k, c.v);
        return undefined;
      case 'extend':
        for (const [k, v] of c.entries) set(k, v);
        return undefined;
      case 'remove':
        for (const k of c.keys) {
          const i = m.findIndex(([x]) => x === k);
          if (i >= 0) m.splice(i, 1);
        }
        return undefined;
      case 'clear':
        m.length = 0;
        return undefined;
      case 'cas': {
        const i = m.findIndex(([x]) => x === c.k);
        const current = i < 0 ? null : (m[i] as [Val, Val])[1];
        if (current !== c.expected) return { swapped: false };
        if (c.next === null) {
          if (i >= 0) m.splice(i, 1);
        } else set(c.k, c.next);
        return { swapped: true };
      }
    }
  },
  read: (m) => ({
    size: m.size,
    entries: [...m.entries()].map(([k, v]) => [d(k), d(v)]),
    keys: [...m.keys()].map(d),
    values: [...m.values()].map(d),
    lookups: VALUES.map((k) => [m.has(e(k)), m.get(e(k)) === undefined ? undefined : d(m.get(e(k)) as Bytes)]),
  }),
  readModel: (m) => ({
    size: m.length,
    entries: m.map(([k, v]) => [k, v]),
    keys: m.map(([k]) => k),
    values: m.map(([, v]) => v),
    lookups: VALUES.map((k) => {
      const hit = m.find(([x]) => x === k);
      return [hit !== undefined, hit?.[1]];
    }),
  }),
};

// ---- Vec ----------------------------------------------------------------------------

type VecCmd =
  | { op: 'pushBack' | 'pushFront'; v: Val }
  | { op: 'insert'; i: number; v: Val }
  | { op: 'swap'; i: number; j: number }
  | { op: 'popBack' | 'popFront' | 'clear' }
  | { op: 'remove'; i: number }
  | { op: 'truncate'; len: number }
  | { op: 'extend'; vs: Val[] };

const idx = fc.nat({ max: 9 });
const vecSpec: Spec<VecMachine, Val[], VecCmd> = {
  name: 'Vec',
  params: fc.constant(0),
  make: () => new VecMachine('test/vec'),
  model: () => [],
  command: fc.oneof(
    { arbitrary: fc.record({ op: fc.constantFrom('pushBack' as const, 'pushFront' as const), v: val }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('insert' as const), i: idx, v: val }), weight: 3 },
    fc.record({ op: fc.constant('swap' as const), i: idx, j: idx }),
    { arbitrary: fc.record({ op: fc.constantFrom('popBack' as const, 'popFront' as const) }), weight: 3 },
    { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
    fc.record({ op: fc.constant('remove' as const), i: idx }),
    fc.record({ op: fc.constant('truncate' as const), len: idx }),
    fc.record({ op: fc.constant('extend' as const), vs: fc.array(val, { maxLength: 5 }) }),
    fc.constantFrom(
      ...[
        ...commonMalformed,
        { op: 'insert', i: -1, v: b1 },
        { op: 'insert', i: 0.5, v: b1 },
        { op: 'remove', i: '0' },
        { op: 'swap', i: 0, j: -1 },
        { op: 'truncate', len: Number.NaN },
        { op: 'extend', vs: [b1, 1] },
      ].map(raw),
    ),
  ),
  encode: (c) => {
    switch (c.op) {
      case 'pushBack':
      case 'pushFront':
      case 'insert':
        return { ...c, v: e(c.v) };
      case 'extend':
        return { op: 'extend', vs: c.vs.map(e) };
      default:
        return c;
    }
  },
  step: (a, c) => {
    switch (c.op) {
      case 'pushBack':
        a.push(c.v);
        return undefined;
      case 'pushFront':
        a.unshift(c.v);
        return undefined;
      case 'insert':
        if (c.i > a.length) return { outOfRange: true };
        a.splice(c.i, 0, c.v);
        return undefined;
      case 'swap':
        if (c.i < a.length && c.j < a.length) [a[c.i], a[c.j]] = [a[c.j] as Val, a[c.i] as Val];
        return undefined;
      case 'popBack':
        return { taken: a.pop() ?? null };
      case 'popFront':
        return { taken: a.shift() ?? null };
      case 'remove':
        return { taken: c.i < a.length ? a.splice(c.i, 1)[0] : null };
      case 'truncate':
        if (c.len < a.length) a.length = c.len;
        return undefined;
      case 'extend':
        a.push(...c.vs);
        return undefined;
      case 'clear':
        a.length = 0;
        return undefined;
    }
  },
  read: (m) => {
    const at = (b: Bytes | undefined): unknown => (b === undefined ? undefined : d(b));
    return {
      length: m.length,
      values: [...m.values()].map(d),
      byIndex: [-1, 0, 1, 2, 3, 5, 8, 13, 1.5].map((i) => at(m.get(i))),
      ends: [at(m.front()), at(m.back())],
      search: VALUES.map((v) => [m.indexOf(e(v)), m.includes(e(v))]),
    };
  },
  readModel: (a) => {
    const index = (i: number): Val | undefined => (Number.isInteger(i) && i >= 0 ? a[i] : undefined);
    return {
      length: a.length,
      values: [...a],
      byIndex: [-1, 0, 1, 2, 3, 5, 8, 13, 1.5].map(index),
      ends: [a[0], a[a.length - 1]],
      search: VALUES.map((v) => [a.indexOf(v) < 0 ? undefined : a.indexOf(v), a.includes(v)]),
    };
  },
};

// ---- Set ----------------------------------------------------------------------------

type SetCmd = { op: 'insert'; v: Val } | { op: 'extend' | 'remove'; vs: Val[] } | { op: 'clear' };

const setSpec: Spec<SetMachine, Val[], SetCmd> = {
  name: 'Set',
  params: fc.constant(0),
  make: () => new SetMachine('test/set'),
  model: () => [],
  command: fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('insert' as const), v: val }), weight: 5 },
    { arbitrary: fc.record({ op: fc.constantFrom('extend' as const, 'remove' as const), vs: fc.array(val, { maxLength: 4 }) }), weight: 3 },
    { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
    fc.constantFrom(...[...commonMalformed, { op: 'insert', v: 1 }, { op: 'remove', vs: [b1, null] }].map(raw)),
  ),
  encode: (c) => (c.op === 'insert' ? { op: 'insert', v: e(c.v) } : c.op === 'clear' ? c : { op: c.op, vs: c.vs.map(e) }),
  step: (a, c) => {
    const add = (v: Val): void => {
      if (!a.includes(v)) a.push(v);
    };
    switch (c.op) {
      case 'insert':
        add(c.v);
        break;
      case 'extend':
        for (const v of c.vs) add(v);
        break;
      case 'remove':
        for (const v of c.vs) if (a.includes(v)) a.splice(a.indexOf(v), 1);
        break;
      case 'clear':
        a.length = 0;
    }
    return undefined;
  },
  read: (m) => ({ size: m.size, values: [...m.values()].map(d), has: VALUES.map((v) => m.has(e(v))) }),
  readModel: (a) => ({ size: a.length, values: [...a], has: VALUES.map((v) => a.includes(v)) }),
};

// ---- Cell and Once ------------------------------------------------------------------

type CellCmd = { op: 'write'; v: Val } | { op: 'clear' } | { op: 'cas'; expected: Val | null; next: Val | null };
type Box = { v: Val | null };

const cellSpec: Spec<CellMachine, Box, CellCmd> = {
  name: 'Cell',
  params: fc.constant(0),
  make: () => new CellMachine('test/cell'),
  model: () => ({ v: null }),
  command: fc.oneof(
    fc.record({ op: fc.constant('write' as const), v: val }),
    { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('cas' as const), expected: valOrNull, next: valOrNull }), weight: 3 },
    fc.constantFrom(...[...commonMalformed, { op: 'write', v: 1 }, { op: 'cas', expected: b1 }].map(raw)),
  ),
  encode: (c) =>
    c.op === 'write'
      ? { op: 'write', v: e(c.v) }
      : c.op === 'clear'
        ? c
        : { op: 'cas', expected: c.expected === null ? null : e(c.expected), next: c.next === null ? null : e(c.next) },
  step: (box, c) => {
    switch (c.op) {
      case 'write':
        box.v = c.v;
        return undefined;
      case 'clear':
        box.v = null;
        return undefined;
      case 'cas':
        if (box.v !== c.expected) return { swapped: false };
        box.v = c.next;
        return { swapped: true };
    }
  },
  read: (m) => {
    const b = m.read();
    return b === undefined ? null : d(b);
  },
  readModel: (box) => box.v,
};

const onceSpec: Spec<OnceMachine, Box, { op: 'write'; v: Val }> = {
  name: 'Once',
  params: fc.constant(0),
  make: () => new OnceMachine('test/once'),
  model: () => ({ v: null }),
  command: fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('write' as const), v: val }), weight: 4 },
    fc.constantFrom(...[...commonMalformed, { op: 'write', v: 'x' }, { op: 'clear' }].map(raw)),
  ),
  encode: (c) => ({ op: 'write', v: e(c.v) }),
  step: (box, c) => {
    if (box.v !== null) return { swapped: false };
    box.v = c.v;
    return { swapped: true };
  },
  read: (m) => {
    const b = m.read();
    return b === undefined ? null : d(b);
  },
  readModel: (box) => box.v,
};

// ---- PriorityQueue ------------------------------------------------------------------

type PqCmd =
  | { op: 'insert'; p: Priority; k: Val; v: Val }
  | { op: 'extend'; entries: [Priority, Val, Val][] }
  | { op: 'updatePriority'; k: Val; p: Priority }
  | { op: 'updateValue'; k: Val; v: Val }
  | { op: 'casValue'; k: Val; expected: Val; next: Val | null }
  | { op: 'remove'; keys: Val[] }
  | { op: 'removeRange'; from: Priority | null; to: Priority | null; inclusive: boolean }
  | { op: 'clear' };

/** The model: entries in the order they entered their priority; capacity alongside. */
interface PqModel {
  readonly capacity: number;
  list: { p: Priority; k: Val; v: Val }[];
}

/** Numbers (by value) before strings (by code units), written out independently of the machine's. */
function cmp(a: Priority, b: Priority): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const priority: fc.Arbitrary<Priority> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 4 }), weight: 4 },
  { arbitrary: fc.constantFrom(-1.5, 2.5, 'm', 'x', 'xx'), weight: 1 },
);
const priorityOrNull = fc.option(priority, { nil: null, freq: 3 });

function pqInsert(m: PqModel, p: Priority, k: Val, v: Val): void {
  const i = m.list.findIndex((x) => x.k === k);
  if (i >= 0) {
    const old = m.list[i] as { p: Priority; k: Val; v: Val };
    if (old.p === p) old.v = v;
    else {
      m.list.splice(i, 1);
      m.list.push({ p, k, v });
    }
    return;
  }
  m.list.push({ p, k, v });
  if (m.list.length > m.capacity) {
    const lowest = m.list.reduce((lo, x) => (cmp(x.p, lo) < 0 ? x.p : lo), (m.list[0] as { p: Priority }).p);
    m.list.splice(
      m.list.findIndex((x) => x.p === lowest),
      1,
    );
  }
}

const ascending = (m: PqModel) => [...m.list].sort((a, b) => cmp(a.p, b.p));
const descending = (m: PqModel) => [...m.list].sort((a, b) => cmp(b.p, a.p));
const triple = (x: { p: Priority; k: Val; v: Val } | undefined) => (x === undefined ? undefined : [x.p, x.k, x.v]);
const decodedTriple = (x: readonly [Priority, Bytes, Bytes] | undefined) => (x === undefined ? undefined : [x[0], d(x[1]), d(x[2])]);

const pqSpec: Spec<PriorityQueueMachine, PqModel, PqCmd> = {
  name: 'PriorityQueue',
  params: fc.constantFrom(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 1, 2, 3, 5),
  make: (capacity) => new PriorityQueueMachine('test/depq', capacity),
  model: (capacity) => ({ capacity, list: [] }),
  command: fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('insert' as const), p: priority, k: val, v: val }), weight: 6 },
    fc.record({ op: fc.constant('extend' as const), entries: fc.array(fc.tuple(priority, val, val), { maxLength: 4 }) }),
    { arbitrary: fc.record({ op: fc.constant('updatePriority' as const), k: val, p: priority }), weight: 2 },
    fc.record({ op: fc.constant('updateValue' as const), k: val, v: val }),
    { arbitrary: fc.record({ op: fc.constant('casValue' as const), k: val, expected: val, next: valOrNull }), weight: 2 },
    fc.record({ op: fc.constant('remove' as const), keys: fc.array(val, { maxLength: 3 }) }),
    { arbitrary: fc.record({ op: fc.constant('removeRange' as const), from: priorityOrNull, to: priorityOrNull, inclusive: fc.boolean() }), weight: 2 },
    { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
    fc.constantFrom(
      ...[
        ...commonMalformed,
        { op: 'insert', p: Number.NaN, k: b1, v: b1 },
        { op: 'insert', p: 1, k: b1 },
        {
          op: 'extend',
          entries: [
            [1, b1, b1],
            [1, b1],
          ],
        },
        { op: 'updatePriority', k: b1, p: null },
        { op: 'casValue', k: b1, expected: null, next: null },
        { op: 'removeRange', from: null, to: null },
      ].map(raw),
    ),
  ),
  encode: (c) => {
    switch (c.op) {
      case 'insert':
        return { op: 'insert', p: c.p, k: e(c.k), v: e(c.v) };
      case 'extend':
        return { op: 'extend', entries: c.entries.map(([p, k, v]) => [p, e(k), e(v)]) };
      case 'updatePriority':
        return { op: 'updatePriority', k: e(c.k), p: c.p };
      case 'updateValue':
        return { op: 'updateValue', k: e(c.k), v: e(c.v) };
      case 'casValue':
        return { op: 'casValue', k: e(c.k), expected: e(c.expected), next: c.next === null ? null : e(c.next) };
      case 'remove':
        return { op: 'remove', keys: c.keys.map(e) };
      default:
        return c;
    }
  },
  step: (m, c) => {
    const find = (k: Val) => m.list.find((x) => x.k === k);
    switch (c.op) {
      case 'insert':
        pqInsert(m, c.p, c.k, c.v);
        return undefined;
      case 'extend':
        for (const [p, k, v] of c.entries) pqInsert(m, p, k, v);
        return undefined;
      case 'updatePriority': {
        const x = find(c.k);
        if (x !== undefined) pqInsert(m, c.p, c.k, x.v);
        return undefined;
      }
      case 'updateValue': {
        const x = find(c.k);
        if (x !== undefined) x.v = c.v;
        return undefined;
      }
      case 'casValue': {
        const x = find(c.k);
        if (x === undefined || x.v !== c.expected) return { swapped: false };
        if (c.next === null) m.list = m.list.filter((y) => y !== x);
        else x.v = c.next;
        return { swapped: true };
      }
      case 'remove':
        m.list = m.list.filter((x) => !c.keys.includes(x.k));
        return undefined;
      case 'removeRange': {
        const { from, to, inclusive } = c;
        const inRange = (p: Priority) => (from === null || cmp(p, from) >= 0) && (to === null || (inclusive ? cmp(p, to) <= 0 : cmp(p, to) < 0));
        m.list = m.list.filter((x) => !inRange(x.p));
        return undefined;
      }
      case 'clear':
        m.list = [];
        return undefined;
    }
  },
  read: (m) => ({
    size: m.size,
    capacity: m.capacity,
    asc: [...m.entries()].map(decodedTriple),
    desc: [...m.entriesDesc()].map(decodedTriple),
    min: decodedTriple(m.min()),
    max: decodedTriple(m.max()),
    priorities: [m.minPriority(), m.maxPriority()],
    lookups: VALUES.map((k) => {
      const g = m.get(e(k));
      return [m.has(e(k)), g === undefined ? undefined : [g.p, d(g.v)], m.getPriority(e(k))];
    }),
  }),
  readModel: (m) => {
    const asc = ascending(m);
    const desc = descending(m);
    return {
      size: m.list.length,
      capacity: m.capacity,
      asc: asc.map(triple),
      desc: desc.map(triple),
      min: triple(asc[0]),
      max: triple(desc[0]),
      priorities: [asc[0]?.p, desc[0]?.p],
      lookups: VALUES.map((k) => {
        const x = m.list.find((y) => y.k === k);
        return [x !== undefined, x === undefined ? undefined : [x.p, x.v], x?.p];
      }),
    };
  },
};

// ---- the properties -----------------------------------------------------------------

const RUNS = 150;

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous list of specs, each used consistently
const specs: Spec<any, any, any>[] = [mapSpec, vecSpec, setSpec, cellSpec, onceSpec, pqSpec];

for (const spec of specs) {
  describe(spec.name, () => {
    const commands = fc.array(spec.command, { maxLength: 60 });

    it('agrees with the model after every command (results and every read)', () => {
      fc.assert(
        fc.property(spec.params, commands, (param, cmds) => {
          const m = spec.make(param);
          const model = spec.model(param);
          for (const c of cmds) {
            applyBoth(spec, m, model, c);
            expect(spec.read(m)).toEqual(spec.readModel(model));
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('snapshot → restore (into a fresh or a dirty machine) reads and iterates identically, and stays identical', () => {
      fc.assert(
        fc.property(spec.params, commands, commands, commands, (param, before, dirt, after) => {
          const a = spec.make(param);
          const model = spec.model(param);
          for (const c of before) applyBoth(spec, a, model, c);
          const snap = a.snapshot();

          const fresh = spec.make(param);
          fresh.restore(snap);
          const dirty = spec.make(param);
          const dirtModel = spec.model(param);
          for (const c of dirt) applyBoth(spec, dirty, dirtModel, c);
          dirty.restore(snap);
          for (const r of [fresh, dirty]) {
            expect(spec.read(r)).toEqual(spec.read(a));
            expect(bytesEqual(r.snapshot(), snap)).toBe(true);
          }

          // the restored copies behave as the original under further commands
          const modelFresh = structuredClone(model);
          const modelDirty = structuredClone(model);
          for (const c of after) {
            applyBoth(spec, a, model, c);
            applyBoth(spec, fresh, modelFresh, c);
            applyBoth(spec, dirty, modelDirty, c);
          }
          const end = a.snapshot();
          expect(bytesEqual(fresh.snapshot(), end)).toBe(true);
          expect(bytesEqual(dirty.snapshot(), end)).toBe(true);
          expect(spec.read(fresh)).toEqual(spec.readModel(model));

          // the genesis snapshot empties it again
          a.restore(spec.make(param).snapshot());
          expect(spec.read(a)).toEqual(spec.read(spec.make(param)));
          expect(spec.read(a)).toEqual(spec.readModel(spec.model(param)));
        }),
        { numRuns: RUNS },
      );
    });

    it('two machines fed the same commands give byte-identical snapshots', () => {
      fc.assert(
        fc.property(spec.params, commands, (param, cmds) => {
          const a = spec.make(param);
          const b = spec.make(param);
          for (const c of cmds) {
            const encoded = isRaw(c) ? c.raw : spec.encode(c);
            // each replica decodes its own copy of the command from the log
            const ra = a.apply(encoded as never);
            const rb = b.apply((isRaw(c) ? c.raw : spec.encode(c)) as never);
            expect(norm(ra)).toEqual(norm(rb));
          }
          expect(bytesEqual(a.snapshot(), b.snapshot())).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });
  });
}

describe('Set.isSubsetOf', () => {
  it('agrees with the model', () => {
    fc.assert(
      fc.property(fc.array(setSpec.command, { maxLength: 30 }), fc.array(val, { maxLength: 8 }), (cmds, others) => {
        const m = setSpec.make(0);
        const model = setSpec.model(0);
        for (const c of cmds) applyBoth(setSpec, m, model, c);
        const o = new SetMachine('test/set');
        o.apply({ op: 'extend', vs: others.map(e) });
        expect(m.isSubsetOf(o)).toBe(model.every((v) => others.includes(v)));
        expect(o.isSubsetOf(m)).toBe(others.every((v) => model.includes(v)));
        expect(m.isSubsetOf(m)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
