/**
 * Assertions for bugs, never for expected failures. A failed assertion means the machine's
 * own invariants are broken; it is not caught anywhere in `core/`. Expected failures (bad
 * input, peers misbehaving, timeouts) are typed errors instead (`core/errors.ts`).
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
