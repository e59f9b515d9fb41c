import './fast-blake3.ts';
import { InvalidArgumentError, type MosaikError } from '../core/errors.ts';
import { isPeerAddr, type PeerAddr, parsePeerAddr } from '../core/identity/address.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { PeerId } from '../core/identity/keys.ts';
import type { NodeCommand, NodeEvent } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';
import { DEFAULT_PING_TIMEOUT_MS, type PingResult } from '../core/ping/ping.ts';
import type { CreateNetworkOptions } from '../net-real/options.ts';
import { Collections } from './collections.ts';
import { Discovery } from './discovery.ts';
import { type GroupStore, Groups } from './groups.ts';
import type { NodeDefaults } from './node-options.ts';
import { Streams } from './streams.ts';

/** What a driver provides behind a `Network` handle. */
export interface NodeBackend {
  readonly peerId: PeerId;
  readonly networkId: NetworkId;
  /** Text address other nodes use to reach this one (`<peer id>@<location>`). */
  readonly addr: string;
  /** The node's `maxFrameBytes` (the default when not set): known while the node is down or closed too. */
  readonly maxFrameBytes: number;
  request<T>(command: NodeCommand): Promise<T>;
  /**
   * The running machine and the node's wall clock, for synchronous reads. Throws
   * NodeDownError while a simulated node is crashed and ClosedError once closed.
   */
  inspect(): { readonly machine: NodeMachine; readonly wallClockMs: number };
  /**
   * Every event the node emits from now on (across restarts); `onEnd` when it closes; `onDown`
   * when a simulated node crashes (with the error its pending calls failed with), for handles
   * that die with the node. Returns the unsubscribe.
   */
  subscribe(onEvent: (event: NodeEvent) => void, onEnd: () => void, onDown?: (error: MosaikError) => void): () => void;
  close(): Promise<void>;
  /** Node-wide defaults the API applies to each handle (`streams: { backoff }`). */
  readonly defaults?: NodeDefaults;
  /** Where the node serves Prometheus metrics (production nodes created with `prometheus`). */
  readonly metricsUrl?: string | undefined;
  /** Simulated nodes only: called after each restart from a crash, so handles can re-register. */
  onRestart?(callback: () => void): void;
  /**
   * Production nodes only: the node's writes under `prefix` go to `store` (prefix cut off)
   * rather than to its own storage, and count toward its syncs. The same store again is a
   * no-op (false); another store for a prefix that has one is refused (AlreadyExistsError).
   * True when this call attached it.
   */
  attachStore?(prefix: string, store: GroupStore): boolean;
  /** Undoes `attachStore` for a group that never joined (its store failed to load): nothing was written under `prefix`. */
  detachStore?(prefix: string, store: GroupStore): void;
}

export interface PingOptions {
  /** @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * A node on a mosaik network. The same class is returned by `Network.create` (production,
 * QUIC) and by `sim.node()` (the deterministic simulator); application code cannot tell
 * them apart, which is what lets it be tested under simulated faults.
 */
export class Network {
  readonly #backend: NodeBackend;

  /**
   * Starts a node on a real QUIC network, listening on `options.listen` (127.0.0.1, any free
   * port, by default). The driver is loaded on first use, so code that only simulates never
   * loads the native QUIC module.
   */
  static async create(options: CreateNetworkOptions): Promise<Network> {
    const { createRealNode } = await import('../net-real/index.ts');
    return new Network(await createRealNode(options));
  }

  /** This node's view of the network: its entry, the catalog of peers, their changes. */
  readonly discovery: Discovery;

  /** Typed producers and consumers of named streams, found through discovery. */
  readonly streams: Streams;

  /** Raft consensus groups that form themselves from discovery (docs/groups.md). */
  readonly groups: Groups;

  /** Replicated Map, Vec, Set, Cell, Once and PriorityQueue, each a Raft group (docs/collections.md). */
  readonly collections: Collections;

  /** @internal Drivers construct networks; users call `Network.create` or `sim.node`. */
  constructor(backend: NodeBackend) {
    this.#backend = backend;
    this.discovery = new Discovery(backend);
    this.streams = new Streams(backend);
    this.groups = new Groups(backend);
    this.collections = new Collections(this.groups);
  }

  get peerId(): PeerId {
    return this.#backend.peerId;
  }

  get networkId(): NetworkId {
    return this.#backend.networkId;
  }

  /** This node's address in text form, for other nodes' `bootstrap` or `ping`. */
  get addr(): string {
    return this.#backend.addr;
  }

  /** Where this node serves Prometheus metrics (`Network.create({ prometheus })`); undefined otherwise, and in the simulator. */
  get metricsUrl(): string | undefined {
    return this.#backend.metricsUrl;
  }

  /**
   * Measures the round trip to a peer over the ping protocol. Rejects with TimeoutError,
   * ConnectError, LinkClosedError or InvalidArgumentError; never hangs past `timeoutMs`.
   */
  ping(target: string | PeerAddr, options: PingOptions = {}): Promise<PingResult> {
    const addr = this.#addrOf(target);
    if (!addr) return Promise.reject(new InvalidArgumentError(`not a peer address: '${String(target)}'`));
    const timeoutMs = options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      return Promise.reject(new InvalidArgumentError(`timeoutMs must be a positive number, got ${timeoutMs}`));
    return this.#backend.request<PingResult>({ to: 'ping', cmd: { peer: addr.peer, addrs: [addr.location], timeoutMs } });
  }

  /**
   * Exchanges catalogs with one peer: both sides end up with everything the other knows.
   * Resolves once this node has the peer's entries (the peer receives ours with the last
   * message, one hop later). Rejects with ConnectError, LinkClosedError or
   * InvalidArgumentError.
   */
  syncWith(target: string | PeerAddr): Promise<void> {
    const addr = this.#addrOf(target);
    if (!addr) return Promise.reject(new InvalidArgumentError(`not a peer address: '${String(target)}'`));
    return this.#backend.request<void>({ to: 'discovery', cmd: { kind: 'syncWith', peer: addr.peer, addrs: [addr.location] } });
  }

  readonly #parsed = new Map<string, PeerAddr>();

  /** A target as a PeerAddr: its text form parsed, or a PeerAddr object; else undefined. */
  #addrOf(target: unknown): PeerAddr | undefined {
    if (typeof target === 'string') return this.#parse(target);
    return isPeerAddr(target) ? target : undefined;
  }

  /** Parses an address, remembering the last few hundred: applications ping the same peers. */
  #parse(text: string): PeerAddr | undefined {
    let addr = this.#parsed.get(text);
    if (!addr) {
      addr = parsePeerAddr(text);
      if (!addr) return undefined;
      if (this.#parsed.size >= 256) this.#parsed.clear();
      this.#parsed.set(text, addr);
    }
    return addr;
  }

  /** Closes every link gracefully and fails pending calls with ClosedError. Idempotent. */
  close(): Promise<void> {
    return this.#backend.close();
  }
}
