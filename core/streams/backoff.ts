import { InvalidArgumentError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import type { Rng } from '../util/rng.ts';

/**
 * How a consumer retries a producer after a recoverable disconnect (TooSlow, NoCapacity,
 * a lost link, a failed dial): exponential with jitter, as mosaik's streams config
 * (`backoff` crate: 500 ms, ×1.5, ±50%, at most 60 s per wait, given up after 300 s of
 * failing). Unlike mosaik, which resets only on a received datum, the streak resets once a
 * subscription has stayed connected for `resetAfterMs`, so a quiet but healthy link that
 * drops is retried from the start.
 */
export interface BackoffConfig {
  /** First wait, ms. @default 500 */
  readonly initialMs: number;
  /** Each wait is this times the previous one. @default 1.5 */
  readonly multiplier: number;
  /** Each wait is spread uniformly by ± this fraction. @default 0.5 */
  readonly jitter: number;
  /** Longest wait, ms. @default 60 000 */
  readonly maxMs: number;
  /** A streak of failures longer than this ends the subscription (until the producer's entry changes). @default 300 000 */
  readonly maxElapsedMs: number;
  /** A subscription connected at least this long counts as healthy: its next failure starts a new streak. @default 10 000 */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffConfig = {
  initialMs: 500,
  multiplier: 1.5,
  jitter: 0.5,
  maxMs: 60_000,
  maxElapsedMs: 300_000,
  resetAfterMs: 10_000,
};

/** What is wrong with a backoff policy, if anything: one set of rules for the API's check and the machine's. */
function backoffProblem(b: BackoffConfig): string | undefined {
  // Numbers only: comparisons would coerce '1000' and pass it on.
  for (const key of Object.keys(DEFAULT_BACKOFF) as (keyof BackoffConfig)[]) if (typeof b[key] !== 'number') return `${key} must be a number`;
  if (!(b.initialMs > 0) || !Number.isFinite(b.initialMs)) return 'initialMs must be positive';
  if (!(b.multiplier >= 1) || !Number.isFinite(b.multiplier)) return 'multiplier must be at least 1';
  if (!(b.jitter >= 0 && b.jitter < 1)) return 'jitter must be in [0, 1)';
  if (!(b.maxMs >= b.initialMs)) return 'maxMs must be at least initialMs';
  if (!(b.maxElapsedMs >= 0) || !(b.resetAfterMs >= 0)) return 'maxElapsedMs and resetAfterMs must be non-negative';
  return undefined;
}

/** `DEFAULT_BACKOFF` with `partial` over it, checked: InvalidArgumentError names what is wrong. */
export function resolveBackoff(partial: Partial<BackoffConfig> | undefined): BackoffConfig {
  const b = { ...DEFAULT_BACKOFF, ...backoffFields(partial) };
  const problem = backoffProblem(b);
  if (problem !== undefined) throw new InvalidArgumentError(`backoff: ${problem}, got ${JSON.stringify(partial)}`);
  return b;
}

/** `partial` if it is an object of backoff fields (or undefined): anything else would spread to nothing, silently. */
export function backoffFields(partial: unknown): Partial<BackoffConfig> | undefined {
  if (partial !== undefined && (typeof partial !== 'object' || partial === null || Array.isArray(partial)))
    throw new InvalidArgumentError(`backoff must be an object, got ${partial === null ? 'null' : typeof partial}`);
  return partial as Partial<BackoffConfig> | undefined;
}

/** The machine's own check: a policy that got past `resolveBackoff` has none, so one is a bug. */
export function checkBackoff(b: BackoffConfig): void {
  const problem = backoffProblem(b);
  assert(problem === undefined, `backoff.${problem}`);
}

/** The wait before retry number `attempt` (0 for the first retry), in whole ms. */
export function backoffDelayMs(b: BackoffConfig, attempt: number, rng: Rng): number {
  const base = Math.min(b.maxMs, b.initialMs * b.multiplier ** attempt);
  return Math.max(1, Math.round(base * (1 + b.jitter * (2 * rng.float() - 1))));
}
