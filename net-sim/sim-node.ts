import type { NodeBackend } from '../api/network.ts';
import type { NodeDefaults } from '../api/node-options.ts';
import { type DriverPort, NodeRuntime, type TransportOutput } from '../api/runtime.ts';
import { ClosedError, type MosaikError, NodeDownError, withoutStack } from '../core/errors.ts';
import { formatPeerAddr } from '../core/identity/address.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { PeerId, SecretKey } from '../core/identity/keys.ts';
import type { SignatureVerifier } from '../core/identity/verifier.ts';
import { createNodeMachine, type NodeOptions } from '../core/node/compose.ts';
import type { LinkId, NodeCommand, NodeEvent, NodeInput, TimerId } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';
import type { Rng } from '../core/util/rng.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../core/wire/codec.ts';
import type { QueueEntry } from './event-queue.ts';
import type { LinkDirection } from './links.ts';
import type { SimEvent } from './sim-event.ts';

/** Virtual time 0 on every node's clock: 2026-01-01T00:00:00Z. */
export const SIM_EPOCH_MS = 1_767_225_600_000;

/** What a simulated node needs from the simulation around it. */
export interface SimHost {
  readonly nowMs: number;
  perform(node: SimNode, output: TransportOutput): void;
  /** Makes the node's staged writes durable: now (undefined), or when the returned thenable settles. */
  flush(node: SimNode): PromiseLike<void> | undefined;
  observe(node: SimNode, event: NodeEvent): void;
  appWork(): void;
}

export interface SimNodeConfig {
  readonly index: number;
  readonly secretKey: SecretKey;
  readonly networkId: NetworkId;
  readonly rng: Rng;
  /** Shared by all the simulation's nodes. */
  readonly verifier: SignatureVerifier;
  readonly machine: Omit<NodeOptions, 'secretKey' | 'networkId' | 'rng' | 'storage' | 'incarnation' | 'verifier'>;
  /** Node-wide defaults the API applies to each handle. */
  readonly defaults: NodeDefaults;
}

/**
 * One simulated node: a node machine behind a runtime, plus what survives a crash (its
 * identity, durable storage and incarnation count) and its clock offset. The `Network`
 * handle the application holds points here and stays valid across crashes and restarts.
 */
