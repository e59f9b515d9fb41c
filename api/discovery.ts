import type { DiscoveryCommand, DiscoveryStats, DiscoverySubsystem } from '../core/discovery/discovery.ts';
import type { PeerEntry, Ticket } from '../core/discovery/peer-entry.ts';
import { type PeerInfo, peerInfo } from '../core/discovery/rtt.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { Digest } from '../core/identity/digest.ts';
import type { PeerId } from '../core/identity/keys.ts';
import type { NodeEvent } from '../core/node/io.ts';
import { assert } from '../core/util/assert.ts';
import { EventStream, type Lagged, when } from './event-stream.ts';
import type { NodeBackend } from './network.ts';

/** What `discovery.events()` yields (plus `lagged` when a slow reader missed some). */
export type DiscoveryEvent =
  | { readonly type: 'discovered'; readonly peer: PeerId; readonly entry: PeerEntry }
  | { readonly type: 'updated'; readonly peer: PeerId; readonly entry: PeerEntry }
  | { readonly type: 'departed'; readonly peer: PeerId };

/**
 * A node's view of its network: its own signed entry and the catalog of everyone else's.
 * Reads are synchronous (from the local catalog); changes to the local entry are calls.
 */
export class Discovery {
  readonly #backend: NodeBackend;

  /** @internal */
  constructor(backend: NodeBackend) {
    this.#backend = backend;
  }

  /** The other peers known now by their signed entries (not stale), ordered by peer id. */
  peers(): PeerEntry[] {
    const { subsystem, wallClockMs } = this.#read();
    return (subsystem.catalog?.signedPeers(wallClockMs) ?? []).map((signed) => signed.entry);
  }

  /** A known peer with its measured RTT (`rtt`, `rttBelow(ms)`: true while unknown); undefined if not known. */
  peerInfo(peer: PeerId): PeerInfo | undefined {
    const { subsystem, wallClockMs } = this.#read();
    const entry = subsystem.catalog?.get(peer, wallClockMs);
    if (!entry || !subsystem.catalog?.signedByHex(peer.hex)) return undefined;
    return peerInfo(entry, subsystem.rtt.rtt(peer));
  }

  /** `peers()` with RTTs. */
  peerInfos(): PeerInfo[] {
    const { subsystem } = this.#read();
    return this.peers().map((entry) => peerInfo(entry, subsystem.rtt.rtt(entry.peerId)));
  }

  /** Counters of what discovery did with gossip announcements (a copy). */
  stats(): DiscoveryStats {
    return { ...this.#read().subsystem.stats };
  }

  /** This node's own entry, as peers see it. */
  me(): PeerEntry {
    const catalog = this.#read().subsystem.catalog;
    assert(catalog, 'a running node has a catalog');
    return catalog.me().entry;
  }

  /** Adds role tags (names, hashed with `Digest.from`); resolves with the new entry. */
  async addTags(...tags: string[]): Promise<PeerEntry> {
    return this.#request({ kind: 'addTags', tags: tagDigests(tags) });
  }

  async removeTags(...tags: string[]): Promise<PeerEntry> {
    return this.#request({ kind: 'removeTags', tags: tagDigests(tags) });
  }

  /**
   * Carries a ticket in this node's entry (validators elsewhere decide what it is worth);
   * resolves with the new entry. Over the entry's bounds (MAX_TICKETS, MAX_TICKET_DATA_BYTES,
   * the signed size) it rejects with an InvalidArgumentError and the entry stays as it was.
   */
  addTicket(ticket: Ticket): Promise<PeerEntry> {
    const t = ticket as Partial<Ticket> | null;
    if (typeof t !== 'object' || t === null || !(t.class instanceof Digest) || !(t.data instanceof Uint8Array))
      return Promise.reject(new InvalidArgumentError('a ticket is { class: Digest, data: Uint8Array }'));
    return this.#request({ kind: 'addTicket', ticket });
  }

  /** Drops the ticket with this id (`ticketId(t)`); resolves with the new entry. */
  removeTicket(id: Digest): Promise<PeerEntry> {
    if (!(id instanceof Digest)) return Promise.reject(new InvalidArgumentError('a ticket id is a Digest (ticketId(t))'));
    return this.#request({ kind: 'removeTicket', id });
  }

  /** Drops every ticket of a validator class; resolves with the new entry. */
  removeTicketsOf(ticketClass: Digest): Promise<PeerEntry> {
    if (!(ticketClass instanceof Digest)) return Promise.reject(new InvalidArgumentError('a ticket class is a Digest'));
    return this.#request({ kind: 'removeTicketsOf', class: ticketClass });
  }

  #request(cmd: DiscoveryCommand): Promise<PeerEntry> {
    return this.#backend.request({ to: 'discovery', cmd });
  }

  /** Catalog changes from now on, until the network closes. */
  events(options: { backlog?: number } = {}): AsyncIterable<DiscoveryEvent | Lagged> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`events takes { backlog? }, got ${String(options)}`);
    return new EventStream<DiscoveryEvent>((push, end) => this.#backend.subscribe((event) => forward(event, push), end), options.backlog);
  }

  readonly when = {
    /** Resolves once at least `n` other peers are known. */
    peers: (n: number): Promise<void> =>
      !(Number.isInteger(n) && n >= 0)
        ? Promise.reject(new InvalidArgumentError(`when.peers takes a count (an integer >= 0), got ${String(n)}`))
        : when(
            (push, end) => this.#backend.subscribe((event) => event.type.startsWith('discovery.') && push(), end),
            () => this.peers().length >= n,
          ),
  };

  #read(): { subsystem: DiscoverySubsystem; wallClockMs: number } {
    const { machine, wallClockMs } = this.#backend.inspect();
    const subsystem = machine.subsystem('discovery') as DiscoverySubsystem | undefined;
    assert(subsystem, 'nodes built by the drivers run discovery');
    return { subsystem, wallClockMs };
  }
}

function forward(event: NodeEvent, push: (event: DiscoveryEvent) => void): void {
  switch (event.type) {
    case 'discovery.discovered':
      return push({ type: 'discovered', peer: event.entry.peerId, entry: event.entry });
    case 'discovery.updated':
      return push({ type: 'updated', peer: event.entry.peerId, entry: event.entry });
    case 'discovery.departed':
      return push({ type: 'departed', peer: event.peer });
  }
}

/** Tag names as digests; a tag that is not a non-empty string is an InvalidArgumentError. */
function tagDigests(tags: readonly unknown[]): Digest[] {
  return tags.map((t) => {
    if (typeof t !== 'string' || t.length === 0)
      throw new InvalidArgumentError(`a tag is a non-empty string, got ${typeof t === 'string' ? 'an empty one' : typeof t}`);
    return Digest.from(t);
  });
}
