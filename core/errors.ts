import { CloseCode, closeCodeName } from './wire/close-codes.ts';

/**
 * One error class per failure, each with a stable `name` and `code` that callers branch on
 * (`err.code === 'TIMEOUT'`). These are expected failures: bad input, unreachable peers,
 * closed handles. Bugs are assertions (`core/util/assert.ts`), never these.
 */
export abstract class MosaikError extends Error {
  abstract readonly code: string;
}

/**
 * Makes an error without capturing a stack trace, for the expected, retryable failures a
 * machine hands back to callers by the thousand (a group with no leader while it elects
 * one): capturing a stack costs several microseconds, and this one would only show the
 * machine's internals. Not for anything a caller would debug by its stack.
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export type DecodeErrorKind = 'truncated' | 'malformed' | 'unknown-variant' | 'oversized' | 'invalid';

/** Input bytes that do not decode to a valid message. The link is closed with `closeCode`. */
export class DecodeError extends MosaikError {
  override readonly name = 'DecodeError';
  readonly code = 'DECODE';
  readonly closeCode = CloseCode.ProtocolViolation;
  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

/** A request did not complete within its deadline. */
export class TimeoutError extends MosaikError {
  override readonly name = 'TimeoutError';
  readonly code = 'TIMEOUT';
  /**
   * A group call's command (`timeoutMs`): `false` if it never reached a leader, so it is in
   * no log and will never be applied; `true` if it may still be applied (once). Undefined
   * for a query and for timeouts that are not group calls.
   */
  readonly mayHaveApplied: boolean | undefined;

  constructor(message?: string, options?: { readonly mayHaveApplied?: boolean }) {
    super(message);
    this.mayHaveApplied = options?.mayHaveApplied;
  }
}

/** A link (connection) to a peer could not be opened. */
export class ConnectError extends MosaikError {
  override readonly name = 'ConnectError';
  readonly code = 'CONNECT';
  constructor(
    readonly reason: 'timeout' | 'refused' | 'peer-mismatch' | 'unreachable',
    message: string,
  ) {
    super(message);
  }
}

/** A link closed while a request depended on it. */
export class LinkClosedError extends MosaikError {
  override readonly name = 'LinkClosedError';
  readonly code = 'LINK_CLOSED';
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super(`link closed: ${closeCodeName(closeCode)}${reason ? ` (${reason})` : ''}`);
  }
}

/** The handle (network, producer, group, ...) was closed. */
export class ClosedError extends MosaikError {
  override readonly name = 'ClosedError';
  readonly code = 'CLOSED';
}

/** The simulated node this handle belongs to is crashed; calls fail until it restarts. */
export class NodeDownError extends MosaikError {
  override readonly name = 'NodeDownError';
  readonly code = 'NODE_DOWN';
}

/** A peer address or other argument is malformed. */
export class InvalidArgumentError extends MosaikError {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'INVALID_ARGUMENT';
}

/** A message exceeds the configured maximum frame size. */
export class OversizedError extends MosaikError {
  override readonly name = 'OversizedError';
  readonly code = 'OVERSIZED';
  constructor(
    readonly sizeBytes: number,
    readonly maxBytes: number,
    message = `message of ${sizeBytes} bytes exceeds the ${maxBytes}-byte frame limit`,
  ) {
    super(message);
  }
}

/**
 * A signature that does not verify against the key it claims: a tampered, forged or
 * mis-signed message (e.g. a peer entry not signed by its own peer). Like a DecodeError, it
 * means the peer sent something it must not, so a link that carried it closes with `closeCode`.
 */
export class InvalidSignatureError extends MosaikError {
  override readonly name = 'InvalidSignatureError';
  readonly code = 'INVALID_SIGNATURE';
  readonly closeCode = CloseCode.ProtocolViolation;
}

/** A producer has no subscribers that satisfy its `onlineWhen` condition (streams `trySend`). */
export class OfflineError extends MosaikError {
  override readonly name = 'OfflineError';
  readonly code = 'OFFLINE';
}

/**
 * No room now; retry later. A producer's `trySend` when every consumer's queue is full; a
 * group call when the node has `maxPendingCalls` calls (or `maxPendingBytes` of commands)
 * in flight on that group: the call was refused before it reached a leader, so it is never
 * applied.
 */
export class FullError extends MosaikError {
  override readonly name = 'FullError';
  readonly code = 'FULL';
}

/** Something with that identity already exists here (e.g. a second producer of one stream on one node). */
export class AlreadyExistsError extends MosaikError {
  override readonly name = 'AlreadyExistsError';
  readonly code = 'ALREADY_EXISTS';
}

/**
 * A value does not encode with its codec (a group command or query, a stream datum, a
 * collection key or value): nothing was sent. Also a collection read whose stored bytes
 * the handle's codec does not decode. `cause` is the codec's own error.
 */
export class EncodingError extends MosaikError {
  override readonly name = 'EncodingError';
  readonly code = 'ENCODING';
}

/**
 * This node may not take part: the group requires tickets (`requireTickets`) that this
 * node's own signed entry does not carry, so no member will bond with it. Not retryable as
 * is: add a ticket the validators accept (`net.discovery.addTicket`), then retry.
 */
export class NotAllowedError extends MosaikError {
  override readonly name = 'NotAllowedError';
  readonly code = 'NOT_ALLOWED';
}

/** The group handle was left or its node closed; the call was not (or may not have been) carried out. */
export class GroupClosedError extends MosaikError {
  override readonly name = 'GroupClosedError';
  readonly code = 'GROUP_CLOSED';
}

/**
 * The group history this node belonged to lost to an earlier formation of the same group
 * (members formed apart, see docs/groups.md): commands it had committed there are not part
 * of the kept history. The node has joined the kept one; retry the call.
 */
export class FormationLostError extends MosaikError {
  override readonly name = 'FormationLostError';
  readonly code = 'FORMATION_LOST';
}

/** The state machine's `apply` threw for this command (on every replica alike: it is deterministic). */
export class ApplyError extends MosaikError {
  override readonly name = 'ApplyError';
  readonly code = 'APPLY';
}

/** The state machine's `query` threw for this query (the machine's error is the `cause`). Nothing changed. */
export class QueryError extends MosaikError {
  override readonly name = 'QueryError';
  readonly code = 'QUERY';
}

/**
 * A node's durable storage (`Network.create({ dataDir })`) cannot be used: another process
 * holds it (`locked`), its bytes are damaged beyond a torn final write (`corrupted`), or the
 * disk refused a read or write (`io`). After an `io` failure on write the node stops: it
 * cannot promise what it has not stored.
 */
export class StorageError extends MosaikError {
  override readonly name = 'StorageError';
  readonly code = 'STORAGE';
  constructor(
    readonly reason: 'locked' | 'corrupted' | 'io',
    message: string,
  ) {
    super(message);
  }
}
