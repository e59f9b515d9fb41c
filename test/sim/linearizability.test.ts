import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CounterInput,
  type CounterOutput,
  checkLinearizable,
  counterModel,
  type KvInput,
  kvModel,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
} from '../../net-sim/checkers/linearizability.ts';
import { rngStream } from '../../net-sim/rng.ts';

type RegOp = Operation<RegisterInput, RegisterOutput>;
type CounterOp = Operation<CounterInput, CounterOutput>;

// `ret` undefined: the operation never returned (pending).
const write = (client: number, value: RegisterValue, call: number, ret: number | undefined): RegOp => ({
  client,
  input: { kind: 'write', value },
  call,
  ret,
  output: undefined,
});
const read = (client: number, value: RegisterValue, call: number, ret: number): RegOp => ({ client, input: { kind: 'read' }, call, ret, output: value });
const cas = (client: number, expected: RegisterValue, next: RegisterValue, swapped: boolean | undefined, call: number, ret: number | undefined): RegOp => ({
  client,
  input: { kind: 'cas', expected, next },
  call,
  ret,
  output: swapped,
});
const add = (client: number, delta: number, result: number | undefined, call: number, ret: number | undefined): CounterOp => ({
  client,
  input: { kind: 'add', delta },
  call,
  ret,
  output: result,
});
const readCounter = (client: number, value: number, call: number, ret: number): CounterOp => ({ client, input: { kind: 'read' }, call, ret, output: value });

