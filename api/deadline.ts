import { InvalidArgumentError } from '../core/errors.ts';

/** The longest deadline a call may have: what a platform timer can hold (~24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A call's `timeoutMs` checked (InvalidArgumentError otherwise): an integer from 1 to 2^31 − 1; undefined is none. */
export function checkedTimeoutMs(timeoutMs: unknown, name = 'timeoutMs'): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (!(Number.isSafeInteger(timeoutMs) && (timeoutMs as number) >= 1 && (timeoutMs as number) <= MAX_TIMEOUT_MS))
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`);
  return timeoutMs as number;
}
