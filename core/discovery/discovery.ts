import { ConnectError, InvalidArgumentError, LinkClosedError } from '../errors.ts';
import type { PeerAddr } from '../identity/address.ts';
import type { Tag } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { LinkId, RequestId, TimerId } from '../node/io.ts';
import type { LinkDown, LinkInfo, NodeContext, PendingLink, Subsystem } from '../node/subsystem.ts';
import { assert } from '../util/assert.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';
import { Catalog, DEFAULT_PURGE_AFTER_MS } from './catalog.ts';
import {
  incrementVersion,
  initialVersion,
  isNewer,
  MAX_TAGS,
  type PeerEntry,
  type PeerEntryVersion,
  peerEntry,
  type SignedPeerEntry,
  signedPeerEntrySchemaWith,
  signPeerEntry,
} from './peer-entry.ts';

/**
 * Catalog exchange, push-pull by digest (mosaik sends whole catalogs both ways; this sends
 * only what differs):
 * 1. the dialer sends a `digest`: the version of every entry it holds, its own included;
 * 2. the acceptor answers with a `delta`: the signed entries it holds newer (or the dialer
 *    lacks), and the ids it wants because the dialer's are newer;
 * 3. the dialer answers with a `delta` of the wanted entries, and closes.
 * Unchanged entries cost one digest line (~50 bytes) instead of a signed entry, and are
 * neither decoded nor verified again.
 */
export const SYNC_PROTOCOL = protocolId('/mosaik/discovery/sync/1');

/** Most entries one message carries; the frame limit (8 MiB) bounds it first in practice. */
export const MAX_SNAPSHOT_ENTRIES = 100_000;

export interface DigestLine {
  readonly peer: PeerId;
  readonly start: number;
  readonly update: number;
}

export type SyncMessage = { t: 'digest'; versions: DigestLine[] } | { t: 'delta'; entries: SignedPeerEntry[]; want: PeerId[] };

export function syncCodec(verifier: SignatureVerifier): MessageCodec<SyncMessage> {
  const entries = s.array(signedPeerEntrySchemaWith(verifier), { maxLength: MAX_SNAPSHOT_ENTRIES });
  const versions = s.array(s.struct({ peer: s.peerId, start: s.uint, update: s.uint }), { maxLength: MAX_SNAPSHOT_ENTRIES });
  const want = s.array(s.peerId, { maxLength: MAX_SNAPSHOT_ENTRIES });
  return msgpackCodec(s.union('t', { digest: s.struct({ versions }), delta: s.struct({ entries, want }) })) as MessageCodec<SyncMessage>;
}

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
  /** Test-only: planted bugs the discovery checkers must catch. */
  readonly plantedBugs?: {
    /** The local entry never gets a new version, so peers purge it while it is alive. */
    readonly noRefresh?: boolean;
  };
}

export type DiscoveryCommand =
  | { readonly kind: 'syncWith'; readonly peer: PeerId; readonly addrs: readonly string[] }
  | { readonly kind: 'addTags'; readonly tags: readonly Tag[] }
  | { readonly kind: 'removeTags'; readonly tags: readonly Tag[] };

export type DiscoveryEvent =
  | { readonly type: 'discovery.discovered'; readonly entry: PeerEntry }
  | { readonly type: 'discovery.updated'; readonly entry: PeerEntry }
  | { readonly type: 'discovery.departed'; readonly peer: PeerId };

type Timer = 'refresh' | 'sync' | 'purge';

/** Durable storage key of the last version this node published. */
const VERSION_KEY = 'local-version';

interface Exchange {
  readonly peer: PeerId;
  readonly dir: 'in' | 'out';
  /** The API call waiting for this exchange, if one asked for it. */
  readonly req: RequestId | undefined;
  /** The message expected next. */
  awaiting: 'digest' | 'delta' | 'final-delta';
}