describe('checkLinearizable: register', () => {
  it('accepts a sequential history', () => {
    const ops = [write(0, 1, 0, 1), read(1, 1, 2, 3), write(1, 'a', 4, 5), read(0, 'a', 6, 7), write(0, null, 8, 9), read(2, null, 10, 11)];
    expect(checkLinearizable(registerModel, ops)).toEqual({ ok: true });
  });

  it('accepts the empty history and a read of the initial value', () => {
    expect(checkLinearizable(registerModel, [])).toEqual({ ok: true });
    expect(checkLinearizable(registerModel, [read(0, null, 0, 1)])).toEqual({ ok: true });
  });

  it('accepts concurrent histories that have a valid order, in either direction', () => {
    // Two overlapping writes: either may win.
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 10), write(1, 2, 1, 9), read(2, 1, 11, 12)]).ok).toBe(true);
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 10), write(1, 2, 1, 9), read(2, 2, 11, 12)]).ok).toBe(true);
    // A read overlapping a write may see the old or the new value.
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 10), read(1, null, 2, 3)]).ok).toBe(true);
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 10), read(1, 1, 2, 3)]).ok).toBe(true);
    // The read was called before the write but overlaps it, and sees it.
    expect(checkLinearizable(registerModel, [read(1, 1, 0, 10), write(0, 1, 2, 3)]).ok).toBe(true);
  });

  it('rejects a new-then-old inversion between two reads during one write', () => {
    const ops = [write(0, 1, 0, 100), read(1, 1, 10, 20), read(2, null, 30, 40)];
    expect(checkLinearizable(registerModel, ops).ok).toBe(false);
  });

  it('treats a return at the same instant as a call as concurrent (precedes means ret < call)', () => {
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 5), read(1, null, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 5), read(1, null, 6, 7)]).ok).toBe(false);
  });

  it('rejects a stale read and reports the longest prefix and the stuck read', () => {
    const ops = [write(0, 1, 0, 1), read(1, null, 2, 3)];
    const result = checkLinearizable(registerModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.partition).toBe(0);
    expect(result.longestPrefix).toEqual(['client 0: write(1) [0, 1]']);
    expect(result.counterexample).toContain('cannot linearize: client 1: read() -> null [2, 3]');
    expect(result.counterexample).toContain('state after that prefix: 1');
  });

  it('rejects a read of a value never written', () => {
    const ops = [write(0, 1, 0, 10), write(1, 2, 0, 10), read(2, 3, 5, 15)];
    const result = checkLinearizable(registerModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.counterexample).toContain('read() -> 3');
  });

  it('lets a pending write take effect or not', () => {
    // Seen by a later read, even long after the write was called.
    expect(checkLinearizable(registerModel, [write(0, 1, 0, undefined), read(1, 1, 5, 6)]).ok).toBe(true);
    // Never seen.
    expect(checkLinearizable(registerModel, [write(0, 1, 0, undefined), read(1, null, 5, 6), read(1, null, 100, 101)]).ok).toBe(true);
    // Seen only late: it took effect between the reads.
    expect(checkLinearizable(registerModel, [write(0, 1, 0, undefined), read(1, null, 5, 6), read(1, 1, 100, 101)]).ok).toBe(true);
    // A pending write cannot take effect before it was called.
    expect(checkLinearizable(registerModel, [read(1, 1, 0, 1), write(0, 1, 5, undefined)]).ok).toBe(false);
  });

  it('rejects a pending write that is seen and then unseen', () => {
    const ops = [write(0, 1, 0, undefined), read(1, 1, 5, 6), read(1, null, 10, 11)];
    const result = checkLinearizable(registerModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.longestPrefix).toEqual(['client 0: write(1) [0, pending]', 'client 1: read() -> 1 [5, 6]']);
  });

  it('ignores the recorded output of an operation that never returned', () => {
    // A nonsense output on a pending read must not count.
    const pendingRead: RegOp = { client: 1, input: { kind: 'read' }, call: 0, ret: undefined, output: 42 };
    expect(checkLinearizable(registerModel, [write(0, 1, 0, 1), pendingRead]).ok).toBe(true);
  });

  it('checks compare-and-set', () => {
    expect(checkLinearizable(registerModel, [cas(0, null, 1, true, 0, 1), cas(1, null, 2, false, 2, 3), read(2, 1, 4, 5)]).ok).toBe(true);
    // Swapped although the value did not match.
    expect(checkLinearizable(registerModel, [write(0, 5, 0, 1), cas(1, null, 2, true, 2, 3)]).ok).toBe(false);
    // Failed although the value matched and nothing else could have changed it.
    expect(checkLinearizable(registerModel, [write(0, 5, 0, 1), cas(1, 5, 2, false, 2, 3)]).ok).toBe(false);
    // Two concurrent swaps from the same expected value cannot both succeed...
    expect(checkLinearizable(registerModel, [cas(0, null, 1, true, 0, 10), cas(1, null, 2, true, 0, 10)]).ok).toBe(false);
    // ...but one may win and the other see its result.
    expect(checkLinearizable(registerModel, [cas(0, null, 1, true, 0, 10), cas(1, null, 2, false, 0, 10), read(2, 1, 11, 12)]).ok).toBe(true);
    // A pending swap may have happened.
    expect(checkLinearizable(registerModel, [cas(0, null, 7, undefined, 0, undefined), read(1, 7, 5, 6)]).ok).toBe(true);
  });

  it('does not mistake writing the current value for a read', () => {
    // write(null) changes nothing at first, but the only valid order runs it after the first swap.
    const ops = [write(0, null, 0, 0), cas(1, null, 0, true, 0, 0), cas(2, null, null, true, 1, 1)];
    expect(checkLinearizable(registerModel, ops).ok).toBe(true);
  });

  it('rejects invalid times', () => {
    expect(() => checkLinearizable(registerModel, [read(0, null, 5, 4)])).toThrow(RangeError);
    expect(() => checkLinearizable(registerModel, [read(0, null, Number.NaN, 4)])).toThrow(RangeError);
  });
});

