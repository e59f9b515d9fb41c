import { ClosedError, GroupClosedError, InvalidArgumentError, MosaikError, NodeDownError, StorageError, TimeoutError } from '../core/errors.ts';
import { type CallLimits, DEFAULT_CALL_LIMITS } from '../core/groups/call-budget.ts';
import type { Group as GroupMember, GroupStats, GroupStatus } from '../core/groups/group.ts';
import { type ConsensusConfig, DEFAULT_CONSENSUS, deriveGroupId, type GroupKey } from '../core/groups/group-id.ts';
import type { GroupsCommand, GroupsSubsystem } from '../core/groups/groups.ts';
import type { GroupStorage as MemberStorage } from '../core/groups/member-store.ts';
import type { StateMachine } from '../core/groups/state-machine.ts';
import { externalStorePrefix } from '../core/groups/storage-keys.ts';
import type { Leadership } from '../core/groups/wire.ts';
import { Digest, type GroupId } from '../core/identity/digest.ts';
import { PeerId } from '../core/identity/keys.ts';
import type { NodeEvent } from '../core/node/io.ts';
import { checkedDatumCodec, type DatumCodec } from '../core/streams/datum-codec.ts';
import { checkedValidators, type TicketValidator } from '../core/tickets/ticket.ts';
import { equalBytes } from '../core/util/bytes.ts';
import { checkedTimeoutMs } from './deadline.ts';
import type { NodeBackend } from './network.ts';

export type { ApplyContext, StateMachine } from '../core/groups/state-machine.ts';
export type { ConsensusConfig, GroupKey, GroupStats, GroupStatus, Leadership };

