import { InvalidArgumentError } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

// `ping` and `syncWith` take a peer address as text or as a PeerAddr object. Anything else
// was handed to the node as it was: the call threw a raw TypeError, the request stayed
// registered with no one to answer it, a later timer of the node threw out of the run, and
// closing the node rejected the orphaned request (an unhandled rejection: a dead process).

describe('peer addresses of ping and syncWith', () => {
  it('objects that are not a PeerAddr are InvalidArgumentError; the node goes on and closes cleanly', async () => {
    const sim = new Simulation({ seed: 61 });
    const a = sim.node({ network: 'addrs' });
    const b = sim.node({ network: 'addrs' });
    await sim.run(async () => {
      const bad: unknown[] = [{}, 42, null, { location: 'sim:1' }, { peer: b.peerId.hex, location: 'sim:1' }, { peer: b.peerId, location: '' }, [b.addr]];
      for (const target of bad) {
        await expect(a.ping(target as never)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(a.syncWith(target as never)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      // A PeerAddr object is fine, as is the text form.
      const [, location] = b.addr.split('@') as [string, string];
      await a.syncWith({ peer: b.peerId, location });
      expect((await a.ping({ peer: b.peerId, location })).rttMs).toBeGreaterThanOrEqual(0);
      await sim.sleep(30_000); // the node's own timers run over what it was given
      await a.close();
      await b.close();
    });
  });
});
