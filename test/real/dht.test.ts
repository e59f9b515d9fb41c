import { ed25519 } from '@noble/curves/ed25519.js';
import DHT from 'bittorrent-dht';
import { Digest, Network } from 'mosaik';
import { afterEach, describe, expect, it } from 'vitest';
import { networkSlots } from '../../net-real/dht.ts';

/**
 * DHT rendezvous (`Network.create({ dht })`) on a private DHT on 127.0.0.1: a router made
 * here, and the nodes' own DHT sockets, all on loopback. Nothing reaches the public DHT.
 */

const open: Network[] = [];
const routers: DHT[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  for (const r of routers.splice(0)) r.destroy();
});

async function router(): Promise<string> {
  const dht = new DHT({ bootstrap: false, host: '127.0.0.1', verify: (sig, msg, pk) => ed25519.verify(sig, msg, pk) });
  routers.push(dht);
  await new Promise<void>((r) => dht.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${dht.address().port}`;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);
}

describe('DHT rendezvous', () => {
  it('slots: slot 0 is keyed by the network id, each next one by blake3(id ‖ id); every node derives the same', () => {
    const net = Digest.from('dht-slots');
    const slots = networkSlots(net);
    expect(slots).toHaveLength(16);
    expect(Buffer.from(slots[0]?.publicKey as Uint8Array)).toEqual(Buffer.from(ed25519.getPublicKey(net.bytes)));
    expect(Buffer.from(slots[1]?.publicKey as Uint8Array)).toEqual(Buffer.from(ed25519.getPublicKey(net.derive(net.bytes).bytes)));
    expect(networkSlots(Digest.from('dht-slots')).map((s) => s.target.toString('hex'))).toEqual(slots.map((s) => s.target.toString('hex')));
    expect(new Set(slots.map((s) => s.target.toString('hex'))).size).toBe(16);
    expect(networkSlots(Digest.from('other'))[0]?.target.equals(slots[0]?.target as Buffer)).toBe(false);
  });

  it('three nodes with no bootstrap address meet through a private DHT, and only those of their network', async () => {
    const bootstrap = [await router()];
    const network = `dht-${process.pid}`;
    const dht = { bootstrap, intervalMs: 300 };
    const nets: Network[] = [];
    for (let i = 0; i < 3; i++) {
      const net = await Network.create({ network, dht });
      open.push(net);
      nets.push(net);
    }
    const stranger = await Network.create({ network: `${network}-other`, dht });
    open.push(stranger);
    await within(Promise.all(nets.map((n) => n.discovery.when.peers(2))), 30_000, 'every node knows the other two');
    for (const n of nets) {
      expect(
        n.discovery
          .peers()
          .map((p) => p.peerId.hex)
          .sort(),
      ).toEqual(
        nets
          .filter((x) => x !== n)
          .map((x) => x.peerId.hex)
          .sort(),
      );
    }
    expect(stranger.discovery.peers()).toEqual([]);
  });

  it('bad dht options are refused', async () => {
    for (const dht of [{ bootstrap: ['no-port'] }, { port: 70_000 }, { intervalMs: 5 }, 'yes']) {
      await expect(Network.create({ network: 'x', dht: dht as never })).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    }
  });
});