/** One write to a `GroupStore`: `value` null deletes the key. */
export interface GroupStoreWrite {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/**
 * A store the application brings for one member's Raft state in one group (mosaik's
 * `with_log_storage`): its term and vote, log entries, snapshot, formation and member id,
 * under keys relative to the group (`member`, `hs`, `e/12`, ...) whose values are opaque
 * bytes. See docs/groups.md, "Durable storage".
 */
export interface GroupStore {
  /** Everything the store holds for this member, read once when the group is joined. */
  load(): Iterable<readonly [key: string, value: Uint8Array]> | PromiseLike<Iterable<readonly [key: string, value: Uint8Array]>>;
  /**
   * Applies the writes, in order, and returns (or resolves) once they are durable: nothing
   * of the group that depends on them leaves the node before. Called again only after the
   * previous call has settled. The values are the node's: keep them, do not change them.
   * A throw or a rejection stops the node, as a failed disk does: the calls waiting on the
   * write fail with StorageError, later ones with GroupClosedError.
   */
  write(writes: readonly GroupStoreWrite[]): void | PromiseLike<void>;
}

/** Options of one call on a group. */
export interface CallOptions {
  /**
   * Fail with TimeoutError if the call has not settled this many milliseconds (node time,
   * virtual in the simulator) after the node takes it; the node then stops working on it.
   * A command that reached a leader may still be applied (once): the error's
   * `mayHaveApplied` says whether it can have been. An integer from 1 to 2^31 − 1.
   * @default the join's `callTimeoutMs`
   */
  readonly timeoutMs?: number;
}

/** Where a member keeps its Raft state: see `JoinOptions.storage`. */
export type GroupStorage = 'node' | 'memory' | GroupStore;

export interface JoinOptions<C, Q, R> {
  /** The shared secret (never sent): a string or a Digest. */
  readonly key: GroupKey;
  readonly machine: StateMachine<C, Q, R>;
  /** How commands travel in the log. @default msgpack */
  readonly codec?: DatumCodec<C>;
  /** Timing; the heartbeat settings are part of the group id. @default mosaik's (see ConsensusConfig) */
  readonly consensus?: Partial<ConsensusConfig>;
  /** `reluctant`: election timeouts ×3; `observer`: replicates, never votes or leads. @default 'normal' */
  readonly leadership?: Leadership;
  /** Voters needed, this node included, before a new group forms its first configuration. @default 1 */
  readonly bootstrapExpect?: number;
  /** Voters at most; further members replicate as learners. @default 5 */
  readonly maxVoters?: number;
  /**
   * Members must carry tickets every validator accepts (AND-ed): checked before bonding (both
   * ends), again whenever a member's entry changes (a revoked ticket) and when its tickets
   * expire, which closes the bond (`GroupNotAllowed`) and takes it out of the configuration.
   * The validators' signatures are part of the group id. @default []
   */
  readonly requireTickets?: readonly TicketValidator[];
  /**
   * Where this member keeps its Raft state (term, vote, log, snapshots, member id). `node`:
   * the node's storage, on disk when `Network.create` has a `dataDir`. `memory`: in this
   * process only, even on a node with a `dataDir`: nothing of the group waits for a sync,
   * and a restarted process rejoins as a new member that catches up from the others (so
   * committed writes survive only while a majority of its members keeps running). A
   * `GroupStore`: the application's own store (production nodes only; a node that comes
   * back as the same member needs the same identity: its `dataDir` or `secretKey`). Not
   * part of the group id: members may choose differently. @default 'node'
   */
  readonly storage?: GroupStorage;
  /**
   * The deadline of this handle's `execute`, `executeMany`, `feed` and strong `query`
   * calls unless a call gives its own (`CallOptions.timeoutMs`). Not part of the group id.
   * @default none: a call waits until a leader takes it and it commits
   */
  readonly callTimeoutMs?: number;
  /**
   * Calls (`execute`, `executeMany`, `feed`, strong `query`) this node may have in flight on
   * the group at once. One more fails at once with FullError: refused before it reached a
   * leader, so it is never applied, and it can be retried once some settle. Bounds the
   * memory a burst of calls takes (docs/groups.md, "How many calls may be in flight"). An
   * integer >= 1. Not part of the group id. @default 65 536
   */
  readonly maxPendingCalls?: number;
  /**
   * Bytes of commands this node may have in flight on the group at once, counted as a call's
   * size is (encoded, plus 224 bytes each for envelope and framing); a call that would go
   * past it fails with FullError as above, and one larger than the whole budget with
   * OversizedError. An integer >= 1024. Not part of the group id. @default 64 MiB
   */
  readonly maxPendingBytes?: number;
  /**
   * While this node leads: bytes of commands it has proposed and not yet committed, its own
   * calls' and those its followers forward, at most (etcd's `MaxUncommittedEntriesSize`). Past
   * it, proposals wait (forwarded ones are refused, and followers send them again once the
   * leader commits); one is always taken when nothing is uncommitted. Bounds the leader's log,
   * and every follower's uncommitted tail, when commits stall (docs/groups.md, "How much a
   * leader holds uncommitted"). An integer >= 1. Not part of the group id. @default 128 MiB
   */
  readonly maxUncommittedBytes?: number;
}

/** The largest snapshot chunk: half the default frame limit, so a chunk and its envelope fit any default member. */
const MAX_SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Consensus groups this node takes part in. */
export class Groups {
  readonly #backend: NodeBackend;

  /** @internal */
  constructor(backend: NodeBackend) {
    this.#backend = backend;
  }

  /** The id `join` would give these options on this node (its `maxFrameBytes` counts, see docs/groups.md), without joining. */
  idOf(options: Pick<JoinOptions<unknown, unknown, unknown>, 'key' | 'machine' | 'consensus' | 'requireTickets'>): GroupId {
    checkIdentity(options);
    const { maxFrameBytes } = this.#backend;
    return deriveGroupId(options.key, checkedConsensus(options.consensus), options.machine.signature, options.requireTickets ?? [], maxFrameBytes);
  }

