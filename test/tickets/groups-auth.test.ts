import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { Group } from '../../api/groups.ts';
import { type Ticket, ticketId } from '../../core/discovery/peer-entry.ts';
import { Digest } from '../../core/identity/digest.ts';
import { JwtValidator } from '../../core/tickets/jwt.ts';
import { jwtTicket, signJwt } from '../../core/tickets/jwt-sign.ts';
import type { TicketValidator } from '../../core/tickets/ticket.ts';
import { SIM_EPOCH_MS } from '../../net-sim/sim-node.ts';
import { Counter, type CounterCommand } from '../groups/counter.ts';
import { eventually } from '../streams/helpers.ts';

/**
 * `requireTickets` on groups, in the simulator: mosaik's groups auth tests (reference
 * `mosaik-groups.md` §4, auth::*). Tokens are signed synchronously, so runs are the same
 * every time; simulated wall clocks start at SIM_EPOCH_MS.
 */
const SECRET = new Uint8Array(32).fill(7);
const OTHER = new Uint8Array(32).fill(3);
const EPOCH_S = SIM_EPOCH_MS / 1000;
const validator = (secret = SECRET, issuer = 'groups.auth') => new JwtValidator({ keys: [{ alg: 'HS256', secret }], issuers: [issuer] });

function token(net: Network, options: { expS?: number; secret?: Uint8Array; issuer?: string } = {}): Ticket {
  const claims = { iss: options.issuer ?? 'groups.auth', sub: net.peerId.hex, iat: EPOCH_S - 3600, exp: options.expS ?? EPOCH_S + 3600 };
  return jwtTicket(signJwt({ alg: 'HS256', secret: options.secret ?? SECRET }, claims));
}

function nodes(sim: Simulation, n: number): Network[] {
  const first = sim.node({ network: 'groups-auth' });
  return [first, ...Array.from({ length: n - 1 }, () => sim.node({ network: 'groups-auth', bootstrap: [first.addr] }))];
}

const bondsOf = (g: Group<CounterCommand, null, number>) =>
  g
    .members()
    .bonds.map((p) => p.hex)
    .sort();

