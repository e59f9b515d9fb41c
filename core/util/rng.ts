/**
 * Randomness is an input to `core/`: machines receive an Rng and never draw on the
 * platform's own generators. The simulator passes a seeded stream per node; production passes
 * one backed by the OS CSPRNG.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** `n` uniform bytes. */
  bytes(n: number): Uint8Array;
}

/** Uniform integer in [min, max] (inclusive). */
export function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng.float() * (max - min + 1));
}

/** Picks one element uniformly; undefined for an empty list. */
export function pick<T>(rng: Rng, items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.floor(rng.float() * items.length)];
}

/** `base` scaled by a uniform factor in [1 - spread, 1 + spread]. */
export function jitter(rng: Rng, base: number, spread: number): number {
  return base * (1 - spread + 2 * spread * rng.float());
}

/** Removes up to `n` uniformly chosen elements from `items` (in place) and returns them, in the order drawn. */
export function takeRandom<T>(rng: Rng, items: T[], n: number): T[] {
  const taken: T[] = [];
  while (taken.length < n && items.length > 0) taken.push(...items.splice(Math.floor(rng.float() * items.length), 1));
  return taken;
}
