import { type Network, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import type { Consumer, Producer } from '../../api/streams.ts';
import type { PeerEntry, Ticket } from '../../core/discovery/peer-entry.ts';
import type { StreamsEvent } from '../../core/streams/streams.ts';
import { TicketGate } from '../../core/streams/ticket-gate.ts';
import { JwtValidator } from '../../core/tickets/jwt.ts';
import { jwtTicket, signJwt } from '../../core/tickets/jwt-sign.ts';
import { SimulatedIntel, simulatedMeasurements } from '../../core/tickets/tdx/sim-provider.ts';
import { TdxValidator } from '../../core/tickets/tdx/validator.ts';
import { accept, expiresAt, reject, type TicketRejectionCode, type TicketValidator, ticketId } from '../../core/tickets/ticket.ts';
import { faultyTdxTicket, TDX_FAULT_REJECTIONS, type TdxFault } from '../../net-sim/attestation.ts';
import { SIM_EPOCH_MS } from '../../net-sim/sim-node.ts';
import { ticketsAttack } from '../../scenarios/tickets.ts';
import { cluster, converged, eventually, recordStreamsEvents, type Seen } from '../streams/helpers.ts';
import { ALICE, BOB, entryOf, NOW_MS } from './fixtures.ts';

/**
 * `requireTickets` on streams, in the simulator (mosaik's tickets/jwt.rs stream tests and
 * streams auth, reference §8). Simulated wall clocks start at SIM_EPOCH_MS; tokens are
 * signed synchronously (`signJwt`), so every run is the same.
 */

const SECRET = new Uint8Array(32).fill(7);
const OTHER_SECRET = new Uint8Array(32).fill(9);
const ISSUER = 'auth.test';
const EPOCH_S = SIM_EPOCH_MS / 1000;

const jwt = (options: { secret?: Uint8Array; issuer?: string } = {}) =>
  new JwtValidator({ keys: [{ alg: 'HS256', secret: options.secret ?? SECRET }], issuers: [options.issuer ?? ISSUER] });

/** A JWT ticket for `subject` (a peer), valid from an hour before the epoch until `expS` (epoch seconds). */
function token(subject: Network, options: { expS?: number; secret?: Uint8Array; issuer?: string; sub?: string } = {}): Ticket {
  const claims = { iss: options.issuer ?? ISSUER, sub: options.sub ?? subject.peerId.hex, iat: EPOCH_S - 3600, exp: options.expS ?? EPOCH_S + 3600 };
  return jwtTicket(signJwt({ alg: 'HS256', secret: options.secret ?? SECRET }, claims));
}

const intel = SimulatedIntel.fromSeed('intel');
const machine = intel.platform('machine-1');
const td = simulatedMeasurements('good-td');
const tdx = new TdxValidator({ trustedRoots: [intel.rootCertificate], mrtd: td.mrtd, maxAgeS: 86_400 });

function tdxBinding(net: Network) {
  return {
    peerId: net.peerId,
    network: net.networkId,
    startedAtMs: net.discovery.me().version.start,
    quotedAtMs: SIM_EPOCH_MS - 60_000,
    expiration: expiresAt(SIM_EPOCH_MS + 3_600_000),
  };
}

/** Adds tickets to `net`'s entry and waits until every other node holds that version. */
async function carry(sim: Simulation, nets: readonly Network[], net: Network, ...tickets: Ticket[]): Promise<PeerEntry> {
  let entry = net.discovery.me();
  for (const t of tickets) entry = await net.discovery.addTicket(t);
  await propagated(sim, nets, entry);
  return entry;
}

/** Waits until every other node holds `entry`'s version (or a later one). */
async function propagated(sim: Simulation, nets: readonly Network[], entry: PeerEntry): Promise<void> {
  const seenBy = (n: Network) => {
    const e = n.discovery.peers().find((p) => p.peerId.equals(entry.peerId));
    return e !== undefined && (e.version.start > entry.version.start || (e.version.start === entry.version.start && e.version.update >= entry.version.update));
  };
  await eventually(sim, () => nets.every((n) => n.peerId.equals(entry.peerId) || seenBy(n)), 30_000, `entry of ${entry.peerId.short} propagated`);
}

type Unsubscribed = StreamsEvent & { type: 'streams.unsubscribed' };
type Rejected = StreamsEvent & { type: 'streams.rejected' };

const rejections = (seen: readonly Seen[], at: Network, peer: Network): Rejected[] =>
  seen.flatMap((s) => (s.net === at && s.event.type === 'streams.rejected' && s.event.peer.equals(peer.peerId) ? [s.event] : []));

const drops = (seen: readonly Seen[], at: Network, peer: Network): (Unsubscribed & { atMs: number })[] =>
  seen.flatMap((s) => (s.net === at && s.event.type === 'streams.unsubscribed' && s.event.peer.equals(peer.peerId) ? [{ ...s.event, atMs: s.atMs }] : []));

const consumerPeers = (p: Producer<unknown>) => p.consumers().map((c) => c.consumer.hex);
const connectedProducers = (c: Consumer<unknown>) => c.producers().flatMap((i) => (i.state === 'connected' ? [i.producer.hex] : []));

describe('streams: requireTickets on producers', () => {
  it('tickets/jwt::stream_producer: accepts the consumer with a valid JWT, refuses one without (not-allowed, missing-ticket) and one for another subject', async () => {
    const sim = new Simulation({ seed: 301 });
    const nets = cluster(sim, 4);
    const [a, good, none, thief] = nets as [Network, Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      await carry(sim, nets, good, token(good));
      await carry(sim, nets, thief, token(thief, { sub: good.peerId.hex })); // good's claims, thief's entry
      const p = a.streams.producer<string>('auth', { requireTickets: [jwt()] });
      const consumers = [good, none, thief].map((n) => n.streams.consumer<string>('auth'));
      await p.when.subscribed();
      await sim.sleep(2_000);
      expect(consumerPeers(p)).toEqual([good.peerId.hex]);
      await p.send('hello');
      expect(await (consumers[0] as Consumer<string>).recv()).toBe('hello');

      const [noneRejected] = rejections(seen, a, none);
      expect(noneRejected?.reason).toBe('not-allowed');
      expect(noneRejected?.ticket?.code).toBe('missing-ticket');
      expect(rejections(seen, a, thief)[0]?.ticket?.code).toBe('wrong-subject');
      // The refused consumers see `not-allowed` and do not retry until the producer's entry changes.
      for (const n of [none, thief]) {
        const d = drops(seen, n, a);
        expect(d.map((e) => e.reason)).toEqual(['not-allowed']);
        expect(d[0]?.retryInMs).toBeUndefined();
      }
      expect(seen.some((s) => s.event.type === 'streams.subscribed' && (s.event.peer.equals(none.peerId) || s.event.peer.equals(thief.peerId)))).toBe(false);
    });
  });

  it('tickets/jwt::stream_producer_multiple_validators: only the consumer holding both tickets connects', async () => {
    const sim = new Simulation({ seed: 302 });
    const nets = cluster(sim, 4);
    const [a, both, alphaOnly, betaOnly] = nets as [Network, Network, Network, Network];
    const beta = jwt({ secret: OTHER_SECRET, issuer: 'beta' });
    await sim.run(async () => {
      await converged(sim, nets);
      const betaToken = (n: Network) => token(n, { secret: OTHER_SECRET, issuer: 'beta' });
      await carry(sim, nets, both, token(both), betaToken(both));
      await carry(sim, nets, alphaOnly, token(alphaOnly));
      await carry(sim, nets, betaOnly, betaToken(betaOnly));
      const p = a.streams.producer<string>('two', { requireTickets: [jwt(), beta] });
      for (const n of [both, alphaOnly, betaOnly]) n.streams.consumer<string>('two');
      await p.when.subscribed();
      await sim.sleep(2_000);
      expect(consumerPeers(p)).toEqual([both.peerId.hex]);
    });
  });

  it('tickets/jwt::stream_producer_ticket_expiry: a consumer is dropped (not-allowed, expired) when its 3 s ticket expires', async () => {
    const sim = new Simulation({ seed: 303 });
    const nets = cluster(sim, 2);
    const [a, b] = nets as [Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const expS = Math.ceil((SIM_EPOCH_MS + sim.now) / 1000) + 3;
      await carry(sim, nets, b, token(b, { expS }));
      const p = a.streams.producer<string>('short', { requireTickets: [jwt()] });
      const c = b.streams.consumer<string>('short');
      await p.when.subscribed();
      expect(SIM_EPOCH_MS + sim.now).toBeLessThan(expS * 1000);
      await sim.sleep(5_000);
      expect(p.consumers()).toEqual([]);
      expect(c.producers()).toEqual([]);
      const [dropped] = drops(seen, a, b);
      expect(dropped?.reason).toBe('not-allowed');
      expect(dropped?.ticket?.code).toBe('expired');
      // Dropped by the expiry timer, at the expiry, not at some later catalog change.
      expect(SIM_EPOCH_MS + (dropped?.atMs ?? 0)).toBe(expS * 1000);
      expect(drops(seen, b, a).map((e) => e.reason)).toEqual(['not-allowed']);
    });
  });

  it('revocation: removeTicket drops a subscribed consumer (not-allowed); adding a fresh ticket lets it back in', async () => {
    const sim = new Simulation({ seed: 304 });
    const nets = cluster(sim, 2);
    const [a, b] = nets as [Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const t = token(b);
      await carry(sim, nets, b, t);
      const p = a.streams.producer<string>('revoke', { requireTickets: [jwt()] });
      b.streams.consumer<string>('revoke');
      await p.when.subscribed();
      const revoked = await b.discovery.removeTicket(ticketId(t));
      expect(revoked.tickets).toEqual([]);
      await p.when.unsubscribed();
      const [dropped] = drops(seen, a, b);
      expect(dropped?.reason).toBe('not-allowed');
      expect(dropped?.ticket?.code).toBe('missing-ticket');
      // A new ticket (a new version of b's entry) is accepted once the consumer dials again,
      // which it does at the producer's next entry version (a tag change here).
      await carry(sim, nets, b, token(b, { expS: EPOCH_S + 7200 }));
      await a.discovery.addTags('again');
      await p.when.subscribed();
      expect(consumerPeers(p)).toEqual([b.peerId.hex]);
    });
  });

  it('tdx: a TDX-gated producer accepts a genuine simulated quote and refuses each attack with its typed reason', async () => {
    const sim = new Simulation({ seed: 305 });
    const faults: TdxFault[] = ['forged-quote', 'tampered-body', 'wrong-measurements', 'copied-ticket', 'old-quote'];
    const nets = cluster(sim, 2 + faults.length);
    const [a, genuine, ...attackers] = nets as [Network, Network, ...Network[]];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const victimTicket = machine.ticket(tdxBinding(genuine), td);
      await carry(sim, nets, genuine, victimTicket);
      for (const [i, fault] of faults.entries()) {
        const n = attackers[i] as Network;
        await carry(sim, nets, n, faultyTdxTicket(fault, { platform: machine, measurements: td, binding: tdxBinding(n), victimTicket, ageMs: 2 * 86_400_000 }));
      }
      const p = a.streams.producer<string>('enclave', { requireTickets: [tdx] });
      for (const n of [genuine, ...attackers]) n.streams.consumer<string>('enclave');
      await p.when.subscribed();
      await sim.sleep(2_000);
      expect(consumerPeers(p)).toEqual([genuine.peerId.hex]);
      for (const [i, fault] of faults.entries()) {
        const [r] = rejections(seen, a, attackers[i] as Network);
        expect(r?.reason, fault).toBe('not-allowed');
        expect(r?.ticket?.code, fault).toBe(TDX_FAULT_REJECTIONS[fault]);
      }
    });
  });
});

