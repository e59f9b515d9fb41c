import { Digest } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { Producer } from '../../api/streams.ts';
import type { StreamsEvent } from '../../core/streams/streams.ts';
import { cluster, converged, eventually, recordStreamsEvents } from './helpers.ts';

const leader = Digest.from('leader');

describe('streams consumer', () => {
  it('auth::dynamic_tag_reevaluation: a producer that loses the required tag is dropped; one that gains it is picked up', async () => {
    const sim = new Simulation({ seed: 21 });
    const nets = cluster(sim, 3, [[], ['leader'], []]);
    const [c0, p1, p2] = nets as [Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const [prod1, prod2] = [p1, p2].map((n) => n.streams.producer<string>('cmds', { onlineWhen: (c) => c.minimumOf(0) })) as [
        Producer<string>,
        Producer<string>,
      ];
      const c = c0.streams.consumer<string>('cmds', { require: (peer) => peer.tags.some((t) => t.equals(leader)) });
      await c.when.subscribed();
      expect(c.producers().map((i) => i.producer.hex)).toEqual([p1.peerId.hex]);
      await prod1.send('from p1');
      expect(await c.recv()).toBe('from p1');
      await p1.discovery.removeTags('leader');
      await c.when.unsubscribed();
      expect(seen.some((s) => s.net === c0 && s.event.type === 'streams.unsubscribed' && s.event.reason === 'ineligible')).toBe(true);
      await p2.discovery.addTags('leader');
      await c.when.subscribed().withPredicate((e) => e.peerId.equals(p2.peerId));
      expect(c.producers().map((i) => i.producer.hex)).toEqual([p2.peerId.hex]);
      await prod2.when.subscribed();
      await prod2.send('from p2');
      expect(await c.recv()).toBe('from p2');
      // p1 regains the tag: subscribed again, to both
      await p1.discovery.addTags('leader');
      await c.when.subscribed().minimumOf(2);
    });
  });

  it('when::online_when: minimumOf(2).withTags(t1, t2) is offline with one producer, online with two, offline after a drop; the default is immediate', async () => {
    const sim = new Simulation({ seed: 22 });
    const nets = cluster(sim, 3, [[], ['t1', 't2'], ['t1', 't2']]);
    const [c0, p1, p2] = nets as [Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const plain = c0.streams.consumer('ow');
      expect(plain.isOnline).toBe(true);
      const c = c0.streams.consumer('ow', { onlineWhen: (x) => x.minimumOf(2).withTags('t1', 't2') });
      expect(c.isOnline).toBe(false);
      const a = p1.streams.producer('ow');
      await c.when.subscribed();
      expect(c.isOnline).toBe(false);
      const b = p2.streams.producer('ow');
      await c.when.online();
      await b.close();
      await c.when.offline();
      expect(c.producers().length).toBe(1);
      await a.close();
    });
  });

  it('require by RTT: rttBelow accepts peers while unmeasured or fast, refuses those measured slow', async () => {
    const sim = new Simulation({ seed: 23 });
    const nets = cluster(sim, 2);
    const [c0, p1] = nets as [Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      p1.streams.producer('rtt', { onlineWhen: (c) => c.minimumOf(0) });
      const fast = c0.streams.consumer('rtt', { require: (peer) => peer.rttBelow(5_000) });
      await fast.when.subscribed();
      // the subscription measured the RTT: now a 0 ms bound refuses the producer
      expect(c0.discovery.peerInfo(p1.peerId)?.rtt).toBeDefined();
      const strict = c0.streams.consumer('rtt', { require: (peer) => peer.rttBelow(0) });
      await sim.sleep(3_000);
      expect(strict.producers()).toEqual([]);
    });
  });

  it('backoff grows while a producer refuses (no-capacity) and resets after a healthy period', async () => {
    const sim = new Simulation({ seed: 24 });
    const nets = cluster(sim, 3);
    const [p0, b, c] = nets as [Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    const retries = (net: Network) =>
      seen
        .filter((s) => s.net === net && s.event.type === 'streams.unsubscribed')
        .map((s) => (s.event as StreamsEvent & { type: 'streams.unsubscribed' }).retryInMs);
    await sim.run(async () => {
      await converged(sim, nets);
      const p = p0.streams.producer<number>('bo', { maxConsumers: 1, bufferSize: 2 });
      const holder = b.streams.consumer<number>('bo');
      await p.when.subscribed();
      const backoff = { jitter: 0, resetAfterMs: 10_000 };
      const waiting = c.streams.consumer<number>('bo', { backoff, bufferSize: 2 });
      await eventually(sim, () => retries(c).length >= 4, 20_000, 'four refusals');
      expect(retries(c).slice(0, 4)).toEqual([500, 750, 1125, 1688]);
      await holder.close();
      await waiting.when.subscribed();
      const before = retries(c).length;
      // healthy for more than resetAfterMs, then it falls behind: too-slow, and the wait starts over
      await sim.sleep(11_000);
      for (let i = 0; i < 10; i++) await p.send(i);
      await eventually(sim, () => retries(c).length > before, 5_000, 'too-slow');
      // The first drop after the healthy period (the consumer, still not reading, is dropped
      // again after it reconnects: its window is full of the datums it holds).
      expect(seen.filter((s) => s.net === c && s.event.type === 'streams.unsubscribed')[before]?.event).toMatchObject({
        type: 'streams.unsubscribed',
        reason: 'too-slow',
        retryInMs: 500,
      });
    });
  });

  it("a node's streams.backoff is every consumer's default; a consumer's own fields go over it", async () => {
    const sim = new Simulation({ seed: 26 });
    const p0 = sim.node({ network: 'streams-test' });
    const b = sim.node({ network: 'streams-test', bootstrap: [p0.addr] });
    const c = sim.node({ network: 'streams-test', bootstrap: [p0.addr], streams: { backoff: { initialMs: 200, multiplier: 2, jitter: 0 } } });
    const seen = recordStreamsEvents(sim);
    const retries = (stream: string) =>
      seen
        .filter((s) => s.net === c && s.event.type === 'streams.unsubscribed' && s.event.stream.equals(Digest.from(stream)))
        .map((s) => (s.event as StreamsEvent & { type: 'streams.unsubscribed' }).retryInMs);
    await sim.run(async () => {
      await converged(sim, [p0, b, c]);
      for (const name of ['full-a', 'full-b']) {
        const p = p0.streams.producer<number>(name, { maxConsumers: 1 });
        b.streams.consumer<number>(name); // takes the only place
        await p.when.subscribed();
      }
      c.streams.consumer<number>('full-a'); // the node's default
      c.streams.consumer<number>('full-b', { backoff: { initialMs: 300 } }); // its own first wait, the node's multiplier and jitter
      await eventually(sim, () => retries('full-a').length >= 4 && retries('full-b').length >= 3, 20_000, 'refusals');
      expect(retries('full-a').slice(0, 4)).toEqual([200, 400, 800, 1600]);
      expect(retries('full-b').slice(0, 3)).toEqual([300, 600, 1200]);
    });
  });

  it('bad node-wide streams and groups settings are refused when the node is made', () => {
    const sim = new Simulation({ seed: 27 });
    expect(() => sim.node({ network: 'x', streams: { backoff: { jitter: 1.5 } } })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
    expect(() => sim.node({ network: 'x', groups: { handshakeTimeoutMs: 0 } })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
  });

  it('without a healthy period the streak continues: the next wait is longer', async () => {
    const sim = new Simulation({ seed: 25 });
    const nets = cluster(sim, 2);
    const [p0, c] = nets as [Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const p = p0.streams.producer<number>('bo2', { bufferSize: 1 });
      const cons = c.streams.consumer<number>('bo2', { backoff: { jitter: 0, resetAfterMs: 60_000 }, bufferSize: 1 });
      const delays: (number | undefined)[] = [];
      for (let round = 0; round < 3; round++) {
        await cons.when.subscribed();
        await p.when.subscribed();
        // 1 in flight, 1 queued, then too slow (and offline: trySend throws from then on)
        for (let i = 0; i < 5 && p.isOnline; i++) p.trySend(i);
        await eventually(sim, () => seen.filter((s) => s.net === c && s.event.type === 'streams.unsubscribed').length > round, 5_000);
        const last = seen.filter((s) => s.net === c && s.event.type === 'streams.unsubscribed').at(-1)?.event;
        delays.push(last?.type === 'streams.unsubscribed' ? last.retryInMs : -1);
        while (cons.tryRecv() !== undefined) {}
      }
      expect(delays).toEqual([500, 750, 1125]);
    });
  });
});
