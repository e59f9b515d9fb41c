import { decode, Encoder } from '@msgpack/msgpack';
import type { DatumCodec } from '../streams/datum-codec.ts';
import { msgpackCodec } from '../wire/codec.ts';
import * as s from '../wire/schema.ts';

/** What `apply` may know about the command it applies; the same on every replica. */
export interface ApplyContext {
  /** The command's log index: its position in the group's history. */
  readonly index: number;
  /** The term of the leader that appended it. */
  readonly term: number;
}

/**
 * A replicated state machine (API.md). `apply` must be deterministic: the same commands in
 * the same order give the same state and results on every member. `signature` names the
 * machine's type and version; it is part of the group id, so incompatible machines never
 * share a group.
 */
export interface StateMachine<C = unknown, Q = unknown, R = unknown> {
  readonly signature: string;
  apply(command: C, ctx: ApplyContext): unknown;
  query(query: Q): R;
  snapshot(): Uint8Array;
  restore(snapshot: Uint8Array): void;
}

/**
 * A command as it sits in the log: who sent it (`origin`: the member id and which of its
 * group handles, see group.ts `#nextOrigin`), its sequence number there, and `floor`, below
 * which every one of the origin's sequence numbers is settled (so replicas can forget them). Together they make a retried forward idempotent.
 */
interface Envelope {
  readonly origin: string;
  readonly seq: number;
  readonly floor: number;
  readonly payload: Uint8Array;
}

const envelopeCodec = msgpackCodec(s.struct({ origin: s.str({ maxLength: 128 }), seq: s.uint, floor: s.uint, payload: s.bytes({ maxLength: 64 << 20 }) }));

export function encodeEnvelope(e: Envelope): Uint8Array {
  return envelopeCodec.encode(e);
}

/** `origin#seq` of an encoded command: the same for every copy of it, whatever its `floor`. Undefined if it does not decode. */
export function envelopeKey(bytes: Uint8Array): string | undefined {
  const decoded = envelopeCodec.decode(bytes);
  return decoded.ok ? `${decoded.value.origin}#${decoded.value.seq}` : undefined;
}

const snapshotCodec = msgpackCodec(
  s.struct({
    machine: s.bytes({ maxLength: 1 << 30 }),
    sessions: s.array(
      s.struct({
        origin: s.str({ maxLength: 128 }),
        floor: s.uint,
        applied: s.array(s.uint, { maxLength: 1 << 20 }),
        /** What each of `applied` gave, in the same order: its index, and its result (msgpack) or error. */
        outcomes: s.array(s.struct({ index: s.uint, result: s.optional(s.bytes({ maxLength: 1 << 24 })), error: s.optional(s.str({ maxLength: 1 << 16 })) }), {
          maxLength: 1 << 20,
        }),
      }),
      { maxLength: 1 << 20 },
    ),
  }),
);

/** What the first apply of a command gave, kept for its retried copies. */
export type Outcome = { readonly index: number; readonly result: unknown } | { readonly index: number; readonly error: string };

export type Applied =
  | { readonly kind: 'result'; readonly origin: string; readonly seq: number; readonly result: unknown }
  | { readonly kind: 'failed'; readonly origin: string; readonly seq: number; readonly error: string }
  /**
   * Already applied earlier (a retried forward): skipped. `first` is what that apply gave,
   * while the origin may still wait for it (its sequence number is above the origin's floor):
   * the origin may not have applied the first copy itself (a snapshot covered it), and its
   * caller must still get that index and result.
   */
  | { readonly kind: 'duplicate'; readonly origin: string; readonly seq: number; readonly first: Outcome | undefined }
  /** Bytes that are not an envelope: skipped on every replica alike (a command its codec cannot decode is `failed`). */
  | { readonly kind: 'undecodable' };

interface Session {
  floor: number;
  /** Sequence numbers above the floor that were applied, with what they gave. */
  applied: Map<number, Outcome>;
}

/**
 * The user's machine plus the request sessions that make retries idempotent. Both are in
 * every snapshot, so a replica restored from one skips the same duplicates as the others.
 */
export class ReplicatedState<C, Q, R> {
  readonly machine: StateMachine<C, Q, R>;
  readonly #codec: DatumCodec<C>;
  readonly #genesis: Uint8Array;
  #sessions = new Map<string, Session>();

  constructor(machine: StateMachine<C, Q, R>, codec: DatumCodec<C>, genesis: Uint8Array) {
    this.machine = machine;
    this.#codec = codec;
    this.#genesis = genesis;
  }

  apply(bytes: Uint8Array, ctx: ApplyContext): Applied {
    const decoded = envelopeCodec.decode(bytes);
    if (!decoded.ok) return { kind: 'undecodable' };
    const env = decoded.value;
    let session = this.#sessions.get(env.origin);
    if (session === undefined) {
      session = { floor: 0, applied: new Map() };
      this.#sessions.set(env.origin, session);
    }
    const duplicate = env.seq <= session.floor || session.applied.has(env.seq);
    if (env.floor > session.floor) {
      session.floor = env.floor;
      for (const seq of session.applied.keys()) if (seq <= env.floor) session.applied.delete(seq);
    }
    if (duplicate) return { kind: 'duplicate', origin: env.origin, seq: env.seq, first: session.applied.get(env.seq) };
    const applied = this.#applyNew(env, ctx);
    if (env.seq > session.floor)
      session.applied.set(env.seq, applied.kind === 'failed' ? { index: ctx.index, error: applied.error } : { index: ctx.index, result: applied.result });
    return applied;
  }

