/**
 * A linearizability checker for recorded client histories, after Porcupine
 * (github.com/anishathalye/porcupine): the Wing & Gong search with Lowe's memoisation (WGL).
 *
 * A history is linearizable when every completed operation can be given a point in time
 * between its call and its return such that applying the operations in that order to the
 * sequential `Model` yields exactly the outputs the clients saw. Operations that never
 * returned may take effect at any point after their call, or not at all.
 *
 * Real-time order: operation A precedes operation B iff `A.ret < B.call`, strictly. An
 * operation that returns at the very instant another is called is concurrent with it, so
 * either order is allowed. (Clocks in a simulation are coarse; treating ties as concurrent
 * never rejects a correct system, it can only miss a violation that hides in a tie.)
 *
 * Beyond Porcupine, the search takes read-only operations without branching (`Model.readOnly`),
 * prunes configurations that only differ by extra pending operations used (see `Phase`), and
 * leaves out the pending operations that the model shows nothing could have seen
 * (`Model.withoutUnobservable`: a register's pending writes of values no read returned).
 * Cost still grows exponentially with the number of concurrent state-changing operations and
 * of pending ones, hence the step budget. Thousands of operations from about ten concurrent
 * clients per partition check in well under a second; twenty clients all writing one register
 * can exhaust the default budget.
 *
 * Pure TypeScript with no clocks or randomness, so a check is deterministic.
 */

import { assert } from '../../core/util/assert.ts';

/**
 * A sequential specification: state is immutable from the checker's view (step returns a new state).
 *
 * `step` receives `output === undefined` when the output is unknown: always for an operation
 * that never returned, and for a completed one whose result was not recorded. Models must
 * treat `undefined` as "unknown, accept any result" and only compute the next state.
 */
export interface Model<State, Input, Output> {
  readonly name: string;
  init(): State;
  /** Applies `input` to `state`; returns whether `output` is a legal result and the next state. */
  step(state: State, input: Input, output: Output | undefined): { readonly ok: boolean; readonly next: State };
  /** Stable key of a state, for memoisation (states with equal keys are equal). */
  key(state: State): string;
  /** Optional: split a history into independent sub-histories (e.g. per key) checked separately. */
  partition?(ops: readonly Operation<Input, Output>[]): readonly (readonly Operation<Input, Output>[])[];
  describe?(input: Input, output: Output | undefined): string;
  /**
   * Optional: true when `input` leaves every state unchanged (a read). The search then takes
   * such an operation as soon as it is legal, without trying alternatives, which keeps
   * read-heavy histories cheap. Must hold in every state: an operation that only happens to
   * change nothing in some state (writing the current value, a failed swap) is not read-only.
   */
  readOnly?(input: Input): boolean;
  /**
   * Optional: the history without pending operations that no recorded outcome can depend on.
   * A pending operation may always be left out (it may never have taken effect); this says
   * that taking it cannot help either, so the search need not try. Must keep every completed
   * operation, and must keep a history linearizable exactly when it was: a pending write of a
   * value that no read returned, say, while nothing else looks at the value (registerModel).
   * Pending operations are what makes a search blow up, each a choice of when, if ever.
   */
  withoutUnobservable?(ops: readonly Operation<Input, Output>[]): readonly Operation<Input, Output>[];
  /**
   * Optional: a key that two inputs share exactly when they have the same effect in every
   * state (`add(2)` and `add(2)`). Pending operations with equal keys are interchangeable, so
   * the search takes them in the order they were called: of each key, only the earliest
   * pending one not yet taken is a candidate. (Whichever of them is taken, the others stay on
   * offer, and an earlier call can stand in wherever a later one could: an operation may take
   * effect once the history reaches its call.) Without it, k such operations are up to 2^k
   * choices where k + 1 suffice. Inputs must not share a key unless interchangeable: that
   * would make the search skip a choice that matters.
   */
  inputKey?(input: Input): string;
}

/**
 * One client operation. `call`/`ret` are times (virtual ms or a logical counter); ret undefined = it
 * never returned (status 'info': it may or may not have taken effect, at any time after call).
 */
