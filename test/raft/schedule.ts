import fc from 'fast-check';
import { type Action, DEFAULT_WEIGHTS, type Shape, type Weights } from '../../net-sim/raft-cluster/schedule.ts';

/**
 * fast-check arbitraries for the schedules of `net-sim/raft-cluster/schedule.ts` (which runs
 * them, prints and parses them): the same actions the seeded `raft-core` scenario draws, with
 * shrinking.
 */

export * from '../../net-sim/raft-cluster/schedule.ts';

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
