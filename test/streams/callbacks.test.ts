import { Digest, InvalidArgumentError } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { ChannelConditions } from '../../api/streams.ts';
import { accept, NEVER, type TicketValidator } from '../../core/tickets/ticket.ts';
import { cluster, converged, eventually, expectStreamFlows, recordStreamsEvents, withTwo } from './helpers.ts';

/**
 * Application callbacks run inside the node (require predicates, conditions, ticket
 * validators): one that throws must count as "no", never end the node or the simulation;
 * one of the wrong type is refused where it is given.
 */

const boom = (): boolean => {
  throw new Error('boom');
};
const any = (x: unknown) => x as never;

describe('streams: application callbacks that throw', () => {
  it('a producer whose require throws refuses the consumer (not-allowed); the node goes on', async () => {
    await withTwo(41, async (sim, a, b, seen) => {
      const p = a.streams.producer<number>('x', { require: boom });
      b.streams.consumer<number>('x');
      await eventually(sim, () => seen.some((s) => s.net === a && s.event.type === 'streams.rejected'), 5_000, 'refusal');
      const refusal = seen.find((s) => s.net === a && s.event.type === 'streams.rejected')?.event;
      expect(refusal).toMatchObject({ reason: 'not-allowed' });
      expect(p.consumers()).toEqual([]);
      // The node still works: another stream flows.
      await expectStreamFlows(a, b, 'y', 7);
    });
  });

  it('a consumer whose require throws never subscribes to that producer; the node goes on', async () => {
    await withTwo(42, async (sim, a, b) => {
      const c = b.streams.consumer<number>('x', { require: [() => true, boom] });
      const p = a.streams.producer<number>('x', { onlineWhen: (x) => x.minimumOf(0) });
      await sim.sleep(3_000);
      expect(c.producers()).toEqual([]);
      expect(p.consumers()).toEqual([]);
      const fine = b.streams.consumer<number>('x');
      await fine.when.subscribed();
      await p.send(1);
      expect(await fine.recv()).toBe(1);
    });
  });

  it('require that is not a function or an array of functions is refused at open', async () => {
    const sim = new Simulation({ seed: 43 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      for (const require of ['abc', 5, {}, [null], [() => true, 'x']]) {
        expect(() => a.streams.producer('x', { require: any(require) })).toThrow(InvalidArgumentError);
        expect(() => a.streams.consumer('x', { require: any(require) })).toThrow(InvalidArgumentError);
      }
      // Nothing was left behind: the stream opens.
      a.streams.producer('x', { require: [() => true] });
    });
  });

  it('an onlineWhen predicate that throws does not match: the producer stays offline; the node goes on', async () => {
    await withTwo(
      44,
      async (_sim, a, b) => {
        const p = a.streams.producer<number>('x', { onlineWhen: (c) => c.withPredicate(boom) });
        b.streams.consumer<number>('x');
        await p.when.subscribed();
        expect(p.isOnline).toBe(false);
        expect(() => p.trySend(1)).toThrow(expect.objectContaining({ name: 'OfflineError' }));
        const q = a.streams.producer<number>('y', { onlineWhen: (c) => c.withTags('eu') });
        b.streams.consumer<number>('y');
        await q.when.online();
      },
      [[], ['eu']],
    );
  });

  it('a pending when.subscribed() whose predicate throws does not resolve; other waiters do, and the node goes on', async () => {
    await withTwo(
      45,
      async (_sim, a, b) => {
        const p = a.streams.producer<number>('x');
        let throwingMet = false;
        void p.when
          .subscribed()
          .withPredicate(boom)
          .then(() => {
            throwingMet = true;
          });
        const unmet = p.when.subscribed().withPredicate(boom).unmet();
        const plain = p.when.subscribed().withTags('eu');
        const c = b.streams.consumer<number>('x');
        await plain;
        await unmet;
        await p.send(3);
        expect(await c.recv()).toBe(3);
        expect(throwingMet).toBe(false);
      },
      [[], ['eu']],
    );
  });

  it('condition builders refuse arguments of the wrong type, at once (InvalidArgumentError)', async () => {
    const sim = new Simulation({ seed: 46 });
    const [a] = cluster(sim, 1) as [Network];
    await sim.run(async () => {
      const p = a.streams.producer<number>('x');
      const w = p.when.subscribed();
      for (const f of [5, null, 'f', {}]) expect(() => w.withPredicate(any(f))).toThrow(InvalidArgumentError);
      for (const t of [null, undefined, 5, {}, [1]]) expect(() => w.withTags(any(t))).toThrow(InvalidArgumentError);
      for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '2']) expect(() => w.minimumOf(any(n))).toThrow(InvalidArgumentError);
      const bad: ((c: ChannelConditions) => ChannelConditions)[] = [(c) => c.withTags(any(null)), (c) => c.minimumOf(-1), (c) => c.withPredicate(any(5))];
      for (const onlineWhen of bad) {
        expect(() => a.streams.producer('y', { onlineWhen })).toThrow(InvalidArgumentError);
        expect(() => a.streams.consumer('y', { onlineWhen })).toThrow(InvalidArgumentError);
      }
      expect(w.withTags('eu').minimumOf(0).isMet).toBe(true);
    });
  });

  it('a requireTickets validator that throws or answers garbage refuses the peer (validator-failed); the node goes on', async () => {
    const sim = new Simulation({ seed: 47 });
    const nets = cluster(sim, 4);
    const [a, b, c, d] = nets as [Network, Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    const validator: TicketValidator = {
      class: Digest.from('test.ticket'),
      signature: Digest.from('test.ticket/flaky'),
      validate: (_data, entry) => {
        if (entry.peerId.equals(b.peerId)) throw new Error('validator boom');
        if (entry.peerId.equals(c.peerId)) return any(undefined);
        return accept(NEVER);
      },
    };
    await sim.run(async () => {
      for (const n of [b, c, d]) await n.discovery.addTicket({ class: validator.class, data: Uint8Array.of(1) });
      await converged(sim, nets);
      await sim.sleep(1_000);
      const p = a.streams.producer<number>('x', { requireTickets: [validator] });
      const cs = [b, c, d].map((n) => n.streams.consumer<number>('x'));
      await p.when.subscribed();
      await eventually(sim, () => seen.filter((s) => s.net === a && s.event.type === 'streams.rejected').length >= 2, 5_000, 'refusals');
      const refused = seen.flatMap((s) => (s.net === a && s.event.type === 'streams.rejected' ? [[s.event.peer.hex, s.event.ticket?.code]] : []));
      expect(new Set(refused.map((r) => JSON.stringify(r)))).toEqual(
        new Set([JSON.stringify([b.peerId.hex, 'validator-failed']), JSON.stringify([c.peerId.hex, 'validator-failed'])]),
      );
      expect(p.consumers().map((i) => i.consumer.hex)).toEqual([d.peerId.hex]);
      await p.send(5);
      expect(await cs[2]?.recv()).toBe(5);
    });
  });

  it('onlineWhen that is not a function, or returns no ChannelConditions, is refused at open and leaves nothing behind', async () => {
    await withTwo(48, async (_sim, a, b) => {
      for (const onlineWhen of [5, 'x', null, () => undefined, () => 5, () => ({ isMet: () => true })]) {
        expect(() => a.streams.producer('x', { onlineWhen: any(onlineWhen) })).toThrow(InvalidArgumentError);
        expect(() => b.streams.consumer('x', { onlineWhen: any(onlineWhen) })).toThrow(InvalidArgumentError);
      }
      expect(a.discovery.me().streams).toEqual([]);
      // The same stream opens afterwards, and a consumer subscribing does not upset the node.
      await expectStreamFlows(a, b, 'x', 9);
    });
  });

  it('an undelivered sink that throws (or whose decode throws) is counted and isolated: sends resolve, the node goes on', async () => {
    await withTwo(49, async (sim, a, b) => {
      const offline = (x: ChannelConditions) => x.minimumOf(0);
      const p = a.streams.producer<number>('x', { onlineWhen: offline, undelivered: boom });
      await p.send(1); // nobody subscribed: undelivered
      p.trySend(2);
      expect(p.stats()).toMatchObject({ datums: 2, undeliveredErrors: 2 });
      const encodeOnly = { encode: (v: number) => Uint8Array.of(v), decode: (): number => boom() as never };
      const seen: number[] = [];
      const q = a.streams.producer<number>('y', { onlineWhen: offline, codec: encodeOnly, undelivered: (v) => seen.push(v) });
      await q.send(3);
      expect(q.stats()).toMatchObject({ datums: 1, undeliveredErrors: 1 });
      expect(seen).toEqual([]);
      // From a network input: a parked send drained when the only consumer leaves.
      const r = a.streams.producer<number>('z', { onlineWhen: (x) => x.unmet(), undelivered: boom });
      const c = b.streams.consumer<number>('z');
      await r.when.subscribed();
      const parked = r.send(4);
      await sim.sleep(10);
      await c.close();
      await parked;
      expect(r.stats()).toMatchObject({ datums: 1, undeliveredErrors: 1 });
      expect(() => a.streams.producer('w', { undelivered: any(5) })).toThrow(InvalidArgumentError);
      a.streams.producer('w');
    });
  });
});