export interface Operation<Input, Output> {
  readonly client: number | string;
  readonly input: Input;
  readonly call: number;
  /** undefined: outcome unknown (timed out / crashed). */
  readonly ret: number | undefined;
  /** Only meaningful when ret !== undefined. */
  readonly output: Output | undefined;
}

export type LinearizabilityResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly partition: number; readonly counterexample: string; readonly longestPrefix: readonly string[] }
  /** The search budget ran out before an answer. */
  | { readonly ok: 'unknown'; readonly reason: string };

export interface LinearizabilityOptions {
  /**
   * Search steps allowed for the whole check, all partitions together (a step: one candidate
   * examined, or one backtrack; roughly 1,000,000 take half a second). The search is exponential
   * in the worst case (many concurrent state-changing operations, many pending ones); the budget
   * turns a hang into `{ ok: 'unknown' }`. Default 1,000,000.
   */
  readonly maxSteps?: number;
}

const DEFAULT_MAX_STEPS = 1_000_000;
/** Lines quoted per list in the counterexample text; the full prefix is in `longestPrefix`. */
const LINES_SHOWN = 12;

export function checkLinearizable<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], options?: LinearizabilityOptions): LinearizabilityResult {
  for (const op of ops) validate(model, op);
  const maxSteps = options?.maxSteps ?? DEFAULT_MAX_STEPS;
  const budget = { left: maxSteps };
  const parts = model.partition ? model.partition(ops) : [ops];
  for (const [index, whole] of parts.entries()) {
    const part = prunedHistory(model, whole);
    const outcome = checkAndExplain(model, part, budget);
    if (outcome === 'budget') {
      return { ok: 'unknown', reason: `search budget of ${maxSteps} steps exhausted in partition ${index} of ${parts.length}` };
    }
    if (outcome !== 'ok') return report(model, index, part.length, outcome);
  }
  return { ok: true };
}

/** `model.withoutUnobservable` of `ops` (where the model has it), checked to leave out pending operations only. */
function prunedHistory<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): readonly Operation<I, O>[] {
  const out = model.withoutUnobservable?.(ops) ?? ops;
  if (out === ops) return ops;
  const completed = (list: readonly Operation<I, O>[]) => list.reduce((n, op) => n + (op.ret === undefined ? 0 : 1), 0);
  assert(out.length <= ops.length && completed(out) === completed(ops), `${model.name}: withoutUnobservable dropped a completed operation`);
  return out;
}

function validate<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): void {
  // A return before the call is a recording bug; searching it would give a misleading verdict.
  const badRet = op.ret !== undefined && !(Number.isFinite(op.ret) && op.ret >= op.call);
  if (!Number.isFinite(op.call) || badRet) {
    throw new RangeError(`${model.name}: operation with invalid times: ${formatOp(model, op)}`);
  }
}

/** A node of a sorted, doubly linked list; `op` is undefined only for the two sentinels. */
class EventNode<I, O> {
  prev: EventNode<I, O> = this;
  next: EventNode<I, O> = this;
  constructor(
    readonly time: number,
    readonly id: number,
    readonly op: Operation<I, O> | undefined,
  ) {}
}

/**
 * A list of call or return events sorted by time, with removal that can be undone in LIFO
 * order ("dancing links"): a removed node keeps its own links, so putting it back is O(1).
 */
class EventList<I, O> {
  readonly head = new EventNode<I, O>(Number.NEGATIVE_INFINITY, -1, undefined);
  /** Time +Infinity: scans that stop at a deadline stop here too. */
  readonly tail = new EventNode<I, O>(Number.POSITIVE_INFINITY, -1, undefined);

  constructor(nodes: EventNode<I, O>[]) {
    nodes.sort((a, b) => a.time - b.time || a.id - b.id);
    let last = this.head;
    for (const node of nodes) {
      last.next = node;
      node.prev = last;
      last = node;
    }
    last.next = this.tail;
    this.tail.prev = last;
  }
  static remove<I, O>(node: EventNode<I, O>): void {
    node.prev.next = node.next;
    node.next.prev = node.prev;
  }
  static restore<I, O>(node: EventNode<I, O>): void {
    node.prev.next = node;
    node.next.prev = node;
  }
}

