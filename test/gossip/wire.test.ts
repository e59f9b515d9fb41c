import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeGossipMessage,
  encodeGossipMessage,
  type GossipMessage,
  IHAVE_ENTRY_MAX_BYTES,
  MAX_IHAVES,
  MAX_SHUFFLE_NODES,
  maxPayloadBytes,
  messageIdOf,
} from '../../core/gossip/messages.ts';
import { BroadcastTooLargeError } from '../../core/gossip/plumtree.ts';
import { GossipTopic } from '../../core/gossip/topic.ts';
import { PeerId } from '../../core/identity/keys.ts';
import { rngStream } from '../../net-sim/rng.ts';
import { GossipSim, joinedSim } from './harness.ts';

const peer = (i: number) => PeerId.fromBytes(rngStream(77, `key/${i}`).bytes(32));
const PEERS = [0, 1, 2, 3, 4, 5].map(peer);
const ME = PEERS[0] as PeerId;

function newTopic(): GossipTopic {
  return new GossipTopic({ me: ME, rng: rngStream(77, 'node/0') });
}

const arbPeer = fc.constantFrom(...PEERS);
const arbData = fc.option(fc.uint8Array({ maxLength: 16 }), { nil: undefined });
const arbInfo = fc.record({ id: arbPeer, data: arbData });
const arbId = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constant(messageIdOf(Uint8Array.of(1))));
const arbMessage: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc.record({ type: fc.constant('join' as const), data: arbData }),
  fc.record({ type: fc.constant('forwardJoin' as const), peer: arbInfo, ttl: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ type: fc.constant('shuffle' as const), origin: arbPeer, nodes: fc.array(arbInfo, { maxLength: 8 }), ttl: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ type: fc.constant('shuffleReply' as const), nodes: fc.array(arbInfo, { maxLength: 8 }) }),
  fc.record({ type: fc.constant('neighbor' as const), priority: fc.constantFrom('high' as const, 'low' as const), data: arbData }),
  fc.record({ type: fc.constant('disconnect' as const), alive: fc.boolean() }),
  fc.record({ type: fc.constant('gossip' as const), id: arbId, content: fc.uint8Array({ maxLength: 8 }), round: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ type: fc.constant('prune' as const) }),
  fc.record({ type: fc.constant('graft' as const), id: fc.option(arbId, { nil: undefined }), round: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ type: fc.constant('ihave' as const), entries: fc.array(fc.record({ id: arbId, round: fc.integer({ min: 0, max: 0xffff }) }), { maxLength: 4 }) }),
);

describe('gossip wire', () => {
  it('every message round-trips through the codec', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const decoded = decodeGossipMessage(encodeGossipMessage(m));
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expect(encodeGossipMessage(decoded.value)).toEqual(encodeGossipMessage(m));
      }),
    );
  });

  it('the largest payload, the fullest IHAVE and the fullest shuffle fit in 4096 bytes', () => {
    const content = new Uint8Array(maxPayloadBytes(DEFAULT_MAX_MESSAGE_BYTES)).fill(0xab);
    const gossip = encodeGossipMessage({ type: 'gossip', id: messageIdOf(content), content, round: 0xffff });
    expect(gossip.length).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
    // PlumTree sends IHAVEs in chunks of what fits: (4096 - 4) / 38 = 107 entries.
    const chunk = Math.min(MAX_IHAVES, Math.floor((DEFAULT_MAX_MESSAGE_BYTES - 4) / IHAVE_ENTRY_MAX_BYTES));
    const entries = Array.from({ length: chunk }, (_, i) => ({ id: messageIdOf(Uint8Array.of(i)), round: 0xffff }));
    expect(encodeGossipMessage({ type: 'ihave', entries }).length).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
    const nodes = Array.from({ length: MAX_SHUFFLE_NODES }, (_, i) => ({ id: PEERS[i % PEERS.length] as PeerId, data: undefined }));
    expect(encodeGossipMessage({ type: 'shuffle', origin: ME, nodes, ttl: 6 }).length).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('decoding is total: random, truncated, oversized and out-of-bounds bodies are DecodeErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (body) => {
        const d = decodeGossipMessage(body);
        if (!d.ok) expect(d.error.code).toBe('DECODE');
      }),
    );
    fc.assert(
      fc.property(arbMessage, fc.nat(), (m, cut) => {
        const body = encodeGossipMessage(m);
        const d = decodeGossipMessage(body.subarray(0, cut % (body.length + 1)));
        if (!d.ok) expect(d.error.code).toBe('DECODE');
      }),
    );
    const over = decodeGossipMessage(new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1));
    expect(over.ok === false && over.error.kind).toBe('oversized');
    const tooManyIHaves = encodeGossipMessage({ type: 'ihave', entries: Array.from({ length: MAX_IHAVES + 1 }, () => ({ id: new Uint8Array(32), round: 1 })) });
    const d = decodeGossipMessage(tooManyIHaves, 1 << 20);
    expect(d.ok === false && d.error.kind).toBe('oversized');
  });
});

