import type { Network } from '../api/network.ts';
import type { Consumer, Producer } from '../api/streams.ts';
import type { Checker } from '../net-sim/checker.ts';
import { SCENARIO_DISCOVERY_TIMING, type Scenario, scenarioResult, scenarioSimulation } from './scenario.ts';

/**
 * Streams scenarios. `streams-fanout`: one producer, many consumers (every third one reads
 * slowly and falls behind), under swarm faults for a minute; then the faults stop and every
 * live consumer must be subscribed again and receive what is sent.
 *
 * Checked throughout, on every consumer's delivered datums (the `streams.datum` events):
 * FIFO per link and no duplicates, i.e. the producer's `seq` strictly increases on each
 * (node, consumer handle, link). Across links of one consumer and producer it increases too
 * (no replay: a new link only carries datums sent after it subscribed), checked per
 * producer incarnation by the workload itself.
 */
const TIMING = SCENARIO_DISCOVERY_TIMING;
const FAULTS_MS = 60_000;
const SEND_EVERY_MS = 20;
/** After faults stop, every live consumer must be subscribed within this long. */
const RESUBSCRIBE_BOUND_MS = 90_000;
const FINAL_DATUMS = 70;
const FINAL_BURST = 50;
const FINAL_SEND_EVERY_MS = 400;
/** Longest backoff (60 s) plus a margin. */
const TRICKLE_BOUND_MS = 90_000;

/** FIFO per link and no duplicates: `seq` strictly increases per (node, handle, link). */
export function fifoPerLinkChecker(): Checker {
  const last = new Map<Network, Map<string, number>>();
  return {
    name: 'streams-fifo-per-link',
    onEvent(view, net, event) {
      if (event.type !== 'streams.datum') return;
      let perNet = last.get(net);
      if (!perNet) {
        perNet = new Map();
        last.set(net, perNet);
      }
      const key = `${event.handle}/${event.link}`;
      const previous = perNet.get(key) ?? 0;
      if (event.seq <= previous) {
        view.violate(
          'streams-fifo-per-link',
          `${net.peerId.short} consumer ${event.handle} link ${event.link}: seq ${event.seq} after ${previous} (${event.seq === previous ? 'duplicate' : 'reordered'})`,
        );
      }
      perNet.set(key, Math.max(previous, event.seq));
    },
  };
}

