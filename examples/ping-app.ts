/**
 * The application both examples run: a handful of nodes pinging each other. It only sees
 * `Network`s, so the very same code runs in the simulator (`ping-sim.ts`) and on real QUIC
 * (`ping-quic.ts`). What differs is passed in: how to wait and how to tell the time, since
 * in a simulation both are virtual.
 */
import {
  type ClosedError,
  type ConnectError,
  closeCodeName,
  type InvalidArgumentError,
  type LinkClosedError,
  MosaikError,
  type Network,
  type NodeDownError,
  type TimeoutError,
} from 'mosaik';

/** What the application needs from its surroundings. */
export interface AppEnv {
  /** Waits `ms` (virtual ms in a simulation: `sim.sleep`). */
  sleep(ms: number): Promise<void>;
  /** Milliseconds since the start (virtual in a simulation: `sim.now`). */
  now(): number;
  log(line: string): void;
}

export interface PingLoopOptions {
  /** Rounds of all-pairs pings. @default 10 */
  readonly rounds?: number;
  /** Pause between rounds. @default 500 */
  readonly intervalMs?: number;
  /** Per-ping timeout. @default 1000 */
  readonly timeoutMs?: number;
}

export interface RoundResult {
  readonly answered: number;
  readonly failed: number;
}

/** The errors a ping can fail with. Each has a literal `code`, so `switch (err.code)` narrows. */
type PingError = TimeoutError | ConnectError | LinkClosedError | NodeDownError | ClosedError | InvalidArgumentError;

/** One line about a failed ping. Network failures are typed errors; anything else is a bug. */
export function explain(error: unknown): string {
  if (!(error instanceof MosaikError)) throw error;
  const err = error as PingError;
  switch (err.code) {
    case 'TIMEOUT':
      return 'TIMEOUT (no answer in time)';
    case 'CONNECT':
      return `CONNECT (${err.reason})`;
    case 'LINK_CLOSED':
      return `LINK_CLOSED (${closeCodeName(err.closeCode)})`;
    case 'NODE_DOWN':
      return 'NODE_DOWN (this node is crashed)';
    case 'CLOSED':
      return 'CLOSED (this node was closed)';
    case 'INVALID_ARGUMENT':
      return `INVALID_ARGUMENT (${err.message})`;
    default:
      return `${(error as MosaikError).code} (${error.message})`;
  }
}

function stamp(env: AppEnv): string {
  return `[${String(Math.round(env.now())).padStart(6)} ms]`;
}

function formatRtt(rttMs: number): string {
  return Number.isInteger(rttMs) ? `${rttMs} ms` : `${rttMs.toFixed(3)} ms`;
}

/** One round: every node pings every other node, all at once; prints each outcome. */
export async function pingRound(nets: readonly Network[], env: AppEnv, timeoutMs = 1_000): Promise<RoundResult> {
  const pairs = nets.flatMap((from, i) => nets.flatMap((to, j) => (i === j ? [] : [{ from, to, label: `n${i} -> n${j}` }])));
  const outcomes = await Promise.allSettled(pairs.map(({ from, to }) => from.ping(to.addr, { timeoutMs })));
  let answered = 0;
  for (const [k, outcome] of outcomes.entries()) {
    const { label } = pairs[k] as (typeof pairs)[number];
    if (outcome.status === 'fulfilled') {
      answered++;
      env.log(`${stamp(env)} ${label}: ${formatRtt(outcome.value.rttMs)}`);
    } else {
      env.log(`${stamp(env)} ${label}: failed, ${explain(outcome.reason)}`);
    }
  }
  return { answered, failed: pairs.length - answered };
}

/** Rounds of pings, whatever the network does meanwhile; returns the totals. */
export async function pingLoop(nets: readonly Network[], env: AppEnv, options: PingLoopOptions = {}): Promise<RoundResult> {
  const { rounds = 10, intervalMs = 500, timeoutMs = 1_000 } = options;
  let answered = 0;
  let failed = 0;
  for (let round = 1; round <= rounds; round++) {
    env.log(`${stamp(env)} round ${round}`);
    const result = await pingRound(nets, env, timeoutMs);
    answered += result.answered;
    failed += result.failed;
    await env.sleep(intervalMs);
  }
  return { answered, failed };
}

/**
 * Pings all pairs until one round is answered in full: after faults, links broken by a
 * crash or a partition take up to the idle timeout to be noticed and redialed. Returns the
 * number of rounds it took; throws if the network does not recover in `attempts` rounds.
 */
export async function untilAllAnswer(nets: readonly Network[], env: AppEnv, attempts = 30, intervalMs = 1_000): Promise<number> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const { failed } = await pingRound(nets, env);
    if (failed === 0) return attempt;
    await env.sleep(intervalMs);
  }
  throw new Error(`pings still failing after ${attempts} rounds`);
}
