import { FullError, type MosaikError, OversizedError, withoutStack } from '../errors.ts';

/**
 * How much a node may have in flight on one group. Every call a node takes stays in its
 * memory until it settles (its commands, a promise, its place in the tables that match
 * applied entries back to it), and a leader that cannot keep up settles them more slowly
 * than an application can make them: without a bound, a burst grows the heap without end
 * (~2.3 KB a call over three simulated members, `npm run bench:calls`). Over the bound a call
 * fails at once with FullError, before it has a sequence number or reaches a leader, so it
 * is certainly not applied and can be retried. A leader also bounds what it has proposed and
 * not committed, its own calls and its followers' together (`maxUncommittedBytes`, etcd's
 * `MaxUncommittedEntriesSize`): past it, proposals wait (docs/groups.md).
 */
export interface CallLimits {
  /** Calls (`execute`, `executeMany`, `feed`, strong `query`) not yet settled, at most. */
  readonly maxPendingCalls: number;
  /**
   * Bytes of the commands of those calls, at most: their encoded payloads plus
   * `COMMAND_OVERHEAD_BYTES` each (limits.ts), as a call's size is counted against a frame.
   */
  readonly maxPendingBytes: number;
  /**
   * While this node leads: bytes of commands (their envelopes) it has proposed in its term
   * and not committed, at most; one proposal is always taken when there are none. Past it,
   * its own calls and the ones its followers forward wait until commits make room.
   */
  readonly maxUncommittedBytes: number;
}

export const DEFAULT_CALL_LIMITS: CallLimits = { maxPendingCalls: 65_536, maxPendingBytes: 64 * 1024 * 1024, maxUncommittedBytes: 128 * 1024 * 1024 };

/**
 * Why one more call carrying `bytes` of commands cannot be taken beside `calls` calls and
 * `pendingBytes` bytes already in flight, or undefined if it can. A call larger than the
 * whole byte budget can never be taken (OversizedError); one that does not fit beside the
 * calls in flight can once some settle (FullError, made without a stack: a saturated node
 * meets it by the thousand).
 */
export function callRefusal(limits: CallLimits, calls: number, pendingBytes: number, bytes: number): MosaikError | undefined {
  const { maxPendingCalls, maxPendingBytes } = limits;
  if (bytes > maxPendingBytes)
    return new OversizedError(bytes, maxPendingBytes, `the call's commands take ${bytes} bytes; maxPendingBytes is ${maxPendingBytes}`);
  if (calls >= maxPendingCalls) return withoutStack(() => new FullError(`${calls} calls in flight on this group (maxPendingCalls); retry once some settle`));
  if (pendingBytes + bytes > maxPendingBytes)
    return withoutStack(
      () => new FullError(`${pendingBytes} bytes of commands in flight on this group (maxPendingBytes ${maxPendingBytes}); retry once some settle`),
    );
  return undefined;
}
