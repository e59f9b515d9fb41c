import { AlreadyExistsError, ClosedError, type DatumCodec, Digest, FullError, OfflineError, OversizedError } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ChannelInfo, Consumer } from '../../api/streams.ts';
import { maxDatumBytes } from '../../core/streams/streams.ts';
import { cluster, converged, eventually, recordStreamsEvents } from './helpers.ts';

const nets3 = (sim: Simulation, tags: string[][] = []) => cluster(sim, 3, tags) as [Network, Network, Network];

describe('streams producer', () => {
  it('a lagging consumer is disconnected as too-slow while a fast one gets every datum on time', async () => {
    const sim = new Simulation({ seed: 11 });
    const [a, fast, slow] = nets3(sim);
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      const p = a.streams.producer<number>('lag', { bufferSize: 8 });
      const cf = fast.streams.consumer<number>('lag', { bufferSize: 8 });
      slow.streams.consumer<number>('lag', { bufferSize: 4 }); // never read
      await p.when.subscribed().minimumOf(2);
      const got: number[] = [];
      const reader = (async () => {
        for await (const x of cf) {
          got.push(x);
          if (got.length === 200) return;
        }
      })();
      const start = sim.now;
      for (let i = 0; i < 200; i++) {
        await p.send(i);
        if (i % 4 === 3) await sim.sleep(5);
      }
      await reader;
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
      // The fast consumer kept pace: it was never held up by the slow one.
      expect(sim.now - start).toBeLessThan(400);
      const tooSlow = seen.filter((s) => s.event.type === 'streams.unsubscribed' && s.event.reason === 'too-slow');
      expect(tooSlow.some((s) => s.net === a && s.event.type === 'streams.unsubscribed' && s.event.peer.equals(slow.peerId))).toBe(true);
      expect(tooSlow.some((s) => s.net === slow && s.event.type === 'streams.unsubscribed' && s.event.retryInMs !== undefined)).toBe(true);
      expect(tooSlow.every((s) => s.event.type === 'streams.unsubscribed' && !s.event.peer.equals(fast.peerId))).toBe(true);
    });
  });

  it('with disconnectLagging false a full queue drops for that consumer only; trySend is Full when no consumer has room', async () => {
    const sim = new Simulation({ seed: 12 });
    const [a, b] = nets3(sim);
    await sim.run(async () => {
      const p = a.streams.producer<number>('drop', { bufferSize: 2, disconnectLagging: false });
      const c = b.streams.consumer<number>('drop', { bufferSize: 2 });
      await p.when.subscribed();
      p.trySend(1);
      p.trySend(2); // the window of 2 is in flight
      p.trySend(3);
      p.trySend(4); // the queue of 2 is full
      expect(() => p.trySend(5)).toThrow(FullError);
      try {
        p.trySend(5);
      } catch (e) {
        expect((e as FullError).code).toBe('FULL');
      }
      await sim.sleep(50);
      expect(c.tryRecv()).toBe(1);
      expect(c.tryRecv()).toBe(2);
      // send waits for room, then goes out in order
      const sent = p.send(5);
      await sim.sleep(50);
      await sent;
      const rest: number[] = [];
      while (rest.length < 3) rest.push(await c.recv());
      expect(rest).toEqual([3, 4, 5]);
      expect(p.consumers()[0]?.dropped).toBe(0);
    });
  });

  it('trySend: OfflineError with no consumer, ClosedError after close; send waits until online', async () => {
    const sim = new Simulation({ seed: 13 });
    const [a, b] = nets3(sim);
    await sim.run(async () => {
      const p = a.streams.producer<string>('offline');
      expect(p.isOnline).toBe(false);
      expect(() => p.trySend('x')).toThrow(OfflineError);
      let delivered = false;
      const pending = p.send('waited').then(() => {
        delivered = true;
      });
      await sim.sleep(100);
      expect(delivered).toBe(false);
      const c = b.streams.consumer<string>('offline');
      await pending;
      expect(await c.recv()).toBe('waited');
      await c.close();
      await p.when.offline();
      expect(p.consumers()).toEqual([]);
      expect(() => p.trySend('x')).toThrow(OfflineError);
      await p.close();
      expect(() => p.trySend('x')).toThrow(ClosedError);
      await expect(p.send('x')).rejects.toBeInstanceOf(ClosedError);
    });
  });

  it('the largest datum a frame carries is delivered; one byte more is OversizedError from send and trySend, and nothing is sent', async () => {
    // Before, such a datum was accepted, counted, and dropped at every send, silently.
    const sim = new Simulation({ seed: 13 });
    const maxFrameBytes = 1 << 20;
    const a = sim.node({ network: 'streams-big', maxFrameBytes });
    const b = sim.node({ network: 'streams-big', maxFrameBytes, bootstrap: [a.addr] });
    const raw: DatumCodec<Uint8Array> = { encode: (x) => x, decode: (x) => x };
    const most = maxDatumBytes(maxFrameBytes);
    await sim.run(async () => {
      const p = a.streams.producer<Uint8Array>('big', { codec: raw });
      const c = b.streams.consumer<Uint8Array>('big', { codec: raw });
      await p.when.subscribed();
      await p.send(new Uint8Array(most).fill(7));
      expect((await c.recv()).length).toBe(most);
      const datums = p.stats().datums;
      await expect(p.send(new Uint8Array(most + 1))).rejects.toBeInstanceOf(OversizedError);
      expect(() => p.trySend(new Uint8Array(most + 1))).toThrow(OversizedError);
      expect(p.stats().datums).toBe(datums);
      await p.send(Uint8Array.of(1));
      expect(await c.recv()).toEqual(Uint8Array.of(1));
    });
  });

  it('one producer per node and stream: a second is AlreadyExistsError', async () => {
    const sim = new Simulation({ seed: 14 });
    const [a] = nets3(sim);
    await sim.run(async () => {
      const p = a.streams.producer('dup');
      expect(() => a.streams.producer('dup')).toThrow(AlreadyExistsError);
      await p.close();
      a.streams.producer('dup'); // closed: a new one may open
    });
  });

  it('limits::max_subs: maxConsumers 3 of 6 → exactly 3 (others refused with no-capacity); a freed slot is taken by a refused one', async () => {
    const sim = new Simulation({ seed: 15 });
    const nets = cluster(sim, 7);
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const p = (nets[0] as Network).streams.producer<number>('limited', { maxConsumers: 3 });
      const consumers = nets.slice(1).map((n) => n.streams.consumer<number>('limited'));
      await p.when.subscribed().minimumOf(3);
      await sim.sleep(2_000);
      expect(p.consumers().length).toBe(3);
      const refused = seen.filter((s) => s.event.type === 'streams.rejected' && s.event.reason === 'no-capacity');
      expect(refused.length).toBeGreaterThan(0);
      expect(seen.some((s) => s.event.type === 'streams.unsubscribed' && s.event.role === 'consumer' && s.event.reason === 'no-capacity')).toBe(true);
      const first = (p.consumers()[0] as ChannelInfo).consumer;
      const leaving = consumers[nets.slice(1).findIndex((n) => n.peerId.equals(first))] as Consumer<number>;
      await leaving.close();
      await eventually(
        sim,
        () => p.consumers().length === 3 && !p.consumers().some((i) => i.consumer.equals(first)),
        20_000,
        'a refused consumer takes the slot',
      );
    });
  });

  it('limits::online_when: minimumOf(2).withTags(tag2) gates online as tagged and untagged consumers come and go', async () => {
    const sim = new Simulation({ seed: 16 });
    const nets = cluster(sim, 4, [[], ['tag2'], [], ['tag2']]);
    const [a, t1, u, t2] = nets as [Network, Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const p = a.streams.producer<number>('gated', { onlineWhen: (c) => c.minimumOf(2).withTags('tag2') });
      const cu = u.streams.consumer<number>('gated');
      const c1 = t1.streams.consumer<number>('gated');
      await p.when.subscribed().minimumOf(2);
      expect(p.isOnline).toBe(false);
      t2.streams.consumer<number>('gated');
      await p.when.online();
      expect(p.isOnline).toBe(true);
      await c1.close();
      await p.when.offline();
      expect(p.consumers().length).toBe(2);
      await cu.close();
    });
  });

  it('when: subscribed conditions resolve, unmet and re-arm as consumers join and leave', async () => {
    const sim = new Simulation({ seed: 17 });
    const [a, b, c] = nets3(sim);
    await sim.run(async () => {
      await converged(sim, [a, b, c]);
      const p = a.streams.producer('when');
      const unsubscribed = p.when.unsubscribed();
      expect(unsubscribed.isMet).toBe(true);
      await unsubscribed; // met now: resolves at once
      const min2 = p.when.subscribed().minimumOf(2);
      let twoAt: number | undefined;
      void min2.then(() => {
        twoAt = sim.now;
      });
      const cb = b.streams.consumer('when');
      await p.when.subscribed();
      expect(twoAt).toBeUndefined();
      const cc = c.streams.consumer('when');
      await min2;
      expect(twoAt).toBeDefined();
      await cb.close();
      await min2.unmet();
      await cc.close();
      await p.when.subscribed().unmet();
      b.streams.consumer('when');
      await min2.minimumOf(1); // re-armed: waits anew
      expect(p.consumers().length).toBe(1);
      expect(p.when.subscribed().withTags('nope').isMet).toBe(false);
      expect(p.when.subscribed().withPredicate((e) => e.peerId.equals(b.peerId)).isMet).toBe(true);
    });
  });

  it('auth::by_tag and require chaining; a consumer that loses the tag is dropped as not-allowed', async () => {
    const sim = new Simulation({ seed: 18 });
    const nets = cluster(sim, 4, [[], ['a', 'b'], ['a'], []]);
    const [p0, both, onlyA, none] = nets as [Network, Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    const a = Digest.from('a');
    const b = Digest.from('b');
    await sim.run(async () => {
      await converged(sim, nets);
      const p = p0.streams.producer<number>('auth', {
        require: [(peer) => peer.tags.some((t) => t.equals(a)), (peer) => peer.tags.some((t) => t.equals(b))],
      });
      const [cBoth] = [both, onlyA, none].map((n) => n.streams.consumer<number>('auth')) as [Consumer<number>];
      await p.when.subscribed();
      await sim.sleep(3_000);
      expect(p.consumers().map((i) => i.consumer.hex)).toEqual([both.peerId.hex]);
      expect(seen.filter((s) => s.event.type === 'streams.rejected' && s.event.reason === 'not-allowed').length).toBe(2);
      // refused consumers do not re-dial on unrelated catalog changes
      const rejections = seen.filter((s) => s.event.type === 'streams.rejected').length;
      await sim.sleep(5_000);
      expect(seen.filter((s) => s.event.type === 'streams.rejected').length).toBe(rejections);
      await both.discovery.removeTags('b');
      await p.when.unsubscribed();
      await cBoth.when.unsubscribed();
      expect(seen.some((s) => s.net === both && s.event.type === 'streams.unsubscribed' && s.event.reason === 'not-allowed')).toBe(true);
    });
  });

  it('closing a producer un-advertises the stream and ends its subscriptions', async () => {
    const sim = new Simulation({ seed: 19 });
    const [a, b, c] = nets3(sim);
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      const p = a.streams.producer<number>('closing');
      const cb = b.streams.consumer<number>('closing');
      const cc = c.streams.consumer<number>('closing');
      await Promise.all([cb.when.subscribed(), cc.when.subscribed()]);
      const id = Digest.from('closing');
      expect(a.discovery.me().streams.some((s) => s.equals(id))).toBe(true);
      await p.close();
      expect(a.discovery.me().streams.some((s) => s.equals(id))).toBe(false);
      await cb.when.unsubscribed();
      await cc.when.unsubscribed();
      expect(seen.filter((s) => s.net !== a && s.event.type === 'streams.unsubscribed' && s.event.reason === 'closed').length).toBe(2);
      // the catalog elsewhere learns the stream is gone, and nobody re-dials
      await eventually(
        sim,
        () =>
          !b.discovery
            .peers()
            .find((e) => e.peerId.equals(a.peerId))
            ?.streams.some((s) => s.equals(id)),
      );
      await sim.sleep(5_000);
      expect(cb.producers()).toEqual([]);
      expect(cc.producers()).toEqual([]);
    });
  });
});

