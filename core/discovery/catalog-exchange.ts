import { LinkClosedError, OversizedError, TimeoutError } from '../errors.ts';
import type { PeerId } from '../identity/keys.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import type { LinkId, RequestId } from '../node/io.ts';
import { type LinkDown, type LinkInfo, linkDownError, type NodeContext, type PendingLink } from '../node/subsystem.ts';
import { memoByObject } from '../util/memo.ts';
import { CloseCode } from '../wire/close-codes.ts';
import { type MessageCodec, msgpackCodec } from '../wire/codec.ts';
import { protocolId } from '../wire/protocol.ts';
import * as s from '../wire/schema.ts';
import type { Catalog } from './catalog.ts';
import { bucketOf, SUMMARY_BUCKETS, SUMMARY_BYTES } from './catalog-summary.ts';
import { isNewer, type SignedPeerEntry, signedPeerEntrySchemaWith } from './peer-entry.ts';

/**
 * Catalog exchange with one peer, push-pull by summary (mosaik sends whole catalogs both
 * ways; this sends only what differs):
 * 1. the dialer sends a `summary`: a fingerprint per bucket of the entries it holds
 *    (`CatalogSummary`, 2 KiB however large the catalog);
 * 2. the acceptor answers with a `digest`: the buckets that differ, and the version of each
 *    entry it holds in them;
 * 3. the dialer sends a `delta`: its entries in those buckets that the acceptor lacks or
 *    holds older, and the ids it wants because the acceptor's are newer;
 * 4. the acceptor sends a `delta` of the wanted entries; the dialer closes.
 * With no differing bucket the exchange ends after step 2. In a converged network an
 * exchange costs two small frames each way, not a catalog.
 */
export const SYNC_PROTOCOL = protocolId('/mosaik/discovery/sync/2');

/** Most entries (or digest lines) one message carries; the frame limit (8 MiB) bounds it first in practice. */
export const MAX_SNAPSHOT_ENTRIES = 100_000;

export interface DigestLine {
  readonly peer: PeerId;
  readonly start: number;
  readonly update: number;
}

export type SyncMessage =
  | { readonly t: 'summary'; readonly sums: Uint8Array }
  | { readonly t: 'digest'; readonly buckets: Uint8Array; readonly versions: DigestLine[] }
  | { readonly t: 'delta'; readonly entries: SignedPeerEntry[]; readonly want: PeerId[] };

/** The codec of catalog exchanges; one per verifier (its decoders are compiled, see core/util/memo.ts). */
export const syncCodec: (verifier: SignatureVerifier) => MessageCodec<SyncMessage> = memoByObject((verifier) => {
  const entries = s.array(signedPeerEntrySchemaWith(verifier), { maxLength: MAX_SNAPSHOT_ENTRIES });
  const versions = s.array(s.struct({ peer: s.peerId, start: s.uint, update: s.uint }), { maxLength: MAX_SNAPSHOT_ENTRIES });
  const want = s.array(s.peerId, { maxLength: MAX_SNAPSHOT_ENTRIES });
  return msgpackCodec(
    s.union('t', {
      summary: s.struct({ sums: s.bytes({ length: SUMMARY_BYTES }) }),
      digest: s.struct({ buckets: s.bytes({ maxLength: SUMMARY_BUCKETS }), versions }),
      delta: s.struct({ entries, want }),
    }),
  ) as MessageCodec<SyncMessage>;
});

export interface CatalogExchangeHandler {
  /** The catalog exchanges read and fill. */
  catalog(): Catalog;
  /** Entries arrived from `peer`: upsert them and emit what changed. */
  merge(ctx: NodeContext, peer: PeerId, entries: readonly SignedPeerEntry[]): void;
}

/**
 * An exchange not finished after this long is given up (link closed, a waiting `syncWith`
 * fails with TimeoutError): a peer that takes a catalog exchange and never answers would
 * otherwise keep this node from ever exchanging with it again while the link lives. The
 * longest honest exchange is a few frames of at most 8 MiB.
 */
export const EXCHANGE_TIMEOUT_MS = 30_000;

interface Exchange {
  readonly peer: PeerId;
  readonly dir: 'in' | 'out';
  readonly startedAtMs: number;
  /** The API call waiting for this exchange, if one asked for it. */
  readonly req: RequestId | undefined;
  /** The message expected next (`done`: the acceptor waits for the dialer to close). */
  awaiting: 'summary' | 'digest' | 'delta' | 'final-delta' | 'done';
  /** The buckets being compared (from the digest). */
  buckets: ReadonlySet<number>;
}

