import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { MAX_TAGS } from '../../core/discovery/peer-entry.ts';
import { MIN_MAX_FRAME_BYTES } from '../../core/wire/codec.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';

// A catalog exchange carries the entries one side lacks in one message. A catalog larger
// than a frame the two nodes share used to end every exchange (a node with the smallest
// frame limit refused it as a protocol violation, or the sender gave up on it), so a new
// node with that limit could never sync with a large network. Messages now shrink to the
// link's limit, and what is left out comes with the next exchange.

const PEERS = 70;
/** Many tags make an entry ~2.3 KB: 70 of them are more than the smallest frame. */
const tags = (i: number) => Array.from({ length: MAX_TAGS }, (_, k) => `node-${i}-tag-${k}`);

describe('catalog exchange with a node of the smallest frame limit', () => {
  it('a catalog larger than its frames arrives over several exchanges, each of which succeeds', async () => {
    const sim = new Simulation({ seed: 8, ...scenarioCrypto });
    const violations: string[] = [];
    sim.addChecker({
      name: 'no-violations',
      onEvent(_view, net, event) {
        if (event.type === 'link.down' && (event.code === 400 || event.reason.includes('bytes'))) violations.push(`${net.peerId.short}: ${event.reason}`);
      },
    });
    await sim.run(async () => {
      const first = sim.node({ network: 'frames', tags: tags(0) });
      const rest = Array.from({ length: PEERS - 1 }, (_, i) => sim.node({ network: 'frames', tags: tags(i + 1), bootstrap: [first.addr] }));
      const all: Network[] = [first, ...rest];
      while (first.discovery.peers().length < PEERS - 1) await sim.sleep(500);
      expect(sim.now).toBeLessThan(120_000);

      // Knows no one, and syncs with `first` alone: no gossip reaches it before it has peers.
      const small = sim.node({ network: 'frames', maxFrameBytes: MIN_MAX_FRAME_BYTES });
      let syncs = 0;
      while (small.discovery.peers().length < PEERS && syncs < 10) {
        await small.syncWith(first.addr);
        syncs++;
      }
      expect(syncs).toBeGreaterThan(1);
      const known = new Set(small.discovery.peers().map((p) => p.peerId.hex));
      for (const n of all) expect(known.has(n.peerId.hex)).toBe(true);
    });
    expect(violations).toEqual([]);
  });
});