/**
 * The set of linearized operations. Its hash covers only the completed operations, kept
 * incrementally as a Zobrist hash (xor of a fixed pseudo-random value per member) so a cache
 * key costs O(1) rather than O(n / 32); pending members are compared by inclusion in `Explored`.
 */
class LinearizedSet {
  readonly words: Uint32Array;
  private hashA = 0;
  private hashB = 0;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  /** Adds or removes `id` (a flip is its own inverse, for the hash too). */
  flip(id: number, completed: boolean): void {
    const word = id >>> 5;
    this.words[word] = (this.words[word] ?? 0) ^ (1 << (id & 31));
    if (!completed) return;
    this.hashA ^= fmix32(Math.imul(id + 1, 0x9e3779b9));
    this.hashB ^= fmix32(Math.imul(id + 1, 0x85ebca77) ^ 0x27d4eb2f);
  }
  has(id: number): boolean {
    return (((this.words[id >>> 5] ?? 0) >>> (id & 31)) & 1) === 1;
  }
  /**
   * The completed operations in it, hashed to a small integer (a Map key without allocation).
   * Collisions only share a bucket: `Explored` compares the sets themselves.
   */
  hash(): number {
    return (this.hashA ^ Math.imul(this.hashB, 0x2f)) & 0x3fffffff;
  }
}

/** MurmurHash3's finaliser: spreads a counter into well-mixed 32 bits. */
function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Configurations (linearized set, state) already reached. Reaching one again cannot end
 * differently: it has failed, or is being searched further up the stack. This also prunes a
 * configuration with the same completed operations and state as a reached one but more pending
 * operations used: every continuation it has, the reached one has too, as unused pending
 * operations only widen the choice and constrain nothing.
 */
class Explored {
  /** By state key, then by the hash of the completed operations (no key strings built per step). */
  private readonly buckets = new Map<string, Map<number, Uint32Array[]>>();
  /**
   * Kept sets are views into shared chunks: a typed array of its own above 64 bytes (a
   * history of over 512 operations) costs V8 a buffer off its heap, about a microsecond.
   */
  private chunk = new Uint32Array(0);
  private used = 0;
  constructor(private readonly completedMask: Uint32Array) {}

  private keep(words: Uint32Array): Uint32Array {
    if (this.used + words.length > this.chunk.length) {
      this.chunk = new Uint32Array(Math.max(16_384, words.length));
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + words.length);
    out.set(words);
    this.used += words.length;
    return out;
  }

  /** Records the configuration; false when it, or one covering it, was reached before. */
  add(set: LinearizedSet, stateKey: string): boolean {
    const key = set.hash();
    let byHash = this.buckets.get(stateKey);
    if (byHash === undefined) {
      byHash = new Map();
      this.buckets.set(stateKey, byHash);
    }
    const bucket = byHash.get(key);
    if (bucket === undefined) {
      byHash.set(key, [this.keep(set.words)]);
      return true;
    }
    if (bucket.some((seen) => this.covers(seen, set.words))) return false;
    // Keep buckets short: entries the new one covers can never prune anything it does not.
    const kept = bucket.filter((seen) => !this.covers(set.words, seen));
    kept.push(this.keep(set.words));
    byHash.set(key, kept);
    return true;
  }

  /** Same completed operations, and `seen`'s pending ones a subset of `now`'s. */
  private covers(seen: Uint32Array, now: Uint32Array): boolean {
    for (let i = 0; i < now.length; i++) {
      const s = seen[i] ?? 0;
      const n = now[i] ?? 0;
      if ((s & ~n) !== 0 || ((s ^ n) & (this.completedMask[i] ?? 0)) !== 0) return false;
    }
    return true;
  }
}

/**
 * For each pending operation (by id), the pending one called last before it with an equal
 * `model.inputKey`, or -1: the search offers an operation only once that one is taken.
 */
