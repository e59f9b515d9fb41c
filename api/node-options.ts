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
  /** Discovery's timing and gossip settings; see `DiscoveryOptions` for each one's meaning and default. */
  readonly discovery?: Omit<DiscoveryOptions, 'addresses' | 'tags' | 'bootstrap'>;
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