export class SimNode implements NodeBackend {
  readonly index: number;
  readonly peerId: PeerId;
  readonly networkId: NetworkId;
  readonly addr: string;
  readonly location: string;
  readonly defaults: NodeDefaults;
  readonly maxFrameBytes: number;
  /** Durable storage: kept across crashes. */
  readonly storage = new Map<string, Uint8Array>();
  /** Writes performed but not yet synced (plans with `syncMs`): a crash loses them. */
  unsynced: { readonly key: string; readonly value: Uint8Array | null }[] = [];
  /**
   * This incarnation's ends of simulated links, by its link ids (kept by the link model):
   * the direction each end sends on, which leads to its link.
   */
  readonly linkEnds = new Map<LinkId, LinkDirection>();
  /** Armed timers of the current incarnation, with their scheduled events. */
  readonly timers = new Map<TimerId, QueueEntry<SimEvent>>();
  readonly #config: SimNodeConfig;
  readonly #host: SimHost;
  #runtime: NodeRuntime | undefined;
  readonly #subscribers = new Set<{
    readonly onEvent: (event: NodeEvent) => void;
    readonly onEnd: () => void;
    readonly onDown: ((error: MosaikError) => void) | undefined;
  }>();
  /**
   * Ends this incarnation's subscription to its runtime's events. The node listens only
   * while the application does: a runtime with a listener hands it every event and marks
   * application work each time, which a node without subscribers would pay for nothing.
   */
  #unlisten: (() => void) | undefined;
  #incarnation = 0;
  #up = false;
  #closed = false;
  /**
   * This node's wall clock minus virtual time: the simulated epoch plus skew and jumps.
   * Wall clocks read like real ones (ms since 1970), so signed timestamps look real.
   * Skew and jumps move only the wall clock; timers and timeouts run on the monotonic one.
   */
  clockOffsetMs = SIM_EPOCH_MS;

  constructor(config: SimNodeConfig, host: SimHost) {
    this.#config = config;
    this.#host = host;
    this.index = config.index;
    this.defaults = config.defaults;
    this.peerId = config.secretKey.peerId;
    this.networkId = config.networkId;
    this.maxFrameBytes = config.machine.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.location = `sim:${config.index}`;
    this.addr = formatPeerAddr({ peer: this.peerId, location: this.location });
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  get isUp(): boolean {
    return this.#up;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The node's wall clock. Its monotonic clock is virtual time itself. */
  get wallClockMs(): number {
    return this.#host.nowMs + this.clockOffsetMs;
  }

  get runtime(): NodeRuntime | undefined {
    return this.#runtime;
  }

  /** Starts (or restarts) the machine with the durable storage it has. */
  start(): void {
    if (this.#up || this.#closed) return;
    const machine = createNodeMachine({
      ...this.#config.machine,
      secretKey: this.#config.secretKey,
      networkId: this.networkId,
      rng: this.#config.rng,
      verifier: this.#config.verifier,
      storage: this.storage,
      incarnation: this.#incarnation,
    });
    const host = this.#host;
    const port: DriverPort = {
      nowMs: () => host.nowMs,
      wallClockMs: () => this.wallClockMs,
      perform: (output) => host.perform(this, output),
      flush: () => host.flush(this),
      observe: (event) => host.observe(this, event),
      onAppWork: () => host.appWork(),
    };
    this.#runtime = new NodeRuntime(machine, port);
    this.#unlisten = undefined;
    if (this.#subscribers.size > 0) this.#listen();
    this.timers.clear();
    this.#up = true;
    this.#runtime.start();
    if (this.#incarnation > 0) for (const cb of [...this.#restartCallbacks]) cb();
  }

  readonly #restartCallbacks: (() => void)[] = [];

  onRestart(callback: () => void): void {
    this.#restartCallbacks.push(callback);
  }

  /** Loses all volatile state at once; pending calls fail with NodeDownError. */
  crash(): void {
    if (!this.#up) return;
    this.#up = false;
    this.#incarnation++;
    this.timers.clear();
    this.unsynced = []; // never synced: gone with the crash
    const error = new NodeDownError(`node ${this.index} crashed`);
    this.#runtime?.stop(error);
    this.#runtime = undefined;
    this.#tellDown(error);
  }

  /** Tells the subscribers that want to know (handles that die with the node); their waiters settle, which is application work. */
  #tellDown(error: NodeDownError): void {
    const told = [...this.#subscribers].filter((s) => s.onDown !== undefined);
    for (const s of told) s.onDown?.(error);
    if (told.length > 0) this.#host.appWork();
  }

  /** Feeds an input if the node is up; drops it otherwise (a crashed node hears nothing). */
  input(input: NodeInput): void {
    this.#runtime?.input(input);
  }

  allocateLinkId(): number {
    const runtime = this.#runtime;
    if (!runtime) throw new NodeDownError(`node ${this.index} is down`);
    return runtime.machine.allocateLinkId();
  }

  request<T>(command: NodeCommand): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError('network is closed'));
    const runtime = this.#runtime;
    // A workload keeps calling a crashed node until it is back: no stack (see withoutStack).
    if (!runtime) return Promise.reject(withoutStack(() => new NodeDownError(`node ${this.index} is down`)));
    return runtime.request<T>(command);
  }

  inspect(): { readonly machine: NodeMachine; readonly wallClockMs: number } {
    if (this.#closed) throw new ClosedError('network is closed');
    const runtime = this.#runtime;
    if (!runtime) throw new NodeDownError(`node ${this.index} is down`);
    return { machine: runtime.machine, wallClockMs: this.wallClockMs };
  }

  subscribe(onEvent: (event: NodeEvent) => void, onEnd: () => void, onDown?: (error: MosaikError) => void): () => void {
    if (this.#closed) {
      onEnd();
      return () => {};
    }
    const subscriber = { onEvent, onEnd, onDown };
    this.#subscribers.add(subscriber);
    if (!this.#unlisten) this.#listen();
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) {
        this.#unlisten?.();
        this.#unlisten = undefined;
      }
    };
  }

  /** Subscribes to the current runtime's events, for the application's subscribers. */
  #listen(): void {
    this.#unlisten = this.#runtime?.subscribe((event) => {
      for (const s of this.#subscribers) s.onEvent(event);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const runtime = this.#runtime;
    if (runtime) {
      await runtime.request({ to: 'node', kind: 'shutdown' }).catch(() => undefined);
      runtime.stop(new ClosedError('network is closed'));
    }
    this.#closed = true;
    this.#up = false;
    for (const s of [...this.#subscribers]) s.onEnd();
    this.#subscribers.clear();
    this.#incarnation++;
    this.timers.clear();
    this.unsynced = []; // a closed node never starts again
    this.#runtime = undefined;
  }
}
