import fc from 'fast-check';
import type { UnsafeRaftVariant } from '../../core/raft/types.ts';
import { Cluster, type ClusterOptions, type ReadRecord } from './harness.ts';

/**
 * Generated schedules for the property tests: a cluster shape and a list of actions, each
 * naming nodes and messages by small integers taken modulo what exists when the action runs
 * (so every generated or shrunk list is runnable, and shrinking towards 0 stays meaningful).
 */

export type Action =
  | { readonly t: 'deliver'; readonly k: number }
  /** Delivers the `n` oldest messages: mostly-FIFO progress between the shuffles. */
  | { readonly t: 'flush'; readonly n: number }
  | { readonly t: 'drop'; readonly k: number }
  | { readonly t: 'dup'; readonly k: number }
  | { readonly t: 'tick'; readonly node: number; readonly n: number }
  | { readonly t: 'tickAll' }
  /**
   * Time passes on the current network: `rounds` × (deliver everything in flight, tick every
   * node), so elections complete in one action. `pause`: the current leader is frozen meanwhile
   * (a GC pause: no ticks, its incoming messages wait), and wakes up still believing it leads.
   */
  | { readonly t: 'run'; readonly rounds: number; readonly pause: boolean }
  /** Ticks every node but one (the k-th believed leader, else node k): a stalled process or a slow clock. */
  | { readonly t: 'stall'; readonly k: number }
  /** Cuts every link of one node; `node` indexes [...believed leaders, ...all nodes], so leaders are hit more often. */
  | { readonly t: 'isolate'; readonly node: number }
  | { readonly t: 'cut'; readonly a: number; readonly b: number }
  | { readonly t: 'heal' }
  /** Target chosen as for `isolate`. `lose`: its in-flight messages are lost with it. */
  | { readonly t: 'crash'; readonly node: number; readonly lose: boolean }
  /** Restarts the `node`-th crashed node. */
  | { readonly t: 'restart'; readonly node: number }
  /** On the k-th node that believes it leads (stale ones included), else on node k. */
  | { readonly t: 'propose'; readonly k: number }
  /** A leader takes a write and crashes before any of it leaves (its outgoing messages die with it). */
  | { readonly t: 'proposeCrash'; readonly k: number }
  | { readonly t: 'read'; readonly k: number }
  | { readonly t: 'compact'; readonly node: number }
  | { readonly t: 'transfer'; readonly k: number; readonly to: number }
  /** On a believed leader; the target is drawn among the nodes the change can apply to (non-members, learners, members). */
  | { readonly t: 'conf'; readonly op: 'addLearner' | 'promote' | 'remove'; readonly k: number; readonly node: number };

export interface Shape {
  /** Bootstrap voters; one more node exists as a spare for conf changes. */
  readonly voters: 3 | 5;
  readonly seed: number;
}

/** Relative action weights; a variant hunt can lean on the faults that expose its bug. */
export type Weights = Partial<Record<Action['t'], number>>;

export const DEFAULT_WEIGHTS: Required<Weights> = {
  deliver: 30,
  flush: 8,
  drop: 4,
  dup: 3,
  tick: 18,
  tickAll: 3,
  run: 5,
  stall: 2,
  isolate: 2,
  cut: 2,
  heal: 3,
  crash: 2,
  restart: 3,
  propose: 8,
  proposeCrash: 1,
  read: 4,
  compact: 2,
  transfer: 2,
  conf: 4,
};

export function actionArb(weights: Weights = {}): fc.Arbitrary<Action> {
  const w = { ...DEFAULT_WEIGHTS, ...weights };
  const node = fc.nat(5);
  const k = fc.nat(63);
  const arbs: Record<Action['t'], fc.Arbitrary<Action>> = {
    deliver: k.map((k) => ({ t: 'deliver', k })),
    flush: fc.integer({ min: 1, max: 8 }).map((n) => ({ t: 'flush', n })),
    drop: k.map((k) => ({ t: 'drop', k })),
    dup: k.map((k) => ({ t: 'dup', k })),
    tick: fc.record({ node, n: fc.integer({ min: 1, max: 4 }) }).map(({ node, n }) => ({ t: 'tick', node, n })),
    tickAll: fc.constant({ t: 'tickAll' }),
    run: fc
      .record({
        rounds: fc.integer({ min: 1, max: 12 }),
        pause: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      })
      .map(({ rounds, pause }) => ({ t: 'run', rounds, pause })),
    stall: k.map((k) => ({ t: 'stall', k })),
    isolate: node.map((node) => ({ t: 'isolate', node })),
    cut: fc.record({ a: node, b: node }).map(({ a, b }) => ({ t: 'cut', a, b })),
    heal: fc.constant({ t: 'heal' }),
    crash: fc.record({ node, lose: fc.boolean() }).map(({ node, lose }) => ({ t: 'crash', node, lose })),
    restart: node.map((node) => ({ t: 'restart', node })),
    propose: k.map((k) => ({ t: 'propose', k })),
    proposeCrash: k.map((k) => ({ t: 'proposeCrash', k })),
    read: k.map((k) => ({ t: 'read', k })),
    compact: node.map((node) => ({ t: 'compact', node })),
    transfer: fc.record({ k, to: node }).map(({ k, to }) => ({ t: 'transfer', k, to })),
    conf: fc
      .record({ op: fc.constantFrom('addLearner' as const, 'promote' as const, 'remove' as const), k, node })
      .map(({ op, k, node }) => ({ t: 'conf', op, k, node })),
  };
  const weighted = (Object.keys(arbs) as Action['t'][]).filter((t) => (w[t] ?? 0) > 0).map((t) => ({ weight: w[t] ?? 0, arbitrary: arbs[t] }));
  return fc.oneof(...weighted);
}

