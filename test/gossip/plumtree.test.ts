import { describe, expect, it } from 'vitest';
import type { GossipOutput } from '../../core/gossip/io.ts';
import { messageIdOf } from '../../core/gossip/messages.ts';
import { GossipTopic } from '../../core/gossip/topic.ts';
import { PeerId } from '../../core/identity/keys.ts';
import { rngStream } from '../../net-sim/rng.ts';

const [ME, A, B, C] = [0, 1, 2, 3].map((i) => PeerId.fromBytes(rngStream(5, `key/${i}`).bytes(32))) as [PeerId, PeerId, PeerId, PeerId];
const name = (p: PeerId) => (p.equals(A) ? 'A' : p.equals(B) ? 'B' : p.equals(C) ? 'C' : 'me');

/** A topic with neighbors A, B and C (all eager), B and C pruned to lazy. */
function topicWithLazyPeers(): GossipTopic {
  const topic = new GossipTopic({ me: ME, rng: rngStream(5, 'node/0') });
  for (const p of [A, B, C]) topic.handle({ type: 'recv', from: p, message: { type: 'join', data: undefined } }, 0);
  topic.handle({ type: 'recv', from: B, message: { type: 'prune' } }, 0);
  topic.handle({ type: 'recv', from: C, message: { type: 'prune' } }, 0);
  expect(topic.eagerPeers()).toEqual([A]);
  expect(topic.lazyPeers()).toEqual([B, C]);
  return topic;
}

const sends = (out: GossipOutput[]) => out.flatMap((o) => (o.type === 'send' ? [`${name(o.to)}:${o.message.type}`] : []));

