import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { DatumCodec } from '../../api/streams.ts';
import { cluster, converged, recordStreamsEvents } from './helpers.ts';

/** Accepts only even numbers as one byte; anything else is refused, as a strict codec would. */
const evenByte: DatumCodec<number> = {
  encode: (n) => Uint8Array.of(n),
  decode: (bytes) => {
    const n = bytes[0];
    if (bytes.length !== 1 || n === undefined || n % 2 !== 0) throw new RangeError(`not an even byte: [${[...bytes].join(',')}]`);
    return n;
  },
};
/** A producer that does not follow the stream's format: it sends any byte. */
const anyByte: DatumCodec<number> = { encode: (n) => Uint8Array.of(n), decode: (bytes) => bytes[0] ?? 0 };

describe('a datum the consumer cannot decode', () => {
  it("ends that producer's link with protocol-violation and never reaches the application, which goes on receiving from the others", async () => {
    const sim = new Simulation({ seed: 31 });
    const nets = cluster(sim, 3, [[], [], []]);
    const [c0, good, bad] = nets as [Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const c = c0.streams.consumer<number>('nums', { codec: evenByte });
      const fine = good.streams.producer<number>('nums', { codec: evenByte });
      const faulty = bad.streams.producer<number>('nums', { codec: anyByte });
      await c.when.subscribed().minimumOf(2);
      await faulty.send(2); // decodes: delivered
      await faulty.send(3); // does not: dropped, and the link ends
      await sim.sleep(200);
      for (const n of [4, 6, 8]) await fine.send(n);
      const got: number[] = [];
      for (let i = 0; i < 4; i++) got.push(await c.recv());
      expect(got.sort((a, b) => a - b)).toEqual([2, 4, 6, 8]);
      expect(c.tryRecv()).toBeUndefined();
      expect(c.stats().undecodable).toBe(1);
      expect(c.stats().datums).toBe(4);
      const dropped = seen.filter((s) => s.net === c0 && s.event.type === 'streams.unsubscribed');
      expect(dropped.map((s) => s.event.type === 'streams.unsubscribed' && [s.event.peer.hex, s.event.reason])).toEqual([
        [bad.peerId.hex, 'protocol-violation'],
      ]);
      // The good producer's link was never touched.
      expect(c.producers().find((p) => p.producer.equals(good.peerId))?.state).toBe('connected');
    });
  });
});
