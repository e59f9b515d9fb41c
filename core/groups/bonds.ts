import type { GroupId } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import type { LinkInfo, NodeContext } from '../node/subsystem.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { frameCapacity } from '../wire/codec.ts';
import type { Admission } from './admission.ts';
import { bondProof, checkBondProof } from './bond-proof.ts';
import type { Formation } from './formation.ts';
import type { ConsensusConfig, GroupKey } from './group-id.ts';
import { isMemberOf } from './member-id.ts';
import { type BondMessage, GROUPS_PROTOCOL, type Leadership, leadershipCode, leadershipOf } from './wire.ts';

/** An authenticated link to another member of the group: the handshake proved the group key over it. */
export interface Bond {
  readonly link: number;
  readonly peer: PeerId;
  /** The peer's member id in this group (its Raft id): see `memberId`. */
  readonly member: string;
  readonly dialer: string;
  leadership: Leadership;
  formation: Formation | undefined;
  readonly upAtMs: number;
  /** Wall-clock ms when its tickets must be checked again (Infinity: never, or no validators). */
  ticketsUntilMs: number;
  lastRecvMs: number;
  lastSendMs: number;
}

/** A peer the catalog lists in the group (or one that bonded before its entry came). */
export interface Member {
  readonly peer: PeerId;
  addrs: readonly string[];
  nextDialMs: number;
  dialBackoffMs: number;
  /** When its bond went down (or when we learned of it without a bond); for voter replacement. */
  downSinceMs: number;
  departed: boolean;
  /** Its tickets do not pass `validators` (as of its latest entry): not dialed, not bonded, removed from the configuration. */
  notAllowed: boolean;
}

/** What the bonds of a group need to know of it. */
export interface BondsConfig {
  readonly id: GroupId;
  readonly key: GroupKey;
  readonly consensus: ConsensusConfig;
  readonly leadership: Leadership;
}

/** What a bond coming and going means to the group: the bond table tells it. */
export interface BondHost {
  /** This member's formation, as its hello and welcome carry it. */
  formation(): Formation | undefined;
  /** A bond is up: new (`replaced` false), or in place of an older link to the same peer. */
  bondUp(ctx: NodeContext, bond: Bond, replaced: boolean): void;
  /** The peer's bond is gone (not called for a link that a newer one replaced). */
  bondDown(ctx: NodeContext, bond: Bond): void;
}

const MIN_DIAL_BACKOFF_MS = 250;
const MAX_DIAL_BACKOFF_MS = 10_000;
/** A dial with no bond after this long is abandoned (longer than any connect timeout plus the handshake). */
const DIAL_GIVE_UP_MS = 10_000;
/** Two dials crossing resolve within a handshake; a bond older than this that the peer dials again is one it lost. */
const DIAL_RACE_MS = 5_000;

/**
 * The bonds of one member of a group, and the members it knows of: dialing them with
 * backoff, the handshake (the group key proven over the link, a member id of the link's
 * peer, tickets), one bond per peer whichever end dialed, liveness by heartbeats, and the
 * messages bonds carry. What a bond going up or down means for Raft and the calls is the
 * group's (`BondHost`).
 */
export class Bonds {
  readonly #config: BondsConfig;
  readonly #admission: Admission;
  readonly #host: BondHost;
  /** This node's peer id (hex). */
  readonly #self: string;
  /** This node's member id in the group. */
  readonly #member: string;
  readonly #byPeer = new Map<string, Bond>();
  /** The same bonds by the member each joins us to: Raft addresses members, and ids that Raft holds hash once (a peer id cut from one would hash on every message). */
  readonly #byMember = new Map<string, Bond>();
  readonly #byLink = new Map<number, Bond>();
  /** Outgoing links before their welcome, by link id. */
  readonly #dialing = new Map<number, { readonly peer: PeerId; readonly atMs: number }>();
  readonly #members = new Map<string, Member>();
  #closed = false;
  #sent = 0;
  #received = 0;

  constructor(config: BondsConfig, admission: Admission, host: BondHost, self: string, member: string) {
    this.#config = config;
    this.#admission = admission;
    this.#host = host;
    this.#self = self;
    this.#member = member;
  }

  /** Bond messages sent and received so far. */
  get sent(): number {
    return this.#sent;
  }

  get received(): number {
    return this.#received;
  }