/** Spreads `base` by ±50%, so nodes started together do not act in lockstep. */
function jittered(ctx: NodeContext, baseMs: number): number {
  return Math.round(baseMs * (0.5 + ctx.rng.float()));
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
  readonly protocols: ReadonlyMap<typeof SYNC_PROTOCOL, MessageCodec<unknown>>;
  readonly #options: DiscoveryOptions;
  readonly #exchanges = new Map<LinkId, Exchange>();
  #catalog: Catalog | undefined;
  readonly #timers = new Map<Timer, TimerId>();

  constructor(options: DiscoveryOptions, verifier: SignatureVerifier) {
    this.#options = options;
    this.protocols = new Map([[SYNC_PROTOCOL, syncCodec(verifier) as MessageCodec<unknown>]]);
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
    for (const addr of this.#options.bootstrap ?? []) {
      if (addr.peer.equals(ctx.peerId)) continue;
      catalog.insertUnsigned(peerEntry({ network: ctx.networkId, peerId: addr.peer, version: { start: 0, update: 0 }, addresses: [addr.location] }));
      this.#exchange(ctx, addr.peer, [addr.location], undefined);
    }
    this.#arm(ctx, 'refresh', jittered(ctx, this.#refreshIntervalMs));
    this.#arm(ctx, 'sync', jittered(ctx, this.#syncIntervalMs));
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
    }
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'in') {
      this.#exchanges.set(link.id, { peer: link.peer, dir: 'in', req: undefined, awaiting: 'digest' });
      return;
    }
    // We asked for this exchange: our digest goes first.
    const versions = this.#started.signedSnapshot().map(({ entry }) => ({ peer: entry.peerId, start: entry.version.start, update: entry.version.update }));
    this.#send(ctx, link.id, { t: 'digest', versions });
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void {
    const exchange = this.#exchanges.get(link.id);
    if (!exchange) return;
    const msg = message as SyncMessage;
    const expected = exchange.awaiting === 'digest' ? 'digest' : 'delta';
    if (msg.t !== expected) return ctx.close(link.id, CloseCode.ProtocolViolation, `expected a ${expected}, got a ${msg.t}`);
    if (msg.t === 'digest') {
      // Acceptor, step 2: what we hold newer goes out; what they hold newer we ask for.
      const { entries, want } = this.#compare(ctx, msg.versions);
      exchange.awaiting = 'final-delta';
      this.#send(ctx, link.id, { t: 'delta', entries, want });
      return;
    }
    this.#merge(ctx, msg.entries);
    if (exchange.dir === 'in') return; // acceptor, step 3 received: done; the dialer closes
    // Dialer, step 3: send what they asked for, and close.
    const mine = new Map(this.#started.signedSnapshot().map((e) => [e.entry.peerId.hex, e]));
    const wanted = msg.want.flatMap((id) => mine.get(id.hex) ?? []);
    this.#send(ctx, link.id, { t: 'delta', entries: wanted, want: [] });
    this.#exchanges.delete(link.id);
    ctx.close(link.id, CloseCode.Success, 'catalogs exchanged');
    if (exchange.req !== undefined) ctx.complete(exchange.req, undefined);
  }

  /** Against a peer's digest: our entries it lacks or holds older, and the ids it holds newer. */
  #compare(ctx: NodeContext, theirs: readonly DigestLine[]): { entries: SignedPeerEntry[]; want: PeerId[] } {
    const catalog = this.#started;
    const staleBefore = ctx.wallClockMs - catalog.purgeAfterMs;
    const mine = new Map(catalog.signedSnapshot().map((e) => [e.entry.peerId.hex, e]));
    const theirVersions = new Map(theirs.map((line) => [line.peer.hex, line]));
    const entries: SignedPeerEntry[] = [];
    for (const [hex, signed] of mine) {
      const line = theirVersions.get(hex);
      if (!line || isNewer(signed.entry.version, line)) entries.push(signed);
    }
    const want: PeerId[] = [];
    for (const line of theirs) {
      if (line.update < staleBefore) continue; // we would purge it at once
      const held = mine.get(line.peer.hex);
      if (!held || isNewer(line, held.entry.version)) want.push(line.peer);
    }
    return { entries, want };
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    const exchange = this.#exchanges.get(link.id);
    if (!exchange) return;
    this.#exchanges.delete(link.id);
    // A bootstrap address that turned out to be on another network is forgotten, not retried.
    if (down.kind === 'closed' && down.code === CloseCode.DifferentNetwork) this.#started.removeUnsigned(link.peer);
    if (exchange.req === undefined) return;
    ctx.fail(
      exchange.req,
      down.kind === 'failed'
        ? new ConnectError(down.reason, `could not reach ${link.peer.short}: ${down.detail}`)
        : new LinkClosedError(down.code, down.reason),
    );
  }

  onTimer(ctx: NodeContext, payload: unknown): void {
    const timer = payload as Timer;
    this.#timers.delete(timer);
    switch (timer) {
      case 'refresh':
        if (!this.#options.plantedBugs?.noRefresh) this.#republish(ctx, {});
        this.#arm(ctx, 'refresh', jittered(ctx, this.#refreshIntervalMs));
        return;
      case 'sync': {
        const peers = this.#started.peers(ctx.wallClockMs).filter((p) => p.addresses.length > 0);
        const busy = new Set([...this.#exchanges.values()].map((e) => e.peer.hex));
        const candidates = peers.filter((p) => !busy.has(p.peerId.hex));
        const pick = candidates[Math.floor(ctx.rng.float() * candidates.length)];
        if (pick) this.#exchange(ctx, pick.peerId, pick.addresses, undefined);
        this.#arm(ctx, 'sync', jittered(ctx, this.#syncIntervalMs));
        return;
      }
      case 'purge':
        for (const peer of this.#started.purge(ctx.wallClockMs)) ctx.emit({ type: 'discovery.departed', peer });
        this.#armPurge(ctx);
        return;
    }
  }

  onShutdown(ctx: NodeContext): void {
    for (const [link, exchange] of this.#exchanges) {
      if (exchange.req !== undefined) ctx.fail(exchange.req, new LinkClosedError(CloseCode.GracefulShutdown, 'network closed'));
      this.#exchanges.delete(link);
    }
  }

  get #started(): Catalog {
    const catalog = this.#catalog;
    assert(catalog, 'discovery used before the node started');
    return catalog;
  }

  get #refreshIntervalMs(): number {
    return this.#options.refreshIntervalMs ?? 45_000;
  }

  get #syncIntervalMs(): number {
    return this.#options.syncIntervalMs ?? 10_000;
  }

  #exchange(ctx: NodeContext, peer: PeerId, addrs: readonly string[], req: RequestId | undefined): void {
    const link = ctx.connect(peer, addrs, SYNC_PROTOCOL);
    this.#exchanges.set(link, { peer, dir: 'out', req, awaiting: 'delta' });
  }

  #send(ctx: NodeContext, link: LinkId, message: SyncMessage): void {
    const error = ctx.send(link, message);
    if (error) ctx.close(link, CloseCode.Cancelled, error.message);
  }

  #merge(ctx: NodeContext, entries: readonly SignedPeerEntry[]): void {
    const catalog = this.#started;
    for (const signed of entries) {
      const outcome = catalog.upsertSigned(signed, ctx.wallClockMs);
      if (outcome === 'new') ctx.emit({ type: 'discovery.discovered', entry: signed.entry });
      else if (outcome === 'updated') ctx.emit({ type: 'discovery.updated', entry: signed.entry });
    }
  }

  /** A new version of the local entry, with the given changes, signed and installed. */
  #republish(ctx: NodeContext, changes: { readonly tags?: readonly Tag[] }): void {
    const catalog = this.#started;
    const current = catalog.me().entry;
    const entry = peerEntry({ ...current, tags: changes.tags ?? current.tags, version: incrementVersion(current.version, Math.floor(ctx.wallClockMs)) });
    catalog.setLocal(signPeerEntry(entry, ctx.secretKey));
    this.#persistVersion(ctx, entry.version);
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
