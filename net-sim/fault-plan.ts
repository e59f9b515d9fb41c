import { InvalidArgumentError } from '../core/errors.ts';
import { intBetween, type Rng } from '../core/util/rng.ts';

/** Faults the nemesis can inject while a scenario's safety phase runs. */
export const FAULT_KINDS = ['partition-halves', 'partition-oneway', 'isolate', 'crash', 'clock-skew', 'clock-jump', 'slow-link'] as const;
/**
 * `power-failure`: a majority of the nodes crash at the same instant and come back together,
 * each losing what it had not synced. It only tells something when storage takes time to
 * sync (`syncMs`); swarm plans that have that add it half the time.
 */
export type FaultKind = (typeof FAULT_KINDS)[number] | 'power-failure';

export interface NemesisPlan {
  /** The faults it may pick from; each injection picks one uniformly. */
  readonly kinds: readonly FaultKind[];
  /** Gap between injections. */
  readonly intervalMsMin: number;
  readonly intervalMsMax: number;
  /** How long a partition, crash or slow link lasts before it is undone. */
  readonly durationMsMin: number;
  readonly durationMsMax: number;
  /** Largest clock skew or jump, either sign. */
  readonly clockSkewMsMax: number;
  /** Latency multiplier of a slow link. */
  readonly slowFactor: number;
}

/**
 * Message-level faults beyond what QUIC allows: loss, duplication and reordering on links
 * that are otherwise reliable and FIFO. Only for machines that claim to tolerate them.
 */
export interface StressPlan {
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  readonly reorderProbability: number;
}

/** Everything about the simulated network and its faults. One seed can choose all of it. */
export interface FaultPlan {
  /** One-way latency of each node pair, drawn once per pair in [min, max]. */
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
  /** Extra uniform delay per message in [0, jitterMsMax]; FIFO order is kept regardless. */
  readonly jitterMsMax: number;
  /** A dial to an unreachable peer fails after this long (QUIC handshake timeout). */
  readonly connectTimeoutMs: number;
  /** A link whose path stays blocked this long breaks (QUIC idle timeout). */
  readonly idleTimeoutMs: number;
  readonly nemesis: NemesisPlan | undefined;
  readonly stress: StressPlan | undefined;
  /**
   * How long a node's storage takes to sync a batch of writes, drawn per flush in [min,
   * max] ms (`DriverPort.flush`, as the real driver's fsync). What depends on the writes
   * waits for it; a crash loses the writes no finished sync covered. Absent: every write is
   * durable at once.
   */
  readonly syncMs?: { readonly min: number; readonly max: number };
}

/** A healthy LAN: no faults, 1–5 ms latency. */
export const QUIET_PLAN: FaultPlan = {
  latencyMsMin: 1,
  latencyMsMax: 5,
  jitterMsMax: 1,
  connectTimeoutMs: 3_000,
  idleTimeoutMs: 10_000,
  nemesis: undefined,
  stress: undefined,
};

/**
 * Swarm testing: the seed picks the fault parameters themselves (which faults, how often,
 * how long, how slow), so a campaign over many seeds explores many kinds of bad days rather
 * than one. Stress (message loss/dup/reorder) is never picked: it breaks the reliable-link
 * contract, and is opted into explicitly.
 */
export function swarmPlan(rng: Rng): FaultPlan {
  const plan = faultsOfSwarm(rng);
  // Drawn last, so the draws above (and the seeds that skip it) are as they always were.
  const sync = syncPlan(rng);
  if (sync === undefined) return plan;
  return { ...plan, nemesis: sync.powerFailures ? withPowerFailures(plan.nemesis) : plan.nemesis, syncMs: sync.syncMs };
}

/** `nemesis` with power failures among its faults (once). */
export function withPowerFailures(nemesis: NemesisPlan | undefined): NemesisPlan | undefined {
  if (nemesis === undefined || nemesis.kinds.includes('power-failure')) return nemesis;
  return { ...nemesis, kinds: [...nemesis.kinds, 'power-failure'] };
}

function faultsOfSwarm(rng: Rng): FaultPlan {
  const latencyMsMin = intBetween(rng, 1, 20);
  let kinds: FaultKind[] = FAULT_KINDS.filter(() => rng.float() < 0.5);
  if (kinds.length === 0) kinds = [FAULT_KINDS[intBetween(rng, 0, FAULT_KINDS.length - 1)] as FaultKind];
  const intervalMsMin = intBetween(rng, 200, 3_000);
  const durationMsMin = intBetween(rng, 100, 4_000);
  return {
    latencyMsMin,
    latencyMsMax: latencyMsMin + intBetween(rng, 0, 100),
    jitterMsMax: intBetween(rng, 0, 20),
    connectTimeoutMs: intBetween(rng, 1_000, 5_000),
    idleTimeoutMs: intBetween(rng, 2_000, 10_000),
    nemesis: {
      kinds,
      intervalMsMin,
      intervalMsMax: intervalMsMin + intBetween(rng, 0, 5_000),
      durationMsMin,
      durationMsMax: durationMsMin + intBetween(rng, 0, 12_000),
      clockSkewMsMax: intBetween(rng, 0, 60_000),
      slowFactor: intBetween(rng, 5, 50),
    },
    stress: undefined,
  };
}

