import { describe, expect, it } from 'vitest';
import type { GossipMessageType } from '../../core/gossip/messages.ts';
import { intBetween } from '../../core/util/rng.ts';
import { rngStream } from '../../net-sim/rng.ts';
import { type GossipSim, joinedSim, overlayFacts } from './harness.ts';

const PLUMTREE: readonly GossipMessageType[] = ['gossip', 'ihave', 'graft', 'prune'];

function payload(k: number): Uint8Array {
  return new TextEncoder().encode(`broadcast #${k}`);
}

/** Broadcasts from `from`, runs `ms`, and returns per-broadcast stats. */
function broadcastOnce(sim: GossipSim, from: number, data: Uint8Array, ms = 2_000) {
  sim.resetCounts();
  const before = sim.received.map((r) => r.length);
  sim.broadcast(from, data);
  sim.runUntil(sim.nowMs + ms);
  const live = sim.live();
  const deliveries = live.map((i) => (sim.received[i] ?? []).slice(before[i]).filter((r) => equal(r.data, data)).length);
  const perPeer = live.map((i) => sim.sentOf(i, PLUMTREE));
  const gossip = live.reduce((acc, i) => acc + sim.sentOf(i, ['gossip']), 0);
  return {
    missing: live.filter((i, k) => i !== from && deliveries[k] === 0),
    duplicates: live.filter((_i, k) => (deliveries[k] ?? 0) > 1),
    fromSelf: deliveries[live.indexOf(from)] ?? 0,
    meanSent: perPeer.reduce((a, b) => a + b, 0) / live.length,
    maxSent: Math.max(...perPeer),
    gossip,
    redundantGossip: gossip - (live.length - 1),
  };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Picks `count` distinct peers other than `keep`, from a seeded stream. */
function victims(sim: GossipSim, count: number, keep: number, seed: number): number[] {
  const rng = rngStream(seed, 'nemesis');
  const out: number[] = [];
  while (out.length < count) {
    const i = intBetween(rng, 0, sim.n - 1);
    if (i !== keep && !out.includes(i)) out.push(i);
  }
  return out;
}

describe('PlumTree broadcast', () => {
  it('a broadcast reaches each of 100 peers exactly once', () => {
    const sim = joinedSim({ n: 100, seed: 11 });
    const s = broadcastOnce(sim, 0, payload(0));
    expect(s.missing).toEqual([]);
    expect(s.duplicates).toEqual([]);
    expect(s.fromSelf).toBe(0);
    const second = broadcastOnce(sim, 42, payload(1));
    expect(second.missing).toEqual([]);
    expect(second.duplicates).toEqual([]);
  });

  it('the messages each peer sends per broadcast stay bounded as N grows (50, 100, 200)', () => {
    const rows: string[] = [];
    const first: number[] = [];
    const steady: number[] = [];
    for (const n of [50, 100, 200]) {
      const sim = joinedSim({ n, seed: 1 });
      const stats = [0, 1, 2, 3, 4].map((k) => broadcastOnce(sim, 0, payload(k)));
      for (const s of stats) {
        expect(s.missing).toEqual([]);
        expect(s.duplicates).toEqual([]);
        // Eager + lazy traffic is bounded by the active view (5), not by N.
        expect(s.maxSent).toBeLessThanOrEqual(2 * 5 + 2);
      }
      const [s0, s4] = [stats[0], stats[4]] as [(typeof stats)[0], (typeof stats)[0]];
      first.push(s0.meanSent);
      steady.push(s4.meanSent);
      rows.push(`N=${n}: first broadcast ${s0.meanSent.toFixed(2)}/peer (max ${s0.maxSent}), fifth ${s4.meanSent.toFixed(2)}/peer (max ${s4.maxSent})`);
    }
    console.log(`PlumTree messages sent per peer per broadcast (gossip+ihave+graft+prune):\n  ${rows.join('\n  ')}`);
    // Roughly constant in N: quadrupling N moves the mean by well under a factor of 1.5.
    expect(Math.max(...first) / Math.min(...first)).toBeLessThan(1.5);
    expect(Math.max(...steady) / Math.min(...steady)).toBeLessThan(1.5);
  });

  it('after several broadcasts redundant eager links are pruned', () => {
    const sim = joinedSim({ n: 100, seed: 5 });
    const redundant = [0, 1, 2, 3, 4].map((k) => broadcastOnce(sim, 3, payload(k)).redundantGossip);
    // The first broadcast floods every link; each duplicate prunes its link to lazy.
    expect(redundant[0]).toBeGreaterThan(100);
    expect(redundant[4]).toBeLessThan((redundant[0] as number) / 10);
    const lazyLinks = sim.topics.reduce((acc, t) => acc + t.lazyPeers().length, 0);
    expect(lazyLinks).toBeGreaterThan(0);
  });

  it.each([21, 22, 23])('after a fifth of the peers die, a broadcast still reaches every live peer (seed %i)', (seed) => {
    const sim = joinedSim({ n: 100, seed });
    broadcastOnce(sim, 0, payload(0));
    broadcastOnce(sim, 0, payload(1));
    for (const v of victims(sim, 20, 0, seed)) sim.kill(v);
    const s = broadcastOnce(sim, 0, payload(2), 5_000);
    expect(s.missing).toEqual([]);
    expect(s.duplicates).toEqual([]);
    // The overlay healed by passive promotion: still connected and symmetric.
    expect(sim.runUntilQuiet(10_000)).toBe(true);
    const facts = overlayFacts(sim);
    expect(facts.components).toBe(1);
    expect(facts.asymmetric).toEqual([]);
    expect(facts.minActive).toBeGreaterThanOrEqual(1);
  });

  it('a broadcast sent while dead neighbors are not yet reported is repaired by GRAFT', () => {
    const sim = joinedSim({ n: 100, seed: 31 });
    broadcastOnce(sim, 0, payload(0));
    for (const v of victims(sim, 20, 0, 31)) sim.kill(v);
    // Same instant as the kill: eager pushes into dead peers are lost; IHAVEs and grafts fill the gaps.
    const s = broadcastOnce(sim, 0, payload(1), 5_000);
    expect(s.missing).toEqual([]);
    expect(s.duplicates).toEqual([]);
    const grafts = sim.live().reduce((acc, i) => acc + sim.sentOf(i, ['graft']), 0);
    expect(grafts).toBeGreaterThan(0);
  });
});

describe('PlumTree batching', () => {
  it('IHAVEs for many messages are batched per peer into chunks that fit the message limit', () => {
    const sim = joinedSim({ n: 20, seed: 2, settleMs: 2_000 });
    // Prune the tree from several sources so lazy links exist; broadcast from the peer with the most.
    for (let k = 0; k < 5; k++) broadcastOnce(sim, k, payload(-1 - k));
    const lazyCounts = sim.topics.map((t) => t.lazyPeers().length);
    const source = lazyCounts.indexOf(Math.max(...lazyCounts));
    const lazy = lazyCounts[source] as number;
    expect(lazy).toBeGreaterThan(0);
    sim.resetCounts();
    const before = sim.received.map((r) => r.length);
    for (let k = 0; k < 300; k++) sim.broadcast(source, payload(k));
    sim.runUntil(sim.nowMs + 2_000);
    for (const i of sim.live()) expect((sim.received[i]?.length ?? 0) - (before[i] ?? 0)).toBe(i === source ? 0 : 300);
    // One dispatch for 300 announcements: ceil(300 / 107) = 3 IHAVE messages per lazy peer.
    expect(sim.sentOf(source, ['ihave'])).toBe(3 * lazy);
  });
});
