import { createSocket, type Socket } from 'node:dgram';
import { Digest, Network, SecretKey } from 'mosaik';
import makeMdns from 'multicast-dns';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerAddr } from '../../core/identity/address.ts';
import type { PeerId } from '../../core/identity/keys.ts';
import { MDNS_SERVICE, MdnsDiscovery, type MdnsNode, type MdnsRecord, type MdnsSocket, setMdnsSocketFactory } from '../../net-real/mdns.ts';

/**
 * mDNS discovery. Tests send only to 127.0.0.1: instead of multicast, each node's mDNS
 * socket is a real `multicast-dns` instance on a socket bound to 127.0.0.1, and a small bus
 * sends every query and answer to the other sockets by unicast — the same packets, encoded
 * and decoded by dns-packet, that multicast would carry.
 */

/** Sockets bound on 127.0.0.1 before the nodes start, handed out in order; sends reach all the others. */
async function loopbackBus(count: number): Promise<{ next: () => MdnsSocket; close: () => void }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    sockets.push(socket);
  }
  const ports = sockets.map((s) => s.address().port);
  let handed = 0;
  return {
    next: () => {
      const own = ports[handed] as number;
      const m = makeMdns({ socket: sockets[handed++], multicast: false, bind: false, port: own, ip: '127.0.0.1' });
      const others = () => ports.filter((p) => p !== own).map((port) => ({ port, address: '127.0.0.1' }));
      return {
        query: (q) => {
          for (const to of others()) m.query(structuredClone(q) as never, to as never);
        },
        respond: (r) => {
          for (const to of others()) m.respond(structuredClone(r) as never, to as never);
        },
        on: (event: string, listener: Parameters<typeof m.on>[1]) => m.on(event, listener),
        destroy: (cb?: () => void) => m.destroy(cb),
      } as MdnsSocket;
    },
    close: () => {
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // multicast-dns closed it with its node
        }
      }
    },
  };
}

/** In memory: every socket hears what the others send, synchronously. */
function memoryBus() {
  const sockets: { listeners: Map<string, ((x: never) => void)[]> }[] = [];
  const deliver = (from: unknown, event: string, packet: unknown) => {
    for (const s of sockets) if (s !== from) for (const l of s.listeners.get(event) ?? []) l(structuredClone(packet) as never);
  };
  const socket = (): MdnsSocket & { inject(event: string, packet: unknown): void } => {
    const me = { listeners: new Map<string, ((x: never) => void)[]>() };
    sockets.push(me);
    return {
      query: (q) => deliver(me, 'query', q),
      respond: (r) => deliver(me, 'response', r),
      on: (event: string, listener: (x: never) => void) => me.listeners.set(event, [...(me.listeners.get(event) ?? []), listener]),
      destroy: () => sockets.splice(sockets.indexOf(me), 1),
      inject: (event, packet) => {
        for (const l of me.listeners.get(event) ?? []) l(packet as never);
      },
    };
  };
  return { socket };
}

function fakeNode(network: string, seed: string, known: Set<string> = new Set()): MdnsNode & { synced: PeerAddr[] } {
  const peerId = SecretKey.fromSeed(seed).peerId;
  const synced: PeerAddr[] = [];
  return {
    networkId: Digest.from(network),
    peerId,
    addr: `${peerId.hex}@127.0.0.1:${1000 + seed.length}`,
    knows: (peer: PeerId) => known.has(peer.hex),
    sync: async (addr) => {
      synced.push(addr);
    },
    onError: (e) => {
      throw e;
    },
    synced,
  };
}

let restore: (() => MdnsSocket) | undefined;
const open: Network[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  if (restore) setMdnsSocketFactory(restore);
  restore = undefined;
});

