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

/** `DEFAULT_BACKOFF` with `partial` over it, checked: InvalidArgumentError names what is wrong. */
export function resolveBackoff(partial: Partial<BackoffConfig> | undefined): BackoffConfig {
  const b = { ...DEFAULT_BACKOFF, ...partial };
  if (!(b.initialMs > 0) || !Number.isFinite(b.initialMs) || !(b.multiplier >= 1) || !Number.isFinite(b.multiplier)) {
    throw new InvalidArgumentError(`backoff: initialMs must be positive and multiplier at least 1, got ${JSON.stringify(partial)}`);
  }
  if (!(b.jitter >= 0 && b.jitter < 1)) throw new InvalidArgumentError(`backoff: jitter must be in [0, 1), got ${b.jitter}`);
  if (!(b.maxMs >= b.initialMs)) throw new InvalidArgumentError(`backoff: maxMs must be at least initialMs, got ${JSON.stringify(partial)}`);
  if (!(b.maxElapsedMs >= 0) || !(b.resetAfterMs >= 0)) throw new InvalidArgumentError('backoff: maxElapsedMs and resetAfterMs must be non-negative');
  return b;
}

export function checkBackoff(b: BackoffConfig): void {
  assert(b.initialMs > 0 && Number.isFinite(b.initialMs), 'backoff.initialMs must be positive');
  assert(b.multiplier >= 1 && Number.isFinite(b.multiplier), 'backoff.multiplier must be at least 1');
  assert(b.jitter >= 0 && b.jitter < 1, 'backoff.jitter must be in [0, 1)');
  assert(b.maxMs >= b.initialMs, 'backoff.maxMs must be at least initialMs');
  assert(b.maxElapsedMs >= 0 && b.resetAfterMs >= 0, 'backoff.maxElapsedMs and resetAfterMs must be non-negative');
}

/** The wait before retry number `attempt` (0 for the first retry), in whole ms. */
export function backoffDelayMs(b: BackoffConfig, attempt: number, rng: Rng): number {
  const base = Math.min(b.maxMs, b.initialMs * b.multiplier ** attempt);
  return Math.max(1, Math.round(base * (1 + b.jitter * (2 * rng.float() - 1))));
}