describe('streams: requireTickets on consumers', () => {
  it('tickets/jwt::stream_consumer: subscribes only to the producer with a valid ticket (not the expired one, not the one without)', async () => {
    const sim = new Simulation({ seed: 311 });
    const nets = cluster(sim, 4);
    const [c0, valid, expired, none] = nets as [Network, Network, Network, Network];
    await sim.run(async () => {
      await converged(sim, nets);
      await carry(sim, nets, valid, token(valid));
      await carry(sim, nets, expired, token(expired, { expS: EPOCH_S - 60 }));
      const producers = [valid, expired, none].map((n) => n.streams.producer<string>('feed', { onlineWhen: (c) => c.minimumOf(0) }));
      await propagated(sim, nets, none.discovery.me());
      await propagated(sim, nets, expired.discovery.me());
      const c = c0.streams.consumer<string>('feed', { requireTickets: [jwt()] });
      await c.when.subscribed();
      await sim.sleep(2_000);
      expect(c.producers().map((i) => i.producer.hex)).toEqual([valid.peerId.hex]);
      await (producers[0] as Producer<string>).send('data flows');
      expect(await c.recv()).toBe('data flows');
    });
  });

  it('tickets/jwt::stream_consumer_ticket_expiry: a 3 s producer ticket works, then the consumer drops it (not-allowed, expired)', async () => {
    const sim = new Simulation({ seed: 312 });
    const nets = cluster(sim, 2);
    const [c0, prod] = nets as [Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const expS = Math.ceil((SIM_EPOCH_MS + sim.now) / 1000) + 3;
      await carry(sim, nets, prod, token(prod, { expS }));
      const p = prod.streams.producer<string>('short', { onlineWhen: (c) => c.minimumOf(0) });
      await propagated(sim, nets, prod.discovery.me());
      const c = c0.streams.consumer<string>('short', { requireTickets: [jwt()] });
      await c.when.subscribed();
      await p.send('before');
      expect(await c.recv()).toBe('before');
      await sim.sleep(5_000);
      expect(c.producers()).toEqual([]);
      const [dropped] = drops(seen, c0, prod);
      expect(dropped?.reason).toBe('not-allowed');
      expect(dropped?.ticket?.code).toBe('expired');
      expect(SIM_EPOCH_MS + (dropped?.atMs ?? 0)).toBe(expS * 1000);
      expect(p.consumers()).toEqual([]);
    });
  });

  it('revocation: a producer that drops its ticket is unsubscribed; a TDX-requiring consumer ignores a forged quote', async () => {
    const sim = new Simulation({ seed: 313 });
    const nets = cluster(sim, 3);
    const [c0, honest, forger] = nets as [Network, Network, Network];
    const seen = recordStreamsEvents(sim);
    await sim.run(async () => {
      await converged(sim, nets);
      const genuine = machine.ticket(tdxBinding(honest), td);
      await carry(sim, nets, honest, genuine);
      await carry(sim, nets, forger, faultyTdxTicket('forged-quote', { platform: machine, measurements: td, binding: tdxBinding(forger) }));
      for (const n of [honest, forger]) n.streams.producer<string>('tee', { onlineWhen: (c) => c.minimumOf(0) });
      await propagated(sim, nets, honest.discovery.me());
      await propagated(sim, nets, forger.discovery.me());
      const c = c0.streams.consumer<string>('tee', { requireTickets: [tdx] });
      await c.when.subscribed();
      await sim.sleep(2_000);
      expect(connectedProducers(c)).toEqual([honest.peerId.hex]);
      expect(c.producers().some((i) => i.producer.equals(forger.peerId))).toBe(false);
      await honest.discovery.removeTicket(ticketId(genuine));
      await c.when.unsubscribed();
      const [dropped] = drops(seen, c0, honest);
      expect(dropped?.reason).toBe('not-allowed');
      expect(dropped?.ticket?.code).toBe('missing-ticket');
    });
  });
});