/**
 * Half the seeds' storage writes through. The other half syncs in 0–12 ms (an SSD's fsync)
 * or, one time in three, in up to 150 ms (a slow or busy disk: longer than most round
 * trips, so acknowledgements wait on it); half of these also suffer power failures.
 */
function syncPlan(rng: Rng): { syncMs: { min: number; max: number }; powerFailures: boolean } | undefined {
  if (rng.float() < 0.5) return undefined;
  const slow = rng.float() < 1 / 3;
  const min = slow ? intBetween(rng, 5, 30) : intBetween(rng, 0, 2);
  return { syncMs: { min, max: min + (slow ? intBetween(rng, 10, 120) : intBetween(rng, 0, 10)) }, powerFailures: rng.float() < 0.5 };
}

/**
 * How far a node's wall clock may be from true time, either way, and how long a run may
 * last in virtual time: ten years. Every wall-clock reading (the simulated epoch, plus
 * virtual time, plus the offset) then stays a safe integer, as timestamps and versions must.
 */
export const CLOCK_OFFSET_MS_MAX = 10 * 365 * 86_400_000;

/** Throws InvalidArgumentError unless `plan` is a whole, consistent FaultPlan (`what` names it in the message). */
export function checkFaultPlan(plan: FaultPlan, what = 'faults'): void {
  if (typeof plan !== 'object' || plan === null) throw new InvalidArgumentError(`${what} must be 'none', 'swarm' or a FaultPlan object, got ${describe(plan)}`);
  const range = (min: string, max: string, o: Record<string, unknown>, at: string, top = Number.MAX_SAFE_INTEGER) => {
    const lo = o[min];
    const hi = o[max];
    ms(lo, `${at}.${min}`, top);
    ms(hi, `${at}.${max}`, top);
    if ((lo as number) > (hi as number)) throw new InvalidArgumentError(`${at}.${min} (${lo}) is above ${at}.${max} (${hi})`);
  };
  const p = plan as unknown as Record<string, unknown>;
  range('latencyMsMin', 'latencyMsMax', p, what);
  ms(p.jitterMsMax, `${what}.jitterMsMax`);
  ms(p.connectTimeoutMs, `${what}.connectTimeoutMs`);
  ms(p.idleTimeoutMs, `${what}.idleTimeoutMs`);
  const nemesis = p.nemesis as Record<string, unknown> | undefined;
  if (nemesis !== undefined) {
    const at = `${what}.nemesis`;
    if (typeof nemesis !== 'object' || nemesis === null) throw new InvalidArgumentError(`${at} must be a NemesisPlan or undefined, got ${describe(nemesis)}`);
    const kinds = nemesis.kinds;
    if (!Array.isArray(kinds) || kinds.length === 0)
      throw new InvalidArgumentError(`${at}.kinds must be a non-empty array of fault kinds, got ${describe(kinds)}`);
    for (const kind of kinds)
      if (kind !== 'power-failure' && !(FAULT_KINDS as readonly unknown[]).includes(kind))
        throw new InvalidArgumentError(`${at}.kinds: unknown fault kind ${describe(kind)}`);
    range('intervalMsMin', 'intervalMsMax', nemesis, at);
    range('durationMsMin', 'durationMsMax', nemesis, at);
    ms(nemesis.clockSkewMsMax, `${at}.clockSkewMsMax`, CLOCK_OFFSET_MS_MAX);
    ms(nemesis.slowFactor, `${at}.slowFactor`);
  }
  const stress = p.stress as Record<string, unknown> | undefined;
  if (stress !== undefined) {
    const at = `${what}.stress`;
    if (typeof stress !== 'object' || stress === null) throw new InvalidArgumentError(`${at} must be a StressPlan or undefined, got ${describe(stress)}`);
    for (const key of ['lossProbability', 'duplicateProbability', 'reorderProbability']) {
      const v = stress[key];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new InvalidArgumentError(`${at}.${key} must be a probability in [0, 1], got ${describe(v)}`);
    }
  }
  const syncMs = p.syncMs as Record<string, unknown> | undefined;
  if (syncMs !== undefined) {
    if (typeof syncMs !== 'object' || syncMs === null)
      throw new InvalidArgumentError(`${what}.syncMs must be { min, max } or undefined, got ${describe(syncMs)}`);
    range('min', 'max', syncMs, `${what}.syncMs`);
  }
}

/** A duration or amount in ms: a finite number in [0, max]. */
function ms(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= max))
    throw new InvalidArgumentError(`${what} must be a number of ms in [0, ${max}], got ${describe(value)}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
