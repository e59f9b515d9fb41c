import { InvalidArgumentError } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { Counter } from '../groups/counter.ts';
import { cluster, converged, expectStreamFlows } from './helpers.ts';

const any = (x: unknown) => x as never;

/** Options of the wrong type are refused at open with InvalidArgumentError, and leave nothing behind. */
describe('streams: options of the wrong type', () => {
  it('options that are not an object', async () => {
    const sim = new Simulation({ seed: 71 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      for (const options of [null, 5, 'x', [1]]) {
        expect(() => a.streams.producer('x', any(options))).toThrow(InvalidArgumentError);
        expect(() => a.streams.consumer('x', any(options))).toThrow(InvalidArgumentError);
      }
    });
  });

  it('producer: maxConsumers, disconnectLagging', async () => {
    const sim = new Simulation({ seed: 72 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const bad = [{ maxConsumers: true }, { maxConsumers: '2' }, { maxConsumers: [1] }, { disconnectLagging: 'no' }, { disconnectLagging: 0 }];
      for (const options of bad) expect(() => a.streams.producer('x', any(options)), JSON.stringify(options)).toThrow(InvalidArgumentError);
      expect(a.discovery.me().streams).toEqual([]);
      a.streams.producer('x', { maxConsumers: 2, disconnectLagging: false });
    });
  });

  it('consumer: backoff and its fields', async () => {
    const sim = new Simulation({ seed: 73 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const bad = [5, 'abc', null, [500], { jitter: '0.5' }, { maxMs: '1000' }, { resetAfterMs: '10' }, { initialMs: '500' }, { multiplier: '2' }];
      for (const backoff of bad) expect(() => a.streams.consumer('x', { backoff: any(backoff) }), JSON.stringify(backoff)).toThrow(InvalidArgumentError);
      a.streams.consumer('x', { backoff: { jitter: 0.5, maxMs: 1_000, resetAfterMs: 10 } });
    });
  });

  it("a consumer's backoff fields are checked over the node's defaults, not alone", async () => {
    const sim = new Simulation({ seed: 74 });
    const a = sim.node({ network: 'streams-test', streams: { backoff: { maxMs: 100_000 } } });
    await sim.run(async () => {
      a.streams.consumer('x', { backoff: { initialMs: 80_000 } });
    });
  });
});

describe('codecs without encode and decode', () => {
  it('are refused at open by producers, consumers, groups and collections; the same names open afterwards', async () => {
    const sim = new Simulation({ seed: 75 });
    const nets = cluster(sim, 2);
    const [a, b] = nets as [Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      const encodeOnly = { encode: () => new Uint8Array() };
      for (const codec of [{}, 5, null, encodeOnly, { decode: () => 1 }]) {
        expect(() => a.streams.producer('x', { codec: any(codec) })).toThrow(InvalidArgumentError);
        expect(() => b.streams.consumer('x', { codec: any(codec) })).toThrow(InvalidArgumentError);
        expect(() => a.collections.map('m', { keyCodec: any(codec) })).toThrow(InvalidArgumentError);
        expect(() => a.collections.vec('v', { codec: any(codec) })).toThrow(InvalidArgumentError);
        expect(() => a.groups.join({ key: 'g', machine: new Counter(), codec: any(codec) })).toThrow(InvalidArgumentError);
      }
      expect(a.discovery.me().streams).toEqual([]);
      await expectStreamFlows(a, b, 'x', 2);
      const m = a.collections.map<string, number>('m');
      await m.when.online();
      await m.insert('k', 1);
      expect(m.get('k')).toBe(1);
    });
  });
});
