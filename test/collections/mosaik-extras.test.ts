import type { Network } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { Group } from '../../api/groups.ts';
import type { Ticket } from '../../core/discovery/peer-entry.ts';
import type { GroupId } from '../../core/identity/digest.ts';
import { JwtValidator } from '../../core/tickets/jwt.ts';
import { jwtTicket, signJwt } from '../../core/tickets/jwt-sign.ts';
import { SIM_EPOCH_MS } from '../../net-sim/sim-node.ts';
import { ALL_DRIVERS, type Driver, expectEverywhere, Model, setup } from './helpers.ts';

/**
 * mosaik's collection bugs we fixed (reference `mosaik-streams-collections.md` §6) and its
 * auth tests (§4 Collections, auth::*), in the simulator.
 */

/** The group behind a handle (mosaik's `group_id()`; ours keeps it internal). */
const groupId = (h: unknown): GroupId => (h as { group: Group<unknown, unknown, unknown> }).group.id;

describe('a second handle on one node (mosaik §6.9: it never updates)', () => {
  it.each(ALL_DRIVERS.map((d) => [d.kind, d] as const))(
    '%s: a writer then a reader on one node; the reader sees every write',
    async (_kind, driver: Driver) => {
      await setup(401, 2, async (_sim, [a, b]) => {
        const w = driver.writer(a as Network, 'twice');
        const same = driver.reader(a as Network, 'twice');
        const remote = driver.reader(b as Network, 'twice');
        await w.when.online();
        await same.when.online();
        const model = new Model(driver);
        let v = 0;
        for (const i of [1, 2, 3]) {
          v = await w.write(i);
          model.write(i);
          // The second handle on the writer's node is as fresh as the writer.
          expect(same.version).toBe(w.version);
          expect(same.contents()).toEqual(model.expected);
        }
        await expectEverywhere([w, same, remote], v, model.expected);
      });
    },
  );

  it.each(ALL_DRIVERS.map((d) => [d.kind, d] as const))('%s: two writers on one node see each other’s writes', async (_kind, driver: Driver) => {
    await setup(402, 2, async (_sim, [a, b]) => {
      const w1 = driver.writer(a as Network, 'two');
      const w2 = driver.writer(a as Network, 'two');
      const remote = driver.reader(b as Network, 'two');
      await w1.when.online();
      const model = new Model(driver);
      let v = 0;
      for (const i of [1, 2, 3, 4]) {
        const w = i % 2 === 0 ? w2 : w1;
        v = await w.write(i);
        model.write(i);
        expect(w1.contents()).toEqual(model.expected);
        expect(w2.contents()).toEqual(model.expected);
      }
      await expectEverywhere([w1, w2, remote], v, model.expected);
    });
  });

  it('a reader first, then a writer, on one node that is not the only writer: both update, the writer writes', async () => {
    await setup(403, 2, async (_sim, [a, b]) => {
      const w = (a as Network).collections.map<string, number>('order');
      const r = (b as Network).collections.map<string, number>('order', { reader: true });
      const w2 = (b as Network).collections.map<string, number>('order');
      await w.when.online();
      await r.when.online();
      await w.insert('a', 1);
      const v = await w2.insert('b', 2);
      expect(w2.isReader).toBe(false);
      expect(r.isReader).toBe(true);
      for (const h of [w, r, w2]) {
        await h.when.reaches(v);
        expect([...h.entries()]).toEqual([
          ['a', 1],
          ['b', 2],
        ]);
      }
      // The reader handle still cannot write, whatever the node's other handles do.
      await expect((r as unknown as { insert(k: string, v: number): Promise<number> }).insert('c', 3)).rejects.toThrow(/reader/);
      // The node keeps the first handle's role (docs/collections.md): a learner, not a voter.
      const members = (w2 as unknown as { group: Group<unknown, unknown, unknown> }).group.members();
      expect(members.learners).toContain((b as Network).peerId.hex);
      expect(members.voters).not.toContain((b as Network).peerId.hex);
    });
  });
});

const SECRET_A = new Uint8Array(32).fill(7);
const SECRET_B = new Uint8Array(32).fill(3);
const EPOCH_S = SIM_EPOCH_MS / 1000;
const validator = (secret = SECRET_A, issuer = 'collections.auth') => new JwtValidator({ keys: [{ alg: 'HS256', secret }], issuers: [issuer] });

function token(net: Network, options: { expS?: number; secret?: Uint8Array; issuer?: string } = {}): Ticket {
  const claims = { iss: options.issuer ?? 'collections.auth', sub: net.peerId.hex, iat: EPOCH_S - 3600, exp: options.expS ?? EPOCH_S + 3600 };
  return jwtTicket(signJwt({ alg: 'HS256', secret: options.secret ?? SECRET_A }, claims));
}

