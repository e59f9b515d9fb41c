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
