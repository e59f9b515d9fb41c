import { Digest, InvalidArgumentError } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { MAX_TICKETS } from '../../core/discovery/peer-entry.ts';

/**
 * Discovery over gossip (HyParView + PlumTree, announcements) in the simulator. Catalog
 * exchanges are slowed to once a minute in these tests, so what arrives within a few
 * seconds came by gossip. The two-second bound: a few hops of one batch window (100 ms)
 * each over the eager tree, plus at most a couple of lazy repairs (IHAVE, graft timer,
 * graft, payload: about 700 ms each) where the tree is broken.
 */
const GOSSIP_ONLY = { syncIntervalMs: 60_000 } as const;

function knowsAll(nets: readonly Network[]): boolean {
  return nets.every((n) => n.discovery.peers().length === nets.length - 1);
}

async function converge(sim: Simulation, nets: readonly Network[]): Promise<void> {
  while (!knowsAll(nets)) await sim.sleep(500);
}

describe('discovery gossip in the simulator', () => {
  it('a change to one entry reaches every node by gossip within two seconds', async () => {
    const sim = new Simulation({ seed: 21 });
    const boot = sim.node({ network: 'g', discovery: GOSSIP_ONLY });
    const nets = [boot, ...Array.from({ length: 19 }, () => sim.node({ network: 'g', bootstrap: [boot.addr], discovery: GOSSIP_ONLY }))];
    await sim.run(async () => {
      await converge(sim, nets);
      await sim.sleep(5_000); // let the overlay settle
      const changed = nets[7] as Network;
      const at = sim.now;
      await changed.discovery.addTags('eu');
      const tag = Digest.from('eu').hex;
      const hasTag = (n: Network) =>
        n.discovery
          .peers()
          .find((p) => p.peerId.equals(changed.peerId))
          ?.tags.some((t) => t.hex === tag) ?? false;
      while (!nets.filter((n) => n !== changed).every(hasTag)) await sim.sleep(50);
      expect(sim.now - at).toBeLessThan(2_000);
    });
    const stats = nets.map((n) => n.discovery.stats());
    expect(stats.every((s) => s.announcementsReceived > 0)).toBe(true);
    expect(stats.reduce((sum, s) => sum + s.driftRejected + s.invalidRejected, 0)).toBe(0);
  });

  it('a graceful departure is seen by every node within two seconds, long before any purge (graceful_departure)', async () => {
    const sim = new Simulation({ seed: 22 });
    const boot = sim.node({ network: 'g', discovery: GOSSIP_ONLY });
    const nets = [boot, ...Array.from({ length: 11 }, () => sim.node({ network: 'g', bootstrap: [boot.addr], discovery: GOSSIP_ONLY }))];
    const leaving = nets[5] as Network;
    const stay = nets.filter((n) => n !== leaving);
    const saw = new Map<Network, number>();
    await sim.run(async () => {
      await converge(sim, nets);
      await sim.sleep(5_000);
      for (const n of stay) {
        void (async () => {
          for await (const e of n.discovery.events()) if (e.type === 'departed' && e.peer.equals(leaving.peerId)) saw.set(n, sim.now);
        })();
      }
      const at = sim.now;
      await leaving.close();
      await sim.sleep(2_000);
      expect(saw.size).toBe(stay.length);
      expect(Math.max(...saw.values()) - at).toBeLessThan(2_000);
      for (const n of stay) expect(n.discovery.peers().some((p) => p.peerId.equals(leaving.peerId))).toBe(false);
    });
  });

  it('a node partitioned away long enough to be purged re-appears everywhere after the heal', async () => {
    const timing = { purgeAfterMs: 30_000, refreshIntervalMs: 5_000, syncIntervalMs: 5_000 } as const;
    const sim = new Simulation({ seed: 23 });
    const boot = sim.node({ network: 'g', discovery: timing });
    const nets = [boot, ...Array.from({ length: 9 }, () => sim.node({ network: 'g', bootstrap: [boot.addr], discovery: timing }))];
    const cut = nets[4] as Network;
    const rest = nets.filter((n) => n !== cut);
    await sim.run(async () => {
      await converge(sim, nets);
      sim.isolate(cut);
      await sim.sleep(60_000); // two purge periods
      for (const n of rest) expect(n.discovery.peers().some((p) => p.peerId.equals(cut.peerId))).toBe(false);
      expect(cut.discovery.peers()).toEqual([]);
      sim.heal();
      const healedAt = sim.now;
      await converge(sim, nets);
      // The cut-off node rejoins the overlay on its next exchange tick, then gossip and one exchange do the rest.
      expect(sim.now - healedAt).toBeLessThan(15_000);
    });
  });

  it('announcements from a clock beyond the drift limit are dropped; within it they are taken', async () => {
    const sim = new Simulation({ seed: 24 });
    const a = sim.node({ network: 'g', discovery: GOSSIP_ONLY });
    const b = sim.node({ network: 'g', bootstrap: [a.addr], discovery: GOSSIP_ONLY });
    const c = sim.node({ network: 'g', bootstrap: [a.addr], discovery: GOSSIP_ONLY });
    const tagsAt = (n: Network, of: Network) => n.discovery.peers().find((p) => p.peerId.equals(of.peerId))?.tags.length ?? -1;
    await sim.run(async () => {
      await converge(sim, [a, b, c]);
      await sim.sleep(2_000);
      sim.skewClock(c, 120_000); // 2 minutes ahead: beyond the default 50 s
      await c.discovery.addTags('fast-clock');
      await sim.sleep(2_000);
      expect(tagsAt(a, c)).toBe(0);
      expect(tagsAt(b, c)).toBe(0);
      expect(a.discovery.stats().driftRejected + b.discovery.stats().driftRejected).toBeGreaterThanOrEqual(2);

      // (c's later versions stay ahead too: versions never go back.) A clock within the limit is fine.
      sim.skewClock(b, 30_000);
      await b.discovery.addTags('ok-clock');
      await sim.sleep(2_000);
      expect(tagsAt(a, b)).toBe(1);

      // A goodbye from beyond the limit is dropped too: the peers keep the entry.
      const rejectedBefore = a.discovery.stats().driftRejected + b.discovery.stats().driftRejected;
      await c.close();
      await sim.sleep(1_000);
      expect(a.discovery.peers().some((p) => p.peerId.equals(c.peerId))).toBe(true);
      expect(a.discovery.stats().driftRejected + b.discovery.stats().driftRejected).toBeGreaterThan(rejectedBefore);
    });
  });

  it('RTT probes measure peers; rttBelow is true while unknown', async () => {
    const sim = new Simulation({ seed: 25 });
    const a = sim.node({ network: 'g', discovery: { rttProbeIntervalMs: 2_000 } });
    const b = sim.node({ network: 'g', bootstrap: [a.addr], discovery: { rttProbeIntervalMs: 600_000 } });
    await sim.run(async () => {
      await b.discovery.when.peers(1);
      const before = b.discovery.peerInfo(a.peerId);
      expect(before?.rtt).toBeUndefined();
      expect(before?.rttBelow(0)).toBe(true); // unknown admits
      await sim.sleep(6_000);
      const info = a.discovery.peerInfo(b.peerId);
      expect(info?.rtt?.samples).toBeGreaterThanOrEqual(1);
      const srtt = info?.rtt?.srttMs ?? Number.NaN;
      expect(srtt).toBeGreaterThan(0);
      expect(srtt).toBeLessThan(1_000);
      expect(info?.rttBelow(srtt + 1)).toBe(true);
      expect(info?.rttBelow(srtt)).toBe(false);
      expect(a.discovery.peerInfos().map((p) => p.peerId.hex)).toEqual([b.peerId.hex]);
    });
  });

  it('tickets are carried in the entry: add, remove by id and by class, and a typed error past the bound', async () => {
    const sim = new Simulation({ seed: 26 });
    const a = sim.node({ network: 'g' });
    const b = sim.node({ network: 'g', bootstrap: [a.addr] });
    const jwt = Digest.from('mosaik.tickets.jwt.v1');
    const other = Digest.from('example.class');
    const ticketsAtB = () => b.discovery.peers()[0]?.tickets.length ?? -1;
    await sim.run(async () => {
      await b.discovery.when.peers(1);
      await a.discovery.addTicket({ class: jwt, data: Uint8Array.of(1) });
      await a.discovery.addTicket({ class: jwt, data: Uint8Array.of(2) });
      const entry = await a.discovery.addTicket({ class: other, data: Uint8Array.of(3) });
      expect(entry.tickets).toHaveLength(3);
      await sim.sleep(1_000);
      expect(ticketsAtB()).toBe(3);
      await a.discovery.removeTicket(jwt.derive(Uint8Array.of(1)));
      expect((await a.discovery.removeTicketsOf(jwt)).tickets.map((t) => t.class.hex)).toEqual([other.hex]);
      await sim.sleep(1_000);
      expect(ticketsAtB()).toBe(1);
      for (let i = 0; i < MAX_TICKETS - 1; i++) await a.discovery.addTicket({ class: other, data: Uint8Array.of(10 + i) });
      await expect(a.discovery.addTicket({ class: other, data: Uint8Array.of(99) })).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(a.discovery.me().tickets).toHaveLength(MAX_TICKETS);
    });
  });
});
