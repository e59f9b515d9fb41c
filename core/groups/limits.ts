import { InvalidArgumentError, type MosaikError, OversizedError } from '../errors.ts';
import { ENTRY_OVERHEAD_BYTES } from '../raft/types.ts';
import { frameCapacity } from '../wire/codec.ts';

/**
 * How much a call may hand a group. A call's commands travel together, in one forward to
 * the leader and, as entries, in appends to every member; a frame that cannot be sent, or
 * that its receiver refuses, is sent again and again and never arrives. So a call whose
 * commands could not travel is refused before anything is proposed, whichever member takes
 * it (the same limit on the leader and on a follower), and Raft splits appends by size
 * (`RaftConfig.maxAppendBytes`).
 */

/** Commands in one call (`executeMany`) at most: what a forward may carry. */
export const MAX_BATCH = 4096;

/** What a frame carrying commands (an append, a forward) needs besides them, at most: its tag, formation, term and indices. */
export const FRAME_OVERHEAD_BYTES = 1024;

/**
 * What a command adds to its payload, at most: its envelope (an origin of up to 128
 * characters, two sequence numbers) and, in the log, an entry's framing.
 */
export const COMMAND_OVERHEAD_BYTES = 192 + ENTRY_OVERHEAD_BYTES;

/** The bytes of commands (payloads plus `COMMAND_OVERHEAD_BYTES` each) one frame can carry for a node with this `maxFrameBytes`. */
export function commandBudget(maxFrameBytes: number): number {
  return frameCapacity(maxFrameBytes) - FRAME_OVERHEAD_BYTES;
}

/** Why a call with these payloads cannot be taken, or undefined if it can. */
export function checkBatch(payloads: readonly Uint8Array[], maxFrameBytes: number): MosaikError | undefined {
  if (payloads.length === 0) return new InvalidArgumentError('no commands');
  if (payloads.length > MAX_BATCH) return new InvalidArgumentError(`a call takes at most ${MAX_BATCH} commands, got ${payloads.length}`);
  let bytes = 0;
  for (const p of payloads) bytes += p.length + COMMAND_OVERHEAD_BYTES;
  const budget = commandBudget(maxFrameBytes);
  if (bytes <= budget) return undefined;
  const what = payloads.length === 1 ? 'the command takes' : `the ${payloads.length} commands take`;
  return new OversizedError(bytes, budget, `${what} ${bytes} bytes encoded, envelopes included; one call may carry at most ${budget}`);
}

/**
 * The largest snapshot chunk a node with this `maxFrameBytes` sends: half a frame, so the
 * chunk's envelope (the snapshot's configuration among it) has the other half. The default
 * frame gives 4 MiB, the most `snapshotChunkBytes` may ask for.
 */
export function snapshotChunkBudget(maxFrameBytes: number): number {
  return Math.floor(frameCapacity(maxFrameBytes) / 2);
}
