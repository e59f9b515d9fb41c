/**
 * Start here: three nodes pinging each other inside the deterministic simulator, under
 * faults the seed picks (crashes, partitions, slow links, clock jumps...).
 *
 *   npx tsx examples/ping-sim.ts [seed]
 *
 * Everything in the run follows from the seed: run it twice and the trace hash printed at
 * the end is the same. That is what makes a failing simulated run replayable.
 */
import { Simulation } from 'mosaik/sim';
import { type AppEnv, pingLoop, untilAllAnswer } from './ping-app.ts';

const seed = Number(process.argv[2] ?? 11);

async function simulate(seed: number, log: (line: string) => void): Promise<string> {
  // 'swarm': the seed chooses which faults happen, how often and for how long. A nemesis
  // injects them from the start until `sim.quiesce()`.
  const sim = new Simulation({ seed, faults: 'swarm' });
  const { latencyMsMin, latencyMsMax, nemesis } = sim.plan;
  log(`seed ${seed}: latency ${latencyMsMin}-${latencyMsMax} ms, faults: ${nemesis?.kinds.join(', ') ?? 'none'}`);

  // Each node is a `Network`: the same interface `Network.create` returns in production.
  const nets = [0, 1, 2].map(() => sim.node({ network: 'ping-example' }));

  // In the simulation, waiting and the clock are virtual: ten seconds pass in milliseconds.
  const env: AppEnv = { sleep: (ms) => sim.sleep(ms), now: () => sim.now, log };

  // Application code runs inside `sim.run()`: awaiting a ping lets virtual time pass.
  await sim.run(async () => {
    const faulty = await pingLoop(nets, env, { rounds: 20, intervalMs: 500, timeoutMs: 1_000 });
    log(`under faults: ${faulty.answered} answered, ${faulty.failed} failed`);

    // End the fault phase: partitions heal, crashed nodes restart, the nemesis stops.
    // From here on, every pair must be able to ping again (liveness).
    sim.quiesce();
    log('quiesce: faults stopped');
    const rounds = await untilAllAnswer(nets, env);
    log(`after quiesce: all pairs answered (in ${rounds} round${rounds === 1 ? '' : 's'})`);
  });

  log(`simulated ${sim.now} ms, ${sim.stats.events} events, ${sim.stats.messages} messages`);
  return sim.traceHash;
}

const hash = await simulate(seed, (line) => console.log(line));
console.log(`trace hash: ${hash}`);

// Same seed, same code: same run, down to the last event.
const again = await simulate(seed, () => {});
console.log(`re-run with seed ${seed}: ${again === hash ? 'same trace hash' : `DIFFERENT trace hash ${again}`}`);
if (again !== hash) process.exitCode = 1;