export function scheduleArb(
  opts: { weights?: Weights; maxLength?: number; voters?: readonly (3 | 5)[] } = {},
): fc.Arbitrary<{ shape: Shape; actions: Action[] }> {
  return fc.record({
    shape: fc.record({ voters: fc.constantFrom(...(opts.voters ?? [3, 5])), seed: fc.nat(1_000_000) }),
    actions: fc.array(actionArb(opts.weights), { minLength: 1, maxLength: opts.maxLength ?? 300, size: 'max' }),
  });
}

export interface RunOptions {
  readonly unsafe?: readonly UnsafeRaftVariant[];
  /** Heal, restart and let the cluster converge at the end, then compare every replica. @default true */
  readonly settle?: boolean;
  readonly cluster?: Partial<ClusterOptions>;
}

/** Small timeouts so that elections, step-downs and snapshot retries happen within short schedules. */
export function clusterFor(shape: Shape, opts: RunOptions = {}): Cluster {
  const ids = Array.from({ length: shape.voters + 1 }, (_, i) => `n${i + 1}`);
  return new Cluster({
    ids,
    voters: ids.slice(0, shape.voters),
    seed: shape.seed,
    electionTicks: 4,
    electionJitterTicks: 3,
    heartbeatTicks: 1,
    maxEntriesPerAppend: 3,
    maxInflight: 4,
    snapshotChunkBytes: 64,
    snapshotWindow: 2,
    compactEvery: 6,
    logMatchingEvery: 25,
    strictReads: true,
    unsafe: opts.unsafe ?? [],
    ...opts.cluster,
  });
}

const unanswered = (r: ReadRecord): boolean => r.status === 'pending' || r.status === 'ready';

/** The cluster did not recover after the faults stopped: a liveness problem, not a safety one. */
export class LivenessFailure extends Error {
  override readonly name = 'LivenessFailure';
}