describe('checkLinearizable: counter', () => {
  it('accepts concurrent adds whose results fit one order', () => {
    const ops = [add(0, 1, 2, 0, 10), add(1, 1, 1, 1, 9), readCounter(2, 2, 11, 12)];
    expect(checkLinearizable(counterModel, ops).ok).toBe(true);
  });

  it('rejects a lost write: two sequential acknowledged adds, a later read shows one', () => {
    const unknownResults = [add(0, 1, undefined, 0, 1), add(1, 1, undefined, 2, 3), readCounter(2, 1, 4, 5)];
    expect(checkLinearizable(counterModel, unknownResults).ok).toBe(false);
    const knownResults = [add(0, 1, 1, 0, 1), add(1, 1, 2, 2, 3), readCounter(2, 1, 4, 5)];
    expect(checkLinearizable(counterModel, knownResults).ok).toBe(false);
  });

  it('rejects a duplicate apply: one add acknowledged once, reads show it twice', () => {
    const ops = [add(0, 1, 1, 0, 1), readCounter(1, 1, 2, 3), readCounter(1, 2, 4, 5)];
    const result = checkLinearizable(counterModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.counterexample).toContain('cannot linearize: client 1: read() -> 2 [4, 5]');
  });

  it('lets a pending add count once or not at all, never partially or twice', () => {
    expect(checkLinearizable(counterModel, [add(0, 5, undefined, 0, undefined), readCounter(1, 5, 2, 3)]).ok).toBe(true);
    expect(checkLinearizable(counterModel, [add(0, 5, undefined, 0, undefined), readCounter(1, 0, 2, 3)]).ok).toBe(true);
    expect(checkLinearizable(counterModel, [add(0, 5, undefined, 0, undefined), readCounter(1, 3, 2, 3)]).ok).toBe(false);
    expect(checkLinearizable(counterModel, [add(0, 5, undefined, 0, undefined), readCounter(1, 10, 2, 3)]).ok).toBe(false);
  });
});

describe('checkLinearizable: kv partitions', () => {
  const kv = (
    client: number,
    key: string,
    op: RegisterInput,
    output: RegisterOutput,
    call: number,
    ret: number | undefined,
  ): Operation<KvInput, RegisterOutput> => ({
    client,
    input: { key, op },
    call,
    ret,
    output,
  });

  it('checks keys independently', () => {
    // On one register this would be a stale read; on two keys it is fine.
    const ops = [kv(0, 'a', { kind: 'write', value: 1 }, undefined, 0, 1), kv(1, 'b', { kind: 'read' }, null, 2, 3), kv(1, 'a', { kind: 'read' }, 1, 4, 5)];
    expect(checkLinearizable(kvModel, ops)).toEqual({ ok: true });
  });

  it('finds a violation on one key and reports its partition', () => {
    const ops = [
      kv(0, 'a', { kind: 'write', value: 1 }, undefined, 0, 1),
      kv(1, 'b', { kind: 'write', value: 2 }, undefined, 0, 1),
      kv(2, 'c', { kind: 'write', value: 3 }, undefined, 0, 1),
      kv(0, 'a', { kind: 'read' }, 1, 2, 3),
      kv(1, 'b', { kind: 'read' }, null, 2, 3),
      kv(2, 'c', { kind: 'read' }, 3, 2, 3),
    ];
    const result = checkLinearizable(kvModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.partition).toBe(1);
    expect(result.longestPrefix).toEqual(['client 1: b: write(2) [0, 1]']);
    expect(result.counterexample).toContain('cannot linearize: client 1: b: read() -> null [2, 3]');
  });

  it('treats a key written back to null like an absent key', () => {
    const a = kvModel.step(kvModel.init(), { key: 'x', op: { kind: 'write', value: 1 } }, undefined).next;
    const b = kvModel.step(a, { key: 'x', op: { kind: 'write', value: null } }, undefined).next;
    expect(kvModel.key(b)).toBe(kvModel.key(kvModel.init()));
  });
});

