import type { DiscoverySubsystem } from '../core/discovery/discovery.ts';
import type { PeerEntry } from '../core/discovery/peer-entry.ts';
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

  /** This node's own entry, as peers see it. */
  me(): PeerEntry {
    const catalog = this.#read().subsystem.catalog;
    assert(catalog, 'a running node has a catalog');
    return catalog.me().entry;
  }

  /** Adds role tags (names, hashed with `Digest.from`); resolves with the new entry. */
  addTags(...tags: string[]): Promise<PeerEntry> {
    return this.#backend.request({ to: 'discovery', cmd: { kind: 'addTags', tags: tags.map((t) => Digest.from(t)) } });
  }

  removeTags(...tags: string[]): Promise<PeerEntry> {
    return this.#backend.request({ to: 'discovery', cmd: { kind: 'removeTags', tags: tags.map((t) => Digest.from(t)) } });
  }

  /** Catalog changes from now on, until the network closes. */
  events(options: { backlog?: number } = {}): AsyncIterable<DiscoveryEvent | Lagged> {
    return new EventStream<DiscoveryEvent>((push, end) => this.#backend.subscribe((event) => forward(event, push), end), options.backlog);
  }

  readonly when = {
    /** Resolves once at least `n` other peers are known. */
    peers: (n: number): Promise<void> =>
      when(
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
