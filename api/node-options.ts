import type { DiscoveryOptions } from '../core/discovery/discovery.ts';
import { MAX_TAGS } from '../core/discovery/peer-entry.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import { Digest } from '../core/identity/digest.ts';

/** What both `Network.create` and `sim.node` take for discovery. */
export interface DiscoveryNodeOptions {
  /** Role tags this node advertises (names, hashed with `Digest.from`). */
  readonly tags?: readonly string[];
  /** Addresses (`<peer id>@<location>`) of peers to exchange catalogs with at start. */
  readonly bootstrap?: readonly (string | PeerAddr)[];
  readonly discovery?: {
    /** @default 300 000 */
    readonly purgeAfterMs?: number;
    /** @default 45 000 */
    readonly refreshIntervalMs?: number;
    /** Exchange catalogs with one random peer this often (anti-entropy). @default 10 000 */
    readonly syncIntervalMs?: number;
    /** Gossip announcements further than this from our clock are dropped. @default 50 000 */
    readonly maxTimeDriftMs?: number;
    /** Gossip messages per neighbor are sent together once per window (for up to 100 peers; it grows with the network). @default 100 */
    readonly announceBatchMs?: number;
    /** The largest batch window. @default 1000 */
    readonly maxAnnounceBatchMs?: number;
    /** HyParView view sizes. @default { active: 5, passive: 30 } */
    readonly gossipViews?: { readonly active?: number; readonly passive?: number };
    /** Mean period of RTT probes (a few peers per tick). @default 30 000 */
    readonly rttProbeIntervalMs?: number;
    /** Test-only: planted bugs the discovery checkers must catch. */
    readonly plantedBugs?: { readonly noRefresh?: boolean };
  };
}

/** The core's discovery options for a node reachable at `addresses`; bad bootstrap addresses are an InvalidArgumentError. */
export function discoveryOptions(options: DiscoveryNodeOptions, addresses: readonly string[]): DiscoveryOptions {
  const bootstrap = (options.bootstrap ?? []).map((b) => {
    const addr = typeof b === 'string' ? parsePeerAddr(b) : b;
    if (!addr) throw new InvalidArgumentError(`bootstrap: not a peer address: '${String(b)}'`);
    return addr;
  });
  const tags = (options.tags ?? []).map((t) => Digest.from(t));
  if (new Set(tags.map((t) => t.hex)).size > MAX_TAGS) throw new InvalidArgumentError(`tags: at most ${MAX_TAGS} tags per node`);
  return { addresses, tags, bootstrap, ...options.discovery };
}
