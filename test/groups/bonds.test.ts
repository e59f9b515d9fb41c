import { describe, expect, it } from 'vitest';
import { Admission, type TicketCheck } from '../../core/groups/admission.ts';
import { bondProof } from '../../core/groups/bond-proof.ts';
import { type Bond, type BondHost, Bonds } from '../../core/groups/bonds.ts';
import { DEFAULT_CONSENSUS, deriveGroupId } from '../../core/groups/group-id.ts';
import { memberId } from '../../core/groups/member-id.ts';
import { type BondMessage, GROUPS_PROTOCOL } from '../../core/groups/wire.ts';
import { Digest } from '../../core/identity/digest.ts';
import { type PeerId, SecretKey } from '../../core/identity/keys.ts';
import type { LinkInfo, NodeContext } from '../../core/node/subsystem.ts';
import type { TicketsValidation, TicketValidator } from '../../core/tickets/ticket.ts';
import { CloseCode } from '../../core/wire/close-codes.ts';
import { DEFAULT_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from '../../core/wire/codec.ts';

// The bond table of one member, driven directly: a context that records what it is asked to
// do, a host that records bonds going up and down, and links made by hand (each with the
// secret both of its ends share, as the transport gives them).

const KEY = 'bond-test-key';
const GROUP = deriveGroupId(KEY, DEFAULT_CONSENSUS, 'counter/1');
const NETWORK = Digest.from('bond-test-network');
const c = DEFAULT_CONSENSUS;
const DEAD_AFTER_MS = c.maxMissedHeartbeats * (c.heartbeatMs + c.heartbeatJitterMs);

type Hello = Extract<BondMessage, { t: 'hello' }>;
type Welcome = Extract<BondMessage, { t: 'welcome' }>;

class Member {
  readonly key: SecretKey;
  readonly peer: PeerId;
  readonly member: string;
  readonly bonds: Bonds;
  nowMs = 0;
  readonly sent: { link: number; msg: BondMessage }[] = [];
  readonly closed: { link: number; code: number; reason: string }[] = [];
  readonly dials: { link: number; peer: PeerId }[] = [];
  readonly ups: { bond: Bond; replaced: boolean }[] = [];
  readonly downs: Bond[] = [];
  #nextLink = 1;
  readonly ctx: NodeContext;

  constructor(name: string, tickets: TicketCheck | undefined = undefined) {
    this.key = SecretKey.fromSeed(name);
    this.peer = this.key.peerId;
    this.member = memberId(this.peer.hex, new Uint8Array(8));
    const self = this;
    this.ctx = {
      get nowMs() {
        return self.nowMs;
      },
      get wallClockMs() {
        return self.nowMs;
      },
      peerId: this.peer,
      networkId: NETWORK,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      connect(peer: PeerId, _addrs: readonly string[], protocol: string) {
        expect(protocol).toBe(GROUPS_PROTOCOL);
        const link = self.#nextLink++;
        self.dials.push({ link, peer });
        return link;
      },
      send(link: number, msg: unknown) {
        self.sent.push({ link, msg: msg as BondMessage });
        return undefined;
      },
      close(link: number, code: number, reason: string) {
        self.closed.push({ link, code, reason });
      },
    } as unknown as NodeContext;
    const host: BondHost = {
      formation: () => undefined,
      bondUp: (_ctx, bond, replaced) => self.ups.push({ bond, replaced }),
      bondDown: (_ctx, bond) => self.downs.push(bond),
    };
    const validators = tickets === undefined ? [] : [{} as TicketValidator];
    const admission = new Admission(validators, tickets ?? refuseAll, false);
    this.bonds = new Bonds({ id: GROUP, key: KEY, consensus: c, leadership: 'normal' }, admission, host, this.peer.hex, this.member);
  }

  /** A link id of ours no dial made (the other end dialed). */
  incomingLink(): number {
    return 1000 + this.#nextLink++;
  }

  lastSent<T extends BondMessage['t']>(t: T): Extract<BondMessage, { t: T }> {
    const m = [...this.sent].reverse().find((s) => s.msg.t === t);
    if (m === undefined) throw new Error(`nothing of type ${t} sent`);
    return m.msg as Extract<BondMessage, { t: T }>;
  }
}

const refuseAll: TicketCheck = { check: () => 'unknown', checkSelf: () => 'unknown' };

function link(id: number, peer: PeerId, dir: 'in' | 'out', secret: Uint8Array): LinkInfo {
  return { id, peer, protocol: GROUPS_PROTOCOL, dir, secret, maxFrameBytes: DEFAULT_MAX_FRAME_BYTES };
}

function secret(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

/** `a` dials `b` over a link with `s`: returns a's link, b's link, and a's hello. */
function dial(a: Member, b: Member, s: Uint8Array): { out: LinkInfo; in: LinkInfo; hello: Hello } {
  a.bonds.onMemberEntry(a.ctx, b.peer, ['addr-of-b'], true);
  const d = a.dials.find((x) => x.peer.equals(b.peer) && !a.sent.some((m) => m.link === x.link));
  if (d === undefined) throw new Error('no dial');
  const out = link(d.link, b.peer, 'out', s);
  a.bonds.onDialUp(a.ctx, out);
  const hello = a.sent.find((m) => m.link === d.link)?.msg as Hello;
  return { out, in: link(b.incomingLink(), a.peer, 'in', s), hello };
}

describe('bonds: the handshake', () => {
  it('a hello and its welcome bond both ends; each checks the other proved the key over this link', () => {
    const a = new Member('a');
    const b = new Member('b');
    const { out, in: inB, hello } = dial(a, b, secret(1));
    expect(hello).toMatchObject({ t: 'hello', member: a.member });
    b.bonds.onHello(b.ctx, inB, hello);
    expect(b.closed).toEqual([]);
    expect(b.ups.map((u) => [u.bond.member, u.replaced])).toEqual([[a.member, false]]);
    const welcome = b.lastSent('welcome');
    a.bonds.onWelcome(a.ctx, out, welcome);
    expect(a.closed).toEqual([]);
    expect(a.ups.map((u) => [u.bond.link, u.bond.member, u.replaced])).toEqual([[out.id, b.member, false]]);
    expect(a.bonds.ofMember(b.member)?.link).toBe(out.id);
    expect(a.bonds.isDialing(out.id)).toBe(false);
  });

  const refusals: { name: string; tamper: (hello: Hello, a: Member) => Hello; tickets?: TicketCheck; code: number }[] = [
    {
      name: 'a proof made over another link (replayed)',
      tamper: (h, a) => ({ ...h, proof: bondProof(KEY, secret(9), GROUP, a.peer) }),
      code: CloseCode.GroupInvalidProof,
    },
    {
      name: 'a proof made with another key',
      tamper: (h, a) => ({ ...h, proof: bondProof('another key', secret(1), GROUP, a.peer) }),
      code: CloseCode.GroupInvalidProof,
    },
    {
      name: 'a proof made by another peer',
      tamper: (h) => ({ ...h, proof: bondProof(KEY, secret(1), GROUP, SecretKey.fromSeed('c').peerId) }),
      code: CloseCode.GroupInvalidProof,
    },
    {
      name: "a member id that is not the dialer's",
      tamper: (h) => ({ ...h, member: memberId(SecretKey.fromSeed('c').peerId.hex, new Uint8Array(8)) }),
      code: CloseCode.GroupInvalidHandshake,
    },
    {
      name: 'tickets the validators refuse',
      tamper: (h) => h,
      tickets: {
        check: () => ({ ok: false, validator: {} as TicketValidator, reason: { code: 'expired', detail: 'test' } }) as TicketsValidation,
        checkSelf: () => 'unknown',
      },
      code: CloseCode.GroupNotAllowed,
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}: the link is closed, nothing is sent, no bond`, () => {
      const a = new Member('a');
      const b = new Member('b', r.tickets);
      const { in: inB, hello } = dial(a, b, secret(1));
      b.bonds.onHello(b.ctx, inB, r.tamper(hello, a));
      expect(b.closed.map((x) => [x.link, x.code])).toEqual([[inB.id, r.code]]);
      expect(b.sent).toEqual([]);
      expect(b.ups).toEqual([]);
      expect([...b.bonds.values()]).toEqual([]);
    });
  }

  it("refuses a peer whose link carries less than the group's frame capacity (an honest one has another group id)", () => {
    const a = new Member('a');
    const b = new Member('b');
    const { out, in: inB, hello } = dial(a, b, secret(1));
    b.bonds.onHello(b.ctx, { ...inB, maxFrameBytes: MIN_MAX_FRAME_BYTES }, hello);
    expect(b.closed.map((x) => [x.link, x.code])).toEqual([[inB.id, CloseCode.GroupInvalidHandshake]]);
    expect(b.ups).toEqual([]);
    // The same on the dialer's end, for a welcome over such a link.
    const c = new Member('c');
    const { in: inC, hello: helloC } = dial(a, c, secret(2));
    c.bonds.onHello(c.ctx, inC, helloC);
    const outC = a.dials.find((d) => d.peer.equals(c.peer))?.link as number;
    a.bonds.onWelcome(a.ctx, { ...link(outC, c.peer, 'out', secret(2)), maxFrameBytes: MIN_MAX_FRAME_BYTES }, c.lastSent('welcome') as Welcome);
    expect(a.closed.map((x) => [x.link, x.code])).toEqual([[outC, CloseCode.GroupInvalidHandshake]]);
    expect(a.ups).toEqual([]);
    expect(out.id).not.toBe(outC);
  });

  it('refuses a welcome on a link it did not dial', () => {
    const a = new Member('a');
    const b = new Member('b');
    const { out, in: inB, hello } = dial(a, b, secret(1));
    b.bonds.onHello(b.ctx, inB, hello);
    const stray = link(77, b.peer, 'out', secret(1));
    a.bonds.onWelcome(a.ctx, stray, b.lastSent('welcome') as Welcome);
    expect(a.closed.map((x) => [x.link, x.code])).toEqual([[77, CloseCode.GroupInvalidHandshake]]);
    expect(a.ups).toEqual([]);
    expect(a.bonds.isDialing(out.id)).toBe(true);
  });
});

describe('bonds: one per pair', () => {
  for (const [first, second] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    it(`two dials that cross keep the link the smaller peer id dialed, on both ends (${first} hears first)`, () => {
      const m = { a: new Member('a'), b: new Member('b') };
      const ab = dial(m.a, m.b, secret(1)); // a's dial: a.out ↔ b.in
      const ba = dial(m.b, m.a, secret(2)); // b's dial: b.out ↔ a.in
      const hear = (x: 'a' | 'b') => {
        if (x === 'a') m.a.bonds.onHello(m.a.ctx, ba.in, ba.hello);
        else m.b.bonds.onHello(m.b.ctx, ab.in, ab.hello);
      };
      hear(first);
      hear(second);
      m.a.bonds.onWelcome(m.a.ctx, ab.out, m.b.sent.find((s) => s.link === ab.in.id)?.msg as Welcome);
      m.b.bonds.onWelcome(m.b.ctx, ba.out, m.a.sent.find((s) => s.link === ba.in.id)?.msg as Welcome);
      const aIsSmaller = m.a.peer.hex < m.b.peer.hex;
      // The kept link, as each end names it.
      const keptAtA = aIsSmaller ? ab.out.id : ba.in.id;
      const keptAtB = aIsSmaller ? ab.in.id : ba.out.id;
      expect(m.a.bonds.ofPeer(m.b.peer.hex)?.link).toBe(keptAtA);
      expect(m.b.bonds.ofPeer(m.a.peer.hex)?.link).toBe(keptAtB);
      // The other link is closed by both ends, as a duplicate; nobody saw a bond go down.
      const droppedAtA = aIsSmaller ? ba.in.id : ab.out.id;
      const droppedAtB = aIsSmaller ? ba.out.id : ab.in.id;
      expect(m.a.closed.map((x) => [x.link, x.code])).toEqual([[droppedAtA, CloseCode.GroupAlreadyBonded]]);
      expect(m.b.closed.map((x) => [x.link, x.code])).toEqual([[droppedAtB, CloseCode.GroupAlreadyBonded]]);
      expect(m.a.downs).toEqual([]);
      expect(m.b.downs).toEqual([]);
      expect([...m.a.bonds.values()]).toHaveLength(1);
      expect([...m.b.bonds.values()]).toHaveLength(1);
    });
  }

  it('a peer that dials again after losing its bond replaces it at once', () => {
    const a = new Member('a');
    const b = new Member('b');
    const first = dial(b, a, secret(1));
    a.bonds.onHello(a.ctx, first.in, first.hello);
    // b restarted: a new dial, a new link, the same member.
    const b2 = new Member('b');
    a.nowMs = 60_000;
    const again = dial(b2, a, secret(2));
    a.bonds.onHello(a.ctx, again.in, again.hello);
    expect(a.closed.map((x) => [x.link, x.code, x.reason])).toEqual([[first.in.id, CloseCode.GroupAlreadyBonded, 'replaced by a newer bond']]);
    expect(a.ups.map((u) => [u.bond.link, u.replaced])).toEqual([
      [first.in.id, false],
      [again.in.id, true],
    ]);
    expect(a.downs).toEqual([]);
    expect(a.bonds.ofLink(first.in.id)).toBeUndefined();
    expect(a.bonds.ofMember(b.member)?.link).toBe(again.in.id);
  });
});

describe('bonds: liveness', () => {
  function bonded(tickets?: TicketCheck): { a: Member; b: Member; bond: Bond } {
    const a = new Member('a', tickets);
    const b = new Member('b');
    const d = dial(b, a, secret(1));
    a.bonds.onHello(a.ctx, d.in, d.hello);
    const bond = a.bonds.ofPeer(b.peer.hex);
    if (bond === undefined) throw new Error('not bonded');
    return { a, b, bond };
  }

  it('pings a bond it sent nothing on for a heartbeat interval, and not one it just used', () => {
    const { a, bond } = bonded();
    a.nowMs = c.heartbeatMs - 1;
    a.bonds.heartbeat(a.ctx);
    expect(a.sent.filter((s) => s.msg.t === 'ping')).toEqual([]);
    a.nowMs = c.heartbeatMs;
    a.bonds.heartbeat(a.ctx);
    expect(a.sent.filter((s) => s.msg.t === 'ping').map((s) => s.link)).toEqual([bond.link]);
    a.bonds.send(a.ctx, bond, { t: 'departure' });
    a.nowMs += c.heartbeatMs - 1;
    a.bonds.heartbeat(a.ctx);
    expect(a.sent.filter((s) => s.msg.t === 'ping')).toHaveLength(1);
  });

  it('closes a bond silent for maxMissedHeartbeats intervals, and keeps one that speaks', () => {
    const { a, bond } = bonded();
    a.nowMs = DEAD_AFTER_MS - 1;
    a.bonds.heard(a.ctx, bond);
    a.nowMs = 2 * DEAD_AFTER_MS - 1;
    a.bonds.heartbeat(a.ctx);
    expect(a.downs).toEqual([]);
    a.nowMs = 2 * DEAD_AFTER_MS;
    a.bonds.heartbeat(a.ctx);
    expect(a.closed.map((x) => [x.link, x.code])).toEqual([[bond.link, CloseCode.GroupTimeout]]);
    expect(a.downs).toEqual([bond]);
    expect([...a.bonds.values()]).toEqual([]);
    expect(a.bonds.member(bond.peer.hex)?.downSinceMs).toBe(2 * DEAD_AFTER_MS);
  });

  it('drops a bond whose tickets expire and are refused on re-check, and does not dial it again', () => {
    let accept = true;
    const tickets: TicketCheck = {
      check: (_v, _p, nowMs) =>
        accept
          ? { ok: true, expiration: { kind: 'at', atMs: 1_000 } }
          : { ok: false, validator: {} as TicketValidator, reason: { code: 'expired', detail: `at ${nowMs}` } },
      checkSelf: () => 'unknown',
    };
    const { a, bond } = bonded(tickets);
    expect(bond.ticketsUntilMs).toBe(1_000);
    a.nowMs = 999;
    a.bonds.heartbeat(a.ctx);
    expect(a.downs).toEqual([]);
    accept = false;
    a.nowMs = 1_000;
    a.bonds.heartbeat(a.ctx);
    expect(a.closed.map((x) => [x.link, x.code])).toEqual([[bond.link, CloseCode.GroupNotAllowed]]);
    expect(a.downs).toEqual([bond]);
    expect(a.bonds.member(bond.peer.hex)?.notAllowed).toBe(true);
    a.nowMs = 60_000;
    a.bonds.heartbeat(a.ctx);
    expect(a.dials).toEqual([]);
  });

  it('redials a member whose bond went down, with doubling backoff, and gives up on a dial with no welcome', () => {
    const a = new Member('a');
    const b = new Member('b');
    a.bonds.onMemberEntry(a.ctx, b.peer, ['addr-of-b'], true);
    expect(a.dials).toHaveLength(1);
    a.bonds.onDialDown((a.dials[0] as { link: number }).link); // refused
    const dialTimes: number[] = [0];
    for (a.nowMs = 1; a.nowMs <= 2_000; a.nowMs++) {
      const before = a.dials.length;
      a.bonds.heartbeat(a.ctx);
      if (a.dials.length > before) {
        dialTimes.push(a.nowMs);
        a.bonds.onDialDown((a.dials.at(-1) as { link: number }).link);
      }
    }
    expect(dialTimes).toEqual([0, 250, 750, 1_750]);
    // A dial that connects but never hears a welcome is closed after 10 s and tried again.
    a.nowMs = 100_000;
    a.bonds.heartbeat(a.ctx);
    const stuck = a.dials.at(-1) as { link: number };
    a.nowMs += 10_001;
    a.bonds.heartbeat(a.ctx);
    expect(a.closed.map((x) => [x.link, x.code])).toContainEqual([stuck.link, CloseCode.GroupTimeout]);
  });

  it('closing says departure on every bond, closes every link and dials no more', () => {
    const { a, bond } = bonded();
    a.bonds.closeAll(a.ctx);
    expect(a.sent.filter((s) => s.msg.t === 'departure').map((s) => s.link)).toEqual([bond.link]);
    expect(a.closed.map((x) => [x.link, x.code])).toEqual([[bond.link, CloseCode.GracefulShutdown]]);
    a.bonds.onMemberEntry(a.ctx, SecretKey.fromSeed('c').peerId, ['addr-of-c'], true);
    expect(a.dials).toEqual([]);
  });
});
