import { InvalidArgumentError } from '../errors.ts';
import type { GossipMessage } from '../gossip/messages.ts';
import type { PeerAddr } from '../identity/address.ts';
import type { Digest, GroupId, StreamId, Tag } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { RequestId, TimerId } from '../node/io.ts';
import type { LinkDown, LinkInfo, NodeContext, PendingLink, Subsystem } from '../node/subsystem.ts';
import { assert } from '../util/assert.ts';
import { jitter, takeRandom } from '../util/rng.ts';
import type { MessageCodec } from '../wire/codec.ts';
import type { ProtocolId } from '../wire/protocol.ts';
import { AnnounceMesh, isMeshTimer } from './announce-mesh.ts';
import { ANNOUNCE_PROTOCOL, type Announcement, addressesCodec, announceFrameCodec, announcementCodec } from './announcement.ts';
import { Catalog, DEFAULT_PURGE_AFTER_MS } from './catalog.ts';
import { CatalogExchanges, SYNC_PROTOCOL, type SyncMessage, syncCodec } from './catalog-exchange.ts';
import { checkDeparture, DEFAULT_MAX_TIME_DRIFT_MS, signDeparture, withinDrift } from './departure.ts';
import {
  incrementVersion,
  initialVersion,
  MAX_TAGS,
  type PeerEntry,
  type PeerEntryVersion,
  peerEntry,
  type SignedPeerEntry,
  signPeerEntry,
  type Ticket,
  ticketId,
} from './peer-entry.ts';
import { DEFAULT_RTT_PROBE_INTERVAL_MS, PING_PROTOCOL, type PingMessage, pingCodec, RTT_PROBES_PER_TICK, RttProber } from './rtt-probe.ts';

export interface DiscoveryOptions {
  /** Where this node can be reached (transport locations), published in its entry. */
  readonly addresses: readonly string[];
  readonly tags?: readonly Tag[];
  /** Peers to exchange catalogs with at start. */
  readonly bootstrap?: readonly PeerAddr[];
  /** @default 300 000 (mosaik) */
  readonly purgeAfterMs?: number;
  /** How often the local entry gets a new version, so peers never purge it. @default 45 000 (mosaik's announce interval) */
  readonly refreshIntervalMs?: number;
  /**
   * How often to exchange catalogs with one random known peer (push-pull anti-entropy: any
   * entry reaches every node in O(log N) rounds). @default 10 000
   */
  readonly syncIntervalMs?: number;
  /**
   * Announcements (entries and departures over gossip) whose timestamp is further than this
   * from our wall clock are dropped: a replay, or a peer whose clock is off. Catalog exchanges
   * carry them instead, as in mosaik. @default 50 000 (mosaik's code)
   */
  readonly maxTimeDriftMs?: number;
  /**
   * Gossip messages for a neighbor are sent together once per window: this long for up to
   * 100 known peers, growing with the network up to `maxAnnounceBatchMs` (see `AnnounceMesh`).
   * @default 100
   */
  readonly announceBatchMs?: number;
  /** @default 1000 */
  readonly maxAnnounceBatchMs?: number;
  /** HyParView view sizes. @default 5 active, 30 passive (the paper's, iroh's and mosaik's) */
  readonly gossipViews?: { readonly active?: number; readonly passive?: number };
  /** Mean period of RTT probes; each tick pings a few peers, unmeasured ones first. @default 30 000 (mosaik) */
  readonly rttProbeIntervalMs?: number;
  /** Test-only: planted bugs the discovery checkers must catch. */
  readonly plantedBugs?: {
    /** The local entry never gets a new version, so peers purge it while it is alive. */
    readonly noRefresh?: boolean;
    /** Catalog exchanges this node accepts are never answered (a stuck or hostile peer). */
    readonly silentSync?: boolean;
  };
}

export type DiscoveryCommand =
  | { readonly kind: 'syncWith'; readonly peer: PeerId; readonly addrs: readonly string[] }
  | { readonly kind: 'addTags'; readonly tags: readonly Tag[] }
  | { readonly kind: 'removeTags'; readonly tags: readonly Tag[] }
  | { readonly kind: 'addTicket'; readonly ticket: Ticket }
  | { readonly kind: 'removeTicket'; readonly id: Digest }
  | { readonly kind: 'removeTicketsOf'; readonly class: Digest };