  /**
   * Decodes and applies a command not applied before. What the application's code throws
   * (its codec's `decode`, its machine's `apply`) is the command's outcome, the same on
   * every replica. (A command that did not decode used to be skipped as undecodable and
   * never settled: its origin took the entry for another's and proposed it again, for ever.)
   */
  #applyNew(env: Envelope, ctx: ApplyContext): Extract<Applied, { kind: 'result' | 'failed' }> {
    let command: C;
    try {
      command = this.#codec.decode(env.payload);
    } catch (e) {
      return failedApply(env, e, 'the command does not decode: ');
    }
    try {
      return { kind: 'result', origin: env.origin, seq: env.seq, result: this.machine.apply(command, ctx) };
    } catch (e) {
      return failedApply(env, e);
    }
  }

  /**
   * `origin`'s command `seq` as a retried copy of it would find it: `duplicate` if it was
   * applied (with its outcome while the origin may still wait for it), undefined if not.
   */
  appliedBefore(origin: string, seq: number): Extract<Applied, { kind: 'duplicate' }> | undefined {
    const session = this.#sessions.get(origin);
    if (session === undefined || (seq > session.floor && !session.applied.has(seq))) return undefined;
    return { kind: 'duplicate', origin, seq, first: session.applied.get(seq) };
  }

  snapshot(): Uint8Array {
    const sessions = [...this.#sessions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return snapshotCodec
      .encode({
        machine: this.machine.snapshot(),
        sessions: sessions.map(([origin, ses]) => {
          const applied = [...ses.applied].sort(([a], [b]) => a - b);
          return { origin, floor: ses.floor, applied: applied.map(([seq]) => seq), outcomes: applied.map(([, o]) => encodeOutcome(o)) };
        }),
      })
      .slice();
  }

  /** Throws on bytes that are not a snapshot of this wrapper (a corrupt store: a bug, not input). */
  restore(bytes: Uint8Array): void {
    const snap = readSnapshot(bytes);
    if (typeof snap === 'string') throw new Error(`group snapshot ${snap}`);
    this.machine.restore(snap.machine);
    this.#sessions = snap.sessions;
  }

  /**
   * Restores from a snapshot a peer sent, which may be anything: if it does not decode, or
   * the machine's `restore` throws, the state is left as it was (the machine is put back
   * from a snapshot of its own, taken first) and the reason is returned.
   */
  tryRestore(bytes: Uint8Array): string | undefined {
    const snap = readSnapshot(bytes);
    if (typeof snap === 'string') return `it ${snap}`;
    const before = this.machine.snapshot();
    try {
      this.machine.restore(snap.machine);
    } catch (e) {
      this.machine.restore(before); // a restore that threw may have changed part of the state
      return `the state machine cannot restore it: ${e instanceof Error ? e.message : String(e)}`;
    }
    this.#sessions = snap.sessions;
    return undefined;
  }

  /** Back to the state before any command (a restart without a snapshot, or a lost formation). */
  reset(): void {
    this.machine.restore(this.#genesis);
    this.#sessions.clear();
  }
}

/** One encoder for every outcome (`encode` builds one per call); its output is a copy. */
const outcomeEncoder = new Encoder();

/**
 * An outcome as a snapshot keeps it: the result as msgpack (a result msgpack cannot encode is
 * kept as undefined), so a replica restored from a snapshot answers a retried command with
 * the msgpack round trip of what the first apply returned.
 */
function encodeOutcome(o: Outcome): { index: number; result: Uint8Array | undefined; error: string | undefined } {
  if ('error' in o) return { index: o.index, result: undefined, error: o.error };
  let result: Uint8Array | undefined;
  try {
    result = o.result === undefined ? undefined : outcomeEncoder.encode(o.result);
  } catch {
    result = undefined;
  }
  return { index: o.index, result, error: undefined };
}

type StoredSession = { readonly origin: string; readonly floor: number; readonly applied: readonly number[]; readonly outcomes: readonly StoredOutcome[] };
type StoredOutcome = { index: number; result: Uint8Array | undefined; error: string | undefined };

/** A snapshot's machine bytes and sessions, or what is wrong with it (`does not decode: …`). */
function readSnapshot(bytes: Uint8Array): { readonly machine: Uint8Array; readonly sessions: Map<string, Session> } | string {
  const decoded = snapshotCodec.decode(bytes);
  if (!decoded.ok) return `does not decode: ${decoded.error.message}`;
  try {
    return { machine: decoded.value.machine, sessions: sessionsOf(decoded.value.sessions) };
  } catch (e) {
    // An outcome's result that is not msgpack.
    return `does not decode: its sessions: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function sessionsOf(stored: readonly StoredSession[]): Map<string, Session> {
  return new Map(stored.map((ses) => [ses.origin, { floor: ses.floor, applied: new Map(ses.applied.map((seq, i) => [seq, decodeOutcome(ses.outcomes[i])])) }]));
}

function decodeOutcome(o: StoredOutcome | undefined): Outcome {
  if (o === undefined) return { index: 0, result: undefined };
  if (o.error !== undefined) return { index: o.index, error: o.error };
  return { index: o.index, result: o.result === undefined ? undefined : decode(o.result) };
}

/** A command's failure as every replica records it. (A function, not a closure made per applied entry.) */
function failedApply(env: Envelope, error: unknown, what = ''): Extract<Applied, { kind: 'failed' }> {
  return { kind: 'failed', origin: env.origin, seq: env.seq, error: `${what}${error instanceof Error ? error.message : String(error)}` };
}