describe('groups: requireTickets (mosaik auth::*)', () => {
  it('jwt_authorized_peers_can_bond: only the two nodes with valid tickets bond; expired and missing tickets get none', async () => {
    const sim = new Simulation({ seed: 1 });
    const [n0, n1, n2, n3] = nodes(sim, 4) as [Network, Network, Network, Network];
    await sim.run(async () => {
      await n0.discovery.addTicket(token(n0));
      await n1.discovery.addTicket(token(n1));
      await n2.discovery.addTicket(token(n2, { expS: EPOCH_S - 60 })); // expired
      const gs = [n0, n1, n2, n3].map((n) => n.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] }));
      await eventually(sim, () => bondsOf(gs[0] as Group<CounterCommand, null, number>).length === 1, 30_000, 'n0 bonded');
      await sim.sleep(5_000);
      expect(bondsOf(gs[0] as Group<CounterCommand, null, number>)).toEqual([n1.peerId.hex]);
      expect(bondsOf(gs[1] as Group<CounterCommand, null, number>)).toEqual([n0.peerId.hex]);
      expect(bondsOf(gs[2] as Group<CounterCommand, null, number>)).toEqual([]);
      expect(bondsOf(gs[3] as Group<CounterCommand, null, number>)).toEqual([]);
    });
  });

  it('bond_terminated_on_jwt_ticket_revocation: a member that removes its ticket is dropped and leaves the configuration', async () => {
    const sim = new Simulation({ seed: 2 });
    const [n0, n1, n2] = nodes(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      const tickets = await Promise.all([n0, n1, n2].map(async (n) => (await n.discovery.addTicket(token(n)), token(n))));
      const gs = [n0, n1, n2].map((n) => n.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()], bootstrapExpect: 3 }));
      await eventually(sim, () => gs.every((g) => g.members().voters.length === 3 && g.leader !== undefined), 30_000, 'three voters');
      const revoker = gs.findIndex((g) => !g.isLeader);
      const net = [n0, n1, n2][revoker] as Network;
      await net.discovery.removeTicket(ticketId(tickets[revoker] as Ticket));
      const others = gs.filter((_, i) => i !== revoker);
      await eventually(sim, () => others.every((g) => !bondsOf(g).includes(net.peerId.hex)), 8_000, 'bonds to the revoker dropped');
      await eventually(sim, () => others.every((g) => !g.members().voters.includes(net.peerId.hex)), 10_000, 'revoker out of the configuration');
      const r = await (others[0] as Group<CounterCommand, null, number>).execute({ op: 'inc', by: 1 });
      expect(r.result).toBe(1);
    });
  });

  it('group_key_derived_from_jwt_validator: the validator is part of the id; equal validators bond', async () => {
    const sim = new Simulation({ seed: 3 });
    const [a, b] = nodes(sim, 2) as [Network, Network];
    await sim.run(async () => {
      await a.discovery.addTicket(token(a));
      await b.discovery.addTicket(token(b));
      const ga = a.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] });
      const gb = b.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] });
      const plain = new Simulation({ seed: 3 }).node({ network: 'x' }).groups.join({ key: 'auth', machine: new Counter() });
      expect(ga.id.equals(gb.id)).toBe(true);
      expect(ga.id.equals(plain.id)).toBe(false);
      await eventually(sim, () => bondsOf(ga).length === 1 && bondsOf(gb).length === 1, 30_000, 'bonded');
    });
  });

  it('mismatched_jwt_auth_config_prevents_bonding: a validator on one side only gives two ids and no bond', async () => {
    const sim = new Simulation({ seed: 4 });
    const [a, b] = nodes(sim, 2) as [Network, Network];
    await sim.run(async () => {
      await a.discovery.addTicket(token(a));
      await b.discovery.addTicket(token(b));
      const ga = a.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] });
      const gb = b.groups.join({ key: 'auth', machine: new Counter() });
      expect(ga.id.equals(gb.id)).toBe(false);
      await sim.sleep(5_000);
      expect(bondsOf(ga)).toEqual([]);
      expect(bondsOf(gb)).toEqual([]);
    });
  });

  it('multiple_ticket_validators: only nodes carrying both tickets bond', async () => {
    const sim = new Simulation({ seed: 5 });
    const [n0, n1, n2, n3] = nodes(sim, 4) as [Network, Network, Network, Network];
    await sim.run(async () => {
      const both = [validator(), validator(OTHER, 'other.auth')];
      for (const n of [n0, n1]) {
        await n.discovery.addTicket(token(n));
        await n.discovery.addTicket(token(n, { secret: OTHER, issuer: 'other.auth' }));
      }
      await n2.discovery.addTicket(token(n2));
      await n3.discovery.addTicket(token(n3, { secret: OTHER, issuer: 'other.auth' }));
      const gs = [n0, n1, n2, n3].map((n) => n.groups.join({ key: 'auth', machine: new Counter(), requireTickets: both }));
      await eventually(sim, () => bondsOf(gs[0] as Group<CounterCommand, null, number>).length === 1, 30_000, 'n0 bonded');
      await sim.sleep(5_000);
      expect(bondsOf(gs[0] as Group<CounterCommand, null, number>)).toEqual([n1.peerId.hex]);
      expect(bondsOf(gs[2] as Group<CounterCommand, null, number>)).toEqual([]);
      expect(bondsOf(gs[3] as Group<CounterCommand, null, number>)).toEqual([]);
    });
  });

  it('a ticket that expires while bonded closes the bond at its expiry', async () => {
    const sim = new Simulation({ seed: 6 });
    const [a, b] = nodes(sim, 2) as [Network, Network];
    await sim.run(async () => {
      await a.discovery.addTicket(token(a));
      const expS = EPOCH_S + 40; // b's ticket lapses 40 s into the run
      await b.discovery.addTicket(token(b, { expS }));
      const ga = a.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] });
      b.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] });
      await eventually(sim, () => bondsOf(ga).length === 1, 30_000, 'bonded');
      expect(sim.now).toBeLessThan(38_000);
      await eventually(sim, () => bondsOf(ga).length === 0, 60_000, 'bond closed at expiry');
      expect(sim.now).toBeGreaterThanOrEqual(40_000);
      expect(sim.now).toBeLessThan(41_000); // checked every heartbeat (500 ms)
    });
  });

  it('a node without an accepted ticket gets NotAllowedError, not OfflineError, and works once it adds one', async () => {
    const sim = new Simulation({ seed: 7 });
    const [n0, n1, n2] = nodes(sim, 3) as [Network, Network, Network];
    await sim.run(async () => {
      await n0.discovery.addTicket(token(n0));
      await n1.discovery.addTicket(token(n1));
      await n2.discovery.addTicket(token(n2, { secret: OTHER })); // signed with a key the validator does not hold
      const gs = [n0, n1, n2].map((n) => n.groups.join({ key: 'auth', machine: new Counter(), requireTickets: [validator()] }));
      const [g0, , g2] = gs as [Group<CounterCommand, null, number>, Group<CounterCommand, null, number>, Group<CounterCommand, null, number>];
      await g0.when.online();
      expect((await g0.execute({ op: 'inc', by: 1 })).result).toBe(1);
      const refused = await g2.execute({ op: 'inc', by: 1 }).then(
        () => undefined,
        (e: unknown) => e as { name: string; code: string; message: string },
      );
      expect(refused).toMatchObject({ name: 'NotAllowedError', code: 'NOT_ALLOWED' });
      expect(refused?.message).toContain('bad-signature');
      await expect(g2.query(null, 'strong')).rejects.toMatchObject({ name: 'NotAllowedError' });

      // With an accepted ticket it is let in, and its calls go through.
      await n2.discovery.addTicket(token(n2));
      await g2.when.online();
      expect((await g2.execute({ op: 'inc', by: 2 })).result).toBe(3);
    });
  });

  it('a validator that throws or answers garbage refuses the peer (validator-failed); the node goes on and the others bond', async () => {
    const sim = new Simulation({ seed: 8 });
    const [n0, n1, n2, n3] = nodes(sim, 4) as [Network, Network, Network, Network];
    const jwt = validator();
    const flaky: TicketValidator = {
      class: jwt.class,
      signature: Digest.from('groups.auth/flaky'),
      validate: (data, entry, nowMs) => {
        if (entry.peerId.equals(n2.peerId)) throw new Error('validator boom');
        if (entry.peerId.equals(n3.peerId)) return undefined as never;
        return jwt.validate(data, entry, nowMs);
      },
    };
    await sim.run(async () => {
      for (const n of [n0, n1, n2, n3]) await n.discovery.addTicket(token(n));
      const gs = [n0, n1, n2, n3].map((n) => n.groups.join({ key: 'flaky', machine: new Counter(), requireTickets: [flaky] }));
      const [g0, g1, g2, g3] = gs as Group<CounterCommand, null, number>[] as [
        Group<CounterCommand, null, number>,
        Group<CounterCommand, null, number>,
        Group<CounterCommand, null, number>,
        Group<CounterCommand, null, number>,
      ];
      await g0.when.online();
      expect((await g0.execute({ op: 'inc', by: 1 })).result).toBe(1);
      await sim.sleep(5_000);
      expect(bondsOf(g0)).toEqual([n1.peerId.hex]);
      expect(bondsOf(g1)).toEqual([n0.peerId.hex]);
      for (const g of [g2, g3]) {
        const refused = await g.execute({ op: 'inc', by: 1 }).then(
          () => undefined,
          (e: unknown) => e as { name: string; message: string },
        );
        expect(refused?.name).toBe('NotAllowedError');
        expect(refused?.message).toContain('validator-failed');
      }
      expect((await g1.execute({ op: 'inc', by: 2 })).result).toBe(3);
    });
  });
});
