import { Digest, SecretKey } from 'mosaik';
import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

/** Every node's catalog holds every other node. */
function converged(nets: readonly Network[]): boolean {
  return nets.every((n) => n.discovery.peers().length === nets.length - 1);
}

describe('discovery in the simulator (catalog exchanges)', () => {
  it('nodes that know one bootstrap peer come to know each other (converge_with_bootstrap)', async () => {
    const sim = new Simulation({ seed: 3 });
    const boot = sim.node({ network: 'disc' });
    const nets = [boot, ...Array.from({ length: 11 }, () => sim.node({ network: 'disc', bootstrap: [boot.addr] }))];
    await sim.run(async () => {
      while (!converged(nets)) await sim.sleep(1_000);
    });
    // Anti-entropy with one random peer every ~10 s: 12 nodes converge in a few rounds.
    expect(sim.now).toBeLessThan(60_000);
    for (const n of nets) {
      const ids = n.discovery.peers().map((p) => p.peerId.hex);
      expect(ids).toEqual(
        nets
          .filter((o) => o !== n)
          .map((o) => o.peerId.hex)
          .sort(),
      );
    }
  });

  it('a catalog exchange the peer never answers is given up after 30 s, and the peer can be synced with again', async () => {
    const sim = new Simulation({ seed: 5 });
    const a = sim.node({ network: 'disc', discovery: { syncIntervalMs: 1_000 } });
    // A peer that takes catalog exchanges and never answers them (stuck, or hostile).
    const b = sim.node({ network: 'disc', discovery: { syncIntervalMs: 100_000, plantedBugs: { silentSync: true } } });
    const syncOutcome = () =>
      Promise.race([
        a.syncWith(b.addr).then(
          () => 'synced',
          (e: Error) => e.name,
        ),
        sim.sleep(60_000).then(() => 'still waiting after 60 s'),
      ]);
    await sim.run(async () => {
      const started = sim.now;
      const outcome = await syncOutcome();
      expect(outcome).toBe('TimeoutError');
      // Given up at the first exchange tick (every ~1 s here) after 30 s.
      expect(sim.now - started).toBeGreaterThanOrEqual(30_000);
      expect(sim.now - started).toBeLessThan(33_000);
      // Not busy with b any more: the next call starts a new exchange (which b again ignores).
      expect(await syncOutcome()).toBe('TimeoutError');
    });
  });

  it('events and when.peers report what the catalog learns', async () => {
    const sim = new Simulation({ seed: 4 });
    const a = sim.node({ network: 'disc' });
    const b = sim.node({ network: 'disc', tags: ['matcher'] });
    const seen: string[] = [];
    await sim.run(async () => {
      const events = (async () => {
        for await (const e of a.discovery.events()) {
          seen.push(`${e.type}${'peer' in e ? ` ${e.peer.short}` : ''}`);
          if (seen.length === 1) return;
        }
      })();
      await a.syncWith(b.addr); // manual_sync_trigger
      expect(a.discovery.peers()).toHaveLength(1); // we have theirs when syncWith resolves
      await b.discovery.when.peers(1); // they get ours with our last message, one hop later
      await events;
    });
    expect(seen).toEqual([`discovered ${b.peerId.short}`]);
    expect(a.discovery.peers()[0]?.tags.map((t) => t.hex)).toEqual([Digest.from('matcher').hex]);
    expect(b.discovery.peers().map((p) => p.peerId.hex)).toEqual([a.peerId.hex]); // both ways
  });

  it('a tag change reaches the others as an update', async () => {
    const sim = new Simulation({ seed: 5 });
    const a = sim.node({ network: 'disc' });
    const b = sim.node({ network: 'disc', bootstrap: [a.addr] });
    await sim.run(async () => {
      await b.discovery.when.peers(1);
      const entry = await a.discovery.addTags('eu');
      expect(entry.tags.map((t) => t.hex)).toEqual([Digest.from('eu').hex]);
      while (b.discovery.peers()[0]?.tags.length !== 1) await sim.sleep(1_000);
    });
  });

  it('nodes of different networks never enter each other’s catalogs (different_networks_are_isolated)', async () => {
    const sim = new Simulation({ seed: 6 });
    const a = sim.node({ network: 'one' });
    const b = sim.node({ network: 'two', bootstrap: [a.addr] });
    const c = sim.node({ network: 'one', bootstrap: [a.addr] });
    await sim.run(async () => {
      await sim.sleep(60_000);
    });
    expect(a.discovery.peers().map((p) => p.peerId.hex)).toEqual([c.peerId.hex]);
    expect(b.discovery.peers()).toEqual([]);
  });

  it('a node that stops refreshing is purged and reported departed (stale_peers_are_purged)', async () => {
    const sim = new Simulation({ seed: 7 });
    const a = sim.node({ network: 'disc', discovery: { purgeAfterMs: 30_000, refreshIntervalMs: 5_000 } });
    const b = sim.node({ network: 'disc', bootstrap: [a.addr], discovery: { purgeAfterMs: 30_000, refreshIntervalMs: 5_000 } });
    const departed: string[] = [];
    await sim.run(async () => {
      await a.discovery.when.peers(1);
      void (async () => {
        for await (const e of a.discovery.events()) if (e.type === 'departed') departed.push(e.peer.hex);
      })();
      sim.crash(b);
      await sim.sleep(60_000);
    });
    expect(departed).toEqual([b.peerId.hex]);
    expect(a.discovery.peers()).toEqual([]);
  });

  it('a node restarted with its clock set back still supersedes its old entry (its last version is durable)', async () => {
    // Found by discovery-converge seed 73: peers keep only strictly newer versions, and a
    // version made from a clock that went back would be ignored until the old one was purged.
    const sim = new Simulation({ seed: 9 });
    const a = sim.node({ network: 'disc' });
    const b = sim.node({ network: 'disc', bootstrap: [a.addr], discovery: { syncIntervalMs: 1_000 } });
    await sim.run(async () => {
      await a.discovery.when.peers(1);
      const before = a.discovery.peers()[0]?.version;
      sim.crash(b);
      sim.skewClock(b, -120_000);
      sim.restart(b);
      await sim.sleep(5_000);
      const after = a.discovery.peers()[0]?.version;
      expect(after && before && (after.start > before.start || (after.start === before.start && after.update > before.update))).toBe(true);
      expect(b.discovery.me().version).toEqual(after);
    });
  });

  it('too many tags is a typed error, and the entry stays as it was', async () => {
    const sim = new Simulation({ seed: 10 });
    const a = sim.node({ network: 'disc', tags: ['one'] });
    await sim.run(async () => {
      const tooMany = Array.from({ length: 64 }, (_, i) => `tag-${i}`);
      await expect(a.discovery.addTags(...tooMany)).rejects.toMatchObject({ name: 'InvalidArgumentError' });
      expect(a.discovery.me().tags).toHaveLength(1);
      await expect(a.discovery.addTags(...tooMany.slice(0, 63))).resolves.toMatchObject({ tags: expect.any(Array) });
      expect(a.discovery.me().tags).toHaveLength(64);
    });
  });

  it('arguments of the wrong kind are typed errors, and the entry stays as it was', async () => {
    const sim = new Simulation({ seed: 11 });
    const a = sim.node({ network: 'disc', tags: ['one'] });
    const invalid = expect.objectContaining({ name: 'InvalidArgumentError' });
    await sim.run(async () => {
      const before = a.discovery.me().version;
      await expect(a.discovery.addTags(5 as never)).rejects.toEqual(invalid);
      await expect(a.discovery.addTags('')).rejects.toEqual(invalid);
      await expect(a.discovery.removeTags(undefined as never)).rejects.toEqual(invalid);
      await expect(a.discovery.addTicket('not a ticket' as never)).rejects.toEqual(invalid);
      await expect(a.discovery.addTicket({ class: 'jwt', data: new Uint8Array(1) } as never)).rejects.toEqual(invalid);
      await expect(a.discovery.removeTicket('id' as never)).rejects.toEqual(invalid);
      await expect(a.discovery.removeTicketsOf(7 as never)).rejects.toEqual(invalid);
      await expect(a.discovery.when.peers(Number.NaN)).rejects.toEqual(invalid);
      await expect(a.discovery.when.peers(-1)).rejects.toEqual(invalid);
      expect(a.discovery.me().version).toEqual(before);
    });
    expect(() => Digest.from(undefined as never)).toThrow(invalid);
    expect(() => SecretKey.fromSeed(42 as never)).toThrow(invalid);
  });

  it('reads on a crashed node fail with NodeDownError; a bad bootstrap address is refused at once', async () => {
    const sim = new Simulation({ seed: 8 });
    const a = sim.node({ network: 'disc' });
    sim.crash(a);
    expect(() => a.discovery.peers()).toThrow(expect.objectContaining({ name: 'NodeDownError' }));
    expect(() => sim.node({ network: 'disc', bootstrap: ['nope'] })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
    const tags = Array.from({ length: 65 }, (_, i) => `t${i}`);
    expect(() => sim.node({ network: 'disc', tags })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
    expect(sim.networks).toHaveLength(1); // nothing half-made was left behind
  });
});
