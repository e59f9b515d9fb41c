import type { CellHandle, MapHandle, OnceHandle, PriorityQueueHandle, SetHandle, VecHandle, Version } from '../api/collections.ts';
import type { Group } from '../api/groups.ts';
import type { Network } from '../api/network.ts';
import { comparePriorities } from '../core/collections/priority-queue.ts';
import type { NodeEvent } from '../core/node/io.ts';
import { msgpackDatumCodec } from '../core/streams/datum-codec.ts';
import { intBetween, pick, type Rng, takeRandom } from '../core/util/rng.ts';
import type { Checker } from '../net-sim/checker.ts';
import { raftSafetyChecker } from '../net-sim/checkers/groups.ts';
import { checkLinearizable, type KvInput, kvModel, type Operation, type RegisterOutput } from '../net-sim/checkers/linearizability.ts';
import { rngStream } from '../net-sim/rng.ts';
import type { Simulation } from '../net-sim/simulation.ts';
import { within } from './group-workload.ts';
import { chaosPlan, GROUP_PLANTED_BUGS, groupBugsOf } from './raft-chaos.ts';
import { joinLimits, linearizabilityFindings, SCENARIO_DISCOVERY_TIMING, type Scenario, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * `collections-chaos`: one replicated collection of every kind (Map, Vec, Set, Cell, Once,
 * PriorityQueue) on five nodes; per collection the seed picks three writers (the group's
 * voters) and the other nodes open it as readers (learners). The groups form on a quiet
 * network (collections use `bootstrapExpect` 1, so concurrent formations and their merge
 * happen here too), then a minute of swarm faults (partitions, crashes, clock skew and jumps,
 * slow links, message stress for a third of the seeds), with the leader of a collection
 * killed every few seconds, while clients on every writer write and readers read. Then quiet.
 *
 * What is recorded:
 * - every acknowledged write: the command sent, its version (log index), its call and return
 *   times, and the result the API gave (swapped, popped element, Once `set`, out of range);
 * - the applied log itself, from inside: every replica's machine is wrapped so each `apply`
 *   reports `(index, command)`; the `group.applied` event that follows names the formation,
 *   so the log is filed per formation (a formation lost at start-up is another history).
 *   Replicas that apply the same index must apply the same command;
 * - samples of every replica's local contents with their version, taken from time to time and
 *   after `when.reaches(v)` of a recent write (local reads are stale by design, so they are
 *   not linearizable; they must be a state the log went through, and never go back);
 * - for the Map, a per-key history for the linearizability checker: insert and remove are
 *   writes, `compareExchange` a compare-and-set, and reads are linearizable ones only: a
 *   strong query on the collection's group (ReadIndex through the leader) followed by a local
 *   read, or a compare-and-set of a value with itself (a read by CAS).
 *
 * Checked: raft safety (events); the Map history is linearizable per key (Porcupine-style);
 * for every kind, the log replayed in index order against a plain model (written here, apart
 * from the machines) gives every acknowledged write the result the client saw, at the
 * version it was told; acknowledged writes are ordered by version as they were in real time
 * (one returned before another was called: smaller version); every command entry of the log
 * was seen applied; every sample equals the model at its version and versions never go back
 * within one life of a replica; after the faults, every writer gets a write through, and then
 * every replica (writers and readers) has the same version, byte-identical snapshots, the
 * same contents through the API, equal to the model's; Once holds its first committed write
 * everywhere.
 *
 * Planted bugs: the group ones (`follower-read-without-readindex` makes strong reads stale)
 * and `map-cas-without-compare`, which wraps every Map replica so `cas` swaps without
 * comparing (deterministically, so replicas still agree: only the histories can tell).
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const FORM_BY_MS = 25_000;
const FAULTS_MS = 60_000;
const AFTER_FAULTS_MS = 10_000;
const LIVENESS_BOUND_MS = 40_000;
const FINAL_BOUND_MS = 30_000;
const LEADER_KILL_EVERY_MS = { min: 5_000, max: 15_000 } as const;
const PAUSE_MS = { min: 20, max: 300 } as const;
const SAMPLE_EVERY_MS = { min: 100, max: 500 } as const;
const WRITERS = 3;
const MAP_CLIENTS_PER_WRITER = 2;
const MAP_KEYS = ['a', 'b', 'c', 'd'] as const;
const SET_VALUES = 12;
const PQ_KEYS = 8;
const PQ_PRIORITIES = 5;
const MAX_SIMULATED_MS = 10 * 60_000;
/** The linearizability search budget for the Map (steps, all keys together). */
const KV_MAX_STEPS = 5_000_000;

export const KINDS = ['map', 'vec', 'set', 'cell', 'once', 'pq'] as const;
export type Kind = (typeof KINDS)[number];

export const COLLECTION_PLANTED_BUGS = {
  'map-cas-without-compare':
    "every Map replica applies compareExchange without comparing: it always swaps (alike on every replica, so only clients' histories show it)",
} as const;

// ---------------------------------------------------------------------------------------------
// Bytes and canonical forms.

const codec = msgpackDatumCodec<unknown>();
export const enc = (v: unknown): Uint8Array => codec.encode(v);

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A command as a string, keys sorted and bytes in hex: equal strings for equal commands whatever their field order. */
export function canon(x: unknown): string {
  if (x instanceof Uint8Array) return `"x${hex(x)}"`;
  if (Array.isArray(x)) return `[${x.map(canon).join(',')}]`;
  if (x !== null && typeof x === 'object')
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(x) ?? 'undefined';
}

type Cmd = Record<string, unknown>;
const b = (x: unknown): string => hex(x as Uint8Array);
const bOrNull = (x: unknown): string | undefined => (x === null ? undefined : b(x));

// ---------------------------------------------------------------------------------------------
// Plain models: the documented semantics, written apart from core/collections, over hex strings.
// `apply` returns the result a client is told, in the form `resultOf` below gives it.

export interface PlainModel {
  apply(c: Cmd): string | undefined;
  /** The contents in iteration order, in the form `machineContents` gives a machine's. */
  contents(): string;
}

class MapModel implements PlainModel {
  readonly m = new Map<string, string>();
  apply(c: Cmd): string | undefined {
    switch (c.op) {
      case 'insert':
        this.m.set(b(c.k), b(c.v));
        return undefined;
      case 'extend':
        for (const [k, v] of c.entries as [unknown, unknown][]) this.m.set(b(k), b(v));
        return undefined;
      case 'remove':
        for (const k of c.keys as unknown[]) this.m.delete(b(k));
        return undefined;
      case 'clear':
        this.m.clear();
        return undefined;
      case 'cas': {
        const k = b(c.k);
        if (this.m.get(k) !== bOrNull(c.expected)) return 'swapped:false';
        if (c.next === null) this.m.delete(k);
        else this.m.set(k, b(c.next));
        return 'swapped:true';
      }
    }
    return undefined;
  }
  contents(): string {
    return JSON.stringify([...this.m]);
  }
}

class VecModel implements PlainModel {
  a: string[] = [];
  apply(c: Cmd): string | undefined {
    const a = this.a;
    const taken = (v: string | undefined) => `taken:${v ?? 'null'}`;
    switch (c.op) {
      case 'pushBack':
        a.push(b(c.v));
        return undefined;
      case 'pushFront':
        a.unshift(b(c.v));
        return undefined;
      case 'insert': {
        const i = c.i as number;
        if (i > a.length) return 'outOfRange';
        a.splice(i, 0, b(c.v));
        return 'inRange';
      }
      case 'swap': {
        const i = c.i as number;
        const j = c.j as number;
        if (i < a.length && j < a.length) [a[i], a[j]] = [a[j] as string, a[i] as string];
        return undefined;
      }
      case 'popBack':
        return taken(a.pop());
      case 'popFront':
        return taken(a.shift());
      case 'remove': {
        const i = c.i as number;
        return taken(i < a.length ? a.splice(i, 1)[0] : undefined);
      }
      case 'truncate':
        if ((c.len as number) < a.length) a.length = c.len as number;
        return undefined;
      case 'extend':
        for (const v of c.vs as unknown[]) a.push(b(v));
        return undefined;
      case 'clear':
        this.a = [];
        return undefined;
    }
    return undefined;
  }
  contents(): string {
    return JSON.stringify(this.a);
  }
}

class SetModel implements PlainModel {
  readonly s = new Set<string>();
  apply(c: Cmd): string | undefined {
    switch (c.op) {
      case 'insert':
        this.s.add(b(c.v));
        return undefined;
      case 'extend':
        for (const v of c.vs as unknown[]) this.s.add(b(v));
        return undefined;
      case 'remove':
        for (const v of c.vs as unknown[]) this.s.delete(b(v));
        return undefined;
      case 'clear':
        this.s.clear();
        return undefined;
    }
    return undefined;
  }
  contents(): string {
    return JSON.stringify([...this.s]);
  }
}

class CellModel implements PlainModel {
  v: string | undefined;
  apply(c: Cmd): string | undefined {
    switch (c.op) {
      case 'write':
        this.v = b(c.v);
        return undefined;
      case 'clear':
        this.v = undefined;
        return undefined;
      case 'cas':
        if (this.v !== bOrNull(c.expected)) return 'swapped:false';
        this.v = bOrNull(c.next);
        return 'swapped:true';
    }
    return undefined;
  }
  contents(): string {
    return JSON.stringify(this.v ?? null);
  }
}

class OnceModel implements PlainModel {
  v: string | undefined;
  /** The index of the write that set it. */
  setAt: number | undefined;
  index = 0;
  apply(c: Cmd): string | undefined {
    if (c.op !== 'write') return undefined;
    if (this.v !== undefined) return 'set:false';
    this.v = b(c.v);
    this.setAt = this.index;
    return 'set:true';
  }
  contents(): string {
    return JSON.stringify(this.v ?? null);
  }
}

interface PqEntry {
  p: number | string;
  readonly k: string;
  v: string;
  /** When it entered its priority: the order within a priority. */
  seq: number;
}

class PqModel implements PlainModel {
  e: PqEntry[] = [];
  seq = 0;
  constructor(readonly capacity: number) {}
  #find(k: string): PqEntry | undefined {
    return this.e.find((x) => x.k === k);
  }
  #order(x: PqEntry, y: PqEntry): number {
    return comparePriorities(x.p, y.p) || x.seq - y.seq;
  }
  #insert(p: number | string, k: string, v: string): void {
    const x = this.#find(k);
    if (x !== undefined) {
      x.v = v;
      if (x.p !== p) {
        x.p = p;
        x.seq = ++this.seq;
      }
      return;
    }
    this.e.push({ p, k, v, seq: ++this.seq });
    if (this.e.length > this.capacity) {
      const lowest = [...this.e].sort((x1, y1) => this.#order(x1, y1))[0] as PqEntry;
      this.e = this.e.filter((y) => y !== lowest);
    }
  }
  apply(c: Cmd): string | undefined {
    switch (c.op) {
      case 'insert':
        this.#insert(c.p as number, b(c.k), b(c.v));
        return undefined;
      case 'extend':
        for (const [p, k, v] of c.entries as [number, unknown, unknown][]) this.#insert(p, b(k), b(v));
        return undefined;
      case 'updatePriority': {
        const x = this.#find(b(c.k));
        if (x !== undefined && x.p !== c.p) {
          x.p = c.p as number;
          x.seq = ++this.seq;
        }
        return undefined;
      }
      case 'updateValue': {
        const x = this.#find(b(c.k));
        if (x !== undefined) x.v = b(c.v);
        return undefined;
      }
      case 'casValue': {
        const x = this.#find(b(c.k));
        if (x === undefined || x.v !== b(c.expected)) return 'swapped:false';
        if (c.next === null) this.e = this.e.filter((y) => y !== x);
        else x.v = b(c.next);
        return 'swapped:true';
      }
      case 'remove': {
        const keys = new Set((c.keys as unknown[]).map(b));
        this.e = this.e.filter((y) => !keys.has(y.k));
        return undefined;
      }
      case 'removeRange': {
        const from = c.from as number | null;
        const to = c.to as number | null;
        const inside = (p: number | string) =>
          (from === null || comparePriorities(p, from) >= 0) && (to === null || (c.inclusive ? comparePriorities(p, to) <= 0 : comparePriorities(p, to) < 0));
        this.e = this.e.filter((y) => !inside(y.p));
        return undefined;
      }
      case 'clear':
        this.e = [];
        return undefined;
    }
    return undefined;
  }
  contents(): string {
    return JSON.stringify([...this.e].sort((x, y) => this.#order(x, y)).map((x) => [x.p, x.k, x.v]));
  }
}

// ---------------------------------------------------------------------------------------------
// Handles, machines, contents.

type AnyHandle =
  | MapHandle<string, number>
  | VecHandle<number>
  | SetHandle<number>
  | CellHandle<number>
  | OnceHandle<number>
  | PriorityQueueHandle<number, string, number>;

/** What the scenario reaches inside a machine (every collection machine has these). */
interface Instrumentable {
  apply(command: unknown, ctx: { index: number; term: number }): unknown;
  restore(snapshot: Uint8Array): void;
  snapshot(): Uint8Array;
}

/**
 * The collection's group handle. Collections keep it protected (their reads are local); the
 * scenario uses it for strong queries, leaders and members, as an application cannot.
 */
export function groupOf(handle: AnyHandle | { readonly version: Version }): Group<unknown, unknown, unknown> {
  return (handle as unknown as { group: Group<unknown, unknown, unknown> }).group;
}

/** The machine's contents, bytes in hex, in iteration order: what `PlainModel.contents` gives. */
export function machineContents(kind: Kind, any: object): string {
  const handle = any as AnyHandle;
  switch (kind) {
    case 'map':
      return JSON.stringify([...(handle as MapHandle<string, number>).machine.entries()].map(([k, v]) => [hex(k), hex(v)]));
    case 'vec':
      return JSON.stringify([...(handle as VecHandle<number>).machine.values()].map(hex));
    case 'set':
      return JSON.stringify([...(handle as SetHandle<number>).machine.values()].map(hex));
    case 'cell':
    case 'once': {
      const v = (handle as CellHandle<number>).machine.read();
      return JSON.stringify(v === undefined ? null : hex(v));
    }
    case 'pq':
      return JSON.stringify([...(handle as PriorityQueueHandle<number, string, number>).machine.entries()].map(([p, k, v]) => [p, hex(k), hex(v)]));
  }
}

/** The contents as the API decodes them (`entries()`, `values()`, `read()`). */
function apiContents(kind: Kind, handle: AnyHandle): string {
  switch (kind) {
    case 'map':
      return JSON.stringify([...(handle as MapHandle<string, number>).entries()]);
    case 'vec':
      return JSON.stringify([...(handle as VecHandle<number>).values()]);
    case 'set':
      return JSON.stringify([...(handle as SetHandle<number>).values()]);
    case 'cell':
    case 'once':
      return JSON.stringify((handle as CellHandle<number>).read() ?? null);
    case 'pq':
      return JSON.stringify([...(handle as PriorityQueueHandle<number, string, number>).entries()]);
  }
}

function newModel(kind: Kind, capacity: number): PlainModel {
  switch (kind) {
    case 'map':
      return new MapModel();
    case 'vec':
      return new VecModel();
    case 'set':
      return new SetModel();
    case 'cell':
      return new CellModel();
    case 'once':
      return new OnceModel();
    case 'pq':
      return new PqModel(capacity);
  }
}

// ---------------------------------------------------------------------------------------------
// What is recorded.

/** An acknowledged write. */
interface Ack {
  readonly client: string;
  readonly call: number;
  readonly ret: number;
  readonly version: number;
  readonly canon: string;
  /** What the API told the client, in the model's result form; undefined: nothing to compare. */
  readonly result: string | undefined;
}

/** A replica's local contents at a version. */
interface Sample {
  readonly node: number;
  readonly life: number;
  readonly version: number;
  readonly contents: string;
  readonly at: number;
}

interface Replica {
  readonly kind: Kind;
  readonly node: number;
  readonly net: Network;
  readonly reader: boolean;
  readonly handle: AnyHandle;
  /** Bumped by every `restore` of the machine (restart, snapshot install, lost formation): versions may jump. */
  life: number;
  /** Commands applied, by index, until their `group.applied` event names the formation. */
  readonly pending: Map<number, unknown>;
}

/** One collection: its replicas and everything recorded about it. */
export interface CollectionRun {
  readonly kind: Kind;
  readonly groupHex: string;
  readonly replicas: Replica[];
  readonly acks: Ack[];
  readonly samples: Sample[];
  /** formation → index → command (as applied), from inside the machines. */
  readonly logs: Map<string, Map<number, { readonly cmd: Cmd; readonly canon: string }>>;
  /** formation → index → entry id, from `group.applied` events. */
  readonly ids: Map<string, Map<number, string>>;
  lastFormation: string | undefined;
  readonly stats: { ok: number; unknown: number; offline: number };
  readonly problems: string[];
  readonly capacity: number;
}

/**
 * Wraps a replica's machine: each `apply` is noted (index → command) before it runs, each
 * `restore` starts a new life. With `casWithoutCompare` (a planted bug) a Map `cas` takes the
 * current value as its expected one, so it always swaps.
 */
function instrument(replica: Replica, casWithoutCompare: boolean): void {
  const m = replica.handle.machine as unknown as Instrumentable;
  const apply = m.apply.bind(m);
  const restore = m.restore.bind(m);
  m.apply = (command, ctx) => {
    replica.pending.set(ctx.index, command);
    const c = command as Cmd;
    if (casWithoutCompare && c.op === 'cas' && c.k instanceof Uint8Array) {
      const current = (replica.handle as MapHandle<string, number>).machine.get(c.k);
      return apply({ ...c, expected: current ?? null }, ctx);
    }
    return apply(command, ctx);
  };
  m.restore = (snapshot) => {
    replica.life++;
    restore(snapshot);
  };
}

/** Files applied commands under their formation as their `group.applied` events come (it only records). */
function appliedRecorder(runs: readonly CollectionRun[], nodeOf: (net: Network) => number): Checker {
  const byGroup = new Map(runs.map((r) => [r.groupHex, r]));
  return {
    name: 'collections-applied',
    onEvent(_view, net, event: NodeEvent) {
      if (event.type !== 'group.applied') return;
      const run = byGroup.get(event.group.hex);
      if (run === undefined) return;
      let ids = run.ids.get(event.formation);
      if (ids === undefined) {
        ids = new Map();
        run.ids.set(event.formation, ids);
      }
      if (!ids.has(event.index)) ids.set(event.index, event.id);
      run.lastFormation = event.formation;
      const node = nodeOf(net);
      const replica = run.replicas.find((r) => r.node === node);
      const cmd = replica?.pending.get(event.index);
      if (replica === undefined || cmd === undefined) return;
      replica.pending.delete(event.index);
      let log = run.logs.get(event.formation);
      if (log === undefined) {
        log = new Map();
        run.logs.set(event.formation, log);
      }
      const c = canon(cmd);
      const seen = log.get(event.index);
      if (seen === undefined) log.set(event.index, { cmd: cmd as Cmd, canon: c });
      else if (seen.canon !== c && run.problems.length < 20)
        run.problems.push(`${run.kind}: index ${event.index} (formation ${event.formation}): node n${node} applied ${c}, another replica ${seen.canon}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients.

interface ClientCtx {
  readonly sim: Simulation;
  readonly run: CollectionRun;
  readonly replica: Replica;
  readonly id: string;
  readonly rng: Rng;
  readonly fresh: () => number;
  readonly kv: Operation<KvInput, RegisterOutput>[];
}

/** The call was never handed to anyone (no leader known): it did not happen. */
function notSent(e: unknown): boolean {
  return e instanceof Error && e.name === 'OfflineError';
}

/**
 * Runs one write and records it: acknowledged (with its version and what the API said) or
 * unknown (failed after it may have been sent) or not sent. Resolves with the outcome, or
 * undefined when it failed.
 */
async function write<T extends { version: number }>(
  x: ClientCtx,
  cmd: Cmd,
  fn: () => Promise<T>,
  result: (r: T) => string | undefined = () => undefined,
): Promise<T | undefined | 'unknown'> {
  const call = x.sim.now;
  try {
    const r = await fn();
    x.run.acks.push({ client: x.id, call, ret: x.sim.now, version: r.version, canon: canon(cmd), result: result(r) });
    x.run.stats.ok++;
    return r;
  } catch (e) {
    if (notSent(e)) {
      x.run.stats.offline++;
      return undefined;
    }
    x.run.stats.unknown++;
    return 'unknown';
  }
}

const swapped = (r: { swapped: boolean }) => `swapped:${r.swapped}`;

/** A Map client: per-key writes, compare-and-sets and linearizable reads, into the kv history too. */
async function mapOp(x: ClientCtx, last: Map<string, number | undefined>): Promise<void> {
  const { sim, rng, replica } = x;
  const h = replica.handle as MapHandle<string, number>;
  const key = pick(rng, MAP_KEYS) as string;
  const k = enc(key);
  const roll = rng.float();
  const call = sim.now;
  const record = (op: KvInput['op'], outcome: { ret: number; output: RegisterOutput } | 'unknown' | undefined) => {
    if (outcome === undefined) return;
    if (outcome === 'unknown') x.kv.push({ client: x.id, input: { key, op }, call, ret: undefined, output: undefined });
    else x.kv.push({ client: x.id, input: { key, op }, call, ret: outcome.ret, output: outcome.output });
  };
  const ack = <T extends object>(
    r: T | undefined | 'unknown',
    output: (r: T) => RegisterOutput,
  ): { ret: number; output: RegisterOutput } | 'unknown' | undefined => (r === undefined || r === 'unknown' ? r : { ret: sim.now, output: output(r) });
  if (roll < 0.3) {
    const v = x.fresh();
    const r = await write(x, { op: 'insert', k, v: enc(v) }, async () => ({ version: await h.insert(key, v) }));
    record(
      { kind: 'write', value: v },
      ack(r, () => undefined),
    );
    if (r !== undefined && r !== 'unknown') last.set(key, v);
  } else if (roll < 0.4) {
    const r = await write(x, { op: 'remove', keys: [k] }, async () => ({ version: await h.remove(key) }));
    record(
      { kind: 'write', value: null },
      ack(r, () => undefined),
    );
    if (r !== undefined && r !== 'unknown') last.set(key, undefined);
  } else if (roll < 0.65 || roll >= 0.9) {
    // A compare-and-set from what this client last saw; from 0.9 a read by CAS (the value with itself).
    const expected = last.get(key);
    const readByCas = roll >= 0.9;
    const next = readByCas ? expected : rng.float() < 0.85 ? x.fresh() : undefined;
    const cmd = { op: 'cas', k, expected: expected === undefined ? null : enc(expected), next: next === undefined ? null : enc(next) };
    const r = await write(x, cmd, () => h.compareExchange(key, expected, next), swapped);
    record(
      { kind: 'cas', expected: expected ?? null, next: next ?? null },
      ack(r, (s) => s.swapped),
    );
    if (r !== undefined && r !== 'unknown' && r.swapped) last.set(key, next);
  } else {
    await strongRead(x, key, last);
  }
}

/** A linearizable read of one key: a strong query on the group (ReadIndex), then the local copy, which has applied at least that far. */
async function strongRead(x: ClientCtx, key: string, last?: Map<string, number | undefined>): Promise<void> {
  const { sim, replica } = x;
  const h = replica.handle as MapHandle<string, number>;
  const call = sim.now;
  const life = replica.life;
  try {
    const { at } = await groupOf(h).query(undefined, 'strong');
    // A restart in between resets the machine: that read would be of another life.
    if (!sim.isUp(replica.net) || replica.life !== life || h.version < at) return;
    const value = h.get(key) ?? null;
    x.kv.push({ client: x.id, input: { key, op: { kind: 'read' } }, call, ret: sim.now, output: value });
    last?.set(key, value ?? undefined);
  } catch {
    // A failed read has no effect: nothing to record.
  }
}

async function vecOp(x: ClientCtx): Promise<void> {
  const { rng } = x;
  const h = x.replica.handle as VecHandle<number>;
  const roll = rng.float();
  const len = h.length;
  const taken = (r: { value: number | undefined }) => `taken:${r.value === undefined ? 'null' : hex(enc(r.value))}`;
  if (roll < 0.25) {
    const v = x.fresh();
    await write(x, { op: 'pushBack', v: enc(v) }, async () => ({ version: await h.pushBack(v) }));
  } else if (roll < 0.35) {
    const v = x.fresh();
    await write(x, { op: 'pushFront', v: enc(v) }, async () => ({ version: await h.pushFront(v) }));
  } else if (roll < 0.45) {
    // At most the local length (the API refuses more before sending); the log may find it out of range.
    const i = intBetween(rng, 0, len);
    const v = x.fresh();
    await write(
      x,
      { op: 'insert', i, v: enc(v) },
      async () => {
        try {
          return { version: await h.insert(i, v), outOfRange: false };
        } catch (e) {
          const m = e instanceof Error && e.name === 'InvalidArgumentError' ? /version (\d+)/.exec(e.message) : null;
          if (m?.[1] === undefined) throw e;
          return { version: Number(m[1]), outOfRange: true };
        }
      },
      (r) => (r.outOfRange ? 'outOfRange' : 'inRange'),
    );
  } else if (roll < 0.5) {
    const i = intBetween(rng, 0, len + 1);
    const j = intBetween(rng, 0, len + 1);
    await write(x, { op: 'swap', i, j }, async () => ({ version: await h.swap(i, j) }));
  } else if (roll < 0.65) {
    await write(x, { op: 'popBack' }, () => h.popBack(), taken);
  } else if (roll < 0.8) {
    await write(x, { op: 'popFront' }, () => h.popFront(), taken);
  } else if (roll < 0.86) {
    const i = intBetween(rng, 0, len + 1);
    await write(x, { op: 'remove', i }, async () => ({ version: await h.remove(i) }));
  } else if (roll < 0.9) {
    const n = Math.max(0, len - intBetween(rng, 0, 3));
    await write(x, { op: 'truncate', len: n }, async () => ({ version: await h.truncate(n) }));
  } else if (roll < 0.98) {
    const vs = Array.from({ length: intBetween(rng, 1, 4) }, () => x.fresh());
    await write(x, { op: 'extend', vs: vs.map(enc) }, async () => ({ version: await h.extend(vs) }));
  } else {
    await write(x, { op: 'clear' }, async () => ({ version: await h.clear() }));
  }
}

async function setOp(x: ClientCtx): Promise<void> {
  const { rng } = x;
  const h = x.replica.handle as SetHandle<number>;
  const roll = rng.float();
  const some = () => Array.from({ length: intBetween(rng, 1, 3) }, () => intBetween(rng, 0, SET_VALUES - 1));
  if (roll < 0.4) {
    const v = intBetween(rng, 0, SET_VALUES - 1);
    await write(x, { op: 'insert', v: enc(v) }, async () => ({ version: await h.insert(v) }));
  } else if (roll < 0.5) {
    const vs = some();
    await write(x, { op: 'extend', vs: vs.map(enc) }, async () => ({ version: await h.extend(vs) }));
  } else if (roll < 0.8) {
    const v = intBetween(rng, 0, SET_VALUES - 1);
    await write(x, { op: 'remove', vs: [enc(v)] }, async () => ({ version: await h.remove(v) }));
  } else if (roll < 0.96) {
    const vs = some();
    await write(x, { op: 'remove', vs: vs.map(enc) }, async () => ({ version: await h.removeMany(vs) }));
  } else {
    await write(x, { op: 'clear' }, async () => ({ version: await h.clear() }));
  }
}

async function cellOp(x: ClientCtx): Promise<void> {
  const { rng } = x;
  const h = x.replica.handle as CellHandle<number>;
  const roll = rng.float();
  if (roll < 0.4) {
    const v = x.fresh();
    await write(x, { op: 'write', v: enc(v) }, async () => ({ version: await h.write(v) }));
  } else if (roll < 0.5) {
    await write(x, { op: 'clear' }, async () => ({ version: await h.clear() }));
  } else {
    // Expected: the local (possibly stale) value, sometimes empty; next: new, sometimes empty.
    const expected = rng.float() < 0.8 ? h.read() : undefined;
    const next = rng.float() < 0.85 ? x.fresh() : undefined;
    const cmd = { op: 'cas', expected: expected === undefined ? null : enc(expected), next: next === undefined ? null : enc(next) };
    await write(x, cmd, () => h.compareExchange(expected, next), swapped);
  }
}

async function onceOp(x: ClientCtx): Promise<void> {
  const h = x.replica.handle as OnceHandle<number>;
  if (x.rng.float() >= 0.3) return;
  const v = x.fresh();
  await write(
    x,
    { op: 'write', v: enc(v) },
    () => h.write(v),
    (r) => `set:${r.set}`,
  );
}

async function pqOp(x: ClientCtx): Promise<void> {
  const { rng } = x;
  const h = x.replica.handle as PriorityQueueHandle<number, string, number>;
  const roll = rng.float();
  const key = () => `k${intBetween(rng, 0, PQ_KEYS - 1)}`;
  const prio = () => intBetween(rng, 0, PQ_PRIORITIES - 1);
  if (roll < 0.3) {
    const [p, k, v] = [prio(), key(), x.fresh()];
    await write(x, { op: 'insert', p, k: enc(k), v: enc(v) }, async () => ({ version: await h.insert(p, k, v) }));
  } else if (roll < 0.4) {
    const es = Array.from({ length: intBetween(rng, 1, 3) }, () => [prio(), key(), x.fresh()] as [number, string, number]);
    await write(x, { op: 'extend', entries: es.map(([p, k, v]) => [p, enc(k), enc(v)]) }, async () => ({ version: await h.extend(es) }));
  } else if (roll < 0.55) {
    const [k, p] = [key(), prio()];
    await write(x, { op: 'updatePriority', k: enc(k), p }, async () => ({ version: await h.updatePriority(k, p) }));
  } else if (roll < 0.65) {
    const [k, v] = [key(), x.fresh()];
    await write(x, { op: 'updateValue', k: enc(k), v: enc(v) }, async () => ({ version: await h.updateValue(k, v) }));
  } else if (roll < 0.8) {
    const k = key();
    const expected = h.get(k) ?? x.fresh();
    const next = rng.float() < 0.8 ? x.fresh() : undefined;
    const cmd = { op: 'casValue', k: enc(k), expected: enc(expected), next: next === undefined ? null : enc(next) };
    await write(x, cmd, () => h.compareExchangeValue(k, expected, next), swapped);
  } else if (roll < 0.9) {
    const k = key();
    await write(x, { op: 'remove', keys: [enc(k)] }, async () => ({ version: await h.remove(k) }));
  } else if (roll < 0.97) {
    const from = rng.float() < 0.3 ? undefined : prio();
    const to = rng.float() < 0.3 ? undefined : prio();
    const inclusive = rng.float() < 0.5;
    const range = { ...(from !== undefined && { from }), ...(to !== undefined && { to }), inclusive };
    await write(x, { op: 'removeRange', from: from ?? null, to: to ?? null, inclusive }, async () => ({ version: await h.removeRange(range) }));
  } else {
    await write(x, { op: 'clear' }, async () => ({ version: await h.clear() }));
  }
}

/** A writer's loop on one collection. */
async function writerClient(x: ClientCtx, stopAt: () => number): Promise<void> {
  const last = new Map<string, number | undefined>();
  while (x.sim.now < stopAt()) {
    await x.sim.sleep(intBetween(x.rng, PAUSE_MS.min, PAUSE_MS.max));
    if (!x.sim.isUp(x.replica.net) || x.sim.now >= stopAt()) continue;
    switch (x.run.kind) {
      case 'map':
        await mapOp(x, last);
        break;
      case 'vec':
        await vecOp(x);
        break;
      case 'set':
        await setOp(x);
        break;
      case 'cell':
        await cellOp(x);
        break;
      case 'once':
        await onceOp(x);
        break;
      case 'pq':
        await pqOp(x);
        break;
    }
  }
}

/** Records the replica's local contents now, and checks its version did not go back within this life. */
function sample(sim: Simulation, r: Replica, run: CollectionRun, previous: Map<number, Sample>): void {
  if (!sim.isUp(r.net)) return;
  const version = r.handle.version;
  // Version 0 after a restart, before the group is joined again: the machine still holds the last life's state.
  if (version === 0) return;
  const s: Sample = { node: r.node, life: r.life, version, contents: machineContents(r.kind, r.handle), at: sim.now };
  const before = previous.get(r.node);
  if (before !== undefined && before.life === s.life && s.version < before.version && run.problems.length < 20)
    run.problems.push(
      `${run.kind}: n${r.node}'s version went back from ${before.version} (at ${before.at} ms) to ${s.version} (at ${s.at} ms) without a restart`,
    );
  previous.set(r.node, s);
  run.samples.push(s);
}

/**
 * A replica's reading loop: local samples from time to time; now and then it waits for a
 * recent acknowledged write with `when.reaches(v)` (read-your-writes across nodes) and
 * samples right after (the version must then be at least v). Map readers also do strong reads.
 */
async function readerClient(x: ClientCtx, stopAt: () => number, previous: Map<number, Sample>): Promise<void> {
  const { sim, rng, replica, run } = x;
  while (sim.now < stopAt()) {
    await sim.sleep(intBetween(rng, SAMPLE_EVERY_MS.min, SAMPLE_EVERY_MS.max));
    if (!sim.isUp(replica.net) || sim.now >= stopAt()) continue;
    const roll = rng.float();
    if (roll < 0.2 && run.acks.length > 0) {
      const target = (run.acks[run.acks.length - 1] as Ack).version;
      const life = replica.life;
      const reached = await withDeadline(sim, 5_000, replica.handle.when.reaches(target));
      if (reached && sim.isUp(replica.net) && replica.life === life && replica.handle.version < target && run.problems.length < 20)
        run.problems.push(`${run.kind}: n${replica.node}: when.reaches(${target}) resolved at version ${replica.handle.version}`);
      sample(sim, replica, run, previous);
    } else if (roll < 0.5 && run.kind === 'map' && replica.reader) {
      await strongRead(x, pick(rng, MAP_KEYS) as string);
    } else sample(sim, replica, run, previous);
  }
}

/** Whether the promise settled successfully within `ms` of virtual time. */
async function withDeadline(sim: Simulation, ms: number, p: Promise<unknown>): Promise<boolean> {
  return (
    (await within(
      sim,
      ms,
      p.then(() => true),
    )) === true
  );
}

/** The leader of a random collection is crashed every few seconds and restarted soon after. */
async function leaderKiller(sim: Simulation, runs: readonly CollectionRun[], rng: Rng, done: () => boolean): Promise<number> {
  let kills = 0;
  while (!done()) {
    const wait = intBetween(rng, LEADER_KILL_EVERY_MS.min, LEADER_KILL_EVERY_MS.max);
    const until = sim.now + wait;
    while (sim.now < until && !done()) await sim.sleep(250);
    if (done()) break;
    const run = pick(rng, runs) as CollectionRun;
    const leader = run.replicas.find((r) => sim.isUp(r.net) && groupOf(r.handle).isLeader);
    if (leader === undefined) continue;
    kills++;
    sim.crash(leader.net);
    const downMs = intBetween(rng, 300, 3_000);
    void sim.sleep(downMs).then(() => {
      if (!sim.isUp(leader.net)) sim.restart(leader.net);
    });
  }
  return kills;
}

// ---------------------------------------------------------------------------------------------
// The checks after the run.

function commandEntry(id: string): boolean {
  return id !== 'noop' && id !== 'undecodable' && !id.startsWith('conf:') && !id.endsWith(':dup');
}

/** Acknowledged writes in real-time order must have increasing versions, and versions are unique. */
function checkRealTime(run: CollectionRun, problem: (m: string) => void): void {
  const byVersion = new Map<number, Ack>();
  for (const a of run.acks) {
    const other = byVersion.get(a.version);
    if (other !== undefined) {
      problem(`${run.kind}: two acknowledged writes at version ${a.version}: ${other.canon} (client ${other.client}) and ${a.canon} (client ${a.client})`);
      return;
    }
    byVersion.set(a.version, a);
  }
  const byCall = [...run.acks].sort((x, y) => x.call - y.call);
  const byRet = [...run.acks].sort((x, y) => x.ret - y.ret);
  let i = 0;
  let max: Ack | undefined;
  for (const op of byCall) {
    for (; i < byRet.length && (byRet[i] as Ack).ret < op.call; i++) if (max === undefined || (byRet[i] as Ack).version > max.version) max = byRet[i];
    if (max !== undefined && max.version > op.version) {
      problem(
        `${run.kind}: real-time order broken: ${max.canon} (client ${max.client}) returned at ${max.ret} ms with version ${max.version}, ${op.canon} (client ${op.client}) was called later (${op.call} ms) and got version ${op.version}`,
      );
      return;
    }
  }
}

/** Replays the formation's log against the plain model; checks acks, samples and the final state. Returns the model's final contents. */
function replay(run: CollectionRun, formation: string, finalVersion: number, report: (m: string) => void): { contents: string; onceSetAt?: number } {
  const problem = limited(report);
  const log = run.logs.get(formation) ?? new Map();
  const ids = run.ids.get(formation) ?? new Map<number, string>();
  let missing = 0;
  for (const [index, id] of ids) if (index <= finalVersion && commandEntry(id) && !log.has(index)) missing++;
  if (missing > 0) problem(`${run.kind}: ${missing} command entries were applied (events) but never seen by the machines`);
  const acks = new Map(run.acks.map((a) => [a.version, a]));
  for (const a of run.acks) {
    const entry = log.get(a.version);
    if (entry === undefined)
      problem(
        `${run.kind}: ${a.canon} (client ${a.client}, ${a.call}–${a.ret} ms) was acknowledged with version ${a.version}, which holds no command in the log (entry ${ids.get(a.version) ?? 'unknown'})`,
      );
    else if (entry.canon !== a.canon)
      problem(`${run.kind}: ${a.canon} (client ${a.client}) was acknowledged with version ${a.version}, which holds ${entry.canon}`);
  }
  const model = newModel(run.kind, run.capacity);
  const indices = [...log.keys()].filter((i) => i <= finalVersion).sort((x, y) => x - y);
  const samples = [...run.samples].sort((x, y) => x.version - y.version);
  let s = 0;
  const checkSamplesUpTo = (below: number) => {
    let contents: string | undefined;
    for (; s < samples.length && (samples[s] as Sample).version < below; s++) {
      const smp = samples[s] as Sample;
      contents ??= model.contents();
      if (smp.contents !== contents)
        problem(
          `${run.kind}: n${smp.node} at ${smp.at} ms read version ${smp.version} as ${smp.contents.slice(0, 300)}; the log at that version is ${contents.slice(0, 300)}`,
        );
    }
  };
  for (const index of indices) {
    checkSamplesUpTo(index);
    const entry = log.get(index) as { cmd: Cmd; canon: string };
    if (model instanceof OnceModel) model.index = index;
    const result = model.apply(entry.cmd);
    const ack = acks.get(index);
    if (ack?.result !== undefined && ack.result !== result)
      problem(`${run.kind}: ${ack.canon} (client ${ack.client}) at version ${index} was told ${ack.result}; replaying the log gives ${result ?? 'nothing'}`);
  }
  checkSamplesUpTo(Number.POSITIVE_INFINITY);
  problem.flush();
  return { contents: model.contents(), ...(model instanceof OnceModel && model.setAt !== undefined && { onceSetAt: model.setAt }) };
}

/** Reports the first few problems and then how many more there were. */
function limited(report: (m: string) => void, first = 4): ((m: string) => void) & { flush(): void } {
  let n = 0;
  const f = (m: string) => {
    if (n++ < first) report(m);
  };
  return Object.assign(f, { flush: () => (n > first ? report(`… and ${n - first} more problems like these`) : undefined) });
}

// ---------------------------------------------------------------------------------------------

export const collectionsChaos: Scenario = {
  name: 'collections-chaos',
  description:
    'one collection of each kind (Map, Vec, Set, Cell, Once, PriorityQueue) on five nodes, three writers and the rest readers each, under swarm faults, leader kills, clock skew and crashes: raft safety, per-key linearizable Map, log replay against plain models, monotonic local reads, identical replicas at the end',
  defaultNodes: 5,
  plantedBugs: { ...GROUP_PLANTED_BUGS, ...COLLECTION_PLANTED_BUGS },
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 5;
    if (!Number.isInteger(count) || count < WRITERS) throw new RangeError(`collections-chaos needs at least ${WRITERS} nodes, got ${count}`);
    const sim = scenarioSimulation(options, { faults: chaosPlan(options), faultsStartMs: FORM_BY_MS, maxSimulatedMs: MAX_SIMULATED_MS });
    sim.addChecker(raftSafetyChecker());
    const findings: { message: string; atMs: number }[] = [];
    const problem = (message: string) => findings.push({ message, atMs: sim.now });
    const broken = () => sim.violations.length > 0;
    const plantedBugs = { groups: groupBugsOf(options.plantedBugs) };
    const casBug = options.plantedBugs?.includes('map-cas-without-compare') ?? false;
    const nets: Network[] = [];
    for (let i = 0; i < count; i++)
      nets.push(sim.node({ network: 'collections-chaos', bootstrap: nets.slice(0, 1).map((n) => n.addr), discovery: TIMING, plantedBugs }));
    const setup = rngStream(options.seed, 'setup');
    const snapshotEveryEntries = intBetween(setup, 16, 256);
    const capacity = setup.float() < 0.5 ? intBetween(setup, 3, 8) : Number.POSITIVE_INFINITY;
    const writersOf = new Map<Kind, number[]>(
      KINDS.map((kind) => [
        kind,
        takeRandom(
          setup,
          nets.map((_, i) => i),
          WRITERS,
        ).sort((x, y) => x - y),
      ]),
    );
    const kv: Operation<KvInput, RegisterOutput>[] = [];
    const runs: CollectionRun[] = [];
    const details: Record<string, unknown> = {
      snapshotEveryEntries,
      pqCapacity: Number.isFinite(capacity) ? capacity : 'unbounded',
      writers: Object.fromEntries(writersOf),
    };
    let workloadAt: number | undefined;
    const formationLosses: string[] = [];

    await sim.run(async () => {
      for (const kind of KINDS) {
        const writers = writersOf.get(kind) as number[];
        const replicas: Replica[] = nets.map((net, node) => {
          const reader = !writers.includes(node);
          const o = {
            snapshotEveryEntries,
            ...(reader && { reader: true as const }),
            ...joinLimits(options),
          };
          const name = `chaos.${kind}`;
          const handle = (
            kind === 'map'
              ? net.collections.map<string, number>(name, o)
              : kind === 'vec'
                ? net.collections.vec<number>(name, o)
                : kind === 'set'
                  ? net.collections.set<number>(name, o)
                  : kind === 'cell'
                    ? net.collections.cell<number>(name, o)
                    : kind === 'once'
                      ? net.collections.once<number>(name, o)
                      : net.collections.priorityQueue<number, string, number>(name, { ...o, capacity })
          ) as AnyHandle;
          return { kind, node, net, reader, handle, life: 0, pending: new Map() };
        });
        const run: CollectionRun = {
          kind,
          groupHex: groupOf((replicas[0] as Replica).handle).id.hex,
          replicas,
          acks: [],
          samples: [],
          logs: new Map(),
          ids: new Map(),
          lastFormation: undefined,
          stats: { ok: 0, unknown: 0, offline: 0 },
          problems: [],
          capacity,
        };
        for (const r of replicas) instrument(r, casBug && kind === 'map');
        runs.push(run);
      }
      sim.addChecker(appliedRecorder(runs, (net) => sim.indexOf(net)));
      sim.addChecker({
        name: 'collections-formations',
        onEvent(_view, net, event) {
          if (event.type === 'group.formationLost' && workloadAt !== undefined)
            formationLosses.push(`n${sim.indexOf(net)} lost formation ${event.lost} (${event.lastIndex} entries) to ${event.winner} at ${sim.now} ms`);
        },
      });

      // Formation, on a quiet network: every node knows the same leader, the writers are the voters.
      const formed = (run: CollectionRun) => {
        const writers = (writersOf.get(run.kind) as number[]).map((i) => (nets[i] as Network).peerId.hex).sort();
        const leaders = new Set(run.replicas.map((r) => groupOf(r.handle).leader?.hex));
        if (leaders.size !== 1 || leaders.has(undefined)) return false;
        return run.replicas.every((r) => {
          const m = groupOf(r.handle).members();
          return [...m.voters].sort().join() === writers.join() && m.learners.length === count - WRITERS;
        });
      };
      while (sim.now < FORM_BY_MS && !runs.every(formed)) await sim.sleep(100);
      const unformed = runs.filter((r) => !formed(r)).map((r) => r.kind);
      if (unformed.length > 0) problem(`collections not formed within ${FORM_BY_MS} ms on a quiet network: ${unformed.join(', ')}`);
      workloadAt = sim.now;
      details.formedAtMs = sim.now;

      const faultsEnd = FORM_BY_MS + FAULTS_MS;
      const clientsStop = faultsEnd + AFTER_FAULTS_MS;
      const stopAt = () => (broken() ? 0 : clientsStop);
      const loops: Promise<void>[] = [];
      let clientNo = 0;
      for (const run of runs) {
        const previous = new Map<number, Sample>();
        for (const replica of run.replicas) {
          const perNode = replica.reader ? 0 : run.kind === 'map' ? MAP_CLIENTS_PER_WRITER : 1;
          for (let k = 0; k <= perNode; k++) {
            const no = ++clientNo;
            let n = 0;
            const id = `${run.kind}/n${replica.node}.${k}`;
            const x: ClientCtx = { sim, run, replica, id, rng: rngStream(options.seed, `client/${id}`), fresh: () => no * 1_000_000 + ++n, kv };
            // Client 0 of each replica reads; the others write.
            loops.push(k === 0 ? readerClient(x, stopAt, previous) : writerClient(x, stopAt));
          }
        }
      }
      details.leaderKills = await leaderKiller(sim, runs, rngStream(options.seed, 'leader-killer'), () => sim.now >= faultsEnd || broken());
      if (broken()) return;
      sim.quiesce();
      const quietAt = sim.now;

      // Liveness: every writer of every collection gets a write through.
      const through = new Set<string>();
      const barrier = (run: CollectionRun, r: Replica): Promise<unknown> => {
        const h = r.handle;
        switch (run.kind) {
          case 'map':
            return (h as MapHandle<string, number>).compareExchange('barrier', 0, 0);
          case 'vec':
            return (h as VecHandle<number>).truncate(1_000_000);
          case 'set':
            return (h as SetHandle<number>).remove(-1);
          case 'cell':
            return (h as CellHandle<number>).compareExchange(-1, -1);
          case 'once':
            return (h as OnceHandle<number>).write(-1);
          case 'pq':
            return (h as PriorityQueueHandle<number, string, number>).updateValue('barrier', 0);
        }
      };
      const writers = runs.flatMap((run) => run.replicas.filter((r) => !r.reader).map((r) => ({ run, r, key: `${run.kind}/n${r.node}` })));
      const deadline = quietAt + LIVENESS_BOUND_MS;
      while (sim.now < deadline && through.size < writers.length && !broken()) {
        for (const { run, r, key } of writers)
          if (!through.has(key))
            barrier(run, r).then(
              () => through.add(key),
              () => undefined,
            );
        await sim.sleep(1_000);
      }
      if (broken()) return;
      if (through.size < writers.length)
        problem(
          `after the faults stopped, writes of ${writers
            .filter((w) => !through.has(w.key))
            .map((w) => w.key)
            .join(', ')} did not commit within ${LIVENESS_BOUND_MS} ms`,
        );
      else details.livenessMs = sim.now - quietAt;

      let settled = false;
      void Promise.all(loops).then(() => {
        settled = true;
      });
      while (!settled && sim.now < clientsStop + LIVENESS_BOUND_MS && !broken()) await sim.sleep(500);
      if (broken()) return;
      if (!settled) problem(`client calls still pending ${LIVENESS_BOUND_MS} ms after the clients stopped`);

      // A final barrier per collection; then every replica must reach the same version.
      const final: Record<string, unknown> = {};
      for (const run of runs) {
        const w = run.replicas.find((r) => !r.reader) as Replica;
        const ok = await withDeadline(sim, FINAL_BOUND_MS, barrier(run, w));
        if (!ok) {
          problem(`${run.kind}: the final barrier write did not commit within ${FINAL_BOUND_MS} ms`);
          continue;
        }
        const target = w.handle.version;
        const until = sim.now + FINAL_BOUND_MS;
        const same = () => new Set(run.replicas.map((r) => r.handle.version)).size === 1 && (run.replicas[0] as Replica).handle.version >= target;
        while (sim.now < until && !same()) await sim.sleep(100);
        const versions = run.replicas.map((r) => r.handle.version);
        if (!same()) problem(`${run.kind}: replicas did not reach one version ≥ ${target} within ${FINAL_BOUND_MS} ms: ${versions.join(', ')}`);
        const snaps = new Set(run.replicas.map((r) => hex((r.handle.machine as unknown as Instrumentable).snapshot())));
        const contents = run.replicas.map((r) => machineContents(run.kind, r.handle));
        const api = new Set(run.replicas.map((r) => apiContents(run.kind, r.handle)));
        if (snaps.size !== 1) problem(`${run.kind}: replicas' snapshots differ at versions ${versions.join(', ')}`);
        if (api.size !== 1) problem(`${run.kind}: replicas read different contents through the API: ${[...api].join(' | ').slice(0, 600)}`);
        final[run.kind] = { version: versions[0], contents: contents[0], replicas: contents, versions };
      }
      details.final = final;
    });

    // After the run: the histories.
    for (const m of formationLosses.slice(0, 5)) problem(`a formation was lost after the workload started: ${m}`);
    const summary: Record<string, unknown> = {};
    if (!broken()) {
      const final = (details.final ?? {}) as Record<string, { version: number; replicas: string[] }>;
      for (const run of runs) {
        for (const p of run.problems) problem(p);
        const formation = run.lastFormation;
        const f = final[run.kind];
        if (formation === undefined || f === undefined) continue;
        checkRealTime(run, problem);
        const replayed = replay(run, formation, f.version, problem);
        for (const [i, c] of f.replicas.entries())
          if (c !== replayed.contents)
            problem(
              `${run.kind}: replica n${(run.replicas[i] as Replica).node} holds ${c.slice(0, 300)}; replaying the log gives ${replayed.contents.slice(0, 300)}`,
            );
        if (run.kind === 'once') {
          const log = run.logs.get(formation);
          const first = [...(log?.entries() ?? [])].filter(([, e]) => e.cmd.op === 'write').sort(([x], [y]) => x - y)[0];
          const winners = run.acks.filter((a) => a.result === 'set:true');
          if (first !== undefined && replayed.onceSetAt !== first[0])
            problem(`once: the value was set at ${replayed.onceSetAt}, the first write is at ${first[0]}`);
          if (winners.length > 1 || (winners[0] !== undefined && winners[0].version !== first?.[0]))
            problem(`once: writes told set:true at versions ${winners.map((w) => w.version).join(', ')}; the first committed write is at ${first?.[0]}`);
        }
        summary[run.kind] = {
          ...run.stats,
          logEntries: run.logs.get(formation)?.size ?? 0,
          samples: run.samples.length,
          version: f.version,
        };
      }
    }
    const kvResult = checkLinearizable(kvModel, kv, { maxSteps: options.checkBudget ?? KV_MAX_STEPS });
    const lin = linearizabilityFindings({ map: kvResult });
    for (const v of lin.violations) problem(v);
    return scenarioResult(
      collectionsChaos.name,
      options,
      sim,
      wallStart,
      count,
      {
        ...details,
        final: undefined,
        collections: summary,
        map: { history: kv.length, linearizable: kvResult.ok, ...(kvResult.ok === 'unknown' && { reason: kvResult.reason }) },
        stress: sim.plan.stress !== undefined,
      },
      findings,
      lin.inconclusive,
    );
  },
};