function pendingTwins<S, I, O>(model: Model<S, I, O>, pending: EventList<I, O>, size: number): Int32Array {
  const twinBefore = new Int32Array(size).fill(-1);
  if (model.inputKey === undefined) return twinBefore;
  const last = new Map<string, number>();
  for (let node = pending.head.next; node.op !== undefined; node = node.next) {
    const key = model.inputKey(node.op.input);
    twinBefore[node.id] = last.get(key) ?? -1;
    last.set(key, node.id);
  }
  return twinBefore;
}

/** Where the search got deepest before it had to give up: the raw material of a counterexample. */
interface Failure<S, I, O> {
  readonly prefix: readonly Operation<I, O>[];
  readonly stuck: Operation<I, O> | undefined;
  readonly state: S;
  readonly open: readonly Operation<I, O>[];
}

type Outcome<S, I, O> = 'ok' | 'budget' | Failure<S, I, O>;

/**
 * The search (Wing & Gong with Lowe's memoisation, as Porcupine does it, over split lists).
 *
 * The returns of the completed operations not yet linearized form one list; the first is the
 * deadline: that operation must take effect before anything called after it returned. The
 * candidates are the unlinearized operations called at or before the deadline (calls before
 * returns at equal times: that is what makes `A.ret === B.call` concurrent). Pending operations
 * have no return: they constrain nothing and may be left out, so the search ends when every
 * completed operation is linearized.
 *
 * Candidates sit in three call lists, tried in this order, one phase per list:
 *  0. completed read-only operations (`Model.readOnly`). If one is legal it is taken and no
 *     alternative tried: any linearization from here stays legal with it moved to the front,
 *     so if taking it first fails, everything fails.
 *  1. the other completed operations, each in turn (the Wing & Gong search proper).
 *  2. pending operations, last, so each configuration is first searched without them and later
 *     visits that add them are pruned by `Explored`. A pending operation that leaves the state
 *     as it is would lead to a configuration covered by this one, so it is skipped. Keeping
 *     them in a list of their own also keeps old pending calls, candidates forever, from
 *     lengthening every scan of the other phases.
 */
type Phase = 0 | 1 | 2;

interface Frame<S, I, O> {
  readonly call: EventNode<I, O>;
  readonly state: S;
  readonly stateKey: string;
  readonly phase: Phase;
}

/**
 * Searches once without recording anything but the depth of the deepest dead end; only a
 * failed search runs again, the same way, to capture the counterexample there. Capturing it
 * on the way copies the stack each time the search gets deeper: with thousands of operations
 * that was a quadratic share of every passing check.
 */
function checkAndExplain<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: { left: number }): Outcome<S, I, O> {
  const before = budget.left;
  const outcome = checkPartition(model, ops, budget, undefined);
  if (typeof outcome === 'string') return outcome;
  // The search is deterministic, so the second run takes the same steps to the same end.
  const again = checkPartition(model, ops, { left: before - budget.left }, outcome.depth);
  assert(typeof again !== 'string' && again.failure !== undefined, 'the repeated search found the same failure');
  return again.failure;
}