const EXPECTED: Record<Exchange['awaiting'], SyncMessage['t'] | undefined> = {
  summary: 'summary',
  digest: 'digest',
  delta: 'delta',
  'final-delta': 'delta',
  done: undefined,
};

/** Both ends of catalog exchanges, one state machine per link. */
export class CatalogExchanges {
  readonly #handler: CatalogExchangeHandler;
  readonly #exchanges = new Map<LinkId, Exchange>();

  constructor(handler: CatalogExchangeHandler) {
    this.#handler = handler;
  }

  /** Whether an exchange with `peer` is in flight (either direction). */
  busyWith(peer: PeerId): boolean {
    for (const e of this.#exchanges.values()) if (e.peer.equals(peer)) return true;
    return false;
  }

  /** Peers with an exchange in flight, by id hex. */
  busyPeers(): Set<string> {
    return new Set([...this.#exchanges.values()].map((e) => e.peer.hex));
  }

  /** Starts an exchange with `peer`; `req`, if given, completes when it is done or fails with why not. */
  start(ctx: NodeContext, peer: PeerId, addrs: readonly string[], req: RequestId | undefined): void {
    const link = ctx.connect(peer, addrs, SYNC_PROTOCOL);
    this.#exchanges.set(link, { peer, dir: 'out', startedAtMs: ctx.nowMs, req, awaiting: 'digest', buckets: new Set() });
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'in') {
      this.#exchanges.set(link.id, { peer: link.peer, dir: 'in', startedAtMs: ctx.nowMs, req: undefined, awaiting: 'summary', buckets: new Set() });
      return;
    }
    if (!this.#exchanges.has(link.id)) return;
    this.#send(ctx, link.id, { t: 'summary', sums: this.#handler.catalog().summary.bytes() });
  }

  onMessage(ctx: NodeContext, link: LinkInfo, msg: SyncMessage): void {
    const exchange = this.#exchanges.get(link.id);
    if (!exchange) return;
    const expected = EXPECTED[exchange.awaiting];
    if (msg.t !== expected) return ctx.close(link.id, CloseCode.ProtocolViolation, `expected ${expected ?? 'the close'}, got a ${msg.t}`);
    const catalog = this.#handler.catalog();
    switch (msg.t) {
      case 'summary': {
        // Acceptor, step 2: the differing buckets, and our versions in them.
        const buckets = catalog.summary.differing(msg.sums);
        exchange.buckets = new Set(buckets);
        const versions: DigestLine[] = [];
        if (buckets.length > 0) {
          for (const { entry } of catalog.signedUnordered()) {
            if (exchange.buckets.has(bucketOf(entry.peerId))) versions.push({ peer: entry.peerId, start: entry.version.start, update: entry.version.update });
          }
        }
        exchange.awaiting = buckets.length > 0 ? 'delta' : 'done';
        // Too large for the link: compare the first half of the buckets now, the rest in a later exchange.
        this.#send(ctx, link.id, { t: 'digest', buckets: Uint8Array.from(buckets), versions }, (m) => {
          if (m.t !== 'digest' || m.buckets.length < 2) return undefined;
          const kept = m.buckets.subarray(0, m.buckets.length >> 1);
          exchange.buckets = new Set(kept);
          return { t: 'digest', buckets: kept, versions: m.versions.filter((v) => exchange.buckets.has(bucketOf(v.peer))) };
        });
        return;
      }
      case 'digest': {
        // Dialer, step 3.
        if (msg.buckets.length === 0) return this.#finish(ctx, link.id, exchange);
        exchange.buckets = new Set(msg.buckets);
        const { entries, want } = this.#compare(ctx, exchange.buckets, msg.versions);
        exchange.awaiting = 'final-delta';
        this.#send(ctx, link.id, { t: 'delta', entries, want }, halveDelta);
        return;
      }
      case 'delta': {
        this.#handler.merge(ctx, exchange.peer, msg.entries);
        if (exchange.dir === 'out') return this.#finish(ctx, link.id, exchange);
        // Acceptor, step 4: what they asked for (only ids in the compared buckets are honoured).
        const wanted = msg.want.flatMap((id) => (exchange.buckets.has(bucketOf(id)) ? (catalog.signedByHex(id.hex) ?? []) : []));
        exchange.awaiting = 'done';
        this.#send(ctx, link.id, { t: 'delta', entries: wanted, want: [] }, halveDelta);
        return;
      }
    }
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, down: LinkDown): void {
    const exchange = this.#exchanges.get(link.id);
    if (!exchange) return;
    this.#exchanges.delete(link.id);
    // A bootstrap address that turned out to be on another network is forgotten, not retried.
    if (down.kind === 'closed' && down.code === CloseCode.DifferentNetwork) this.#handler.catalog().removeUnsigned(link.peer);
    if (exchange.req === undefined) return;
    ctx.fail(exchange.req, linkDownError(link, down));
  }

  /** Gives up the exchanges started `EXCHANGE_TIMEOUT_MS` ago or more (either direction). */
  expire(ctx: NodeContext): void {
    for (const [link, exchange] of this.#exchanges) {
      if (ctx.nowMs - exchange.startedAtMs < EXCHANGE_TIMEOUT_MS) continue;
      this.#exchanges.delete(link);
      ctx.close(link, CloseCode.Cancelled, 'catalog exchange timed out');
      if (exchange.req !== undefined)
        ctx.fail(exchange.req, new TimeoutError(`catalog exchange with ${exchange.peer.short} timed out after ${EXCHANGE_TIMEOUT_MS} ms`));
    }
  }

  /** Fails the requests still waiting: the node is shutting down. */
  shutdown(ctx: NodeContext): void {
    for (const exchange of this.#exchanges.values()) {
      if (exchange.req !== undefined) ctx.fail(exchange.req, new LinkClosedError(CloseCode.GracefulShutdown, 'network closed'));
    }
    this.#exchanges.clear();
  }

  /** The dialer is done: close, and answer the request if there is one. */
  #finish(ctx: NodeContext, link: LinkId, exchange: Exchange): void {
    this.#exchanges.delete(link);
    ctx.close(link, CloseCode.Success, 'catalogs exchanged');
    if (exchange.req !== undefined) ctx.complete(exchange.req, undefined);
  }

