import { Digest } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { cluster, converged, eventually } from './helpers.ts';

interface Reading {
  readonly sensor: string;
  readonly value: number;
}

describe('streams in the simulator: smoke', () => {
  it('the quick taste: a producer and a consumer on two nodes find each other through discovery', async () => {
    const sim = new Simulation({ seed: 1 });
    const a = sim.node({ network: 'demo' });
    const b = sim.node({ network: 'demo', bootstrap: [a.addr] });
    await sim.run(async () => {
      const p = a.streams.producer<Reading>('sensor.readings');
      const c = b.streams.consumer<Reading>('sensor.readings');
      await p.when.subscribed().minimumOf(1);
      await p.send({ sensor: 't1', value: 21.5 });
      expect(await c.recv()).toEqual({ sensor: 't1', value: 21.5 });
    });
  });

  it('send_recv: one producer, two consumers, 100 datums each, in order, stats count them', async () => {
    const sim = new Simulation({ seed: 2 });
    const [a, b, c] = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      const p = a.streams.producer<number>('numbers');
      const c1 = b.streams.consumer<number>('numbers');
      const c2 = c.streams.consumer<number>('numbers');
      await p.when.subscribed().minimumOf(2);
      const got1: number[] = [];
      const got2: number[] = [];
      const read = async (from: typeof c1, into: number[]) => {
        for await (const x of from) {
          into.push(x);
          if (into.length === 100) return;
        }
      };
      const readers = Promise.all([read(c1, got1), read(c2, got2)]);
      for (let i = 0; i < 100; i++) await p.send(i);
      await readers;
      const expected = Array.from({ length: 100 }, (_, i) => i);
      expect(got1).toEqual(expected);
      expect(got2).toEqual(expected);
      expect(c1.stats().datums).toBe(100);
      expect(c2.stats().datums).toBe(100);
      expect(p.stats().datums).toBe(100);
      for (const info of p.consumers()) expect(info.stats.datums).toBe(100);
      expect(c1.producers().map((i) => i.producer.hex)).toEqual([a.peerId.hex]);
      expect(c1.producers()[0]?.stats.datums).toBe(100);
    });
  });

  it('stats: bytes are payload bytes, per consumer and in aggregate; a late consumer counts from its start', async () => {
    const sim = new Simulation({ seed: 3 });
    const [a, b, c] = cluster(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      const p = a.streams.producer<string>('s');
      const c1 = b.streams.consumer<string>('s');
      await p.when.subscribed();
      await p.send('test'); // msgpack: 5 bytes
      expect(await c1.recv()).toBe('test');
      await p.send('test2');
      expect(await c1.recv()).toBe('test2');
      expect(p.consumers()[0]?.stats).toMatchObject({ datums: 2, bytes: 11 });
      const c2 = c.streams.consumer<string>('s');
      await p.when.subscribed().minimumOf(2);
      await p.send('test12');
      expect(await c2.recv()).toBe('test12');
      expect(await c1.recv()).toBe('test12');
      const late = p.consumers().find((i) => i.consumer.equals(c.peerId));
      expect(late?.stats).toMatchObject({ datums: 1, bytes: 7 });
      expect(c1.stats()).toMatchObject({ datums: 3, bytes: 18 });
      expect(p.stats()).toMatchObject({ datums: 3, bytes: 18 });
      expect(p.stats().uptimeMs).toBeGreaterThan(0);
    });
  });

  it('custom stream ids: two producers of one type on one node; each consumer gets only its stream', async () => {
    const sim = new Simulation({ seed: 4 });
    const [a, b] = cluster(sim, 2) as [Network, Network];
    await sim.run(async () => {
      const p1 = a.streams.producer<string>('stream1234');
      const p2 = a.streams.producer<string>(Digest.from('stream5678'));
      const c1 = b.streams.consumer<string>('stream1234');
      const c2 = b.streams.consumer<string>('stream5678');
      await Promise.all([p1.when.subscribed(), p2.when.subscribed()]);
      await p1.send('one');
      await p2.send('two');
      expect(await c1.recv()).toBe('one');
      expect(await c2.recv()).toBe('two');
      expect(c1.tryRecv()).toBeUndefined();
      expect(c2.tryRecv()).toBeUndefined();
      expect(
        a.discovery
          .me()
          .streams.map((s) => s.hex)
          .sort(),
      ).toEqual([Digest.from('stream1234').hex, Digest.from('stream5678').hex].sort());
    });
  });

  it('custom datum encoding round-trips', async () => {
    const sim = new Simulation({ seed: 5 });
    const [a, b] = cluster(sim, 2) as [Network, Network];
    const codec = {
      encode: (v: string) => new TextEncoder().encode(v),
      decode: (bytes: Uint8Array) => `${new TextDecoder().decode(bytes)}!`,
    };
    await sim.run(async () => {
      const p = a.streams.producer('custom', { codec });
      const c = b.streams.consumer('custom', { codec });
      await p.when.subscribed();
      await p.send('hello');
      expect(await c.recv()).toBe('hello!');
      expect(p.stats().bytes).toBe(5);
    });
  });

  it('FIFO per link under jittery latency: three producers, one consumer; each producer’s datums arrive in order', async () => {
    const sim = new Simulation({ seed: 6 });
    const nets = cluster(sim, 4);
    await sim.run(async () => {
      await converged(sim, nets);
      const producers = nets.slice(0, 3).map((n) => n.streams.producer<[number, number]>('fifo'));
      const c = (nets[3] as Network).streams.consumer<[number, number]>('fifo');
      await Promise.all(producers.map((p) => p.when.subscribed()));
      const last = [0, 0, 0];
      let count = 0;
      const reader = (async () => {
        for await (const [who, i] of c) {
          expect(i).toBe((last[who] as number) + 1);
          last[who] = i;
          if (++count === 600) return;
        }
      })();
      for (let i = 1; i <= 200; i++) {
        for (let who = 0; who < 3; who++) await producers[who]?.send([who, i]);
        if (i % 10 === 0) await sim.sleep(3);
      }
      await reader;
      expect(last).toEqual([200, 200, 200]);
      await eventually(sim, () => c.stats().datums === 600);
    });
  });
  it('the undelivered sink gets what no subscription took: sent with nobody subscribed, or that cut off the only consumer', async () => {
    const sim = new Simulation({ seed: 11 });
    const a = sim.node({ network: 'demo' });
    const b = sim.node({ network: 'demo', bootstrap: [a.addr] });
    const lost: number[] = [];
    await sim.run(async () => {
      // Online with nobody subscribed, so sends go through and nobody takes them.
      const p = a.streams.producer<number>('sink', { onlineWhen: (c) => c.minimumOf(0), undelivered: (v) => lost.push(v), bufferSize: 2 });
      p.trySend(1);
      p.trySend(2);
      expect(lost).toEqual([1, 2]);
      // A consumer that never reads: its window (2) and then its queue (2) fill; the next
      // datum finds it lagging and cuts it off (too-slow), so nobody took that one either.
      const c = b.streams.consumer<number>('sink', { bufferSize: 2 });
      await p.when.subscribed().minimumOf(1);
      for (let v = 3; v <= 7; v++) p.trySend(v);
      expect(lost).toEqual([1, 2, 7]);
      p.trySend(8); // nobody subscribed again yet
      expect(lost).toEqual([1, 2, 7, 8]);
      await sim.sleep(100);
      expect([c.tryRecv(), c.tryRecv()]).toEqual([3, 4]);
    });
  });
});