  /** The bonds, one per peer, in the order they came up. */
  values(): IterableIterator<Bond> {
    return this.#byPeer.values();
  }

  ofPeer(peerHex: string): Bond | undefined {
    return this.#byPeer.get(peerHex);
  }

  /** The bond to `member`: to its peer, and only while that peer is still this member. */
  ofMember(member: string): Bond | undefined {
    return this.#byMember.get(member);
  }

  ofLink(link: number): Bond | undefined {
    return this.#byLink.get(link);
  }

  member(peerHex: string): Member | undefined {
    return this.#members.get(peerHex);
  }

  send(ctx: NodeContext, bond: Bond, msg: BondMessage): void {
    bond.lastSendMs = ctx.nowMs;
    this.#sent++;
    ctx.send(bond.link, msg);
  }

  /** A message came on the bond: it is alive. */
  heard(ctx: NodeContext, bond: Bond): void {
    bond.lastRecvMs = ctx.nowMs;
    this.#received++;
  }

  // ---------------------------------------------------------------- members

  /** A catalog entry that lists this group (or stopped listing it: `listed` false). */
  onMemberEntry(ctx: NodeContext, peer: PeerId, addrs: readonly string[], listed: boolean): void {
    if (peer.hex === this.#self) return;
    let m = this.#members.get(peer.hex);
    if (!listed) {
      if (m !== undefined) m.departed = true;
      return;
    }
    if (m === undefined) {
      m = { peer, addrs, nextDialMs: 0, dialBackoffMs: MIN_DIAL_BACKOFF_MS, downSinceMs: ctx.nowMs, departed: false, notAllowed: false };
      this.#members.set(peer.hex, m);
    }
    m.addrs = addrs;
    m.departed = false;
    // A new entry may revoke (or grant) tickets: re-check now, as mosaik does on PeerEntryUpdate.
    const admitted = this.#admission.peer(peer, ctx.wallClockMs);
    m.notAllowed = admitted === undefined;
    const bond = this.#byPeer.get(peer.hex);
    if (bond !== undefined) {
      if (admitted === undefined) this.#dropNotAllowed(ctx, bond);
      else bond.ticketsUntilMs = admitted;
    }
    this.#maybeDial(ctx, m);
  }

  /** The peer left the group (its catalog entry is gone, or it said so on its bond). */
  onMemberGone(peer: PeerId): void {
    const m = this.#members.get(peer.hex);
    if (m !== undefined) m.departed = true;
  }

  #dropNotAllowed(ctx: NodeContext, bond: Bond): void {
    ctx.close(bond.link, CloseCode.GroupNotAllowed, 'tickets no longer accepted');
    const m = this.#members.get(bond.peer.hex);
    if (m !== undefined) m.notAllowed = true;
    this.drop(ctx, bond);
  }