describe('gossip topic limits', () => {
  it('refuses an oversized broadcast with a typed error and accepts the largest allowed one', () => {
    const topic = newTopic();
    topic.handle({ type: 'recv', from: PEERS[1] as PeerId, message: { type: 'join', data: undefined } }, 0);
    const limit = topic.maxPayloadBytes;
    expect(limit).toBe(DEFAULT_MAX_MESSAGE_BYTES - 42);
    const tooBig = new Uint8Array(limit + 1);
    expect(topic.checkBroadcast(tooBig)).toBeInstanceOf(BroadcastTooLargeError);
    let caught: unknown;
    try {
      topic.handle({ type: 'command', command: { type: 'broadcast', data: tooBig } }, 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(BroadcastTooLargeError);
    expect((caught as BroadcastTooLargeError).code).toBe('BROADCAST_TOO_LARGE');
    expect((caught as BroadcastTooLargeError).name).toBe('BroadcastTooLargeError');
    const out = topic.handle({ type: 'command', command: { type: 'broadcast', data: new Uint8Array(limit) } }, 2);
    const sent = out.flatMap((o) => (o.type === 'send' ? [encodeGossipMessage(o.message).length] : []));
    expect(sent.length).toBe(1);
    expect(sent[0]).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('drops a received oversized payload and one whose id is not its hash', () => {
    const topic = newTopic();
    const from = PEERS[1] as PeerId;
    topic.handle({ type: 'recv', from, message: { type: 'join', data: undefined } }, 0);
    const big = new Uint8Array(topic.maxPayloadBytes + 1);
    const spoofed = Uint8Array.of(1, 2, 3);
    for (const message of [
      { type: 'gossip' as const, id: messageIdOf(big), content: big, round: 0 },
      { type: 'gossip' as const, id: messageIdOf(Uint8Array.of(9)), content: spoofed, round: 0 },
    ]) {
      const out = topic.handle({ type: 'recv', from, message }, 1);
      expect(out.filter((o) => o.type === 'emit' || o.type === 'send')).toEqual([]);
    }
  });

  it('no sequence of peer messages, timers or peer-downs throws', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('recv' as const), from: arbPeer, message: arbMessage }),
            fc.record({ kind: fc.constant('down' as const), peer: arbPeer }),
            fc.record({ kind: fc.constant('broadcast' as const), data: fc.uint8Array({ maxLength: 8 }) }),
          ),
          { maxLength: 40 },
        ),
        (steps) => {
          const topic = newTopic();
          const timers: Parameters<GossipTopic['handle']>[0][] = [];
          let now = 0;
          for (const step of steps) {
            now += 7;
            const input: Parameters<GossipTopic['handle']>[0] =
              step.kind === 'recv'
                ? { type: 'recv', from: step.from, message: step.message }
                : step.kind === 'down'
                  ? { type: 'peerDown', peer: step.peer }
                  : { type: 'command', command: { type: 'broadcast', data: step.data } };
            for (const o of topic.handle(input, now)) if (o.type === 'armTimer') timers.push({ type: 'timer', timer: o.timer });
            const timer = timers.shift();
            if (timer) topic.handle(timer, now);
          }
          expect(topic.activeView().length).toBeLessThanOrEqual(5);
          expect(topic.passiveView().length).toBeLessThanOrEqual(30);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('gossip determinism', () => {
  function run(seed: number): string[] {
    const sim = joinedSim({ n: 30, seed, record: true, settleMs: 2_000 });
    sim.broadcast(0, Uint8Array.of(1, 2, 3));
    sim.runUntil(sim.nowMs + 1_000);
    sim.kill(5);
    sim.broadcast(1, Uint8Array.of(4, 5, 6));
    sim.runUntil(sim.nowMs + 2_000);
    return sim.trace;
  }

  it('the same seed gives the identical sequence of outputs; another seed does not', () => {
    const a = run(3);
    expect(a.length).toBeGreaterThan(1_000);
    expect(run(3)).toEqual(a);
    expect(run(4)).not.toEqual(a);
  });

  it('a fresh topic arms its timers and sends its join', () => {
    const sim = new GossipSim({ n: 2, seed: 1, record: true });
    sim.join(1, [0]);
    expect(sim.trace.map((l) => l.split(' ').slice(1, 5).join(' '))).toEqual(['1 send 0 join', '1 armTimer 60000 shuffle']);
  });
});