describe('PlumTree details', () => {
  it('an announced, missing payload is grafted after 80 ms, then from the next announcer every 40 ms', () => {
    const topic = topicWithLazyPeers();
    const content = Uint8Array.of(1, 2, 3);
    const id = messageIdOf(content);
    const out = topic.handle({ type: 'recv', from: B, message: { type: 'ihave', entries: [{ id, round: 2 }] } }, 100);
    expect(out).toEqual([{ type: 'armTimer', atMs: 180, timer: { type: 'graft', id } }]);
    topic.handle({ type: 'recv', from: C, message: { type: 'ihave', entries: [{ id, round: 3 }] } }, 110);
    const first = topic.handle({ type: 'timer', timer: { type: 'graft', id } }, 180);
    expect(sends(first)).toEqual(['B:graft']);
    expect(first).toContainEqual({ type: 'armTimer', atMs: 220, timer: { type: 'graft', id } });
    expect(topic.eagerPeers()).toEqual([A, B]);
    const second = topic.handle({ type: 'timer', timer: { type: 'graft', id } }, 220);
    expect(sends(second)).toEqual(['C:graft']);
    // The payload arrives: delivered once, pushed eagerly to A and B, and no more grafts.
    const got = topic.handle({ type: 'recv', from: C, message: { type: 'gossip', id, content, round: 3 } }, 230);
    expect(got.filter((o) => o.type === 'emit')).toEqual([{ type: 'emit', event: { type: 'received', data: content, from: C, round: 3 } }]);
    expect(sends(got)).toEqual(['A:gossip', 'B:gossip']);
    expect(sends(topic.handle({ type: 'timer', timer: { type: 'graft', id } }, 260))).toEqual([]);
  });

  it('a graft is answered from the cache while it lasts (30 s)', () => {
    const topic = topicWithLazyPeers();
    const content = Uint8Array.of(9);
    const id = messageIdOf(content);
    topic.handle({ type: 'command', command: { type: 'broadcast', data: content } }, 1_000);
    expect(sends(topic.handle({ type: 'recv', from: B, message: { type: 'graft', id, round: 0 } }, 2_000))).toEqual(['B:gossip']);
    expect(topic.eagerPeers()).toEqual([A, B]);
    topic.handle({ type: 'timer', timer: { type: 'evictCache' } }, 31_001);
    expect(sends(topic.handle({ type: 'recv', from: C, message: { type: 'graft', id, round: 0 } }, 31_002))).toEqual([]);
  });

  it('a lazy path 7 or more hops shorter than the eager one swaps them (optimizationThreshold)', () => {
    const topic = topicWithLazyPeers();
    const content = Uint8Array.of(4);
    const id = messageIdOf(content);
    topic.handle({ type: 'recv', from: B, message: { type: 'ihave', entries: [{ id, round: 1 }] } }, 10);
    const out = topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id, content, round: 7 } }, 20);
    // Round 7 arrives as round 8 here; the IHAVE said 1: 7 hops better, so graft B (no id) and prune A.
    expect(sends(out)).toEqual(['B:graft', 'A:prune']);
    expect(out).toContainEqual({ type: 'send', to: B, message: { type: 'graft', id: undefined, round: 1 } });
    expect(topic.eagerPeers()).toEqual([B]);
    expect(topic.lazyPeers()).toEqual([C, A]);
  });

  it('below the threshold the eager path stays', () => {
    const topic = topicWithLazyPeers();
    const content = Uint8Array.of(5);
    const id = messageIdOf(content);
    topic.handle({ type: 'recv', from: B, message: { type: 'ihave', entries: [{ id, round: 1 }] } }, 10);
    const out = topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id, content, round: 6 } }, 20);
    expect(sends(out)).toEqual([]);
    expect(topic.eagerPeers()).toEqual([A]);
  });

  it('a duplicate prunes its sender; a prune or graft from a non-neighbor does not make it a peer', () => {
    const topic = topicWithLazyPeers();
    const content = Uint8Array.of(6);
    const id = messageIdOf(content);
    topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id, content, round: 0 } }, 10);
    topic.handle({ type: 'command', command: { type: 'join', peers: [] } }, 11);
    topic.handle({ type: 'recv', from: A, message: { type: 'graft', id: undefined, round: 0 } }, 12);
    const dup = topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id, content, round: 0 } }, 13);
    expect(sends(dup)).toEqual(['A:prune']);
    expect(topic.lazyPeers()).toContainEqual(A);
    const stranger = PeerId.fromBytes(new Uint8Array(32).fill(7));
    topic.handle({ type: 'recv', from: stranger, message: { type: 'graft', id, round: 0 } }, 14);
    topic.handle({ type: 'recv', from: stranger, message: { type: 'prune' } }, 15);
    expect([...topic.eagerPeers(), ...topic.lazyPeers()].some((p) => p.equals(stranger))).toBe(false);
  });
  it('a payload the application refuses is neither delivered nor forwarded, and its copies are dropped quietly', () => {
    const topic = new GossipTopic({ me: ME, rng: rngStream(5, 'node/0'), accept: (content) => content[0] !== 0xff });
    for (const p of [A, B, C]) topic.handle({ type: 'recv', from: p, message: { type: 'join', data: undefined } }, 0);
    const junk = Uint8Array.of(0xff, 1);
    const out = topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id: messageIdOf(junk), content: junk, round: 0 } }, 10);
    expect(out.filter((o) => o.type === 'emit')).toEqual([]);
    expect(sends(out)).toEqual([]);
    // Another copy is a known id: dropped (with a prune, as any duplicate), not looked at again.
    const again = topic.handle({ type: 'recv', from: B, message: { type: 'gossip', id: messageIdOf(junk), content: junk, round: 0 } }, 11);
    expect(again.filter((o) => o.type === 'emit')).toEqual([]);
    expect(sends(again)).toEqual(['B:prune']);
    // A good payload still spreads.
    const good = Uint8Array.of(1, 2);
    const ok = topic.handle({ type: 'recv', from: A, message: { type: 'gossip', id: messageIdOf(good), content: good, round: 0 } }, 12);
    expect(ok.filter((o) => o.type === 'emit')).toHaveLength(1);
    expect(sends(ok)).toEqual(['C:gossip']);
  });
});