/** How a search that found no linearization ended: its deepest dead end, captured if asked for. */
interface DeadEnd<S, I, O> {
  readonly depth: number;
  readonly failure: Failure<S, I, O> | undefined;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: { left: number },
  captureAtDepth: number | undefined,
): 'ok' | 'budget' | DeadEnd<S, I, O> {
  const calls: [EventNode<I, O>[], EventNode<I, O>[], EventNode<I, O>[]] = [[], [], []];
  const returnNodes: EventNode<I, O>[] = [];
  // The return node of each completed operation, by id, to take it out with its call.
  const returnOf: (EventNode<I, O> | undefined)[] = [];
  const completedMask = new Uint32Array(Math.ceil(ops.length / 32));
  // Completed operations still to linearize.
  let remaining = 0;
  for (const [id, op] of ops.entries()) {
    const call = new EventNode(op.call, id, op);
    if (op.ret === undefined) {
      calls[2].push(call);
      returnOf.push(undefined);
      continue;
    }
    calls[model.readOnly?.(op.input) ? 0 : 1].push(call);
    const ret = new EventNode(op.ret, id, op);
    returnNodes.push(ret);
    returnOf.push(ret);
    remaining++;
    completedMask[id >>> 5] = (completedMask[id >>> 5] ?? 0) | (1 << (id & 31));
  }
  const lists = [new EventList(calls[0]), new EventList(calls[1]), new EventList(calls[2])] as const;
  const returns = new EventList(returnNodes);
  const twinBefore = pendingTwins(model, lists[2], ops.length);

  const linearized = new LinearizedSet(ops.length);
  const explored = new Explored(completedMask);
  const stack: Frame<S, I, O>[] = [];
  let state = model.init();
  let stateKey = model.key(state);
  explored.add(linearized, stateKey);
  let phase: Phase = 0;
  let node = lists[0].head.next;
  // The first dead end at the greatest depth is the one a failure reports.
  let deepestDepth = -1;
  let deepest: Failure<S, I, O> | undefined;

  while (remaining > 0) {
    if (budget.left-- <= 0) return 'budget';
    const op = node.op;
    if (op !== undefined && node.time <= returns.head.next.time) {
      const pending = phase === 2;
      const twin = pending ? (twinBefore[node.id] ?? -1) : -1;
      if (twin >= 0 && !linearized.has(twin)) {
        node = node.next; // an interchangeable pending operation called earlier is still on offer
        continue;
      }
      const { ok, next } = model.step(state, op.input, pending ? undefined : op.output);
      const nextKey = ok ? model.key(next) : stateKey;
      if (!ok || (pending && nextKey === stateKey)) {
        node = node.next;
        continue;
      }
      linearized.flip(node.id, !pending);
      if (explored.add(linearized, nextKey)) {
        stack.push({ call: node, state, stateKey, phase });
        state = next;
        stateKey = nextKey;
        EventList.remove(node);
        const ret = returnOf[node.id];
        if (ret !== undefined) {
          EventList.remove(ret);
          remaining--;
        }
        phase = 0;
        node = lists[0].head.next;
        continue;
      }
      linearized.flip(node.id, !pending);
      if (phase !== 0) {
        node = node.next;
        continue;
      }
      // A free move into a configuration already reached: this one fails too (see Phase).
    } else if (phase < 2) {
      phase = phase === 0 ? 1 : 2;
      node = lists[phase].head.next;
      continue;
    }
    // No candidate leads anywhere: undo the last choice and try the next one after it.
    if (stack.length > deepestDepth) {
      deepestDepth = stack.length;
      if (deepestDepth === captureAtDepth) deepest = failureAt(lists, returns, stack, state);
    }
    for (;;) {
      const top = stack.pop();
      if (top === undefined) return { depth: deepestDepth, failure: deepest };
      const ret = returnOf[top.call.id];
      state = top.state;
      stateKey = top.stateKey;
      linearized.flip(top.call.id, ret !== undefined);
      if (ret !== undefined) {
        EventList.restore(ret);
        remaining++;
      }
      EventList.restore(top.call);
      if (top.phase !== 0) {
        node = top.call.next;
        phase = top.phase;
        break;
      }
      // A free move failed, so the configuration before it fails as well.
    }
  }
  return 'ok';
}

function failureAt<S, I, O>(lists: readonly EventList<I, O>[], returns: EventList<I, O>, stack: readonly Frame<S, I, O>[], state: S): Failure<S, I, O> {
  // The deadline operation had to take effect by now; the other candidates could have come
  // next, and none of them led anywhere.
  const deadline = returns.head.next;
  const open: Operation<I, O>[] = [];
  for (const list of lists) {
    for (let n = list.head.next; n.op !== undefined && n.time <= deadline.time; n = n.next) if (n.op !== deadline.op) open.push(n.op);
  }
  const prefix: Operation<I, O>[] = [];
  for (const { call } of stack) if (call.op !== undefined) prefix.push(call.op);
  return { prefix, stuck: deadline.op, state, open };
}