describe('TicketGate', () => {
  /** A validator that counts its calls and answers what `answer` says. */
  function counting(answer: (nowMs: number) => ReturnType<TicketValidator['validate']>) {
    const base = jwt();
    const v = {
      calls: 0,
      class: base.class,
      signature: base.signature,
      validate(_data: Uint8Array, _entry: PeerEntry, nowMs: number) {
        v.calls++;
        return answer(nowMs);
      },
    };
    return v;
  }
  const withTicket = entryOf(ALICE, [jwtTicket('a.b.c')]);

  it('memoises an acceptance until its expiration, then answers expired without asking again', () => {
    const gate = new TicketGate();
    const v = counting(() => accept(expiresAt(NOW_MS + 1_000)));
    expect(gate.check([v], withTicket, NOW_MS).ok).toBe(true);
    expect(gate.check([v], withTicket, NOW_MS + 999).ok).toBe(true);
    const late = gate.check([v], withTicket, NOW_MS + 1_000);
    expect(late.ok ? 'ok' : late.reason.code).toBe('expired');
    expect(v.calls).toBe(1);
    expect(gate.stats).toEqual({ hits: 2, misses: 1 });
  });

  it('memoises refusals time cannot change, and asks again for the others', () => {
    const gate = new TicketGate();
    const bad = counting(() => reject('bad-signature', 'no'));
    gate.check([bad], withTicket, NOW_MS);
    gate.check([bad], withTicket, NOW_MS + 10);
    expect(bad.calls).toBe(1);
    // (A fresh gate: both validators have one signature, so they would share memo entries.)
    const fresh = new TicketGate();
    const early = counting((nowMs) => (nowMs < NOW_MS + 5 ? reject('not-yet-valid', 'soon') : accept(expiresAt(NOW_MS + 60_000))));
    const codes: (TicketRejectionCode | 'ok')[] = [NOW_MS, NOW_MS + 10].map((t) => {
      const r = fresh.check([early], withTicket, t);
      return r.ok ? 'ok' : r.reason.code;
    });
    expect(codes).toEqual(['not-yet-valid', 'ok']);
    expect(early.calls).toBe(2);
  });

  it('a validator that throws or answers garbage refuses (validator-failed) and is asked again next time', () => {
    const gate = new TicketGate();
    let answer: () => ReturnType<TicketValidator['validate']> = () => {
      throw new Error('validator boom');
    };
    const flaky = counting(() => answer());
    const codeAt = (t: number) => {
      const r = gate.check([flaky], withTicket, t);
      return r.ok ? 'ok' : r.reason.code;
    };
    expect(codeAt(NOW_MS)).toBe('validator-failed');
    answer = () => undefined as never;
    expect(codeAt(NOW_MS)).toBe('validator-failed');
    answer = () => ({ ok: true, expiration: { kind: 'at', atMs: Number.NaN } });
    expect(codeAt(NOW_MS)).toBe('validator-failed');
    answer = () => accept(expiresAt(NOW_MS + 60_000));
    expect(codeAt(NOW_MS)).toBe('ok');
    expect(flaky.calls).toBe(4);
  });

  it('keys on the ticket and the peer: the same ticket carried by another peer is validated again; the memo is bounded', () => {
    const gate = new TicketGate(2);
    const v = counting(() => accept(expiresAt(NOW_MS + 60_000)));
    const [t1, t2] = [jwtTicket('a.b.c'), jwtTicket('x.y.z')];
    gate.check([v], entryOf(ALICE, [t1]), NOW_MS);
    gate.check([v], entryOf(BOB, [t1]), NOW_MS);
    gate.check([v], entryOf(ALICE, [t1]), NOW_MS);
    expect(v.calls).toBe(2);
    gate.check([v], entryOf(ALICE, [t2]), NOW_MS); // evicts the oldest: (t1, ALICE)
    gate.check([v], entryOf(ALICE, [t1]), NOW_MS);
    expect(v.calls).toBe(4);
  });
});