  /** Against the acceptor's digest of `buckets`: our entries there it lacks or holds older, and the ids it holds newer. */
  #compare(ctx: NodeContext, buckets: ReadonlySet<number>, theirs: readonly DigestLine[]): { entries: SignedPeerEntry[]; want: PeerId[] } {
    const catalog = this.#handler.catalog();
    const staleBefore = ctx.wallClockMs - catalog.purgeAfterMs;
    const theirVersions = new Map<string, DigestLine>();
    for (const line of theirs) theirVersions.set(line.peer.hex, line);
    const entries: SignedPeerEntry[] = [];
    for (const signed of catalog.signedUnordered()) {
      if (!buckets.has(bucketOf(signed.entry.peerId))) continue;
      if (signed.entry.version.update < staleBefore) continue; // they would refuse it as outdated
      const line = theirVersions.get(signed.entry.peerId.hex);
      if (!line || isNewer(signed.entry.version, line)) entries.push(signed);
    }
    const want: PeerId[] = [];
    for (const line of theirs) {
      if (!buckets.has(bucketOf(line.peer))) continue; // not what we compared
      if (line.update < staleBefore) continue; // we would purge it at once
      const held = catalog.signedByHex(line.peer.hex);
      if (!held || isNewer(line, held.entry.version)) want.push(line.peer);
    }
    return { entries, want };
  }

  /**
   * Sends `message`, or, while it is larger than the link carries (the smaller
   * `maxFrameBytes` of the two nodes), a smaller one `shrink` makes of it. What is left out
   * still differs between the catalogs, so a later exchange carries it: a catalog larger
   * than a frame arrives over several exchanges instead of ending every one. A message that
   * cannot be sent (or shrunk) ends the exchange.
   */
  #send(ctx: NodeContext, link: LinkId, message: SyncMessage, shrink: (m: SyncMessage) => SyncMessage | undefined = () => undefined): void {
    let next: SyncMessage | undefined = message;
    while (next !== undefined) {
      const error = ctx.send(link, next);
      if (error === undefined) return;
      next = error instanceof OversizedError ? shrink(next) : undefined;
      if (next === undefined) ctx.close(link, CloseCode.Cancelled, error.message);
    }
  }
}

/** A delta with half its entries, or else half its wanted ids; undefined when neither can be halved. */
function halveDelta(m: SyncMessage): SyncMessage | undefined {
  if (m.t !== 'delta') return undefined;
  if (m.entries.length >= 2) return { t: 'delta', entries: m.entries.slice(0, m.entries.length >> 1), want: m.want };
  if (m.want.length >= 2) return { t: 'delta', entries: m.entries, want: m.want.slice(0, m.want.length >> 1) };
  return undefined;
}
