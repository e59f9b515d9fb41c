/**
 * Benchmark: two node machines wired back to back, with no simulator and no trace: the
 * cost of the node machines, the codec and the promise-shaped runtime alone. It bounds what
 * the simulator can reach (`npm run bench`), which adds the link model, the event queue and
 * trace hashing on top. Not a test: it prints figures.
 * Run: npx tsx tools/bench/node-pair.ts [--pings 200000] [--in-flight 8]
 */
import { NodeRuntime, type TransportOutput } from '../../api/runtime.ts';
import { Digest } from '../../core/identity/digest.ts';
import { SecretKey } from '../../core/identity/keys.ts';
import { createNodeMachine } from '../../core/node/compose.ts';
import type { LinkId } from '../../core/node/io.ts';
import { rngStream } from '../../net-sim/rng.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';

const { flags } = parseArgs(process.argv.slice(2), { pings: 'string', 'in-flight': 'string' });
const pings = parseInteger(flags.pings, '--pings', 1) ?? 200_000;
const inFlight = parseInteger(flags['in-flight'], '--in-flight', 1) ?? 8;

const network = Digest.from('bench');
const keys = [SecretKey.fromSeed('a'), SecretKey.fromSeed('b')] as const;
const pending: (() => void)[] = [];
const wire = new Map<string, { to: number; link: LinkId }>();
const runtimes: NodeRuntime[] = [];
let nowMs = 1;
let delivered = 0;

for (const me of [0, 1]) {
  const machine = createNodeMachine({ secretKey: keys[me] as SecretKey, networkId: network, rng: rngStream(1, `node/${me}`) });
  const other = 1 - me;
  runtimes.push(
    new NodeRuntime(machine, {
      nowMs: () => nowMs,
      wallClockMs: () => nowMs,
      perform(output: TransportOutput) {
        if (output.type === 'connect') {
          const remote = (runtimes[other] as NodeRuntime).machine.allocateLinkId();
          wire.set(`${me}/${output.link}`, { to: other, link: remote });
          wire.set(`${other}/${remote}`, { to: me, link: output.link });
          pending.push(() => runtimes[other]?.input({ type: 'linkIncoming', link: remote, peer: (keys[me] as SecretKey).peerId }));
          pending.push(() => runtimes[me]?.input({ type: 'linkOpened', link: output.link }));
        } else if (output.type === 'send') {
          const { to, link } = wire.get(`${me}/${output.link}`) as { to: number; link: LinkId };
          pending.push(() => {
            delivered++;
            runtimes[to]?.input({ type: 'frame', link, body: output.body });
          });
        }
      },
    }),
  );
}

for (const runtime of runtimes) runtime.start();
let started = 0;
const target = { peer: keys[1].peerId, addrs: ['b'], timeoutMs: 60_000 };
const loop = async () => {
  while (started < pings) {
    started++;
    await (runtimes[0] as NodeRuntime).request({ to: 'ping', cmd: target });
  }
};
const wallStart = performance.now();
let done = false;
void Promise.all(Array.from({ length: inFlight }, loop)).then(() => {
  done = true;
});
while (!done) {
  for (let task = pending.shift(); task; task = pending.shift()) {
    nowMs++;
    task();
  }
  await new Promise((resolve) => setImmediate(resolve));
}
const wallMs = performance.now() - wallStart;
console.log(
  `node pair, no simulator: ${Math.round(delivered / (wallMs / 1_000)).toLocaleString('en-US')} delivered messages/s ` +
    `(${delivered.toLocaleString('en-US')} messages, ${pings.toLocaleString('en-US')} pings, ${inFlight} in flight, ${Math.round(wallMs)} ms)`,
);