// More seeds: `npx mosaik sim campaign tickets-attack --seeds 1-200 --jobs 1`.
describe('tickets-attack scenario', () => {
  it('holds over seeds 1-2 under swarm faults: attackers refused with their reasons, honest nodes subscribed', async () => {
    for (const seed of [1, 2]) {
      const result = await ticketsAttack.run({ seed });
      expect(result.violations, `seed ${seed}`).toEqual([]);
      expect(result.details.subscribedAfterMs, `seed ${seed}`).toBeDefined();
    }
  });

  it('without faults, the producer refuses every attacker with the reason of its attack', async () => {
    const result = await ticketsAttack.run({ seed: 3, faults: 'none' });
    expect(result.violations).toEqual([]);
    const refusals = result.details.refusals as Record<string, number>;
    for (const code of ['untrusted-chain', 'bad-signature', 'measurement-mismatch', 'wrong-binding', 'too-old', 'expired', 'wrong-subject', 'missing-ticket'])
      expect(refusals[code], code).toBeGreaterThan(0);
  });

  it('the no-intruder checker catches a producer that does not enforce requireTickets', async () => {
    const result = await ticketsAttack.run({ seed: 1, plantedBugs: ['no-ticket-enforcement'] });
    expect(result.ok).toBe(false);
    const intruders = result.violations.filter((v) => v.checker === 'tickets-no-intruder' && /accepted attacker/.test(v.message));
    expect(intruders.length).toBeGreaterThan(0);
  });
});
