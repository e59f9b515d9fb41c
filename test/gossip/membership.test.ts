import { describe, expect, it } from 'vitest';
import { GossipTopic } from '../../core/gossip/topic.ts';
import { PeerId } from '../../core/identity/keys.ts';
import { rngStream } from '../../net-sim/rng.ts';
import { joinedSim, overlayFacts } from './harness.ts';

describe('HyParView membership', () => {
  it.each([1, 2, 3])('100 peers joining through one bootstrap peer converge to a bounded, symmetric, connected overlay (seed %i)', (seed) => {
    const sim = joinedSim({ n: 100, seed });
    expect(sim.runUntilQuiet(10_000)).toBe(true);
    const facts = overlayFacts(sim);
    expect(facts.maxActive).toBeLessThanOrEqual(5);
    expect(facts.minActive).toBeGreaterThanOrEqual(1);
    expect(facts.maxPassive).toBeLessThanOrEqual(30);
    expect(facts.asymmetric).toEqual([]);
    expect(facts.components).toBe(1);

    // Past two shuffle rounds (every 60 s) the overlay still holds.
    sim.runUntil(sim.nowMs + 130_000);
    expect(sim.runUntilQuiet(10_000)).toBe(true);
    const later = overlayFacts(sim);
    expect(later.maxActive).toBeLessThanOrEqual(5);
    expect(later.maxPassive).toBeLessThanOrEqual(30);
    expect(later.asymmetric).toEqual([]);
    expect(later.components).toBe(1);
  });

  it('a join is answered with a neighbor request and forwarded to the other neighbors', () => {
    const [a, b, c] = [0, 1, 2].map((i) => PeerId.fromBytes(rngStream(9, `key/${i}`).bytes(32))) as [PeerId, PeerId, PeerId];
    const topic = new GossipTopic({ me: a, rng: rngStream(9, 'node/0') });
    topic.handle({ type: 'recv', from: b, message: { type: 'join', data: undefined } }, 0);
    const out = topic.handle({ type: 'recv', from: c, message: { type: 'join', data: Uint8Array.of(7) } }, 1);
    const sends = out.flatMap((o) => (o.type === 'send' ? [`${o.to.equals(b) ? 'b' : 'c'}:${o.message.type}`] : []));
    expect(sends).toEqual(['c:neighbor', 'b:forwardJoin']);
    expect(out).toContainEqual({ type: 'emit', event: { type: 'neighborUp', peer: c } });
    expect(topic.activeView()).toEqual([b, c]);
    expect(topic.peerData(c)).toEqual(Uint8Array.of(7));
  });

  it('quit says goodbye to every neighbor and reports each one down, so the broadcast layer follows', () => {
    const [a, b, c] = [0, 1, 2].map((i) => PeerId.fromBytes(rngStream(9, `key/${i}`).bytes(32))) as [PeerId, PeerId, PeerId];
    const topic = new GossipTopic({ me: a, rng: rngStream(9, 'node/0') });
    topic.handle({ type: 'recv', from: b, message: { type: 'join', data: undefined } }, 0);
    topic.handle({ type: 'recv', from: c, message: { type: 'join', data: undefined } }, 1);
    const out = topic.handle({ type: 'command', command: { type: 'quit' } }, 2); // throws if PlumTree kept peers HyParView dropped
    const sends = out.flatMap((o) => (o.type === 'send' ? [`${o.to.equals(b) ? 'b' : 'c'}:${o.message.type}`] : []));
    // Each goodbye comes with a sample of our views (iroh sends a ShuffleReply first).
    expect(sends.filter((x) => x.endsWith(':disconnect'))).toEqual(['b:disconnect', 'c:disconnect']);
    expect(out).toContainEqual({ type: 'emit', event: { type: 'neighborDown', peer: b } });
    expect(out).toContainEqual({ type: 'emit', event: { type: 'neighborDown', peer: c } });
    expect(topic.activeView()).toEqual([]);
    expect(topic.eagerPeers().length + topic.lazyPeers().length).toBe(0);
  });
});
