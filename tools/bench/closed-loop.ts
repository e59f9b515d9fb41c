import { performance } from 'node:perf_hooks';

/** What a closed-loop run measured: calls completed, their rate, and latency percentiles. */
export interface ClosedLoopFigure {
  readonly calls: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * `clients` concurrent callers, each calling `call` again as soon as the previous call
 * resolves: a warm-up of `warmupMs`, then `seconds` measured. Latency is per call.
 */
export async function closedLoop(
  clients: number,
  seconds: number,
  call: () => Promise<unknown>,
  warmupMs = 300,
  /** Called when the warm-up ends and the measured part begins (to read counters). */
  onMeasureStart?: () => void,
): Promise<ClosedLoopFigure> {
  const run = async (ms: number): Promise<number[]> => {
    const latencies: number[] = [];
    const stopAt = performance.now() + ms;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < stopAt) {
          const t0 = performance.now();
          await call();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    return latencies;
  };
  await run(warmupMs);
  onMeasureStart?.();
  const t0 = performance.now();
  const latencies = await run(seconds * 1000);
  const ms = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return {
    calls: latencies.length,
    perSecond: Math.round((latencies.length * 1000) / ms),
    p50Ms: round2(percentile(latencies, 50)),
    p99Ms: round2(percentile(latencies, 99)),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
