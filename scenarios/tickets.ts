import type { StateMachine } from '../api/groups.ts';
import type { Network } from '../api/network.ts';
import type { Consumer, Producer } from '../api/streams.ts';
import type { Ticket } from '../core/discovery/peer-entry.ts';
import { Digest } from '../core/identity/digest.ts';
import { SecretKey } from '../core/identity/keys.ts';
import { JwtValidator } from '../core/tickets/jwt.ts';
import { jwtTicket, signJwt } from '../core/tickets/jwt-sign.ts';
import { SimulatedIntel, simulatedMeasurements } from '../core/tickets/tdx/sim-provider.ts';
import type { TdxBinding } from '../core/tickets/tdx/ticket-data.ts';
import { TdxValidator } from '../core/tickets/tdx/validator.ts';
import { expiresAt, type TicketValidator, ticketId } from '../core/tickets/ticket.ts';
import { faultyTdxTicket } from '../net-sim/attestation.ts';
import type { Checker } from '../net-sim/checker.ts';
import { SIM_EPOCH_MS } from '../net-sim/sim-node.ts';
import { SCENARIO_DISCOVERY_TIMING, type Scenario, scenarioResult, scenarioSimulation } from './scenario.ts';
import { fifoPerLinkChecker } from './streams.ts';

/**
 * `tickets-attack`: a producer requires a JWT and a TDX attestation of its consumers
 * (`requireTickets`), and honest consumers require the same of producers. Honest nodes carry
 * both tickets; each attacker carries one genuine ticket and one attack (or nothing), so the
 * attack alone is what must keep it out:
 *
 * | attacker             | carries                                                  | refused with           |
 * | -------------------- | -------------------------------------------------------- | ---------------------- |
 * | `forged-quote`       | JWT + a quote from a self-made "Intel"; also produces    | `untrusted-chain`      |
 * | `tampered-body`      | JWT + a genuine quote with MRTD edited                   | `bad-signature`        |
 * | `wrong-measurements` | JWT + a genuine quote of another TD                      | `measurement-mismatch` |
 * | `copied-ticket`      | JWT + an honest node's TDX ticket                        | `wrong-binding`        |
 * | `old-quote`          | JWT + a genuine quote 60 days old (maxAgeS 30 days)      | `too-old`              |
 * | `expired-jwt`        | TDX + a JWT that expired before the run                  | `expired`              |
 * | `other-subject-jwt`  | TDX + an honest node's JWT claims (`sub` another peer)   | `wrong-subject`        |
 * | `no-ticket`          | nothing                                                  | `missing-ticket`       |
 *
 * Two more nodes start honest: `expiring` holds a JWT that expires 20 s into the run, and
 * `revoked` removes its JWT 30 s in (`removeTicket`). Swarm faults run for a minute (crashed
 * nodes lose their tickets, which are not durable, and the workload adds them again).
 *
 * Checked throughout (checker `tickets-no-intruder`, on `streams.subscribed` events): the
 * producer never accepts an attacker; no honest consumer subscribes to the forged-quote
 * node's producer; once the faults stop (wall clocks right again, well past its expiry) the
 * producer never accepts `expiring`. At the end: within RESUBSCRIBE_BOUND_MS of the faults
 * stopping, every honest node holds a subscription at the producer and its consumer is
 * connected to it; `expiring` and `revoked` hold none.
 *
 * Groups too: every node joins one group requiring the same tickets. The checker fails if an
 * honest node ever bonds with an attacker (or with `expiring` once clocks are right); at the
 * end every honest node is bonded with every other, and none with `expiring` or `revoked`.
 */

const NETWORK = 'tickets-attack';
const STREAM = 'attested';
const TIMING = SCENARIO_DISCOVERY_TIMING;
const FAULTS_MS = 60_000;
const TICK_MS = 500;
const EXPIRING_AFTER_MS = 20_000;
const REVOKE_AT_MS = 30_000;
/** After faults stop, every honest node must be subscribed within this long (a refused consumer waits for the producer's next entry version: up to 1.5 refresh intervals). */
const RESUBSCRIBE_BOUND_MS = 150_000;
/** After every honest node is in, how long the run goes on, then the final look. */
const SETTLE_MS = 20_000;

