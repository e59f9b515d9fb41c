import type { Group as GroupHandle } from '../api/groups.ts';
import type { Network } from '../api/network.ts';
import { formationHex } from '../core/groups/formation.ts';
import type { Group } from '../core/groups/group.ts';
import type { GroupsSubsystem } from '../core/groups/groups.ts';
import { peerOfMember } from '../core/groups/member-id.ts';
import type { NodeEvent } from '../core/node/io.ts';
import { intBetween, type Rng } from '../core/util/rng.ts';
import type { Checker, CheckerView } from '../net-sim/checker.ts';
import {
  type CounterInput,
  type CounterOutput,
  checkLinearizable,
  counterModel,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../net-sim/checkers/linearizability.ts';
import type { Simulation } from '../net-sim/simulation.ts';
import type { ChaosMachine } from './raft-chaos.ts';
import { linearizabilityFindings } from './scenario.ts';

/**
 * What `raft-membership` and `raft-startup-split` share: clients that record what they did
 * (turned into register and counter histories afterwards, with each scenario choosing which
 * operations count), and a probe that reads each node's group state from outside.
 */

export type ChaosGroup = GroupHandle<Parameters<ChaosMachine['apply']>[0], null, ReturnType<ChaosMachine['query']>>;

/** One call a client made, as it saw it. */
export interface ClientOp {
  readonly client: string;
  /** The node's index (as traces print it). */
  readonly node: number;
  readonly kind: 'write' | 'add' | 'read';
  /** The value written, or the delta added (0 for reads). */
  readonly arg: number;
  readonly call: number;
  /** When it settled; undefined while pending (or if it never settled). */
  ret: number | undefined;
  /** add: the new counter; read: the state read. */
  output: { readonly reg: number | null; readonly ctr: number } | number | undefined;
  /** The error's name when it failed. */
  error: string | undefined;
  /** On success: the log index of a write, or the index a read was served at. */
  index?: number;
  /** The scenario's label for the node's situation at call time (e.g. its formation). */
  readonly tag: string | undefined;
}

export interface ClientOptions {
  readonly sim: Simulation;
  readonly net: Network;
  /** The node's group handle; undefined while the node is not a member (not joined yet, or left): the client idles. */
  readonly group: () => ChaosGroup | undefined;
  readonly id: string;
  /** Makes written values unique across clients, so the checker can tell writes apart. */
  readonly clientNo: number;
  readonly rng: Rng;
  readonly ops: ClientOp[];
  readonly stopAt: () => number;
  readonly pauseMs: { readonly min: number; readonly max: number };
  readonly tag?: () => string | undefined;
}

/** One client: a sequential loop of writes (40 %), adds (30 %) and strong reads (30 %), recorded as they go. */
export async function runClient(o: ClientOptions): Promise<void> {
  const { sim, net, rng } = o;
  let n = 0;
  while (sim.now < o.stopAt()) {
    await sim.sleep(intBetween(rng, o.pauseMs.min, o.pauseMs.max));
    const g = o.group();
    if (g === undefined || !sim.isUp(net) || sim.now >= o.stopAt()) continue;
    const roll = rng.float();
    const kind = roll < 0.4 ? 'write' : roll < 0.7 ? 'add' : 'read';
    const arg = kind === 'write' ? o.clientNo * 1_000_000 + ++n : kind === 'add' ? intBetween(rng, 1, 3) : 0;
    await issue(sim, o.ops, g, { client: o.id, node: sim.indexOf(net), tag: o.tag?.() }, kind, arg);
  }
}

/** Starts one call of the workload on `g`. */
/** Calls `g`, records the call in `ops` now and its outcome when it settles (the returned promise). */
export function issue(
  sim: Simulation,
  ops: ClientOp[],
  g: ChaosGroup,
  who: { readonly client: string; readonly node: number; readonly tag?: string | undefined },
  kind: ClientOp['kind'],
  arg: number,
): Promise<void> {
  const op: ClientOp = { ...who, kind, arg, call: sim.now, ret: undefined, output: undefined, error: undefined, tag: who.tag };
  ops.push(op);
  return settle(sim, op, call(g, kind, arg));
}

function call(g: ChaosGroup, kind: ClientOp['kind'], arg: number): Promise<{ output: ClientOp['output']; index: number }> {
  if (kind === 'write') return g.execute({ op: 'write', v: arg }).then((r) => ({ output: undefined, index: r.index }));
  if (kind === 'add') return g.execute({ op: 'add', d: arg }).then((r) => ({ output: r.result as number, index: r.index }));
  return g.query(null, 'strong').then((r) => ({ output: r.result, index: r.at }));
}

/** Records the outcome of `p` in `op` when it settles. */
function settle(sim: Simulation, op: ClientOp, p: Promise<{ output: ClientOp['output']; index: number }>): Promise<void> {
  return p.then(
    ({ output, index }) => {
      op.ret = sim.now;
      op.output = output;
      op.index = index;
    },
    (e: unknown) => {
      op.ret = sim.now;
      op.error = e instanceof Error ? e.name : String(e);
    },
  );
}

/** The call was never handed to a leader: it did not happen. */
const DID_NOT_HAPPEN = new Set(['OfflineError']);

type RegOp = Operation<RegisterInput, RegisterOutput>;
type CtrOp = Operation<CounterInput, CounterOutput>;

export interface Histories {
  readonly reg: RegOp[];
  readonly ctr: CtrOp[];
  /** Calls that succeeded, whose outcome is unknown (failed after being handed on, or never settled), and that did not happen. */
  readonly ok: number;
  readonly unknown: number;
  readonly offline: number;
}

/**
 * The register and counter histories of the ops `include` keeps. A write or add that failed
 * after it may have reached a leader (or never settled) may have taken effect: it goes in
 * with an unknown outcome. A failed read had no effect and is left out.
 */
export function histories(ops: readonly ClientOp[], include: (op: ClientOp) => boolean = () => true): Histories {
  const h = { reg: [] as RegOp[], ctr: [] as CtrOp[], ok: 0, unknown: 0, offline: 0 };
  for (const op of ops) {
    if (!include(op)) continue;
    const done = op.ret !== undefined && op.error === undefined;
    if (op.error !== undefined && DID_NOT_HAPPEN.has(op.error)) {
      h.offline++;
      continue;
    }
    if (done) h.ok++;
    else if (op.kind !== 'read') h.unknown++;
    const ret = done ? op.ret : undefined;
    if (op.kind === 'write') h.reg.push({ client: op.client, input: { kind: 'write', value: op.arg }, call: op.call, ret, output: undefined });
    else if (op.kind === 'add')
      h.ctr.push({ client: op.client, input: { kind: 'add', delta: op.arg }, call: op.call, ret, output: done ? (op.output as number) : undefined });
    else if (done) {
      const s = op.output as { reg: number | null; ctr: number };
      h.reg.push({ client: op.client, input: { kind: 'read' }, call: op.call, ret, output: s.reg });
      h.ctr.push({ client: op.client, input: { kind: 'read' }, call: op.call, ret, output: s.ctr });
    }
  }
  return h;
}

/** Errors by name, for the details. */
export function errorCounts(ops: readonly ClientOp[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const op of ops) {
    const key = op.error ?? (op.ret === undefined ? 'pending' : 'ok');
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Checks a run's register and counter histories, each search with `budget` steps (the
 * checker's default when undefined): each one's verdict, for a result's details, and what
 * they found.
 */
export function checkRegisterAndCounter(h: { readonly reg: readonly RegOp[]; readonly ctr: readonly CtrOp[] }, budget: number | undefined) {
  const register = checkLinearizable(registerModel, h.reg, { maxSteps: budget });
  const counter = checkLinearizable(counterModel, h.ctr, { maxSteps: budget });
  return { verdicts: { register: register.ok, counter: counter.ok }, ...linearizabilityFindings({ register, counter }) };
}

/** Resolves when `done()` holds or `deadline` passes (virtual time); true if it held. */
export async function waitUntil(sim: Simulation, deadline: number, done: () => boolean, stepMs = 100): Promise<boolean> {
  while (!done()) {
    if (sim.now >= deadline) return false;
    await sim.sleep(Math.min(stepMs, deadline - sim.now));
  }
  return true;
}

/**
 * `p`'s value if it resolves within `ms` of virtual time; undefined if it fails, takes longer
 * (it is left to run), or `stop()` holds first (a run that already failed need not wait).
 */
export async function within<T>(
  sim: Simulation,
  ms: number,
  p: Promise<T> | undefined,
  options: { readonly stepMs?: number; readonly stop?: () => boolean } = {},
): Promise<T | undefined> {
  if (p === undefined) return undefined;
  let done = false;
  let value: T | undefined;
  p.then(
    (v) => {
      done = true;
      value = v;
    },
    () => {
      done = true;
    },
  );
  const stop = options.stop;
  await waitUntil(sim, sim.now + ms, stop === undefined ? () => done : () => done || stop(), options.stepMs ?? 50);
  return value;
}

/** A formation as the probe saw it. */
export interface SeenFormation {
  readonly hex: string;
  readonly id: Uint8Array;
  readonly formedAtMs: number;
  /** Virtual time it was first seen, and on which node (its founder: a bootstrap emits a role event at once). */
  readonly firstSeenMs: number;
  readonly firstNode: number;
}

/**
 * A checker that only watches: it keeps the simulation's view so the scenario can read each
 * node's group (formation, configuration, applied index) the way `members()` does, and it
 * records every formation it sees on each node (inspected at every group event, so a
 * formation is seen when it is founded: the founder campaigns at once), every
 * `group.formationLost`, and every configuration applied.
 */
export class GroupProbe implements Checker {
  readonly name = 'group-probe';
  #view: CheckerView | undefined;
  readonly formations = new Map<string, SeenFormation>();
  /** Per node index: the formations seen there, in order. */
  readonly nodeFormations = new Map<number, string[]>();
  readonly lost: { readonly node: number; readonly lost: string; readonly winner: string; readonly atMs: number }[] = [];
  /** Configurations applied, per formation and index (first report); members as their peers' ids. */
  readonly confs = new Map<
    string,
    { readonly formation: string; readonly index: number; readonly voters: string[]; readonly learners: string[]; readonly atMs: number }
  >();
  readonly #indexOf: (net: Network) => number;

  constructor(indexOf: (net: Network) => number) {
    this.#indexOf = indexOf;
  }

  onEvent(view: CheckerView, net: Network, event: NodeEvent): void {
    this.#view = view;
    if (!event.type.startsWith('group.')) return;
    this.observe(net);
    if (event.type === 'group.formationLost') this.lost.push({ node: this.#indexOf(net), lost: event.lost, winner: event.winner, atMs: view.nowMs });
    else if (event.type === 'group.applied' && event.id.startsWith('conf:')) {
      const key = `${event.formation}/${event.index}`;
      if (!this.confs.has(key)) {
        const [voters = '', learners = ''] = event.id.slice('conf:'.length).split('|');
        this.confs.set(key, {
          formation: event.formation,
          index: event.index,
          voters: voters
            .split(',')
            .filter((v) => v !== '')
            .map(peerOfMember),
          learners: learners
            .split(',')
            .filter((l) => l !== '')
            .map(peerOfMember),
          atMs: view.nowMs,
        });
      }
    }
  }

  /** The node's group (the only one it joined), while it runs and is a member. */
  group(net: Network): Group | undefined {
    const groups = this.#view?.machineOf(net)?.subsystem('groups') as GroupsSubsystem | undefined;
    return groups?.groups()[0];
  }

  /** Records the node's formation now; returns its short hex (undefined: none, or not a member). */
  observe(net: Network): string | undefined {
    const f = this.group(net)?.formation;
    if (f === undefined) return undefined;
    const hex = formationHex(f);
    const node = this.#indexOf(net);
    if (!this.formations.has(hex)) this.formations.set(hex, { hex, id: f.id, formedAtMs: f.formedAtMs, firstSeenMs: this.#view?.nowMs ?? 0, firstNode: node });
    let seen = this.nodeFormations.get(node);
    if (seen === undefined) {
      seen = [];
      this.nodeFormations.set(node, seen);
    }
    if (seen[seen.length - 1] !== hex) seen.push(hex);
    return hex;
  }
}

/**
 * Counts the snapshots that members installed from a leader (`group.installed`): a scenario
 * reports it, so that a run shows it went through snapshot install, and a test can insist
 * that some runs do (a compaction interval raised past a run's length would stop it quietly).
 */
export function countSnapshotInstalls(sim: Simulation): () => number {
  let installed = 0;
  sim.addChecker({
    name: 'snapshot-installs',
    onEvent(_view, _net, event) {
      if (event.type === 'group.installed') installed++;
    },
  });
  return () => installed;
}
