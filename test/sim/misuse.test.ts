import { ed25519 } from '@noble/curves/ed25519.js';
import { InvalidArgumentError } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

/** Rejects or throws a typed InvalidArgumentError, never a TypeError or an AssertionError. */
async function expectInvalid(call: () => unknown): Promise<void> {
  await expect((async () => call())()).rejects.toBeInstanceOf(InvalidArgumentError);
}

describe('Simulation misuse', () => {
  it('a node whose start fails leaves nothing behind', async () => {
    // A signer that fails (an HSM gone away) makes the node's start throw.
    let signerBroken = false;
    const signer = {
      sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
        if (signerBroken) throw new Error('signer offline');
        return ed25519.sign(message, seed);
      },
    };
    const sim = new Simulation({ seed: 1, signer, maxSimulatedMs: 600_000 });
    const a = sim.node({ network: 'x' });
    signerBroken = true;
    expect(() => sim.node({ network: 'x' })).toThrow('signer offline');
    signerBroken = false;
    // Bad options that make the start throw (or are refused before it) leave nothing either.
    expect(() => sim.node({ network: 'x', discovery: { purgeAfterMs: 0 } })).toThrow();
    expect(() => sim.node({ network: 'x', discovery: { gossipViews: { active: -1 } } } as never)).toThrow();
    expect(sim.networks).toEqual([a]);
    // The next node takes the free index, and the network works.
    const b = sim.node({ network: 'x', bootstrap: [a.addr] });
    expect(sim.indexOf(b)).toBe(1);
    expect(sim.networks).toEqual([a, b]);
    const peers = await sim.run(async () => {
      await sim.sleep(30_000);
      await a.syncWith(b.addr);
      return [a.discovery.peers().length, b.discovery.peers().length];
    });
    expect(peers).toEqual([1, 1]);
  });
});