function report<S, I, O>(model: Model<S, I, O>, partition: number, size: number, failure: Failure<S, I, O>): LinearizabilityResult {
  const longestPrefix = failure.prefix.map((op) => formatOp(model, op));
  const lines = [`${model.name}: history is not linearizable (partition ${partition}, ${size} operations)`];
  lines.push(`  cannot linearize: ${failure.stuck ? formatOp(model, failure.stuck) : '(unknown operation)'}`);
  const shown = longestPrefix.slice(-LINES_SHOWN);
  const elided = longestPrefix.length - shown.length;
  lines.push(`  after the longest linearizable prefix (${longestPrefix.length} operations${elided > 0 ? `, last ${shown.length} shown` : ''}):`);
  for (const [i, line] of shown.entries()) lines.push(`    ${elided + i + 1}. ${line}`);
  lines.push(`  state after that prefix: ${model.key(failure.state)}`);
  if (failure.open.length > 0) {
    // Pending operations stay open forever, so this list can be long: quote the latest calls.
    const open = failure.open.slice(-LINES_SHOWN);
    const more = failure.open.length - open.length;
    lines.push(`  other operations open at that point, none leading to a linearization${more > 0 ? ` (${more} earlier not shown)` : ''}:`);
    for (const op of open) lines.push(`    ${formatOp(model, op)}`);
  }
  return { ok: false, partition, counterexample: lines.join('\n'), longestPrefix };
}

function formatOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const output = op.ret === undefined ? undefined : op.output;
  const what = model.describe ? model.describe(op.input, output) : `${show(op.input)} -> ${output === undefined ? '?' : show(output)}`;
  return `client ${op.client}: ${what} [${op.call}, ${op.ret ?? 'pending'}]`;
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles and bigints: a rough description beats none.
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Ready-made models.

export type RegisterValue = number | string | null;
export type RegisterInput =
  | { readonly kind: 'write'; readonly value: RegisterValue }
  | { readonly kind: 'read' }
  | { readonly kind: 'cas'; readonly expected: RegisterValue; readonly next: RegisterValue };
/** write: undefined; read: the value; cas: whether it swapped. */
export type RegisterOutput = RegisterValue | boolean | undefined;

function stepRegister(value: RegisterValue, input: RegisterInput, output: RegisterOutput): { readonly ok: boolean; readonly next: RegisterValue } {
  switch (input.kind) {
    case 'write':
      // A write's acknowledgement carries no information.
      return { ok: true, next: input.value };
    case 'read':
      return { ok: output === undefined || output === value, next: value };
    case 'cas': {
      const swapped = value === input.expected;
      return { ok: output === undefined || output === swapped, next: swapped ? input.next : value };
    }
  }
}

/**
 * Equal for register inputs with the same effect everywhere. Values as `registerModel.key`
 * writes them, except that 0 and -0 stay apart: a read compares with ===, to which they are
 * equal, but the value kept is not, so their writes are not interchangeable.
 */
function registerInputKey(input: RegisterInput): string {
  const value = (v: RegisterValue) => (Object.is(v, -0) ? '-0' : typeof v === 'string' ? JSON.stringify(v) : String(v));
  switch (input.kind) {
    case 'write':
      return `write ${value(input.value)}`;
    case 'read':
      return 'read';
    case 'cas':
      return `cas ${value(input.expected)} ${value(input.next)}`;
  }
}

function describeRegister(input: RegisterInput, output: RegisterOutput): string {
  const result = output === undefined ? '?' : show(output);
  switch (input.kind) {
    case 'write':
      return `write(${show(input.value)})`;
    case 'read':
      return `read() -> ${result}`;
    case 'cas':
      return `cas(${show(input.expected)} => ${show(input.next)}) -> ${result}`;
  }
}

/**
 * `ops` (one register's) without the pending writes of values that no read returned.
 *
 * Wherever such a write took effect, no read with a recorded output came between it and the
 * next write (that read would have returned its value), so leaving it out changes no outcome
 * and no state that anything saw. Compare-and-set can see
 * any value (a swap that failed saw that the register did not hold `expected`), so a register
 * with one keeps all its operations. Values are compared as a Set does, which only differs
 * from `===` for NaN, and there it keeps a write that `===` would let go.
 */
