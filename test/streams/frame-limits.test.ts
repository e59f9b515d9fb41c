import type { DatumCodec } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { MIN_MAX_FRAME_BYTES } from '../../core/wire/codec.ts';
import { converged, eventually, recordStreamsEvents } from './helpers.ts';

// Nodes may set different `maxFrameBytes`. A producer on a node with a larger limit used to
// send a datum its consumer's node refused: the consumer closed the link as a protocol
// violation, the datum was lost for it, and the next large datum did it again. The link
// handshake now carries each end's limit, and a producer sends a consumer only what fits
// the smaller one; a datum that does not is counted for that consumer (`tooLarge`).

const raw: DatumCodec<Uint8Array> = { encode: (b) => b, decode: (b) => b };
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const BIG = 300 * 1024;

describe('streams between nodes of different frame limits', () => {
  it('a datum too large for one consumer is skipped for it alone: it stays subscribed, gets the rest, and the producer counts it', async () => {
    const sim = new Simulation({ seed: 3 });
    const a = sim.node({ network: 'frames' });
    const small = sim.node({ network: 'frames', bootstrap: [a.addr], maxFrameBytes: MIN_MAX_FRAME_BYTES });
    const large = sim.node({ network: 'frames', bootstrap: [a.addr] });
    const seen = recordStreamsEvents(sim);
    const lost: number[] = [];
    const violations: string[] = [];
    sim.addChecker({
      name: 'no-violations',
      onEvent(_view, net, event) {
        if (event.type === 'link.down' && event.code === 400) violations.push(`${net.peerId.short}: ${event.reason}`);
      },
    });
    await sim.run(async () => {
      await converged(sim, [a, small, large]);
      const p = a.streams.producer<Uint8Array>('frames', { codec: raw, undelivered: (d) => lost.push(d[0] as number) });
      const cs = small.streams.consumer<Uint8Array>('frames', { codec: raw });
      const cl = large.streams.consumer<Uint8Array>('frames', { codec: raw });
      await p.when.subscribed().minimumOf(2);
      for (const [n, fill] of [
        [10, 1],
        [BIG, 2],
        [10, 3],
      ] as const)
        await p.send(bytes(n, fill));
      expect((await cl.recv())[0]).toBe(1);
      expect((await cl.recv()).length).toBe(BIG);
      expect((await cl.recv())[0]).toBe(3);
      expect((await cs.recv())[0]).toBe(1);
      expect((await cs.recv())[0]).toBe(3);
      const tooLarge = (net: Network) => p.consumers().find((c) => c.consumer.equals(net.peerId))?.tooLarge;
      expect([tooLarge(small), tooLarge(large)]).toEqual([1, 0]);
      expect(lost).toEqual([]);

      // With the large consumer gone, a datum nobody can take reaches the undelivered sink.
      cl.close();
      await eventually(sim, () => p.consumers().length === 1);
      await p.send(bytes(BIG, 4));
      await p.send(bytes(10, 5));
      expect((await cs.recv())[0]).toBe(5);
      expect(lost).toEqual([4]);
      expect(tooLarge(small)).toBe(2);
      expect(p.stats().tooLarge).toBe(2);
    });
    expect(violations).toEqual([]);
    expect(seen.filter((s) => s.event.type === 'streams.unsubscribed' && s.net === small)).toEqual([]);
  });
});