  #maybeDial(ctx: NodeContext, m: Member): void {
    if (this.#closed || m.departed || m.notAllowed || this.#byPeer.has(m.peer.hex) || ctx.nowMs < m.nextDialMs) return;
    for (const d of this.#dialing.values()) if (d.peer.equals(m.peer)) return;
    m.nextDialMs = ctx.nowMs + m.dialBackoffMs;
    m.dialBackoffMs = Math.min(MAX_DIAL_BACKOFF_MS, m.dialBackoffMs * 2);
    const link = ctx.connect(m.peer, m.addrs, GROUPS_PROTOCOL);
    this.#dialing.set(link, { peer: m.peer, atMs: ctx.nowMs });
  }

  /**
   * Once per heartbeat interval: tickets re-checked at expiry, bonds that missed too many
   * heartbeats closed, a ping on bonds we sent nothing on for an interval, dials that got no
   * welcome given up, members without a bond dialed.
   */
  heartbeat(ctx: NodeContext): void {
    const c = this.#config.consensus;
    const deadAfterMs = c.maxMissedHeartbeats * (c.heartbeatMs + c.heartbeatJitterMs);
    for (const b of [...this.#byPeer.values()]) {
      if (ctx.wallClockMs >= b.ticketsUntilMs) {
        const until = this.#admission.peer(b.peer, ctx.wallClockMs);
        if (until === undefined) {
          this.#dropNotAllowed(ctx, b);
          continue;
        }
        b.ticketsUntilMs = until;
      }
      if (ctx.nowMs - b.lastRecvMs > deadAfterMs) {
        ctx.close(b.link, CloseCode.GroupTimeout, 'missed heartbeats');
        this.drop(ctx, b);
      } else if (ctx.nowMs - b.lastSendMs >= c.heartbeatMs) this.send(ctx, b, { t: 'ping' });
    }
    for (const [link, d] of this.#dialing) {
      // No welcome (a lost frame under stress, a stuck peer): give up on this link and redial.
      if (ctx.nowMs - d.atMs > DIAL_GIVE_UP_MS) {
        ctx.close(link, CloseCode.GroupTimeout, 'no welcome in time');
        this.#dialing.delete(link);
      }
    }
    for (const m of this.#members.values()) this.#maybeDial(ctx, m);
  }

  // ---------------------------------------------------------------- the handshake

  /** Our outgoing link is up: prove we know the key. */
  onDialUp(ctx: NodeContext, link: LinkInfo): void {
    const secret = link.secret;
    if (secret === undefined) return;
    ctx.send(link.id, {
      t: 'hello',
      network: ctx.networkId.bytes,
      group: this.#config.id.bytes,
      proof: bondProof(this.#config.key, secret, this.#config.id, ctx.peerId),
      formation: this.#host.formation(),
      leadership: leadershipCode(this.#config.leadership),
      member: this.#member,
    } satisfies BondMessage);
  }

  isDialing(link: number): boolean {
    return this.#dialing.has(link);
  }

  /** The dial failed or was refused before a bond formed. */
  onDialDown(link: number): void {
    this.#dialing.delete(link);
  }

  /** An incoming hello for this group, already matched by group id: check it and answer. */
  onHello(ctx: NodeContext, link: LinkInfo, hello: Extract<BondMessage, { t: 'hello' }>): void {
    const ticketsUntilMs = this.#checkHandshake(ctx, link, hello);
    if (ticketsUntilMs === undefined || link.secret === undefined) return;
    ctx.send(link.id, {
      t: 'welcome',
      proof: bondProof(this.#config.key, link.secret, this.#config.id, ctx.peerId),
      formation: this.#host.formation(),
      leadership: leadershipCode(this.#config.leadership),
      member: this.#member,
    } satisfies BondMessage);
    this.#up(ctx, link, link.peer.hex, hello.member, hello.formation, leadershipOf(hello.leadership), ticketsUntilMs);
  }

  onWelcome(ctx: NodeContext, link: LinkInfo, welcome: Extract<BondMessage, { t: 'welcome' }>): void {
    if (!this.#dialing.delete(link.id)) {
      ctx.close(link.id, CloseCode.GroupInvalidHandshake, 'unexpected welcome');
      return;
    }
    const ticketsUntilMs = this.#checkHandshake(ctx, link, welcome);
    if (ticketsUntilMs === undefined) return;
    this.#up(ctx, link, this.#self, welcome.member, welcome.formation, leadershipOf(welcome.leadership), ticketsUntilMs);
  }

  /**
   * The checks a hello and a welcome share: the proof of the key over this link, a member id
   * of the link's peer, and its tickets. Returns when its tickets must be checked again, or
   * undefined after closing the link.
   */
  #checkHandshake(ctx: NodeContext, link: LinkInfo, msg: { readonly proof: Uint8Array; readonly member: string }): number | undefined {
    const secret = link.secret;
    if (secret === undefined || !checkBondProof(this.#config.key, secret, this.#config.id, link.peer, msg.proof)) {
      ctx.close(link.id, CloseCode.GroupInvalidProof, 'invalid proof of the group key');
      return undefined;
    }
    if (!isMemberOf(msg.member, link.peer.hex)) {
      ctx.close(link.id, CloseCode.GroupInvalidHandshake, "a member id that is not the peer's");
      return undefined;
    }
    // Members of a group share a frame capacity (it is part of the id); an honest peer whose
    // limit is smaller has another group id, so one that names ours would take frames it refuses.
    const capacity = frameCapacity(ctx.maxFrameBytes);
    if (link.maxFrameBytes < capacity) {
      ctx.close(link.id, CloseCode.GroupInvalidHandshake, `a frame limit of ${link.maxFrameBytes} bytes, below this group's ${capacity}`);
      return undefined;
    }
    const ticketsUntilMs = this.#admission.peer(link.peer, ctx.wallClockMs);
    if (ticketsUntilMs === undefined) ctx.close(link.id, CloseCode.GroupNotAllowed, 'tickets not accepted (or entry unknown)');
    return ticketsUntilMs;
  }

  #up(
    ctx: NodeContext,
    link: LinkInfo,
    dialer: string,
    member: string,
    formation: Formation | undefined,
    leadership: Leadership,
    ticketsUntilMs: number,
  ): void {
    const peer = link.peer.hex;
    const existing = this.#byPeer.get(peer);
    if (existing !== undefined) {
      // The peer dialed while we hold a bond with it. If that bond is one it dialed before,
      // or is older than any dial race, the peer lost it (it restarted, or gave up on it):
      // the new link replaces it at once, instead of waiting for heartbeats to time out.
      const peerLostIt = dialer === peer && (existing.dialer === peer || ctx.nowMs - existing.upAtMs > DIAL_RACE_MS);
      if (peerLostIt) {
        ctx.close(existing.link, CloseCode.GroupAlreadyBonded, 'replaced by a newer bond');
        this.#byLink.delete(existing.link);
      } else {
        // Both ends dialed at once. Both keep the link the smaller peer id dialed, so they
        // agree without a round trip (mosaik closes both, §5.12).
        const smaller = [this.#self, peer].sort()[0];
        // What either side sent on the closed link is lost with it, a formation change among
        // it: say ours again on the kept one (the peer does the same), or the peer may keep a
        // stale formation for us and never add us (nor send us Raft messages).
        if (existing.dialer === smaller) {
          ctx.close(link.id, CloseCode.GroupAlreadyBonded, 'already bonded');
          this.send(ctx, existing, { t: 'formation', formation: this.#host.formation() });
          return;
        }
        ctx.close(existing.link, CloseCode.GroupAlreadyBonded, 'already bonded');
        this.#byLink.delete(existing.link);
      }
    }
    const bond: Bond = {
      link: link.id,
      peer: link.peer,
      member,
      dialer,
      leadership,
      formation,
      upAtMs: ctx.nowMs,
      ticketsUntilMs,
      lastRecvMs: ctx.nowMs,
      lastSendMs: ctx.nowMs,
    };
    if (existing !== undefined) this.#byMember.delete(existing.member);
    this.#byPeer.set(peer, bond);
    this.#byMember.set(member, bond);
    this.#byLink.set(link.id, bond);
    let m = this.#members.get(peer);
    if (m === undefined) {
      // It found us before its entry reached our catalog: track it like any member.
      m = { peer: link.peer, addrs: [], nextDialMs: 0, dialBackoffMs: MIN_DIAL_BACKOFF_MS, downSinceMs: ctx.nowMs, departed: false, notAllowed: false };
      this.#members.set(peer, m);
    }
    m.dialBackoffMs = MIN_DIAL_BACKOFF_MS;
    this.#host.bondUp(ctx, bond, existing !== undefined);
  }

  // ---------------------------------------------------------------- going down

  onLinkDown(ctx: NodeContext, link: number): void {
    this.#dialing.delete(link);
    const bond = this.#byLink.get(link);
    if (bond !== undefined) this.drop(ctx, bond);
  }

  /** The bond is gone (its link closed, by the caller or the transport): forgotten, and the group told. */
  drop(ctx: NodeContext, bond: Bond): void {
    this.#byLink.delete(bond.link);
    if (this.#byPeer.get(bond.peer.hex) !== bond) return;
    this.#byPeer.delete(bond.peer.hex);
    this.#byMember.delete(bond.member);
    const m = this.#members.get(bond.peer.hex);
    if (m !== undefined) m.downSinceMs = ctx.nowMs;
    this.#host.bondDown(ctx, bond);
  }

  /** The group closes: a goodbye on every bond, every link closed, no more dialing. */
  closeAll(ctx: NodeContext): void {
    for (const b of this.#byPeer.values()) {
      this.send(ctx, b, { t: 'departure' });
      ctx.close(b.link, CloseCode.GracefulShutdown, 'left the group');
    }
    for (const link of this.#dialing.keys()) ctx.close(link, CloseCode.Cancelled, 'left the group');
    this.#byPeer.clear();
    this.#byMember.clear();
    this.#byLink.clear();
    this.#dialing.clear();
    this.#closed = true;
  }
}