describe('streams producer: dropping for a lagging consumer', () => {
  it('with disconnectLagging false a slow consumer loses datums while a fast one gets all; neither is disconnected', async () => {
    const sim = new Simulation({ seed: 31 });
    const [a, fast, slow] = nets3(sim);
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      const p = a.streams.producer<number>('drops', { bufferSize: 4, disconnectLagging: false });
      const cf = fast.streams.consumer<number>('drops');
      const cs = slow.streams.consumer<number>('drops', { bufferSize: 2 });
      await Promise.all([cf.when.subscribed(), cs.when.subscribed()]);
      const got: number[] = [];
      const reader = (async () => {
        for await (const x of cf) {
          got.push(x);
          if (got.length === 100) return;
        }
      })();
      for (let i = 0; i < 100; i++) {
        await p.send(i);
        if (i % 5 === 4) await sim.sleep(5);
      }
      await reader;
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const slowInfo = p.consumers().find((i) => i.consumer.equals(slow.peerId));
      expect(slowInfo?.dropped).toBe(100 - 2 - 4);
      // what the slow one does get is the oldest, in order
      const slowGot: number[] = [];
      for (let round = 0; round < 5; round++) {
        for (let x = cs.tryRecv(); x !== undefined; x = cs.tryRecv()) slowGot.push(x);
        await sim.sleep(50);
      }
      expect(slowGot).toEqual([0, 1, 2, 3, 4, 5]);
      expect(seen.some((s) => s.event.type === 'streams.unsubscribed')).toBe(false);
    });
  });
});