/** Runs the schedule; throws (a SafetyViolation, or an assertion inside the Raft core) on the first problem. */
export function runSchedule(shape: Shape, actions: readonly Action[], opts: RunOptions = {}): Cluster {
  const c = clusterFor(shape, opts);
  for (const a of actions) runAction(c, a);
  c.checkAll();
  if (opts.settle !== false) {
    if (!c.stabilize(400)) throw new LivenessFailure(`no convergence after the schedule: ${status(c)}`);
    c.checkAll();
    // A final write must make it everywhere (the cluster is live again, not only safe).
    const l = c.leader();
    if (l === undefined) throw new LivenessFailure('no leader after convergence');
    c.propose(l, 'final');
    if (!c.stabilize(100)) throw new LivenessFailure(`no convergence after a final write: ${status(c)}`);
    c.checkAll();
    // Every read gets an answer: served, or failed so the client retries, never left hanging.
    for (let i = 0; i < 4 && c.reads.some(unanswered); i++) {
      c.tickAll(2);
      c.deliverAll();
    }
    const hanging = c.reads.filter(unanswered);
    if (hanging.length > 0)
      throw new LivenessFailure(`reads never answered: ${hanging.map((r) => `#${r.id} on ${r.node} (${r.status})`).join(', ')}; ${status(c)}`);
  }
  return c;
}

function status(c: Cluster): string {
  return c
    .upIds()
    .map((id) => {
      const r = c.raft(id);
      return `${id}:${r.role}/t${r.term}/last${r.log.lastIndex()}/commit${r.log.commit}/applied${c.machine(id).applied}/voters=${r.conf.voters.join(',')}/learners=${r.conf.learners.join(',')}`;
    })
    .join(' ');
}

function pick<T>(xs: readonly T[], k: number): T | undefined {
  return xs.length === 0 ? undefined : xs[k % xs.length];
}

export function runAction(c: Cluster, a: Action): void {
  const ids = c.ids;
  const nodeAt = (i: number): string => ids[i % ids.length] ?? 'n1';
  /** Stale leaders are deliberately included: that is where reads and writes go wrong. */
  const leaderOr = (k: number): string => pick(c.leaders(), k) ?? nodeAt(k);
  /** Faults land on leaders more often than a uniform pick would put them there. */
  const biased = (k: number): string => pick([...c.leaders(), ...ids], k) ?? nodeAt(k);
  switch (a.t) {
    case 'deliver':
      c.deliver(a.k);
      return;
    case 'flush':
      for (let i = 0; i < a.n && c.inflight().length > 0; i++) c.deliver(0);
      return;
    case 'drop':
      c.drop(a.k);
      return;
    case 'dup':
      c.duplicate(a.k);
      return;
    case 'tick':
      c.tick(nodeAt(a.node), a.n);
      return;
    case 'tickAll':
      c.tickAll();
      return;
    case 'run': {
      const paused = a.pause ? c.leader() : undefined;
      for (let i = 0; i < a.rounds; i++) {
        c.deliverWhere((m) => m.to !== paused);
        for (const id of c.upIds()) if (id !== paused) c.tick(id);
      }
      return;
    }
    case 'stall': {
      const stalled = leaderOr(a.k);
      for (const id of c.upIds()) if (id !== stalled) c.tick(id);
      return;
    }
    case 'isolate':
      c.isolate(biased(a.node));
      return;
    case 'cut':
      c.cut(nodeAt(a.a), nodeAt(a.b));
      return;
    case 'heal':
      c.heal();
      return;
    case 'crash':
      c.crash(biased(a.node), a.lose);
      return;
    case 'restart':
      // Among the crashed nodes, so that a restart always does something.
      c.restart(
        pick(
          ids.filter((id) => !c.isUp(id)),
          a.node,
        ) ?? nodeAt(a.node),
      );
      return;
    case 'propose':
      c.propose(leaderOr(a.k));
      return;
    case 'proposeCrash': {
      const l = leaderOr(a.k);
      if (!('kind' in c.propose(l))) c.crash(l, true);
      return;
    }
    case 'read':
      c.read(leaderOr(a.k));
      return;
    case 'compact':
      c.compact(nodeAt(a.node));
      return;
    case 'transfer': {
      const from = leaderOr(a.k);
      if (c.isUp(from)) c.transfer(from, nodeAt(a.to));
      return;
    }
    case 'conf': {
      const l = leaderOr(a.k);
      if (!c.isUp(l) || c.raft(l).role !== 'leader') return;
      // Targets are drawn among the nodes the change applies to, so most changes are valid.
      const { voters, learners } = c.raft(l).conf;
      const members = [...voters, ...learners];
      if (a.op === 'addLearner') {
        const target = pick(
          ids.filter((id) => !members.includes(id)),
          a.node,
        );
        if (target !== undefined) c.addLearner(l, target);
      } else if (a.op === 'promote') {
        const target = pick(learners, a.node);
        if (target !== undefined) c.promote(l, target);
      } else {
        const target = pick(
          members.filter((id) => id !== l),
          a.node,
        );
        if (target !== undefined) c.removeMember(l, target);
      }
      return;
    }
  }
}

/** Each action's fields in order, so that a rendered schedule can be parsed back. */
const FIELDS: { readonly [T in Action['t']]: readonly (keyof Extract<Action, { t: T }>)[] } = {
  deliver: ['k'],
  flush: ['n'],
  drop: ['k'],
  dup: ['k'],
  tick: ['node', 'n'],
  tickAll: [],
  run: ['rounds', 'pause'],
  stall: ['k'],
  isolate: ['node'],
  cut: ['a', 'b'],
  heal: [],
  crash: ['node', 'lose'],
  restart: ['node'],
  propose: ['k'],
  proposeCrash: ['k'],
  read: ['k'],
  compact: ['node'],
  transfer: ['k', 'to'],
  conf: ['op', 'k', 'node'],
};

/** A compact rendering of a schedule; `parseSchedule` reads it back (RAFT_REPLAY in raft.property.test.ts). */
export function formatSchedule(shape: Shape, actions: readonly Action[]): string {
  const parts = actions.map((a) => {
    const args = (FIELDS[a.t] as readonly string[]).map((f) => String((a as unknown as Record<string, unknown>)[f])).join(',');
    return args === '' ? a.t : `${a.t}(${args})`;
  });
  return `voters=${shape.voters} seed=${shape.seed} [${actions.length} actions] ${parts.join(' ')}`;
}

export function parseSchedule(text: string): { shape: Shape; actions: Action[] } {
  const m = /voters=(\d) seed=(\d+) \[\d+ actions\] ?(.*)$/.exec(text.trim());
  if (m === null) throw new Error(`not a schedule: ${text}`);
  const voters = Number(m[1]);
  if (voters !== 3 && voters !== 5) throw new Error(`voters must be 3 or 5: ${voters}`);
  const actions = (m[3] ?? '')
    .split(' ')
    .filter((part) => part !== '')
    .map((part): Action => {
      const am = /^(\w+)(?:\((.*)\))?$/.exec(part);
      const t = am?.[1] as Action['t'] | undefined;
      if (am === null || t === undefined || !(t in FIELDS)) throw new Error(`unknown action: ${part}`);
      const args = am[2] === undefined ? [] : am[2].split(',');
      const fields = FIELDS[t] as readonly string[];
      const action: Record<string, unknown> = { t };
      for (const [i, f] of fields.entries()) {
        const raw = args[i] ?? '';
        action[f] = raw === 'true' ? true : raw === 'false' ? false : /^\d+$/.test(raw) ? Number(raw) : raw;
      }
      return action as unknown as Action;
    });
  return { shape: { voters, seed: Number(m[2]) }, actions };
}
