import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Scenario, ScenarioOptions, ScenarioResult } from '../../scenarios/scenario.ts';

export type SeedOutcome = { readonly seed: number; readonly result: ScenarioResult } | { readonly seed: number; readonly error: string };

/**
 * The young generation of each worker's heap: 192 MB, i.e. 64 MB semi-spaces, where V8's
 * default is 16 MB. A raft-chaos seed allocates ~90 MB and keeps ~5 MB of it (log entries,
 * storage values, client histories), so a small nursery is scavenged often, each time copying
 * what is still alive. Campaigns of raft-chaos seeds 1-200 with two workers, interleaved,
 * means of 4–6 runs (docs/benchmarks.md, Groups, 2026-11-27 #17): 4 MB semi-spaces 592x,
 * 16 MB (the default) 680x, 32 MB 666x, 64 MB 729x, 128 MB 719x; this setting against the
 * default, 2–7% less wall time. It costs ~58 MB of resident memory per worker.
 */
export const WORKER_YOUNG_GENERATION_MB = 192;

/** The default number of campaign workers: one per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * Runs `scenario` for every seed, on `jobs` worker threads (in this thread when `jobs` is 1),
 * and reports each outcome in seed order, whatever order the workers finish in. Every seed
 * runs in a fresh simulation, so a seed's result does not depend on which worker ran it.
 */
export async function runSeeds(
  scenario: Scenario,
  seeds: readonly number[],
  options: Omit<ScenarioOptions, 'seed'>,
  jobs: number,
  onOutcome: (outcome: SeedOutcome) => void,
): Promise<void> {
  if (jobs <= 1 || seeds.length <= 1) {
    for (const seed of seeds) {
      try {
        onOutcome({ seed, result: await scenario.run({ ...options, seed }) });
      } catch (error) {
        onOutcome({ seed, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    }
    return;
  }
  const pending = new Map<number, SeedOutcome>();
  let nextToReport = 0;
  let nextToSend = 0;
  const report = (outcome: SeedOutcome) => {
    pending.set(outcome.seed, outcome);
    while (nextToReport < seeds.length && pending.has(seeds[nextToReport] as number)) {
      const seed = seeds[nextToReport++] as number;
      onOutcome(pending.get(seed) as SeedOutcome);
      pending.delete(seed);
    }
  };
  const workers = Array.from(
    { length: Math.min(jobs, seeds.length) },
    () =>
      new Worker(new URL('./campaign-worker.mjs', import.meta.url), {
        workerData: { scenario: scenario.name, options },
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      }),
  );
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const sendNext = () => {
              if (nextToSend >= seeds.length) return resolve();
              worker.postMessage(seeds[nextToSend++]);
            };
            worker.on('message', (outcome: SeedOutcome) => {
              report(outcome);
              sendNext();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (code !== 0) reject(new Error(`campaign worker exited with code ${code}`));
            });
            sendNext();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