export const streamsFanout: Scenario = {
  name: 'streams-fanout',
  description:
    'one producer, many consumers (some lagging) under swarm faults: FIFO per link, no duplicates; after the faults stop, every consumer resubscribes and receives',
  defaultNodes: 8,
  plantedBugs: { 'reorder-queue': "the producer swaps the first two datums of a consumer's queue when credit frees it" },
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 8;
    if (!Number.isInteger(count) || count < 2) throw new RangeError(`streams-fanout needs at least 2 nodes, got ${count}`);
    const sim = scenarioSimulation(options);
    const plantedBugs = { streams: { reorderQueue: options.plantedBugs?.includes('reorder-queue') ?? false } };
    const boot = sim.node({ network: 'fanout', discovery: TIMING, plantedBugs });
    const nets = [boot, ...Array.from({ length: count - 1 }, () => sim.node({ network: 'fanout', bootstrap: [boot.addr], discovery: TIMING, plantedBugs }))];
    sim.addChecker(fifoPerLinkChecker());
    const problems: { message: string; atMs: number }[] = [];
    const source = nets[0] as Network;
    const sinks = nets.slice(1);
    const lagging = (i: number) => i % 3 === 2;
    /** Values each sink received, newest last; cleared when its consumer is re-created. */
    const received = new Map<Network, number[]>(sinks.map((n) => [n, []]));
    const consumers = new Map<Network, Consumer<number>>();
    let producer: Producer<number> | undefined;
    let producerLife = 0;
    let sent = 0;
    let resubscribedAfterMs: number | undefined;

    const ensureProducer = (): Producer<number> | undefined => {
      if (producer && !producer.closed) return producer;
      if (!sim.isUp(source)) return undefined;
      producer = source.streams.producer<number>('fanout', { bufferSize: 64 });
      producerLife++;
      return producer;
    };
    const ensureConsumer = (net: Network, i: number): void => {
      const existing = consumers.get(net);
      if ((existing && !existing.closed) || !sim.isUp(net)) return;
      const c = net.streams.consumer<number>('fanout', { bufferSize: lagging(i) ? 8 : 256 });
      consumers.set(net, c);
      const got: number[] = [];
      received.set(net, got);
      void (async () => {
        let lastLife = 0;
        let lastValue = -1;
        try {
          for await (const value of c) {
            if (!Number.isSafeInteger(value)) {
              // Only a frame corrupted in flight (`corruptFrames`) can bring one: nothing checks a datum's bytes.
              problems.push({ message: `n${sim.indexOf(net)} got a malformed datum`, atMs: sim.now });
              continue;
            }
            // value = life * 1e6 + n: within one producer life, values strictly increase (no replay, FIFO)
            const life = Math.floor(value / 1_000_000);
            if (life === lastLife && value <= lastValue) problems.push({ message: `n${sim.indexOf(net)} got ${value} after ${lastValue}`, atMs: sim.now });
            lastLife = life;
            lastValue = value;
            got.push(value);
            if (lagging(i)) await sim.sleep(200);
          }
        } catch (e) {
          if (!(e instanceof Error && e.name === 'NodeDownError')) throw e;
        }
      })();
    };
    const tick = () => {
      ensureProducer();
      sinks.forEach((n, i) => {
        ensureConsumer(n, i);
      });
    };

    await sim.run(async () => {
      tick();
      const faultsEnd = sim.now + FAULTS_MS;
      while (sim.now < faultsEnd) {
        const p = ensureProducer();
        if (p?.isOnline) {
          try {
            p.trySend(producerLife * 1_000_000 + ++sent);
          } catch {
            // offline or full at this instant: at-most-once, the datum is simply not sent
          }
        }
        if (sent % 25 === 0) tick();
        await sim.sleep(SEND_EVERY_MS);
      }
      sim.quiesce();
      const quietAt = sim.now;
      const allSubscribed = () => {
        tick();
        const p = producer;
        return (
          p !== undefined &&
          !p.closed &&
          sinks.every((n) => {
            const c = consumers.get(n);
            return c !== undefined && !c.closed && c.producers().some((i) => i.state === 'connected' && i.producer.equals(source.peerId));
          })
        );
      };
      while (!allSubscribed() && sim.now - quietAt < RESUBSCRIBE_BOUND_MS) await sim.sleep(500);
      if (!allSubscribed()) {
        problems.push({ message: `not every consumer subscribed ${RESUBSCRIBE_BOUND_MS} ms after faults stopped`, atMs: sim.now });
        return;
      }
      resubscribedAfterMs = sim.now - quietAt;
      const p = producer as Producer<number>;
      const firstFinal = producerLife * 1_000_000 + sent + 1;
      // A burst at the normal pace (a lagging reader's queue fills and drains: what shows a
      // reordering queue), then a paced tail a lagging reader (one datum per 200 ms) can follow
      // even if the burst cut it off as too slow: delivery must have resumed for everyone.
      for (let k = 0; k < FINAL_DATUMS; k++) {
        await p.send(producerLife * 1_000_000 + ++sent);
        await sim.sleep(k < FINAL_BURST ? SEND_EVERY_MS : FINAL_SEND_EVERY_MS);
      }
      await sim.sleep(30_000);
      // A lagging reader cut off during the burst waits out its backoff (up to a minute after
      // many cuts): keep a slow trickle going until each has heard something again.
      const finalsOf = (n: Network) => (received.get(n) ?? []).filter((v) => v >= firstFinal).length;
      const trickleEnd = sim.now + TRICKLE_BOUND_MS;
      while (sim.now < trickleEnd && sinks.some((n, i) => lagging(i) && finalsOf(n) === 0)) {
        await p.send(producerLife * 1_000_000 + ++sent);
        await sim.sleep(FINAL_SEND_EVERY_MS);
      }
      sinks.forEach((n, i) => {
        const finals = (received.get(n) ?? []).filter((v) => v >= firstFinal);
        // Fast consumers keep up and get every one; a lagging one may be cut off as too slow, but hears some.
        const want = lagging(i) ? 1 : FINAL_DATUMS;
        if (finals.length < want) problems.push({ message: `n${sim.indexOf(n)} got ${finals.length} of the last ${FINAL_DATUMS} datums`, atMs: sim.now });
      });
    });
    const delivered = [...received.values()].reduce((sum, got) => sum + got.length, 0);
    return scenarioResult('streams-fanout', options, sim, wallStart, count, { sent, delivered, producerLives: producerLife, resubscribedAfterMs }, problems);
  },
};