const GROUP_KEY = 'tickets-attack-group';

/** The group's machine: the scenario checks bonds, not commands. */
class NoopMachine implements StateMachine<null, null, null> {
  readonly signature = 'mosaik-ts/scenario/tickets-attack/noop/1';
  apply(): null {
    return null;
  }
  query(): null {
    return null;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

const ATTACKS = ['forged-quote', 'tampered-body', 'wrong-measurements', 'copied-ticket', 'old-quote', 'expired-jwt', 'other-subject-jwt', 'no-ticket'] as const;
type Attack = (typeof ATTACKS)[number];

const HS_SECRET = new Uint8Array(32).fill(0x5a);
const ISSUER = 'tickets-attack.issuer';
const DAY_MS = 86_400_000;
const EPOCH_S = SIM_EPOCH_MS / 1000;

/** The validators everyone honest enforces. TDX first: `validateTickets` stops at the first refusal, and the memo makes repeats free. */
interface Authority {
  readonly validators: readonly TicketValidator[];
  readonly intel: SimulatedIntel;
}

type Role =
  | { readonly kind: 'producer' }
  | { readonly kind: 'honest'; readonly i: number }
  | { readonly kind: 'attacker'; readonly attack: Attack }
  | { readonly kind: 'expiring' }
  | { readonly kind: 'revoked' };

function roleName(role: Role): string {
  switch (role.kind) {
    case 'honest':
      return `honest-${role.i}`;
    case 'attacker':
      return role.attack;
    default:
      return role.kind;
  }
}

/** Keys and tickets do not depend on the seed (faults do): built once per process, they cost one TDX signing each. */
interface Cast {
  readonly authority: Authority;
  readonly roles: readonly Role[];
  readonly keys: readonly SecretKey[];
  /** Tickets each node carries at start, by role index. */
  readonly tickets: readonly (readonly Ticket[])[];
  /** The JWT `revoked` removes. */
  readonly revokedJwt: Ticket;
}

const casts = new Map<number, Cast>();

function castOf(honestCount: number): Cast {
  const known = casts.get(honestCount);
  if (known) return known;
  const intel = SimulatedIntel.fromSeed('tickets-attack.intel');
  const machine = intel.platform('tickets-attack.machine');
  const td = simulatedMeasurements('tickets-attack.td');
  const validators = [
    new TdxValidator({ trustedRoots: [intel.rootCertificate], mrtd: td.mrtd, rtmr: td.rtmr, maxAgeS: (30 * DAY_MS) / 1000 }),
    new JwtValidator({ keys: [{ alg: 'HS256', secret: HS_SECRET }], issuers: [ISSUER] }),
  ];
  const roles: Role[] = [
    { kind: 'producer' },
    ...Array.from({ length: honestCount }, (_, i): Role => ({ kind: 'honest', i })),
    ...ATTACKS.map((attack): Role => ({ kind: 'attacker', attack })),
    { kind: 'expiring' },
    { kind: 'revoked' },
  ];
  const keys = roles.map((r) => SecretKey.fromSeed(`tickets-attack/${roleName(r)}`));
  const network = Digest.from(NETWORK);
  const binding = (k: SecretKey): TdxBinding => ({
    peerId: k.peerId,
    network,
    startedAtMs: SIM_EPOCH_MS - DAY_MS,
    quotedAtMs: SIM_EPOCH_MS - DAY_MS,
    expiration: expiresAt(SIM_EPOCH_MS + 30 * DAY_MS),
  });
  const jwt = (subjectHex: string, expS = EPOCH_S + 7 * 86_400) =>
    jwtTicket(signJwt({ alg: 'HS256', secret: HS_SECRET }, { iss: ISSUER, sub: subjectHex, iat: EPOCH_S - 86_400, exp: expS }));
  const genuineTdx = (k: SecretKey) => machine.ticket(binding(k), td);
  const firstHonest = keys[1] as SecretKey;
  const victimTicket = genuineTdx(firstHonest);
  const fault = (k: SecretKey, f: 'forged-quote' | 'tampered-body' | 'wrong-measurements' | 'copied-ticket' | 'old-quote') =>
    faultyTdxTicket(f, { platform: machine, measurements: td, binding: binding(k), victimTicket, ageMs: 60 * DAY_MS });
  let revokedJwt: Ticket | undefined;
  const tickets = roles.map((role, i): readonly Ticket[] => {
    const k = keys[i] as SecretKey;
    switch (role.kind) {
      case 'producer':
      case 'honest':
        return [genuineTdx(k), jwt(k.peerId.hex)];
      case 'expiring':
        return [genuineTdx(k), jwt(k.peerId.hex, EPOCH_S + EXPIRING_AFTER_MS / 1000)];
      case 'revoked':
        revokedJwt = jwt(k.peerId.hex);
        return [genuineTdx(k), revokedJwt];
    }
    // an attacker
    if (role.attack === 'expired-jwt') return [genuineTdx(k), jwt(k.peerId.hex, EPOCH_S - 60)];
    if (role.attack === 'other-subject-jwt') return [genuineTdx(k), jwt(firstHonest.peerId.hex)];
    if (role.attack === 'no-ticket') return [];
    return [fault(k, role.attack), jwt(k.peerId.hex)];
  });
  const cast: Cast = { authority: { validators, intel }, roles, keys, tickets, revokedJwt: revokedJwt as Ticket };
  casts.set(honestCount, cast);
  return cast;
}

/**
 * Safety, on the `streams.subscribed` events: the producer never accepts an attacker (nor
 * `expiring` once clocks are right after its expiry), and no honest consumer subscribes to
 * the rogue producer. Counts the producer's refusals by ticket code for the run's details.
 */
export function noIntruderChecker(
  producerNet: Network,
  intruders: ReadonlyMap<string, string>,
  rogue: Network,
  honest: ReadonlySet<Network>,
  late: { expiringHex: string; clocksRight: boolean },
  refusals: Map<string, number>,
): Checker {
  return {
    name: 'tickets-no-intruder',
    onEvent(view, net, event) {
      if (event.type === 'streams.rejected' && net === producerNet) {
        const code = event.ticket?.code ?? event.reason;
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
      }
      if (event.type === 'group.bond' && event.up && honest.has(net)) {
        const who = intruders.get(event.peer.hex);
        if (who !== undefined) view.violate('tickets-no-intruder', `honest ${net.peerId.short} bonded with attacker ${who} (${event.peer.short}) in the group`);
        if (late.clocksRight && event.peer.hex === late.expiringHex)
          view.violate('tickets-no-intruder', `honest ${net.peerId.short} bonded with expiring (${event.peer.short}) after its JWT expired`);
      }
      if (event.type !== 'streams.subscribed') return;
      if (net === producerNet && event.role === 'producer') {
        const who = intruders.get(event.peer.hex);
        if (who !== undefined) view.violate('tickets-no-intruder', `the producer accepted attacker ${who} (${event.peer.short})`);
        if (late.clocksRight && event.peer.hex === late.expiringHex)
          view.violate('tickets-no-intruder', `the producer accepted expiring (${event.peer.short}) after its JWT expired`);
      }
      if (event.role === 'consumer' && honest.has(net) && event.peer.equals(rogue.peerId)) {
        view.violate('tickets-no-intruder', `honest ${net.peerId.short} subscribed to the forged-quote producer`);
      }
    },
  };
}

export const ticketsAttack: Scenario = {
  name: 'tickets-attack',
  description:
    'a producer requiring JWT + TDX tickets, honest nodes with valid tickets, attackers with forged/tampered/copied/old quotes, expired/foreign/no JWTs, under swarm faults: no attacker ever subscribes; afterwards every honest node does',
  defaultNodes: 15,
  plantedBugs: { 'no-ticket-enforcement': 'producers and group members never check requireTickets (at subscribe or bond, on entry changes, on expiry)' },
  async run(options) {
    const wallStart = performance.now();
    const count = options.nodes ?? 15;
    const fixed = 1 + ATTACKS.length + 2;
    if (!Number.isInteger(count) || count < fixed + 1) throw new RangeError(`tickets-attack needs at least ${fixed + 1} nodes, got ${count}`);
    const cast = castOf(count - fixed);
    const { validators } = cast.authority;
    const sim = scenarioSimulation(options);
    const ignoreTickets = options.plantedBugs?.includes('no-ticket-enforcement') ?? false;
    const plantedBugs = { streams: { ignoreTickets }, groups: { ignoreTickets } };
    const first = sim.node({ network: NETWORK, secretKey: cast.keys[0] as SecretKey, discovery: TIMING, plantedBugs });
    const nets = [
      first,
      ...cast.keys.slice(1).map((secretKey) => sim.node({ network: NETWORK, secretKey, bootstrap: [first.addr], discovery: TIMING, plantedBugs })),
    ];
    const byRole = (test: (r: Role) => boolean) => nets.filter((_, i) => test(cast.roles[i] as Role));
    const producerNet = first;
    const honestNets = byRole((r) => r.kind === 'honest');
    const expiringNet = byRole((r) => r.kind === 'expiring')[0] as Network;
    const revokedNet = byRole((r) => r.kind === 'revoked')[0] as Network;
    const rogueNet = byRole((r) => r.kind === 'attacker' && r.attack === 'forged-quote')[0] as Network;
    const intruders = new Map(nets.flatMap((n, i) => (cast.roles[i]?.kind === 'attacker' ? [[n.peerId.hex, roleName(cast.roles[i] as Role)] as const] : [])));
    /** Consumers that enforce tickets on producers: everyone who means well. */
    const enforcing = new Set([...honestNets, expiringNet, revokedNet]);
    const late = { expiringHex: expiringNet.peerId.hex, clocksRight: false };
    const refusals = new Map<string, number>();
    sim.addChecker(noIntruderChecker(producerNet, intruders, rogueNet, new Set(honestNets), late, refusals));
    sim.addChecker(fifoPerLinkChecker()); // a streams scenario like the others: FIFO per link, no duplicates
    const problems: { message: string; atMs: number }[] = [];

    let revoked = false;
    const pending = new Set<Network>();
    const producers = new Map<Network, Producer<number>>();
    const consumers = new Map<Network, Consumer<number>>();
    const received = new Map<Network, number>();

    /** The tickets a node should carry now: its own, less the revoked JWT once revoked. */
    const wanted = (i: number): readonly Ticket[] => {
      const all = cast.tickets[i] ?? [];
      return revoked && nets[i] === revokedNet ? all.filter((t) => t !== cast.revokedJwt) : all;
    };
    /** Brings a live node's tickets to what it should carry (crashes lose them); true when they are. */
    const ensureTickets = (net: Network, i: number): boolean => {
      if (pending.has(net)) return false;
      const held = new Map(net.discovery.me().tickets.map((t) => [ticketId(t).hex, ticketId(t)] as const));
      const want = wanted(i);
      const missing = want.filter((t) => !held.has(ticketId(t).hex));
      const extra = [...held].flatMap(([hex, id]) => (want.some((t) => ticketId(t).hex === hex) ? [] : [id]));
      if (missing.length === 0 && extra.length === 0) return true;
      pending.add(net);
      void (async () => {
        try {
          for (const id of extra) await net.discovery.removeTicket(id);
          for (const t of missing) await net.discovery.addTicket(t);
        } catch (e) {
          if (!(e instanceof Error && (e.name === 'NodeDownError' || e.name === 'ClosedError'))) throw e;
        } finally {
          pending.delete(net);
        }
      })();
      return false;
    };
    const ensureConsumer = (net: Network): void => {
      const existing = consumers.get(net);
      if (existing && !existing.closed) return;
      const c = net.streams.consumer<number>(STREAM, enforcing.has(net) ? { requireTickets: validators } : {});
      consumers.set(net, c);
      void (async () => {
        try {
          for await (const _ of c) received.set(net, (received.get(net) ?? 0) + 1);
        } catch (e) {
          if (!(e instanceof Error && e.name === 'NodeDownError')) throw e;
        }
      })();
    };
    const ensureProducer = (net: Network, enforce: boolean): Producer<number> => {
      const existing = producers.get(net);
      if (existing && !existing.closed) return existing;
      const p = net.streams.producer<number>(STREAM, { onlineWhen: (c) => c.minimumOf(0), ...(enforce && { requireTickets: validators }) });
      producers.set(net, p);
      return p;
    };
    const tick = (): void => {
      nets.forEach((net, i) => {
        if (!sim.isUp(net)) return;
        if (!ensureTickets(net, i)) return; // subscribe only with the tickets in place (fewer refusals to wait out)
        if (net === producerNet) ensureProducer(net, true);
        else {
          if (net === rogueNet) ensureProducer(net, false);
          ensureConsumer(net);
        }
      });
    };
    /** Whether `net` is subscribed at the producer, and its consumer connected to it. */
    const subscribed = (net: Network): boolean => {
      const p = producers.get(producerNet);
      const c = consumers.get(net);
      if (!p || p.closed || !c || c.closed) return false;
      const atProducer = p.consumers().some((i) => i.consumer.equals(net.peerId));
      const atConsumer = c.producers().some((i) => i.state === 'connected' && i.producer.equals(producerNet.peerId));
      return atProducer && atConsumer;
    };

    let subscribedAfterMs: number | undefined;
    let sent = 0;
    /** Everyone joins one group requiring the same tickets: honest nodes bond with each other only. */
    const groups = new Map(nets.map((net) => [net, net.groups.join({ key: GROUP_KEY, machine: new NoopMachine(), requireTickets: validators })] as const));
    const bondedWith = (net: Network): Set<string> =>
      new Set(
        groups
          .get(net)
          ?.members()
          .bonds.map((p) => p.hex) ?? [],
      );
    /** Every honest node bonded with every other honest node. */
    const honestBonded = (): boolean =>
      honestNets.every((n) => {
        const bonds = bondedWith(n);
        return honestNets.every((m) => m === n || bonds.has(m.peerId.hex));
      });
    await sim.run(async () => {
      const faultsEnd = sim.now + FAULTS_MS;
      while (sim.now < faultsEnd) {
        if (!revoked && sim.now >= REVOKE_AT_MS) revoked = true;
        tick();
        const p = producers.get(producerNet);
        if (p && !p.closed && sim.isUp(producerNet)) {
          try {
            p.trySend(++sent);
          } catch {
            // offline or full: at-most-once
          }
        }
        await sim.sleep(TICK_MS);
      }
      sim.quiesce();
      late.clocksRight = true;
      const quietAt = sim.now;
      const allIn = () => {
        tick();
        return honestNets.every(subscribed) && honestBonded();
      };
      while (!allIn() && sim.now - quietAt < RESUBSCRIBE_BOUND_MS) await sim.sleep(TICK_MS);
      if (!allIn()) {
        const missing = honestNets.filter((n) => !subscribed(n)).map((n) => `n${sim.indexOf(n)}`);
        if (missing.length > 0)
          problems.push({ message: `honest ${missing.join(', ')} not subscribed ${RESUBSCRIBE_BOUND_MS} ms after faults stopped`, atMs: sim.now });
        if (!honestBonded())
          problems.push({ message: `honest nodes not all bonded in the group ${RESUBSCRIBE_BOUND_MS} ms after faults stopped`, atMs: sim.now });
        return;
      }
      subscribedAfterMs = sim.now - quietAt;
      await sim.sleep(SETTLE_MS);
      tick();
      for (const [net, name] of [
        [expiringNet, 'expiring'],
        [revokedNet, 'revoked'],
      ] as const) {
        const p = producers.get(producerNet);
        if (p?.consumers().some((i) => i.consumer.equals(net.peerId)))
          problems.push({ message: `${name} still holds a subscription at the end`, atMs: sim.now });
        if (honestNets.some((h) => bondedWith(h).has(net.peerId.hex)))
          problems.push({ message: `${name} still holds a bond with an honest node at the end`, atMs: sim.now });
      }
    });
    const details = {
      honest: honestNets.length,
      attackers: ATTACKS.length,
      sent,
      delivered: [...received.values()].reduce((a, b) => a + b, 0),
      subscribedAfterMs,
      refusals: Object.fromEntries([...refusals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
    return scenarioResult('tickets-attack', options, sim, wallStart, count, details, problems);
  },
};