describe('mDNS discovery (the protocol, on an in-memory bus)', () => {
  it('nodes of one network exchange catalogs with each other once per interval; other networks, self and known peers are left alone', () => {
    const bus = memoryBus();
    let now = 0;
    const sockets: ReturnType<typeof bus.socket>[] = [];
    restore = setMdnsSocketFactory(() => {
      const s = bus.socket();
      sockets.push(s);
      return s;
    });
    const a = fakeNode('net-1', 'a');
    const b = fakeNode('net-1', 'bb');
    const other = fakeNode('net-2', 'ccc');
    const ms = [a, b, other].map((n) => new MdnsDiscovery(n, { intervalMs: 1_000, nowMs: () => now }));
    // b's start-up query made a answer it; b's own answer reached a.
    expect(a.synced.map((x) => x.peer.hex)).toEqual([b.peerId.hex]);
    expect(b.synced.map((x) => x.peer.hex)).toEqual([a.peerId.hex]);
    expect(b.synced[0]?.location).toBe('127.0.0.1:1001');
    expect(other.synced).toEqual([]);
    // Answers within the interval start nothing new; after it, one more exchange.
    (sockets[0] as ReturnType<typeof bus.socket>).query({ questions: [{ name: MDNS_SERVICE, type: 'PTR' }] });
    expect(a.synced).toHaveLength(1);
    now = 1_000;
    (sockets[0] as ReturnType<typeof bus.socket>).query({ questions: [{ name: MDNS_SERVICE, type: 'PTR' }] });
    expect(a.synced).toHaveLength(2);
    for (const m of ms) m.close();
  });

  it('ignores malformed, foreign and forged-looking answers without throwing', () => {
    const bus = memoryBus();
    let socket: ReturnType<typeof bus.socket> | undefined;
    restore = setMdnsSocketFactory(() => {
      socket = bus.socket();
      return socket;
    });
    const a = fakeNode('net-1', 'a', new Set([SecretKey.fromSeed('known').peerId.hex]));
    const m = new MdnsDiscovery(a, { intervalMs: 1_000, nowMs: () => 0 });
    const net = a.networkId.hex;
    const txt = (data: unknown, name = `x.${MDNS_SERVICE}`): MdnsRecord => ({ name, type: 'TXT', data }) as MdnsRecord;
    const known = SecretKey.fromSeed('known').peerId.hex;
    for (const answers of [
      [txt(['v=1', `net=${net}`, 'addr=not-an-address'])],
      [txt(['v=1', `net=${net}`])],
      [txt(['v=2', `net=${net}`, `addr=${known.replace('0', '1')}@h:1`])],
      [txt(['v=1', `net=${net}`, `addr=${a.peerId.hex}@127.0.0.1:9`])], // itself
      [txt(['v=1', `net=${net}`, `addr=${known}@127.0.0.1:9`])], // already in the catalog
      [txt(['v=1', `net=${net}`, `addr=${SecretKey.fromSeed('z').peerId.hex}@h:1`], 'elsewhere.local')],
      [txt(42)],
      [{ name: MDNS_SERVICE, type: 'A', data: '1.2.3.4' } as MdnsRecord],
    ]) {
      socket?.inject('response', { answers });
    }
    socket?.inject('response', {});
    socket?.inject('query', {});
    expect(a.synced).toEqual([]);
    // Buffers, as dns-packet decodes TXT strings, are read too.
    const peer = SecretKey.fromSeed('buffers').peerId;
    const enc = (s: string) => new TextEncoder().encode(s);
    socket?.inject('response', { additionals: [txt([enc('v=1'), enc(`net=${net}`), enc(`addr=${peer.hex}@127.0.0.1:7`)])] });
    expect(a.synced.map((x) => x.peer.hex)).toEqual([peer.hex]);
    m.close();
  });
});

describe('mDNS discovery between two QUIC nodes (Network.create({ mdns }))', () => {
  it('two nodes with no bootstrap find each other', async () => {
    const bus = await loopbackBus(2);
    restore = setMdnsSocketFactory(bus.next);
    try {
      const network = `mdns-${process.pid}`;
      const a = await Network.create({ network, mdns: { intervalMs: 500 } });
      open.push(a);
      const b = await Network.create({ network, mdns: { intervalMs: 500 } });
      open.push(b);
      await Promise.all([a.discovery.when.peers(1), b.discovery.when.peers(1)]);
      expect(a.discovery.peers().map((p) => p.peerId.hex)).toEqual([b.peerId.hex]);
      expect(b.discovery.peers().map((p) => p.peerId.hex)).toEqual([a.peerId.hex]);
    } finally {
      await Promise.all(open.splice(0).map((n) => n.close()));
      bus.close();
    }
  });

  it('bad mdns options are refused', async () => {
    await expect(Network.create({ network: 'x', mdns: { intervalMs: 5 } })).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    await expect(Network.create({ network: 'x', mdns: 'yes' as never })).rejects.toMatchObject({ name: 'InvalidArgumentError' });
  });
});