describe('checkLinearizable: generic behaviour', () => {
  it('describes operations as JSON when the model has no describe', () => {
    const plain: Model<number, { readonly set: number }, null> = {
      name: 'plain',
      init: () => 0,
      step: (_state, input) => ({ ok: input.set >= 0, next: input.set }),
      key: String,
    };
    const result = checkLinearizable(plain, [{ client: 'c', input: { set: -1 }, call: 0, ret: 1, output: null }]);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.counterexample).toContain('cannot linearize: client c: {"set":-1} -> null [0, 1]');
  });

  it('returns unknown when the step budget runs out', () => {
    const ops = [write(0, 1, 0, 10), write(1, 2, 0, 10), read(2, 2, 11, 12), read(2, 2, 13, 14)];
    const result = checkLinearizable(registerModel, ops, { maxSteps: 2 });
    expect(result.ok).toBe('unknown');
    expect(checkLinearizable(registerModel, ops).ok).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomised: against an exhaustive search on small arbitrary histories.

/** Tries every order of every subset that includes all completed operations. */
function bruteForce<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const used = ops.map(() => false);
  const search = (state: S): boolean => {
    if (ops.every((op, i) => op.ret === undefined || used[i])) return true;
    return ops.some((op, i) => {
      // Free to go next unless an unused completed operation returned before it was called.
      const blocked = ops.some((other, j) => !used[j] && other.ret !== undefined && other.ret < op.call);
      if (used[i] || blocked) return false;
      const { ok, next } = model.step(state, op.input, op.ret === undefined ? undefined : op.output);
      if (!ok) return false;
      used[i] = true;
      const found = search(next);
      used[i] = false;
      return found;
    });
  };
  return search(model.init());
}

/** Over 1,000 generated histories of up to `maxLength` operations, the checker says what exhaustive search says. */
function agreesWithBruteForce<S, I, O>(model: Model<S, I, O>, op: fc.Arbitrary<Operation<I, O>>, maxLength: number): void {
  fc.assert(
    fc.property(fc.array(op, { maxLength }), (ops) => {
      expect(checkLinearizable(model, ops).ok).toBe(bruteForce(model, ops));
    }),
    { numRuns: 1000 },
  );
}

const smallValue = fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(null));
const interval = fc.record({ call: fc.integer({ min: 0, max: 10 }), length: fc.integer({ min: 0, max: 6 }), pending: fc.integer({ min: 0, max: 3 }) });
const arbitraryRegisterOp: fc.Arbitrary<RegOp> = fc
  .record({
    at: interval,
    input: fc.oneof(
      fc.record({ kind: fc.constant('write' as const), value: smallValue }),
      fc.record({ kind: fc.constant('read' as const) }),
      fc.record({ kind: fc.constant('cas' as const), expected: smallValue, next: smallValue }),
    ),
    value: smallValue,
    swapped: fc.boolean(),
  })
  .map(({ at, input, value, swapped }) => ({
    client: 0,
    input,
    call: at.call,
    ret: at.pending === 0 ? undefined : at.call + at.length,
    output: input.kind === 'read' ? value : input.kind === 'cas' ? swapped : undefined,
  }));
const arbitraryCounterOp: fc.Arbitrary<CounterOp> = fc
  .record({
    at: interval,
    input: fc.oneof(fc.record({ kind: fc.constant('add' as const), delta: fc.integer({ min: 1, max: 3 }) }), fc.record({ kind: fc.constant('read' as const) })),
    value: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
  })
  .map(({ at, input, value }) => ({ client: 0, input, call: at.call, ret: at.pending === 0 ? undefined : at.call + at.length, output: value }));

describe('checkLinearizable: agrees with exhaustive search', () => {
  it('on small register histories, with pending operations', () => {
    agreesWithBruteForce(registerModel, arbitraryRegisterOp, 7);
  });

  it('on small counter histories, with and without the read-only shortcut', () => {
    const { readOnly: _, ...withoutReadOnly } = counterModel;
    fc.assert(
      fc.property(fc.array(arbitraryCounterOp, { maxLength: 7 }), (ops) => {
        const expected = bruteForce(counterModel, ops);
        expect(checkLinearizable(counterModel, ops).ok).toBe(expected);
        expect(checkLinearizable(withoutReadOnly, ops).ok).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Pending writes that no read returned are left out of the search (`withoutUnobservable`).

const { withoutUnobservable: _prune, ...registerWithoutPruning } = registerModel;
const readOrWrite: fc.Arbitrary<RegOp> = arbitraryRegisterOp.filter((op) => op.input.kind !== 'cas');
const kvOp: fc.Arbitrary<Operation<KvInput, RegisterOutput>> = fc
  .record({ key: fc.constantFrom('x', 'y'), op: arbitraryRegisterOp })
  .map(({ key, op }) => ({ ...op, input: { key, op: op.input } }));

/** Pending writes never read, around a stale read: a search that tries them all runs out of budget. */
function staleReadBehindPendingWrites(pending: number): RegOp[] {
  const ops = [write(0, 1, 0, 1)];
  for (let i = 0; i < pending; i++) ops.push(write(10 + i, 100 + i, 2 + i, undefined));
  for (let k = 0; k < 6; k++) {
    ops.push(write(1, 2 + 2 * k, 40 + 20 * k, 50 + 20 * k), write(2, 3 + 2 * k, 40 + 20 * k, 50 + 20 * k), read(3, 2 + 2 * k, 52 + 20 * k, 53 + 20 * k));
  }
  ops.push(read(4, 1, 200, 201));
  return ops;
}

describe('checkLinearizable: pending writes no read returned', () => {
  it('on small register histories without compare-and-set (where they are left out), agrees with exhaustive search', () => {
    agreesWithBruteForce(registerModel, readOrWrite, 8);
  });

  it('on small two-key histories, agrees with exhaustive search', () => {
    agreesWithBruteForce(kvModel, kvOp, 7);
  });

  it('that property catches a model that also drops pending writes some read returned', () => {
    const careless: Model<RegisterValue, RegisterInput, RegisterOutput> = {
      ...registerModel,
      withoutUnobservable: (ops) => ops.filter((op) => !(op.input.kind === 'write' && op.ret === undefined)),
    };
    const run = fc.check(
      fc.property(fc.array(readOrWrite, { maxLength: 8 }), (ops) => checkLinearizable(careless, ops).ok === bruteForce(careless, ops)),
      { numRuns: 1000, seed: 1 },
    );
    expect(run.failed).toBe(true);
  });

  it('keeps every operation of a register that sees a compare-and-set', () => {
    const ops = [write(0, 1, 0, undefined), cas(1, 2, 3, false, 5, 6), read(2, 2, 7, 8)];
    expect(registerModel.withoutUnobservable?.(ops)).toBe(ops);
    const plain = [write(0, 1, 0, undefined), write(1, 2, 1, undefined), read(2, 2, 7, 8)];
    expect(registerModel.withoutUnobservable?.(plain)).toEqual([plain[1], plain[2]]);
  });

  it('finds a stale read behind a dozen pending writes that no read returned', () => {
    const ops = staleReadBehindPendingWrites(12);
    const result = checkLinearizable(registerModel, ops);
    expect(result.ok).toBe(false);
    if (result.ok === false) expect(result.counterexample).toContain('read() -> 1 [200, 201]');
    // Without leaving them out, the default budget runs out first.
    expect(checkLinearizable(registerWithoutPruning, ops).ok).toBe('unknown');
  });

  it('refuses a model that drops a completed operation', () => {
    const broken: Model<RegisterValue, RegisterInput, RegisterOutput> = { ...registerModel, withoutUnobservable: (ops) => ops.slice(1) };
    expect(() => checkLinearizable(broken, [write(0, 1, 0, 1)])).toThrow(/dropped a completed operation/);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomised: real sequential executions, widened into overlaps, must stay linearizable.

const registerInput: fc.Arbitrary<RegisterInput> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), value: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(null)) }),
  fc.record({ kind: fc.constant('read' as const) }),
  fc.record({
    kind: fc.constant('cas' as const),
    expected: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(null)),
    next: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(null)),
  }),
);

/** A step of a sequential run, with how far to widen its interval and whether its return is lost. */
interface PlannedOp {
  readonly input: RegisterInput;
  readonly widenBefore: number;
  readonly widenAfter: number;
  readonly lost: boolean;
}
const plannedOp: fc.Arbitrary<PlannedOp> = fc.record({
  input: registerInput,
  widenBefore: fc.nat({ max: 40 }),
  widenAfter: fc.nat({ max: 40 }),
  lost: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.1),
});

/** Runs the inputs one after another on a real register, op i occupying [10 i, 10 i + 5], then widens. */
function widenedHistory(plan: readonly PlannedOp[]): RegOp[] {
  let value: RegisterValue = null;
  return plan.map((p, i): RegOp => {
    let output: RegisterOutput;
    if (p.input.kind === 'write') {
      value = p.input.value;
      output = undefined;
    } else if (p.input.kind === 'read') {
      output = value;
    } else {
      output = value === p.input.expected;
      if (output) value = p.input.next;
    }
    const call = Math.max(0, 10 * i - p.widenBefore);
    const ret = p.lost ? undefined : 10 * i + 5 + p.widenAfter;
    return { client: i % 4, input: p.input, call, ret, output };
  });
}

describe('checkLinearizable: randomised register histories', () => {
  it('accepts any widened sequential execution, with some returns lost', () => {
    fc.assert(
      fc.property(fc.array(plannedOp, { maxLength: 40 }), (plan) => {
        expect(checkLinearizable(registerModel, widenedHistory(plan))).toEqual({ ok: true });
      }),
      { numRuns: 200 },
    );
  });

  it('rejects it once one completed read returns a value never written', () => {
    fc.assert(
      fc.property(fc.array(plannedOp, { minLength: 1, maxLength: 40 }), fc.nat(), (plan, pick) => {
        const ops = widenedHistory(plan);
        const reads = ops.flatMap((op, i) => (op.input.kind === 'read' && op.ret !== undefined ? [i] : []));
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length] ?? 0;
        const mutated = ops.map((op, i) => (i === victim ? { ...op, output: 'never written' } : op));
        const result = checkLinearizable(registerModel, mutated);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Performance sanity: long histories from real concurrent executions.

/**
 * Five clients issuing back-to-back operations with random durations; each takes effect at a
 * random instant inside its interval, and outputs come from applying them in that order.
 */
function concurrentExecution<I, O>(count: number, seed: number, input: (r: number) => I, apply: (input: I) => O): Operation<I, O>[] {
  const rng = rngStream(seed, 'linearizability');
  const clients = 5;
  const clocks = new Array<number>(clients).fill(0);
  const planned: { client: number; input: I; call: number; ret: number; at: number }[] = [];
  for (let i = 0; i < count; i++) {
    const client = i % clients;
    const call = (clocks[client] ?? 0) + Math.floor(rng.float() * 3);
    const ret = call + 1 + Math.floor(rng.float() * 20);
    clocks[client] = ret + 1;
    planned.push({ client, input: input(rng.float()), call, ret, at: call + rng.float() * (ret - call) });
  }
  const outputs = new Map<number, O>();
  const order = [...planned.keys()].sort((a, b) => (planned[a]?.at ?? 0) - (planned[b]?.at ?? 0));
  for (const i of order) {
    const p = planned[i];
    if (p) outputs.set(i, apply(p.input));
  }
  return planned.map((p, i) => ({ client: p.client, input: p.input, call: p.call, ret: p.ret, output: outputs.get(i) }));
}

describe('checkLinearizable: performance sanity', () => {
  it('checks 2,000 counter operations on 5 clients', () => {
    let value = 0;
    const ops = concurrentExecution<CounterInput, CounterOutput>(
      2000,
      1,
      (r) => (r < 0.6 ? { kind: 'add', delta: 1 + Math.floor(r * 10) } : { kind: 'read' }),
      (input) => {
        if (input.kind === 'add') value += input.delta;
        return value;
      },
    );
    expect(checkLinearizable(counterModel, ops)).toEqual({ ok: true });
  });

  it('checks 2,000 register operations on 5 clients', () => {
    let value: RegisterValue = null;
    let writes = 0;
    const ops = concurrentExecution<RegisterInput, RegisterOutput>(
      2000,
      2,
      (r) => (r < 0.4 ? { kind: 'write', value: writes++ % 7 } : r < 0.5 ? { kind: 'cas', expected: Math.floor(r * 70) % 7, next: 99 } : { kind: 'read' }),
      (input) => {
        if (input.kind === 'write') {
          value = input.value;
          return undefined;
        }
        if (input.kind === 'read') return value;
        const swapped = value === input.expected;
        if (swapped) value = input.next;
        return swapped;
      },
    );
    expect(checkLinearizable(registerModel, ops)).toEqual({ ok: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Interchangeable pending operations (`Model.inputKey`) are taken in the order they were called.

/** Counter histories with many pending adds of few distinct deltas: the case the keys are for. */
const pendingHeavyCounterOp: fc.Arbitrary<CounterOp> = fc
  .record({
    call: fc.integer({ min: 0, max: 8 }),
    length: fc.integer({ min: 0, max: 6 }),
    pending: fc.boolean(),
    delta: fc.integer({ min: 1, max: 2 }),
    read: fc.boolean(),
    value: fc.integer({ min: 0, max: 8 }),
  })
  .map(({ call, length, pending, delta, read, value }) =>
    read ? readCounter(0, value, call, call + length) : add(0, delta, pending ? undefined : value, call, pending ? undefined : call + length),
  );

/** `n` adds pending since the start, of deltas 1, 2 and 3, then reads of `reads`: each must be some subset's sum. */
function readsBehindPendingAdds(n: number, reads: readonly number[]): CounterOp[] {
  const ops = Array.from({ length: n }, (_, i) => add(100 + i, 1 + (i % 3), undefined, i, undefined));
  for (const [k, value] of reads.entries()) ops.push(readCounter(1, value, 100 + 10 * k, 101 + 10 * k));
  return ops;
}

describe('checkLinearizable: interchangeable pending operations', () => {
  const { inputKey: _key, ...counterWithoutKeys } = counterModel;

  it('on small counter histories with many pending adds, agrees with exhaustive search', () => {
    agreesWithBruteForce(counterModel, pendingHeavyCounterOp, 8);
  });

  it('on small register and two-key histories, agrees with exhaustive search', () => {
    agreesWithBruteForce(registerModel, arbitraryRegisterOp, 8);
    agreesWithBruteForce(kvModel, kvOp, 8);
  });

  it('that property catches a key shared by inputs that are not interchangeable', () => {
    const careless: Model<number, CounterInput, CounterOutput> = { ...counterModel, inputKey: (input) => input.kind };
    const run = fc.check(
      fc.property(fc.array(pendingHeavyCounterOp, { maxLength: 8 }), (ops) => checkLinearizable(careless, ops).ok === bruteForce(careless, ops)),
      { numRuns: 1000, seed: 1 },
    );
    expect(run.failed).toBe(true);
  });

  it('decides a counter read behind 18 pending adds, where trying every subset runs out of budget', () => {
    const budget = { maxSteps: 100_000 };
    // 3, 9, 20 are sums of some of them (which, the search must find); 19 after 20 is not.
    const bad = readsBehindPendingAdds(18, [3, 9, 20, 19]);
    const result = checkLinearizable(counterModel, bad, budget);
    expect(result.ok).toBe(false);
    if (result.ok === false) expect(result.counterexample).toContain('read() -> 19');
    expect(checkLinearizable(counterWithoutKeys, bad, budget).ok).toBe('unknown');
    const good = readsBehindPendingAdds(18, [3, 9, 20, 25]);
    expect(checkLinearizable(counterModel, good, budget).ok).toBe(true);
  });

  it('keeps 0 and -0 apart, and the keys of other values distinct', () => {
    expect(registerModel.inputKey?.({ kind: 'write', value: 0 })).not.toBe(registerModel.inputKey?.({ kind: 'write', value: -0 }));
    expect(registerModel.inputKey?.({ kind: 'write', value: 1 })).not.toBe(registerModel.inputKey?.({ kind: 'write', value: '1' }));
    expect(registerModel.inputKey?.({ kind: 'write', value: null })).not.toBe(registerModel.inputKey?.({ kind: 'write', value: 'null' }));
    expect(counterModel.inputKey?.({ kind: 'add', delta: 0 })).not.toBe(counterModel.inputKey?.({ kind: 'add', delta: -0 }));
    expect(kvModel.inputKey?.({ key: 'a b', op: { kind: 'read' } })).not.toBe(kvModel.inputKey?.({ key: 'a', op: { kind: 'read' } }));
  });
});