/**
 * What other subsystems of the node ask discovery synchronously (`ctx.call('discovery', ...)`):
 * set the streams or groups this node offers in its entry (a new version, announced at once).
 * The answer is the new entry, or the InvalidArgumentError of a bound (the entry is unchanged).
 */
export type DiscoveryCall = { readonly kind: 'advertise'; readonly streams?: readonly StreamId[]; readonly groups?: readonly GroupId[] };

export type DiscoveryEvent =
  | { readonly type: 'discovery.discovered'; readonly entry: PeerEntry }
  | { readonly type: 'discovery.updated'; readonly entry: PeerEntry }
  | { readonly type: 'discovery.departed'; readonly peer: PeerId };

type Timer = 'refresh' | 'sync' | 'purge' | 'rtt';

/** Least time between two overlay joins through exchange partners (`#bridge`). */
const BRIDGE_INTERVAL_MS = 30_000;

/** Catalog peers a node with no gossip neighbor asks to join it. */
const REJOIN_CONTACTS = 3;

/** What discovery did with announcements, for tests and operators. */
export interface DiscoveryStats {
  /** Announcements received over gossip (entries and departures), decodable or not. */
  announcementsReceived: number;
  /** Dropped because their timestamp was beyond `maxTimeDriftMs` of our clock. */
  driftRejected: number;
  /** Dropped because they did not decode or their signature did not verify. */
  invalidRejected: number;
  /** Own-entry broadcasts. */
  announced: number;
  /** Own-entry versions too large to broadcast (catalog exchanges carry them). */
  tooLargeToAnnounce: number;
  /** Newer versions learnt by catalog exchange and broadcast on (see `#merge`). */
  relayed: number;
  /** Overlay joins through an exchange partner that brought news (see `#bridge`). */
  bridges: number;
}

/** Durable storage key of the last version this node published. */
const VERSION_KEY = 'local-version';

/** Spreads `base` by ±50%, so nodes started together do not act in lockstep. */
function jittered(ctx: NodeContext, baseMs: number): number {
  return Math.round(jitter(ctx.rng, baseMs, 0.5));
}

/**
 * Discovery: this node's signed entry, the catalog of everyone else's, and catalog
 * exchanges that spread entries through the network. At start a node exchanges catalogs
 * with its bootstrap peers; from then on, every `syncIntervalMs` it exchanges with one
 * random known peer, so a new entry reaches every node in O(log N) rounds. The local entry
 * gets a new version every `refreshIntervalMs`; entries not refreshed within
 * `purgeAfterMs` are purged (`departed`).
 *
 * Gossip announcements (HyParView + PlumTree, `core/gossip/`), graceful departures and
 * RTT probes plug in here next.
 */
export class DiscoverySubsystem implements Subsystem<DiscoveryCommand> {
  readonly name = 'discovery';
  readonly protocols: ReadonlyMap<ProtocolId, MessageCodec<unknown>>;
  readonly stats: DiscoveryStats = {
    announcementsReceived: 0,
    driftRejected: 0,
    invalidRejected: 0,
    announced: 0,
    tooLargeToAnnounce: 0,
    relayed: 0,
    bridges: 0,
  };
  readonly #options: DiscoveryOptions;
  readonly #announcements: MessageCodec<Announcement>;
  #mesh: AnnounceMesh | undefined;
  readonly #rtt: RttProber;
  /** Whether the node ever had a gossip neighbor: after that, regaining one means it was cut off. */
  #everConnected = false;
  #lastBridgeMs: number | undefined;
  /** Shutting down: leaving the overlay must not look like losing it (no rejoin). */
  #closing = false;
  readonly #exchanges: CatalogExchanges;
  #catalog: Catalog | undefined;
  readonly #timers = new Map<Timer, TimerId>();