function withoutUnreadPendingWrites<Op extends Operation<unknown, RegisterOutput>>(ops: readonly Op[], register: (op: Op) => RegisterInput): readonly Op[] {
  const read = new Set<RegisterOutput>();
  let pendingWrites = 0;
  for (const op of ops) {
    const input = register(op);
    if (input.kind === 'cas') return ops;
    if (input.kind === 'read' && op.ret !== undefined && op.output !== undefined) read.add(op.output);
    else if (input.kind === 'write' && op.ret === undefined) pendingWrites++;
  }
  if (pendingWrites === 0) return ops;
  return ops.filter((op) => {
    const input = register(op);
    return !(input.kind === 'write' && op.ret === undefined && !read.has(input.value));
  });
}

/** A single register holding a number, a string or null (initially null), with read, write and compare-and-set. */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  name: 'register',
  init: () => null,
  step: stepRegister,
  // Strings quoted (as JSON), so 1 and '1' stay apart; numbers and null need no JSON.
  key: (value) => (typeof value === 'string' ? JSON.stringify(value) : String(value)),
  describe: describeRegister,
  readOnly: (input) => input.kind === 'read',
  withoutUnobservable: (ops) => withoutUnreadPendingWrites(ops, (op) => op.input),
  inputKey: registerInputKey,
};

export type CounterInput = { readonly kind: 'add'; readonly delta: number } | { readonly kind: 'read' };
/** add: the new value (undefined if not known); read: the value. */
export type CounterOutput = number | undefined;

/** A counter starting at 0: `add` returns the new value, `read` the current one. */
export const counterModel: Model<number, CounterInput, CounterOutput> = {
  name: 'counter',
  init: () => 0,
  step(value, input, output) {
    const next = input.kind === 'add' ? value + input.delta : value;
    return { ok: output === undefined || output === next, next };
  },
  key: (value) => String(value),
  describe: (input, output) => `${input.kind === 'add' ? `add(${input.delta})` : 'read()'} -> ${output === undefined ? '?' : String(output)}`,
  readOnly: (input) => input.kind === 'read',
  // Object.is tells 0 and -0 apart, which addition does not always (x + -0 is x, but -0 + 0 is 0).
  inputKey: (input) => (input.kind === 'add' ? `add ${Object.is(input.delta, -0) ? '-0' : String(input.delta)}` : 'read'),
};

export interface KvInput {
  readonly key: string;
  readonly op: RegisterInput;
}
/** Absent keys read as null; keys holding null are dropped so equal states have equal keys. */
export type KvState = ReadonlyMap<string, RegisterValue>;

/**
 * A map of independent registers. Histories are partitioned per key (in order of first
 * appearance), which keeps the search per register small; the partition index in a failure
 * is the key's position in that order.
 */
export const kvModel: Model<KvState, KvInput, RegisterOutput> = {
  name: 'kv',
  init: () => new Map(),
  step(state, input, output) {
    const current = state.get(input.key) ?? null;
    const { ok, next } = stepRegister(current, input.op, output);
    if (next === current) return { ok, next: state };
    const copy = new Map(state);
    if (next === null) copy.delete(input.key);
    else copy.set(input.key, next);
    return { ok, next: copy };
  },
  key: (state) => JSON.stringify([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, RegisterOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key);
      if (list) list.push(op);
      else byKey.set(op.input.key, [op]);
    }
    return [...byKey.values()];
  },
  // Key by key, as each key is a register of its own.
  withoutUnobservable(ops) {
    const byKey = kvModel.partition?.(ops) ?? [ops];
    const kept = new Set(byKey.flatMap((part) => withoutUnreadPendingWrites(part, (op) => op.input.op)));
    return kept.size === ops.length ? ops : ops.filter((op) => kept.has(op));
  },
  describe: (input, output) => `${input.key}: ${describeRegister(input.op, output)}`,
  readOnly: (input) => input.op.kind === 'read',
  inputKey: (input) => `${JSON.stringify(input.key)} ${registerInputKey(input.op)}`,
};
