import { parentPort, workerData } from 'node:worker_threads';
import { scenarios } from '../../scenarios/index.ts';
import type { ScenarioOptions } from '../../scenarios/scenario.ts';

/** A campaign worker: runs the seeds it is sent, one at a time, and posts each result back. */
const { scenario: name, options } = workerData as { scenario: string; options: Omit<ScenarioOptions, 'seed'> };
const scenario = scenarios.get(name);
if (!scenario || !parentPort) throw new Error(`campaign worker started without a scenario or a parent (${name})`);
const port = parentPort;
port.on('message', async (seed: number) => {
  try {
    const { trace: _trace, ...result } = await scenario.run({ ...options, seed, keepTrace: false });
    port.postMessage({ seed, result });
  } catch (error) {
    port.postMessage({ seed, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