  /**
   * Joins (or forms) the group named by the key, the timing and the machine's signature.
   * Members find each other through discovery and organize themselves: see docs/groups.md.
   * Synchronous; the first call on the handle waits for the join to take effect.
   */
  join<C = unknown, Q = unknown, R = unknown>(options: JoinOptions<C, Q, R>): Group<C, Q, R> {
    const consensus = checkedConsensus(options.consensus);
    const storage = checkedStorage(options.storage);
    const callTimeoutMs = checkedTimeoutMs(options.callTimeoutMs, 'callTimeoutMs');
    const limits = checkedCallLimits(options);
    const bootstrapExpect = options.bootstrapExpect ?? 1;
    const maxVoters = options.maxVoters ?? 5;
    if (!Number.isInteger(bootstrapExpect) || bootstrapExpect < 1) throw new InvalidArgumentError('bootstrapExpect must be an integer >= 1');
    if (!Number.isInteger(maxVoters) || maxVoters < 1) throw new InvalidArgumentError('maxVoters must be an integer >= 1');
    const id = this.idOf({ ...options, consensus });
    const codec = checkedDatumCodec<C>(options.codec) as DatumCodec<unknown>;
    const specWith = (kept: MemberStorage): JoinSpec => ({
      id,
      key: options.key,
      machine: options.machine as StateMachine,
      codec,
      genesis: options.machine.snapshot(),
      consensus,
      leadership: options.leadership ?? 'normal',
      storage: kept,
      bootstrapExpect,
      maxVoters,
      validators: options.requireTickets ?? [],
      limits,
    });
    if (typeof storage === 'string') return new Group<C, Q, R>(this.#backend, id, specWith(storage), codec as DatumCodec<C>, callTimeoutMs);
    if (this.#backend.attachStore === undefined)
      throw new InvalidArgumentError(
        "a GroupStore needs a production node (Network.create); a simulated node keeps a group's state in its simulated storage: use storage 'node'",
      );
    // Attached before the join reaches the node, so no write of the group can miss it; and
    // detached if the store does not load, so that it can be handed to another join.
    const prefix = externalStorePrefix(id.hex);
    const attached = this.#backend.attachStore(prefix, storage);
    const joining = loadStore(storage, id).then(
      (loaded) => specWith({ kind: 'external', loaded }),
      (error: unknown) => {
        if (attached) this.#backend.detachStore?.(prefix, storage);
        throw error;
      },
    );
    return new Group<C, Q, R>(this.#backend, id, joining, codec as DatumCodec<C>, callTimeoutMs);
  }
}

/** A join's `maxPendingCalls`, `maxPendingBytes` and `maxUncommittedBytes` with the defaults filled in, checked (InvalidArgumentError otherwise). */
export function checkedCallLimits(options: {
  readonly maxPendingCalls?: number;
  readonly maxPendingBytes?: number;
  readonly maxUncommittedBytes?: number;
}): CallLimits {
  const {
    maxPendingCalls = DEFAULT_CALL_LIMITS.maxPendingCalls,
    maxPendingBytes = DEFAULT_CALL_LIMITS.maxPendingBytes,
    maxUncommittedBytes = DEFAULT_CALL_LIMITS.maxUncommittedBytes,
  } = options;
  if (!Number.isSafeInteger(maxPendingCalls) || maxPendingCalls < 1)
    throw new InvalidArgumentError(`maxPendingCalls must be an integer >= 1, got ${String(maxPendingCalls)}`);
  if (!Number.isSafeInteger(maxPendingBytes) || maxPendingBytes < 1024)
    throw new InvalidArgumentError(`maxPendingBytes must be an integer >= 1024, got ${String(maxPendingBytes)}`);
  if (!Number.isSafeInteger(maxUncommittedBytes) || maxUncommittedBytes < 1)
    throw new InvalidArgumentError(`maxUncommittedBytes must be an integer >= 1, got ${String(maxUncommittedBytes)}`);
  return { maxPendingCalls, maxPendingBytes, maxUncommittedBytes };
}

/** The consensus settings with mosaik's defaults filled in, checked (InvalidArgumentError otherwise). */
export function checkedConsensus(partial: Partial<ConsensusConfig> | undefined): ConsensusConfig {
  if (partial !== undefined && (typeof partial !== 'object' || partial === null))
    throw new InvalidArgumentError(`consensus must be an object, got ${String(partial)}`);
  const consensus: ConsensusConfig = { ...DEFAULT_CONSENSUS, ...partial };
  for (const [name, value] of Object.entries(consensus)) {
    if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value))) throw new InvalidArgumentError(`consensus.${name} must be a non-negative number`);
  }
  if (consensus.heartbeatMs < 5 || consensus.electionTimeoutMs <= consensus.heartbeatMs)
    throw new InvalidArgumentError('consensus: heartbeatMs must be at least 5 and electionTimeoutMs larger than it');
  // Counts, not durations: a fraction or zero has no meaning (0 entries between snapshots
  // would compact after every entry; 0 missed heartbeats would close every bond at once).
  for (const name of ['snapshotEveryEntries', 'maxMissedHeartbeats'] as const)
    if (!Number.isSafeInteger(consensus[name]) || consensus[name] < 1)
      throw new InvalidArgumentError(`consensus.${name} must be an integer >= 1, got ${consensus[name]}`);
  // A chunk travels in one frame, which every member must accept (8 MiB by default).
  if (!Number.isInteger(consensus.snapshotChunkBytes) || consensus.snapshotChunkBytes < 1024 || consensus.snapshotChunkBytes > MAX_SNAPSHOT_CHUNK_BYTES)
    throw new InvalidArgumentError(`consensus.snapshotChunkBytes must be an integer in 1 KiB..4 MiB, got ${consensus.snapshotChunkBytes}`);
  if (!Number.isInteger(consensus.snapshotChunksInFlight) || consensus.snapshotChunksInFlight < 1 || consensus.snapshotChunksInFlight > 64)
    throw new InvalidArgumentError(`consensus.snapshotChunksInFlight must be an integer in 1..64, got ${consensus.snapshotChunksInFlight}`);
  return consensus;
}

/** The key is a string or a Digest, the machine has a signature and the four methods, and `requireTickets` is a list of validators (else InvalidArgumentError). */
function checkIdentity(options: Pick<JoinOptions<unknown, unknown, unknown>, 'key' | 'machine' | 'requireTickets'>): void {
  const key: unknown = options.key;
  if (typeof key !== 'string' && !(key instanceof Digest)) throw new InvalidArgumentError(`key must be a string or a Digest, got ${typeof key}`);
  const m = options.machine as Partial<Record<keyof StateMachine, unknown>> | null | undefined;
  if (typeof m !== 'object' || m === null || typeof m.signature !== 'string' || STATE_MACHINE_METHODS.some((f) => typeof m[f] !== 'function'))
    throw new InvalidArgumentError('machine must be a StateMachine: a string signature and apply, query, snapshot and restore methods');
  checkedValidators(options.requireTickets);
}

const STATE_MACHINE_METHODS = ['apply', 'query', 'snapshot', 'restore'] as const;

/** `storage` checked, its default applied. */
export function checkedStorage(storage: unknown): 'node' | 'memory' | GroupStore {
  if (storage === undefined) return 'node';
  if (storage === 'node' || storage === 'memory') return storage;
  const s = storage as Partial<GroupStore> | null;
  if (typeof s !== 'object' || s === null || typeof s.load !== 'function' || typeof s.write !== 'function')
    throw new InvalidArgumentError(`storage must be 'node', 'memory' or a GroupStore (load and write), got ${String(storage)}`);
  return s as GroupStore;
}

/** What the store holds, checked: string keys, byte values, each key once. */
async function loadStore(store: GroupStore, id: GroupId): Promise<ReadonlyMap<string, Uint8Array>> {
  let entries: Iterable<readonly [string, Uint8Array]>;
  try {
    entries = await store.load();
  } catch (error) {
    throw storeFailed(id, 'load', error);
  }
  if (typeof (entries as Partial<Iterable<unknown>> | null | undefined)?.[Symbol.iterator] !== 'function')
    throw new StorageError('corrupted', `group ${id.short}: the store's load() gave ${entries === null ? 'null' : typeof entries}, not an iterable of entries`);
  const loaded = new Map<string, Uint8Array>();
  try {
    for (const entry of entries as Iterable<unknown>) {
      const [key, value] = Array.isArray(entry) ? entry : [];
      if (typeof key !== 'string' || !(value instanceof Uint8Array) || loaded.has(key))
        throw new StorageError(
          'corrupted',
          `group ${id.short}: the store's load() gave ${loaded.has(key) ? `${key} twice` : 'an entry that is not [string, Uint8Array]'}`,
        );
      loaded.set(key, value);
    }
  } catch (error) {
    // Anything but our own verdict is the iterable failing as it is read (a database cursor): the load failing.
    throw error instanceof StorageError ? error : storeFailed(id, 'load', error);
  }
  return await checkedOwner(store, id, loaded);
}

/** A store's `load()` or `write()` that threw or rejected. */
function storeFailed(id: GroupId, call: 'load' | 'write', error: unknown): StorageError {
  return new StorageError('io', `group ${id.short}: the store's ${call}() failed: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * The key under which a store names the group whose state it holds. Its keys are relative
 * to the group, so a store handed to another group's `join` by mistake would otherwise be
 * adopted: that group would start from the other one's log and state.
 */
const OWNER_KEY = 'group';

/** `loaded` if it is this group's (or the store is new, or older than the key: then it is marked as this group's); else StorageError. */
async function checkedOwner(store: GroupStore, id: GroupId, loaded: Map<string, Uint8Array>): Promise<Map<string, Uint8Array>> {
  const owner = loaded.get(OWNER_KEY);
  if (owner !== undefined) {
    if (equalBytes(owner, id.bytes)) return loaded;
    const named = owner.length === id.bytes.length ? Digest.wrap(owner).short : `${owner.length} bytes`;
    throw new StorageError('corrupted', `group ${id.short}: the store holds the state of another group (${named})`);
  }
  try {
    await store.write([{ key: OWNER_KEY, value: id.bytes.slice() }]);
  } catch (error) {
    throw storeFailed(id, 'write', error);
  }
  loaded.set(OWNER_KEY, id.bytes.slice());
  return loaded;
}

type JoinSpec = Extract<GroupsCommand, { kind: 'join' }>['spec'];

const joinCommand = (spec: JoinSpec) => ({ to: 'groups', cmd: { kind: 'join', spec } }) as const;

type Waiter = { readonly test: () => boolean; readonly resolve: () => void; readonly reject: (e: MosaikError) => void };

/** A handle on one group this node joined. */
export class Group<C, Q, R> {
  readonly id: GroupId;
  readonly #backend: NodeBackend;
  readonly #codec: DatumCodec<C>;
  readonly #callTimeoutMs: number | undefined;
  #joined: Promise<void>;
  #left = false;
  /**
   * Set while the group's store (`storage: GroupStore`, production nodes only) is loading:
   * the node has not taken the join, so neither a call's deadline nor a close reaches the
   * calls waiting for it there. `ended` rejects when the handle ends (left, or its node closed).
   */
  #storeLoad: { readonly ended: Promise<never>; readonly end: (error: MosaikError) => void } | undefined;
  /** What `committed` read last, kept for when the node's group is gone (left, closed). */
  #lastApplied = 0;
  /** Set once the node closed: every call from then on fails with this. */
  #nodeClosed: GroupClosedError | undefined;
  #joinFailed: MosaikError | undefined;
  #waiters: Waiter[] = [];
  /** Undefined only while subscribing: a node closed already ends the handle from inside `subscribe`. */
  #unsubscribe: (() => void) | undefined;

  /** @internal `spec` may come later (a GroupStore still loading). */
  constructor(backend: NodeBackend, id: GroupId, spec: JoinSpec | Promise<JoinSpec>, codec: DatumCodec<C>, callTimeoutMs?: number) {
    this.id = id;
    this.#backend = backend;
    this.#codec = codec;
    this.#callTimeoutMs = callTimeoutMs;
    if (spec instanceof Promise) {
      let end: (error: MosaikError) => void = () => undefined;
      const ended = new Promise<never>((_, reject) => {
        end = reject;
      });
      ended.catch(() => undefined); // only the calls waiting on it care
      this.#storeLoad = { ended, end };
      const loaded = () => {
        this.#storeLoad = undefined;
      };
      spec.then(loaded, loaded);
    }
    this.#joined = this.#join(
      spec instanceof Promise
        ? spec.then((s) => {
            // Left (or the node closed) while the store loaded: the join is not sent at all.
            const ended = this.#closedError();
            if (ended !== undefined) throw ended;
            return this.#backend.request<void>(joinCommand(s));
          })
        : this.#backend.request<void>(joinCommand(spec)),
    );
    this.#unsubscribe = backend.subscribe(
      (event) => this.#onEvent(event),
      () => {
        this.#nodeClosed = new GroupClosedError('the node is closed');
        this.#end(this.#nodeClosed);
      },
    );
    // A simulated node that crashed comes back without its groups: join again, same spec,
    // and calls from then on wait for that join (one made while the node was down included).
    const restartSpec = spec;
    if (!(restartSpec instanceof Promise))
      backend.onRestart?.(() => {
        if (!this.#left) this.#joined = this.#join(this.#backend.request<void>(joinCommand(restartSpec)));
      });
  }

  /**
   * A join the node refused (a store that did not load, a group joined already) ends the
   * handle: its calls and conditions fail with why. A node that was down or has closed is
   * not a refusal: a simulated node joins again when it restarts, and a closed one ends the
   * handle anyway.
   */
  #join(joining: Promise<void>): Promise<void> {
    joining.catch((e: unknown) => {
      if (e instanceof NodeDownError || e instanceof ClosedError) return;
      this.#joinFailed = e instanceof MosaikError ? e : new GroupClosedError(`the join failed: ${String(e)}`);
      this.#end(this.#joinFailed);
    });
    return joining;
  }

  /** This node's member of the group, or undefined while the node is down or closed. */
  #group(): GroupMember | undefined {
    try {
      const sub = this.#backend.inspect().machine.subsystem('groups') as GroupsSubsystem | undefined;
      return sub?.group(this.id);
    } catch {
      return undefined; // the node is down or closed
    }
  }

  /** Everything this node knows about the group now (undefined while the node is down). */
  status(): GroupStatus | undefined {
    return this.#group()?.status();
  }

  /** The current leader, as this node knows it. */
  get leader(): PeerId | undefined {
    return this.#group()?.leaderPeer;
  }

  get isLeader(): boolean {
    return this.#group()?.role === 'leader';
  }

  /** This node's current Raft term (0 while the node is down). */
  get term(): number {
    return this.#group()?.term ?? 0;
  }

  /** This node's Raft role now (`follower` while the node is down). */
  get role(): GroupStatus['role'] {
    return this.#group()?.role ?? 'follower';
  }

  /**
   * The index of the last command applied to this node's state machine. Once the handle has
   * left (or its node closed), the last index it applied: the machine keeps that state.
   */
  get committed(): number {
    const group = this.#group();
    if (group !== undefined) this.#lastApplied = group.applied;
    return this.#lastApplied;
  }

  /**
   * Voters and learners (as peer ids, hex) and the peers bonded with this node. A node back
   * without its storage is briefly listed twice: as the member it was and the one it is.
   */
  members(): { voters: readonly string[]; learners: readonly string[]; bonds: readonly PeerId[] } {
    const s = this.status();
    return { voters: s?.voters ?? [], learners: s?.learners ?? [], bonds: s?.bonds ?? [] };
  }

  readonly when = {
    /** Resolves when some leader is known (at once if one is). */
    leaderElected: (): Promise<void> => this.#waitFor(() => this.#group()?.leaderPeer !== undefined),
    /** Resolves when this node leads or follows a known leader. */
    online: (): Promise<void> => this.#waitFor(() => this.#group()?.online === true),
    /** Resolves when this node is the leader. */
    isLeader: (): Promise<void> => this.#waitFor(() => this.#group()?.role === 'leader'),
    committed: () => ({
      /** Resolves when this node has applied index `i` (read-your-writes across nodes). */
      reaches: (i: number): Promise<void> =>
        Number.isSafeInteger(i) && i >= 0
          ? this.#waitFor(() => (this.#group()?.applied ?? 0) >= i)
          : Promise.reject(new InvalidArgumentError(`an index is an integer >= 0, got ${String(i)}`)),
    }),
  };

  /**
   * Resolves after commit and local apply, with the command's index and `apply`'s return value.
   * A command too large to replicate is refused with OversizedError, nothing proposed
   * (docs/groups.md, "How much one call may carry"); so are `executeMany` and `feed` calls.
   * With a deadline (`timeoutMs`, or the join's `callTimeoutMs`) it may fail with TimeoutError.
   */
  async execute(command: C, options?: CallOptions): Promise<{ index: number; result: unknown }> {
    const r = await this.#submit([command], 'applied', options);
    return { index: r.index, result: r.results[0] };
  }

  /** Several commands at consecutive indices, applied in order: at most 4,096, which together must fit one frame. */
  async executeMany(commands: readonly C[], options?: CallOptions): Promise<{ range: { start: number; end: number }; results: unknown[] }> {
    const r = await this.#submit(commands, 'applied', options);
    return { range: { start: r.index, end: r.index + commands.length - 1 }, results: r.results };
  }

  /** Resolves once the leader has appended the command (not yet committed): the index it got. */
  async feed(command: C, options?: CallOptions): Promise<{ index: number }> {
    const r = await this.#submit([command], 'accepted', options);
    return { index: r.index };
  }

  /** `weak`: this node's state now. `strong`: linearizable (ReadIndex through the leader); a deadline applies to it only. */
  async query(query: Q, consistency: 'weak' | 'strong' = 'weak', options?: CallOptions): Promise<{ result: R; at: number }> {
    if (consistency !== 'weak' && consistency !== 'strong')
      throw new InvalidArgumentError(`consistency must be 'weak' or 'strong', got ${String(consistency)}`);
    const timeoutMs = this.#timeoutOf(options);
    await this.#ready({ timeoutMs: consistency === 'strong' ? timeoutMs : undefined, command: false });
    return this.#request({ to: 'groups', cmd: { kind: 'query', group: this.id, query, strong: consistency === 'strong', timeoutMs } });
  }

  /** Leader only: hands leadership to `peer`, a voter (default: the most caught-up voter); another peer is InvalidArgumentError. */
  async transferLeadership(peer?: PeerId): Promise<void> {
    if (peer !== undefined && !(peer instanceof PeerId)) throw new InvalidArgumentError(`peer must be a PeerId, got ${typeof peer}`);
    await this.#ready();
    return this.#request({ to: 'groups', cmd: { kind: 'transfer', group: this.id, to: peer } });
  }

  /**
   * Leaves the group: pending and later calls fail with GroupClosedError; leadership is
   * handed over if held; a voter stays until the configuration without it commits (so the
   * others never count a member that is gone), at most 4 election timeouts + the forward
   * timeout (~12 s by default). Resolves once the group is closed here.
   */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    void this.committed; // kept, in case the node closes before the leave completes
    // A store still loading: the node never took the join, and will not (see the constructor).
    if (this.#storeLoad !== undefined) return this.#end(new GroupClosedError('the group was left'));
    await this.#joined.catch(() => undefined);
    try {
      // A closed node has left every group already.
      if (this.#nodeClosed === undefined) {
        const applied = await this.#request<number | undefined>({ to: 'groups', cmd: { kind: 'leave', group: this.id } }).catch(ignoreNodeClosed);
        if (typeof applied === 'number') this.#lastApplied = applied;
      }
    } finally {
      this.#end(new GroupClosedError('the group was left'));
    }
  }

  async #submit(commands: readonly C[], wait: 'applied' | 'accepted', options: CallOptions | undefined): Promise<{ index: number; results: unknown[] }> {
    if (commands.length === 0) throw new InvalidArgumentError('no commands');
    const timeoutMs = this.#timeoutOf(options);
    const payloads = commands.map((c) => this.#codec.encode(c)); // EncodingError, before anything is sent
    await this.#ready({ timeoutMs, command: true });
    return this.#request({ to: 'groups', cmd: { kind: 'execute', group: this.id, commands: payloads, wait, timeoutMs } });
  }

  /** The call's deadline: its own, else the handle's (InvalidArgumentError for a bad one). */
  #timeoutOf(options: CallOptions | undefined): number | undefined {
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new InvalidArgumentError(`call options must be an object, got ${String(options)}`);
    return checkedTimeoutMs(options?.timeoutMs) ?? this.#callTimeoutMs;
  }

  /**
   * Waits for the join. With a deadline, while the group's store is still loading, the wait
   * is bounded by it: a store whose `load()` never settles (a hung database) would otherwise
   * hold the call for ever, since the deadline only starts once the node takes the call. The
   * store is production-only, so this timer is real time, as the node's is there.
   */
  async #ready(deadline?: { readonly timeoutMs: number | undefined; readonly command: boolean }): Promise<void> {
    this.#checkOpen();
    const joined = this.#joined.catch((e) => {
      this.#checkOpen();
      throw e;
    });
    const storeLoad = this.#storeLoad;
    if (storeLoad === undefined) return joined;
    const waits: Promise<unknown>[] = [joined, storeLoad.ended];
    const timeoutMs = deadline?.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs !== undefined) {
      const expired = new TimeoutError(
        `the group's store did not load within ${timeoutMs} ms: nothing was sent`,
        deadline?.command ? { mayHaveApplied: false } : {},
      );
      waits.push(new Promise<never>((_, reject) => (timer = setTimeout(() => reject(expired), timeoutMs))));
    }
    try {
      await Promise.race(waits);
    } finally {
      clearTimeout(timer);
    }
  }

  #checkOpen(): void {
    const closed = this.#closedError();
    if (closed) throw closed;
  }

  /** Why calls fail now: the join failed, the node closed, or the handle was left; undefined while open. */
  #closedError(): MosaikError | undefined {
    return this.#joinFailed ?? this.#nodeClosed ?? (this.#left ? new GroupClosedError('the group was left') : undefined);
  }

  /**
   * A request to the node; once the node has closed, its runtime refuses every request
   * with a ClosedError, which for a group handle reads as GroupClosedError (API.md).
   */
  async #request<T>(command: Parameters<NodeBackend['request']>[0]): Promise<T> {
    try {
      return await this.#backend.request<T>(command);
    } catch (e) {
      if (e instanceof ClosedError && this.#nodeClosed) throw this.#nodeClosed;
      throw e;
    }
  }

  #waitFor(test: () => boolean): Promise<void> {
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    // Decided once this handle's join is answered: until then the node's group may be
    // another handle's (of a group this node joined already, which refuses this join).
    // A join that failed for the node being down is no answer: a restart joins again.
    return this.#joined
      .catch(() => undefined)
      .then(() => {
        const refused = this.#closedError();
        if (refused) throw refused;
        if (test()) return;
        return new Promise<void>((resolve, reject) => this.#waiters.push({ test, resolve, reject }));
      });
  }

  #onEvent(event: NodeEvent): void {
    if (this.#waiters.length === 0 || !event.type.startsWith('group.')) return;
    if (!('group' in event) || !event.group.equals(this.id)) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.test()) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  #end(error: MosaikError): void {
    this.#unsubscribe?.();
    this.#storeLoad?.end(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }
}

function ignoreNodeClosed(e: unknown): void {
  if (!(e instanceof GroupClosedError)) throw e;
}
