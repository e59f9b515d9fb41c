/**
 * The application of `ping-sim.ts`, unchanged, on real QUIC: two nodes in this process on
 * 127.0.0.1, each listening on a free port.
 *
 *   npx tsx examples/ping-quic.ts
 */
import { Network } from 'mosaik';
import { type AppEnv, pingLoop, untilAllAnswer } from './ping-app.ts';

const started = performance.now();
// Real time this time: the same interface as the simulator's sleep and clock.
const env: AppEnv = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => performance.now() - started,
  log: (line) => console.log(line),
};

const nets = [
  await Network.create({ network: 'ping-example', listen: { host: '127.0.0.1', port: 0 } }),
  await Network.create({ network: 'ping-example', listen: { host: '127.0.0.1', port: 0 } }),
];
for (const [i, net] of nets.entries()) console.log(`n${i} listening at ${net.addr}`);

try {
  const totals = await pingLoop(nets, env, { rounds: 5, intervalMs: 100, timeoutMs: 1_000 });
  console.log(`${totals.answered} answered, ${totals.failed} failed`);
  await untilAllAnswer(nets, env);
  console.log('all pairs answered');
} finally {
  // Closing every node lets the process exit by itself: no timer or socket is left behind.
  await Promise.all(nets.map((net) => net.close()));
}
