/**
 * mosaik/sim: the deterministic simulator. `new Simulation({ seed })`, then `sim.node()`
 * for each node: each is the same `Network` production code uses.
 */

export { Network } from '../api/network.ts';
export { faultyTdxTicket, SimulatedQuoteProvider, TDX_FAULT_REJECTIONS } from './attestation.ts';
export type { Checker, CheckerView, Violation } from './checker.ts';
export { raftSafetyChecker } from './checkers/groups.ts';
export {
  type CounterInput,
  type CounterOutput,
  checkLinearizable,
  counterModel,
  type KvInput,
  kvModel,
  type LinearizabilityResult,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from './checkers/linearizability.ts';
export type { FaultKind, FaultPlan, NemesisPlan, StressPlan } from './fault-plan.ts';
export { CLOCK_OFFSET_MS_MAX, FAULT_KINDS, QUIET_PLAN, swarmPlan } from './fault-plan.ts';
export { rngStream } from './rng.ts';
export type { SimNodeOptions, SimulationOptions } from './simulation.ts';
export { Simulation, SimulationLimitError, SimulationStalledError } from './simulation.ts';
