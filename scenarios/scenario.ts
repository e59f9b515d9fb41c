import type { Ed25519Signer } from '../core/identity/keys.ts';
import type { SignatureVerifier } from '../core/identity/verifier.ts';
import { NativeSigner } from '../net-real/native-signer.ts';
import { NativeVerifier } from '../net-real/native-verifier.ts';
import type { Violation } from '../net-sim/checker.ts';
import type { LinearizabilityResult } from '../net-sim/checkers/linearizability.ts';
import type { FaultPlan } from '../net-sim/fault-plan.ts';
import type { PlantedWireBug } from '../net-sim/links.ts';
import { Simulation, type SimulationOptions } from '../net-sim/simulation.ts';

/** How a scenario run is parameterised from the CLI or a test. */
export interface ScenarioOptions {
  readonly seed: number;
  /** Node count; each scenario has its own default. */
  readonly nodes?: number;
  /**
   * `slow-disk`: swarm faults on storage whose syncs take 20–150 ms, with power failures
   * (Simulation's `slowDisk`). @default 'swarm'
   */
  readonly faults?: 'none' | 'swarm' | 'slow-disk';
  /** Keep trace lines (for `--trace FILE`). */
  readonly keepTrace?: boolean;
  /** Named planted bugs (`--plant-bug`), to show the checkers catch them. */
  readonly plantedBugs?: readonly string[];
  /** The robustness fuzz (`--corrupt-frames`, Simulation's `corruptFrames`). @default 0 */
  readonly corruptFrames?: number;
  /**
   * The step budget of each linearizability search (`--check-budget`). A search that uses it
   * up is inconclusive: reported in `inconclusive`, not as a violation. @default each
   * scenario's (the checker's 1,000,000, or more for larger histories)
   */
  readonly checkBudget?: number;
  /**
   * Each member's `maxUncommittedBytes` in the group scenarios (`--max-uncommitted-bytes`): a
   * few hundred bytes make leaders refuse proposals all the time, which puts the refusal and
   * retry paths under the faults. @default the join's (128 MiB: never reached here)
   */
  readonly maxUncommittedBytes?: number;
}

/** The join options a group scenario passes on from its run's options (`--max-uncommitted-bytes`). */
export function joinLimits(options: ScenarioOptions): { readonly maxUncommittedBytes?: number } {
  return options.maxUncommittedBytes === undefined ? {} : { maxUncommittedBytes: options.maxUncommittedBytes };
}

/** The outcome of one run: the CLI prints it as JSON. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly traceHash: string;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly messages: number;
  readonly nodes: number;
  /** The fault plan the seed chose; absent where faults are not a plan (raft-core's schedules). */
  readonly plan?: FaultPlan;
  /** Scenario-specific figures. */
  readonly details: Record<string, unknown>;
  /**
   * Checks that could not decide (a linearizability search that ran out of budget): they
   * found no violation, and ruled none out either. Empty when every check decided.
   */
  readonly inconclusive: readonly string[];
  /** Frames the robustness fuzz corrupted (only with `corruptFrames`). */
  readonly framesCorrupted?: number;
  /** Trace lines when asked for. */
  readonly trace?: readonly string[];
}

/** A named, seeded scenario: workload + fault plan + invariants. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly defaultNodes: number;
  /** Planted bugs this scenario understands, with what each does. */
  readonly plantedBugs: Readonly<Record<string, string>>;
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

/** The violations and the undecided checks among named linearizability results. */
export function linearizabilityFindings(results: Readonly<Record<string, LinearizabilityResult>>): {
  readonly violations: readonly string[];
  readonly inconclusive: readonly string[];
} {
  const violations: string[] = [];
  const inconclusive: string[] = [];
  for (const [what, r] of Object.entries(results)) {
    if (r.ok === false) violations.push(`${what} history is not linearizable: ${r.counterexample}`);
    else if (r.ok === 'unknown') inconclusive.push(`${what} history: ${r.reason}`);
  }
  return { violations, inconclusive };
}

/** Splits planted-bug names into wire bugs and the rest; unknown names are an error. */
export function wireBugOf(bugs: readonly string[] | undefined): PlantedWireBug | undefined {
  if (bugs?.includes('wire-reorder')) return 'reorder';
  if (bugs?.includes('wire-duplicate')) return 'duplicate';
  return undefined;
}

export const WIRE_BUGS = {
  'wire-reorder': 'the simulated network reorders frames on reliable links',
  'wire-duplicate': 'the simulated network duplicates frames on reliable links',
} as const;

/**
 * The result of a finished run: the checkers' final look plus the scenario's own findings
 * (reported under the scenario's name), and the run's figures.
 */
export function scenarioResult(
  name: string,
  options: ScenarioOptions,
  sim: Simulation,
  wallStart: number,
  nodes: number,
  details: Record<string, unknown>,
  findings: readonly { readonly message: string; readonly atMs: number }[],
  inconclusive: readonly string[] = [],
): ScenarioResult {
  const violations = [...sim.finishCheckers(), ...findings.map((v) => ({ checker: name, ...v }))];
  return {
    scenario: name,
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    traceHash: sim.traceHash,
    simulatedMs: sim.now,
    wallMs: Math.round(performance.now() - wallStart),
    events: sim.stats.events,
    messages: sim.stats.messages,
    nodes,
    plan: sim.plan,
    details,
    inconclusive,
    ...(options.corruptFrames !== undefined && { framesCorrupted: sim.stats.framesCorrupted }),
    ...(options.keepTrace && { trace: sim.trace }),
  };
}

/**
 * The signature verifier scenarios give their simulations: the platform's (OpenSSL), about
 * 15x faster than pure JS. Any correct verifier gives the same answers, so traces do not
 * depend on it; it only makes large runs affordable.
 */
export const scenarioVerifier: SignatureVerifier = new NativeVerifier();

/** The ed25519 signer scenarios give their simulations: the platform's, for the same reason (signatures are deterministic). */
export const scenarioSigner: Ed25519Signer = new NativeSigner();

/** What every scenario's Simulation gets besides its seed and faults. */
export const scenarioCrypto = { verifier: scenarioVerifier, signer: scenarioSigner } as const;

/**
 * Discovery timing the scenarios share: mosaik's purge (300 s) and refresh (45 s) with
 * exchanges every 5 s, so a run covers many rounds in a few simulated minutes.
 */
export const SCENARIO_DISCOVERY_TIMING = { purgeAfterMs: 300_000, refreshIntervalMs: 45_000, syncIntervalMs: 5_000 } as const;

/** A scenario's simulation: its seed, swarm faults unless told otherwise, trace lines if asked, the platform's crypto. */
export function scenarioSimulation(options: ScenarioOptions, extra: Partial<SimulationOptions> = {}): Simulation {
  const faults = options.faults === 'none' ? 'none' : 'swarm';
  const slowDisk = options.faults === 'slow-disk';
  return new Simulation({
    seed: options.seed,
    faults,
    keepTrace: options.keepTrace ?? false,
    ...scenarioCrypto,
    ...(slowDisk && { slowDisk }),
    ...(options.corruptFrames !== undefined && { corruptFrames: options.corruptFrames }),
    ...extra,
  });
}