  constructor(options: DiscoveryOptions, verifier: SignatureVerifier) {
    this.#options = options;
    this.#announcements = announcementCodec(verifier);
    this.protocols = new Map([
      [SYNC_PROTOCOL, syncCodec(verifier) as MessageCodec<unknown>],
      [ANNOUNCE_PROTOCOL, announceFrameCodec as MessageCodec<unknown>],
      [PING_PROTOCOL, pingCodec(verifier) as MessageCodec<unknown>],
    ]);
    this.#exchanges = new CatalogExchanges({
      catalog: () => this.#started,
      merge: (ctx, peer, entries) => {
        if (this.#merge(ctx, entries, 'relay') > 0) this.#bridge(ctx, peer);
      },
    });
    this.#rtt = new RttProber({
      me: () => this.#started.me(),
      onPong: (ctx, signed) => void this.#merge(ctx, [signed]),
    });
  }

  /** The gossip overlay; defined once the node has started. */
  get mesh(): AnnounceMesh | undefined {
    return this.#mesh;
  }

  /** Round-trip times per peer. */
  get rtt(): RttProber {
    return this.#rtt;
  }

  /** The catalog; defined once the node has started. */
  get catalog(): Catalog | undefined {
    return this.#catalog;
  }

  onStart(ctx: NodeContext): void {
    const entry = peerEntry({
      network: ctx.networkId,
      peerId: ctx.peerId,
      version: this.#firstVersion(ctx),
      addresses: this.#options.addresses,
      tags: this.#options.tags ?? [],
    });
    const catalog = new Catalog({ local: signPeerEntry(entry, ctx.secretKey), purgeAfterMs: this.#options.purgeAfterMs ?? DEFAULT_PURGE_AFTER_MS });
    this.#catalog = catalog;
    this.#persistVersion(ctx, entry.version);
    const batchWindowMs = this.#options.announceBatchMs ?? 100;
    const maxBatchWindowMs = Math.max(batchWindowMs, this.#options.maxAnnounceBatchMs ?? 500);
    const views = this.#options.gossipViews;
    this.#mesh = new AnnounceMesh(
      ctx,
      {
        batchWindowMs,
        maxBatchWindowMs,
        topic: {
          peerData: addressesCodec.encode([...this.#options.addresses]),
          // Relayed entries are within the drift limit of their making: ids must outlive that.
          broadcast: { messageIdRetentionMs: this.#maxTimeDriftMs + 10_000 },
          membership: {
            ...(views?.active ? { activeViewCapacity: views.active } : {}),
            ...(views?.passive !== undefined ? { passiveViewCapacity: views.passive } : {}),
          },
        },
      },
      {
        networkSize: () => this.#started.size,
        addressesOf: (peer) => this.#addressesOf(peer),
        accept: (c, data) => this.#acceptAnnouncement(c, data),
        onReceived: (c, data) => this.#onAnnouncement(c, data),
        onNeighborUp: (c, peer) => this.#onNeighborUp(c, peer),
        onNeighborDown: (c) => this.#onNeighborDown(c),
      },
    );
    const contacts: PeerId[] = [];
    for (const addr of this.#options.bootstrap ?? []) {
      if (addr.peer.equals(ctx.peerId)) continue;
      catalog.insertUnsigned(peerEntry({ network: ctx.networkId, peerId: addr.peer, version: { start: 0, update: 0 }, addresses: [addr.location] }));
      this.#exchange(ctx, addr.peer, [addr.location], undefined);
      contacts.push(addr.peer);
    }
    this.#mesh.join(ctx, contacts);
    this.#arm(ctx, 'refresh', jittered(ctx, this.#refreshIntervalMs));
    this.#arm(ctx, 'sync', jittered(ctx, this.#syncIntervalMs));
    this.#arm(ctx, 'rtt', jittered(ctx, this.#rttProbeIntervalMs));
    this.#armPurge(ctx);
  }

  onCommand(ctx: NodeContext, req: RequestId, command: DiscoveryCommand): void {
    switch (command.kind) {
      case 'syncWith':
        this.#exchange(ctx, command.peer, command.addrs, req);
        return;
      case 'addTags':
      case 'removeTags': {
        const local = this.#started.me().entry;
        const drop = new Set(command.kind === 'removeTags' ? command.tags.map((t) => t.hex) : []);
        const tags = command.kind === 'addTags' ? [...local.tags, ...command.tags] : local.tags.filter((t) => !drop.has(t.hex));
        const distinct = new Set(tags.map((t) => t.hex)).size;
        if (distinct > MAX_TAGS) return ctx.fail(req, new InvalidArgumentError(`an entry carries at most ${MAX_TAGS} tags, this would make ${distinct}`));
        this.#republish(ctx, { tags });
        ctx.complete(req, this.#started.me().entry);
        return;
      }
      case 'addTicket':
      case 'removeTicket':
      case 'removeTicketsOf': {
        const held = this.#started.me().entry.tickets;
        let tickets: readonly Ticket[];
        if (command.kind === 'addTicket') tickets = [...held, command.ticket];
        else if (command.kind === 'removeTicket') tickets = held.filter((t) => !ticketId(t).equals(command.id));
        else tickets = held.filter((t) => !t.class.equals(command.class));
        try {
          this.#republish(ctx, { tickets });
        } catch (e) {
          // Over a bound of the entry (ticket count, data size, signed size): the entry stays as it was.
          if (e instanceof InvalidArgumentError) return ctx.fail(req, e);
          throw e;
        }
        ctx.complete(req, this.#started.me().entry);
        return;
      }
    }
  }

  onCall(ctx: NodeContext, request: unknown): PeerEntry | InvalidArgumentError {
    const call = request as DiscoveryCall;
    assert(call.kind === 'advertise', `discovery: unknown call ${String(call.kind)}`);
    try {
      this.#republish(ctx, { ...(call.streams && { streams: call.streams }), ...(call.groups && { groups: call.groups }) });
    } catch (e) {
      if (e instanceof InvalidArgumentError) return e;
      throw e;
    }
    return this.#started.me().entry;
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.protocol === ANNOUNCE_PROTOCOL) return this.#meshStarted.onLinkUp(ctx, link);
    if (link.protocol === PING_PROTOCOL) return this.#rtt.onLinkUp(ctx, link);
    this.#exchanges.onLinkUp(ctx, link);
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void {
    if (link.protocol === ANNOUNCE_PROTOCOL) return this.#meshStarted.onFrame(ctx, link, message as GossipMessage[]);
    if (link.protocol === PING_PROTOCOL) return this.#rtt.onMessage(ctx, link, message as PingMessage);
    if (this.#options.plantedBugs?.silentSync && link.dir === 'in') return;
    this.#exchanges.onMessage(ctx, link, message as SyncMessage);
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    if (link.protocol === ANNOUNCE_PROTOCOL) return this.#meshStarted.onLinkDown(ctx, link);
    if (link.protocol === PING_PROTOCOL) return this.#rtt.onLinkDown(ctx, link, down);
    this.#exchanges.onLinkDown(ctx, link, down);
  }

  onTimer(ctx: NodeContext, payload: unknown): void {
    if (isMeshTimer(payload)) return this.#meshStarted.onTimer(ctx, payload);
    const timer = payload as Timer;
    this.#timers.delete(timer);
    switch (timer) {
      case 'refresh':
        if (!this.#options.plantedBugs?.noRefresh) this.#republish(ctx, {});
        this.#arm(ctx, 'refresh', jittered(ctx, this.#refreshIntervalMs));
        return;
      case 'sync': {
        this.#exchanges.expire(ctx);
        const busy = this.#exchanges.busyPeers();
        const candidates = this.#contacts(ctx).filter((p) => !busy.has(p.peer.hex));
        const pick = candidates[Math.floor(ctx.rng.float() * candidates.length)];
        if (pick) this.#exchange(ctx, pick.peer, pick.addresses, undefined);
        if (this.#meshStarted.neighborCount() === 0) this.#rejoin(ctx);
        this.#arm(ctx, 'sync', jittered(ctx, this.#syncIntervalMs));
        return;
      }
      case 'purge':
        for (const peer of this.#started.purge(ctx.wallClockMs)) this.#departed(ctx, peer);
        this.#armPurge(ctx);
        return;
      case 'rtt':
        this.#rtt.sweep(ctx);
        this.#probeSome(ctx);
        this.#arm(ctx, 'rtt', jittered(ctx, this.#rttProbeIntervalMs));
        return;
    }
  }

  onShutdown(ctx: NodeContext): void {
    this.#closing = true;
    // Say goodbye (mosaik `GracefulDeparture`): peers drop the entry now instead of at purge.
    const mesh = this.#mesh;
    if (mesh && mesh.neighborCount() > 0) {
      const departure = signDeparture(ctx.secretKey, this.#started.me().entry.version, Math.max(0, Math.floor(ctx.wallClockMs)));
      mesh.broadcast(ctx, this.#announcements.encode({ t: 'departure', departure }), true);
    }
    mesh?.quit(ctx);
    this.#rtt.shutdown(ctx);
    this.#exchanges.shutdown(ctx);
  }

  get #started(): Catalog {
    const catalog = this.#catalog;
    assert(catalog, 'discovery used before the node started');
    return catalog;
  }

  get #meshStarted(): AnnounceMesh {
    const mesh = this.#mesh;
    assert(mesh, 'discovery used before the node started');
    return mesh;
  }

  get #maxTimeDriftMs(): number {
    return this.#options.maxTimeDriftMs ?? DEFAULT_MAX_TIME_DRIFT_MS;
  }

  get #rttProbeIntervalMs(): number {
    return this.#options.rttProbeIntervalMs ?? DEFAULT_RTT_PROBE_INTERVAL_MS;
  }

  /** RTT probes for a few peers: unmeasured ones first, then at random. */
  #probeSome(ctx: NodeContext): void {
    const peers = this.#started.signedPeers(ctx.wallClockMs).filter((p) => p.entry.addresses.length > 0 && !this.#rtt.probing(p.entry.peerId));
    const unmeasured = peers.filter((p) => this.#rtt.rtt(p.entry.peerId) === undefined);
    const pool = unmeasured.length > 0 ? unmeasured : peers;
    for (const pick of takeRandom(ctx.rng, pool, RTT_PROBES_PER_TICK)) this.#rtt.probe(ctx, pick.entry.peerId, pick.entry.addresses);
  }

  #departed(ctx: NodeContext, peer: PeerId): void {
    this.#rtt.forget(peer);
    ctx.emit({ type: 'discovery.departed', peer });
  }

  get #refreshIntervalMs(): number {
    return this.#options.refreshIntervalMs ?? 45_000;
  }

  get #syncIntervalMs(): number {
    return this.#options.syncIntervalMs ?? 10_000;
  }

  #exchange(ctx: NodeContext, peer: PeerId, addrs: readonly string[], req: RequestId | undefined): void {
    this.#exchanges.start(ctx, peer, addrs, req);
  }

  /**
   * Upserts entries and emits what changed. With `relay` (entries from a catalog exchange),
   * newer versions of entries we already held are broadcast on: gossip should have brought
   * them, so our part of the overlay missed them too (a healed partition leaves two overlays
   * that only exchanges connect). A relayed entry is byte-identical to its owner's broadcast,
   * so it has the same gossip id: wherever the owner's copy already went, it is a duplicate
   * and goes no further. Returns the number relayed.
   */
  #merge(ctx: NodeContext, entries: readonly SignedPeerEntry[], relay?: 'relay'): number {
    const catalog = this.#started;
    let relayed = 0;
    for (const signed of entries) {
      const outcome = catalog.upsertSigned(signed, ctx.wallClockMs);
      if (outcome === 'new') ctx.emit({ type: 'discovery.discovered', entry: signed.entry });
      else if (outcome === 'updated') {
        ctx.emit({ type: 'discovery.updated', entry: signed.entry });
        if (relay && withinDrift(signed.entry.version.update, ctx.wallClockMs, this.#maxTimeDriftMs)) {
          if (this.#meshStarted.broadcast(ctx, this.#announcements.encode({ t: 'entry', signed }))) relayed++;
        }
      }
    }
    this.stats.relayed += relayed;
    return relayed;
  }

  /**
   * An exchange brought news gossip had not: our overlay may be cut off from the peer's.
   * Joining through that peer links the two (its random walk gives us neighbors on its side),
   * at most once per BRIDGE_INTERVAL_MS.
   */
  #bridge(ctx: NodeContext, peer: PeerId): void {
    if (this.#lastBridgeMs !== undefined && ctx.nowMs - this.#lastBridgeMs < BRIDGE_INTERVAL_MS) return;
    if (this.#meshStarted.topic.activeView().some((p) => p.equals(peer))) return;
    this.#lastBridgeMs = ctx.nowMs;
    this.stats.bridges++;
    this.#meshStarted.join(ctx, [peer]);
  }

  /** A new version of the local entry, with the given changes, signed and installed. */
  #republish(
    ctx: NodeContext,
    changes: {
      readonly tags?: readonly Tag[];
      readonly tickets?: readonly Ticket[];
      readonly streams?: readonly StreamId[];
      readonly groups?: readonly GroupId[];
    },
  ): void {
    const catalog = this.#started;
    const current = catalog.me().entry;
    const entry = peerEntry({
      ...current,
      ...changes,
      version: incrementVersion(current.version, Math.floor(ctx.wallClockMs)),
    });
    catalog.setLocal(signPeerEntry(entry, ctx.secretKey));
    this.#persistVersion(ctx, entry.version);
    this.#announce(ctx);
  }

  // ---- gossip ------------------------------------------------------------------------------

  /** Broadcasts the local entry: on every new version, and when the node (re)gains a neighbor. */
  #announce(ctx: NodeContext): void {
    const mesh = this.#meshStarted;
    if (mesh.neighborCount() === 0) return; // sent on the first neighborUp
    // An entry over the gossip payload limit (many large tickets) travels by catalog exchange only.
    if (mesh.broadcast(ctx, this.#announcements.encode({ t: 'entry', signed: this.#started.me() }))) this.stats.announced++;
    else this.stats.tooLargeToAnnounce++;
  }

  /**
   * Gossip asks before it forwards a payload: only a well-formed announcement, signed by its
   * peer, of this network and within the drift limit spreads further. Counted here, once.
   */
  #acceptAnnouncement(ctx: NodeContext, data: Uint8Array): boolean {
    this.stats.announcementsReceived++;
    const decoded = this.#announcements.decode(data);
    if (!decoded.ok) {
      this.stats.invalidRejected++;
      return false;
    }
    const announcement = decoded.value;
    if (announcement.t === 'entry') {
      const { entry } = announcement.signed;
      if (!entry.network.equals(ctx.networkId)) {
        this.stats.invalidRejected++;
        return false;
      }
      if (!withinDrift(entry.version.update, ctx.wallClockMs, this.#maxTimeDriftMs)) {
        this.stats.driftRejected++;
        return false;
      }
      return true;
    }
    const check = checkDeparture(announcement.departure, ctx.verifier, ctx.wallClockMs, this.#maxTimeDriftMs);
    if (check === 'ok') return true;
    if (check === 'drift') this.stats.driftRejected++;
    else this.stats.invalidRejected++;
    return false;
  }

  /** An accepted announcement (see `#acceptAnnouncement`). Decoding again is cheap: opened entries are cached. */
  #onAnnouncement(ctx: NodeContext, data: Uint8Array): void {
    const decoded = this.#announcements.decode(data);
    assert(decoded.ok, 'an accepted announcement decodes');
    const announcement = decoded.value;
    if (announcement.t === 'entry') {
      this.#merge(ctx, [announcement.signed]);
      return;
    }
    const departure = announcement.departure;
    if (this.#started.depart(departure.peer, departure.lastVersion)) this.#departed(ctx, departure.peer);
  }

  #onNeighborUp(ctx: NodeContext, peer: PeerId): void {
    if (this.#meshStarted.neighborCount() !== 1) return;
    // The first neighbor, at start or after being cut off: tell everyone our latest entry,
    // and after a cut, catch up on what we missed from this neighbor's catalog.
    this.#announce(ctx);
    if (this.#everConnected && !this.#exchanges.busyWith(peer)) {
      const addrs = this.#addressesOf(peer);
      if (addrs.length > 0) this.#exchange(ctx, peer, addrs, undefined);
    }
    this.#everConnected = true;
  }

  #onNeighborDown(ctx: NodeContext): void {
    if (!this.#closing && this.#meshStarted.neighborCount() === 0) this.#rejoin(ctx);
  }

  /** With no gossip neighbor left, ask a few random catalog peers to take us in (mosaik asks all of them). */
  #rejoin(ctx: NodeContext): void {
    const contacts = takeRandom(ctx.rng, this.#contacts(ctx), REJOIN_CONTACTS).map((c) => c.peer);
    if (contacts.length > 0) this.#meshStarted.join(ctx, contacts);
  }

  /**
   * Peers to reach out to: the catalog's (live, with addresses), in its iteration order; with
   * none, the bootstrap peers again. A node cut off long enough purges everyone, and then
   * its bootstrap addresses are all it has left.
   */
  #contacts(ctx: NodeContext): { peer: PeerId; addresses: readonly string[] }[] {
    const catalog = this.#started;
    const out: { peer: PeerId; addresses: readonly string[] }[] = [];
    const staleBefore = ctx.wallClockMs - catalog.purgeAfterMs;
    for (const { entry } of catalog.signedUnordered()) {
      if (entry.peerId.equals(ctx.peerId) || entry.version.update < staleBefore || entry.addresses.length === 0) continue;
      out.push({ peer: entry.peerId, addresses: entry.addresses });
    }
    for (const hint of catalog.unsignedPeers()) if (hint.addresses.length > 0) out.push({ peer: hint.peerId, addresses: hint.addresses });
    if (out.length > 0) return out;
    return this.#bootstrap.filter((addr) => !addr.peer.equals(ctx.peerId)).map((addr) => ({ peer: addr.peer, addresses: [addr.location] }));
  }

  get #bootstrap(): readonly PeerAddr[] {
    return this.#options.bootstrap ?? [];
  }

  /** Where to dial `peer`: its entry's addresses, else the addresses it gave the overlay. */
  #addressesOf(peer: PeerId): readonly string[] {
    const known = this.#started.get(peer, Number.NEGATIVE_INFINITY); // signed (stale or not) or a hint
    if (known && known.addresses.length > 0) return known.addresses;
    const boot = this.#bootstrap.find((addr) => addr.peer.equals(peer));
    if (boot) return [boot.location];
    const data = this.#meshStarted.topic.peerData(peer);
    if (!data) return [];
    const decoded = addressesCodec.decode(data);
    return decoded.ok ? decoded.value : [];
  }

  /**
   * The version to start from: the wall clock, unless an earlier life of this node published
   * a later one. Peers keep only strictly newer versions, so a node restarting with its clock
   * behind its last version would otherwise be ignored until its old entry was purged.
   */
  #firstVersion(ctx: NodeContext): PeerEntryVersion {
    const wall = Math.max(0, Math.floor(ctx.wallClockMs));
    const stored = ctx.stored(VERSION_KEY);
    if (stored?.length !== 16) return initialVersion(wall);
    const view = new DataView(stored.buffer, stored.byteOffset, 16);
    const lastUpdate = view.getFloat64(8);
    return initialVersion(Math.max(wall, lastUpdate + 1));
  }

  /** Durable before anything that reveals it is sent (outputs are performed in order). */
  #persistVersion(ctx: NodeContext, version: PeerEntryVersion): void {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setFloat64(0, version.start);
    view.setFloat64(8, version.update);
    ctx.persist(VERSION_KEY, bytes);
  }

  #arm(ctx: NodeContext, timer: Timer, delayMs: number): void {
    const previous = this.#timers.get(timer);
    if (previous !== undefined) ctx.cancelTimer(previous);
    this.#timers.set(timer, ctx.armTimer(ctx.nowMs + delayMs, timer));
  }

  /** The next purge is due when the oldest entry expires (on the wall clock the versions use). */
  #armPurge(ctx: NodeContext): void {
    const next = this.#started.nextPurgeAtMs();
    const delayMs = next === undefined ? this.#started.purgeAfterMs : Math.max(0, next - ctx.wallClockMs);
    this.#arm(ctx, 'purge', delayMs);
  }
}