describe('auth (mosaik collections auth::*)', () => {
  it.each(ALL_DRIVERS.map((d) => [d.kind, d] as const))(
    '%s_auth_tickets: a ticketed writer and reader replicate; ticketless and expired-ticket readers stay empty',
    async (_kind, driver: Driver) => {
      await setup(411, 4, async (sim, [a, b, c, d]) => {
        await (a as Network).discovery.addTicket(token(a as Network));
        await (b as Network).discovery.addTicket(token(b as Network));
        await (d as Network).discovery.addTicket(token(d as Network, { expS: EPOCH_S - 60 }));
        const options = { requireTickets: [validator()] };
        const w = driver.writer(a as Network, 'auth', options);
        const r = driver.reader(b as Network, 'auth', options);
        const none = driver.reader(c as Network, 'auth', options);
        const expired = driver.reader(d as Network, 'auth', options);
        await w.when.online();
        const model = new Model(driver);
        let v = 0;
        for (const i of [1, 2, 3]) {
          v = await w.write(i);
          model.write(i);
        }
        await expectEverywhere([w, r], v, model.expected);
        await sim.sleep(5_000);
        expect(none.contents()).toEqual([]);
        expect(expired.contents()).toEqual([]);
        expect(none.version).toBe(0);
        expect(expired.version).toBe(0);
      });
    },
  );

  it('multiple validators: a member must carry both tickets; one of the two is not enough', async () => {
    await setup(412, 3, async (sim, [a, b, c]) => {
      for (const n of [a, b] as Network[]) {
        await n.discovery.addTicket(token(n));
        await n.discovery.addTicket(token(n, { secret: SECRET_B, issuer: 'other.auth' }));
      }
      await (c as Network).discovery.addTicket(token(c as Network));
      const options = { requireTickets: [validator(), validator(SECRET_B, 'other.auth')] };
      const w = (a as Network).collections.set<string>('both', options);
      const r = (b as Network).collections.set<string>('both', { ...options, reader: true });
      const half = (c as Network).collections.set<string>('both', { ...options, reader: true });
      await w.when.online();
      const v = await w.extend(['x', 'y']);
      await r.when.reaches(v);
      expect([...r]).toEqual(['x', 'y']);
      await sim.sleep(5_000);
      expect([...half]).toEqual([]);
    });
  });

  it('different_auths_produce_different_group_ids: validators A, B and none give three collections on one node', async () => {
    await setup(413, 2, async (_sim, [a, b]) => {
      const na = a as Network;
      await na.discovery.addTicket(token(na));
      await na.discovery.addTicket(token(na, { secret: SECRET_B, issuer: 'other.auth' }));
      const withA = na.collections.map<string, string>('ids', { requireTickets: [validator()] });
      const withB = na.collections.map<string, string>('ids', { requireTickets: [validator(SECRET_B, 'other.auth')] });
      const plain = na.collections.map<string, string>('ids');
      const ids = [withA, withB, plain].map((h) => groupId(h).hex);
      expect(new Set(ids).size).toBe(3);
      // The same validator (a new instance) gives the same id, on another node too.
      expect(groupId(na.collections.map<string, string>('ids', { requireTickets: [validator()] })).hex).toBe(ids[0]);
      expect(groupId((b as Network).collections.map<string, string>('ids', { reader: true, requireTickets: [validator()] })).hex).toBe(ids[0]);
      // Three collections: each keeps its own contents.
      for (const h of [withA, withB, plain]) await h.when.online();
      await withA.insert('k', 'A');
      await withB.insert('k', 'B');
      await plain.insert('k', 'none');
      expect([withA.get('k'), withB.get('k'), plain.get('k')]).toEqual(['A', 'B', 'none']);
    });
  });

  it('kind, type tag and name are part of the id as well', async () => {
    await setup(414, 1, async (_sim, [a]) => {
      const n = a as Network;
      const ids = [
        groupId(n.collections.map('x')),
        groupId(n.collections.set('x')),
        groupId(n.collections.vec('x')),
        groupId(n.collections.cell('x')),
        groupId(n.collections.once('x')),
        groupId(n.collections.priorityQueue('x')),
        groupId(n.collections.priorityQueue('x', { capacity: 5 })),
        groupId(n.collections.map('x', { typeTag: 'string->number' })),
        groupId(n.collections.map('y')),
      ].map((id) => id.hex);
      expect(new Set(ids).size).toBe(ids.length);
    });
  });
});
