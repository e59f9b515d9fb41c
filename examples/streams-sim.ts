/**
 * The quick taste: a producer on one node, a consumer on another, found through discovery,
 * inside the deterministic simulator.
 *
 *   npx tsx examples/streams-sim.ts
 *
 * The same code runs on a real network with `Network.create` (test/real/quic-streams.test.ts
 * does it between two OS processes).
 */
import { Simulation } from 'mosaik/sim';

interface Reading {
  readonly sensor: string;
  readonly value: number;
}

const sim = new Simulation({ seed: 7 });
const a = sim.node({ network: 'sensors' });
const b = sim.node({ network: 'sensors', bootstrap: [a.addr] });

await sim.run(async () => {
  const p = a.streams.producer<Reading>('sensor.readings');
  const c = b.streams.consumer<Reading>('sensor.readings');
  await p.when.subscribed().minimumOf(1);
  await p.send({ sensor: 't1', value: 21.5 });
  const reading = await c.recv();
  console.log(`received ${reading.sensor}=${reading.value} at ${sim.now} ms (virtual)`);
  await Promise.all([p.close(), c.close()]);
});
console.log(`trace hash: ${sim.traceHash}`);
