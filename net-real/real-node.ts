import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { GroupStore } from '../api/groups.ts';
import type { NodeBackend } from '../api/network.ts';
import { discoveryOptions, type NodeDefaults, networkIdOf, subsystemOptions } from '../api/node-options.ts';
import { type DriverPort, NodeRuntime, type TransportOutput } from '../api/runtime.ts';
import type { DiscoverySubsystem } from '../core/discovery/discovery.ts';
import { ClosedError, InvalidArgumentError } from '../core/errors.ts';
import { formatPeerAddr, type PeerAddr } from '../core/identity/address.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import { type PeerId, SecretKey } from '../core/identity/keys.ts';
import { createNodeMachine } from '../core/node/compose.ts';
import type { NodeCommand, NodeEvent, NodeInput } from '../core/node/io.ts';
import type { NodeMachine } from '../core/node/node.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../core/wire/codec.ts';
import { advertisedLocations } from './address.ts';
import { DhtRendezvous } from './dht.ts';
import { FileStorage } from './file-storage.ts';
import { AttachedStores } from './group-stores.ts';
import { MdnsDiscovery } from './mdns.ts';
import { MetricsServer, WireCounters } from './metrics.ts';
import { NativeSigner } from './native-signer.ts';
import { NativeVerifier } from './native-verifier.ts';
import { type CreateNetworkOptions, checkCreateOptions } from './options.ts';
import { loadQuic } from './quic/napi.ts';
import { QuicTransport } from './quic-transport.ts';
import { readBudgetLimits } from './read-budget.ts';
import { CryptoRng } from './rng.ts';
import { RealTimers } from './timers.ts';

/** How long `close()` waits for peers to acknowledge our close frames before cutting connections. */
const CLOSE_GRACE_MS = 500;

/**
 * The node's monotonic clock (timers, timeouts, RTTs): sub-ms resolution, never steps back,
 * so RTTs below 1 ms stay measurable and a wall-clock step cannot stretch a timeout.
 */
function nowMs(): number {
  return performance.now();
}

/** The node's wall clock, ms since 1970, for timestamps other nodes read. */
function wallClockMs(): number {
  return Date.now();
}

function defaultOnError(error: unknown): void {
  console.error('mosaik: internal error in the QUIC driver:', error);
}

/** Starts a node on a real QUIC network: the production driver behind `Network.create`. */
export async function createRealNode(options: CreateNetworkOptions): Promise<NodeBackend> {
  checkCreateOptions(options);
  const host = options.listen?.host ?? '127.0.0.1';
  const port = options.listen?.port ?? 0;
  if (isIP(host) === 0) throw new InvalidArgumentError(`listen.host must be an IP address, got '${host}'`);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError(`listen.port must be 0..65535, got ${port}`);
  const native = await loadQuic();
  // Bound before anything else starts: a taken port fails the call with nothing left behind.
  const metrics = options.prometheus === undefined ? undefined : await MetricsServer.listen(options.prometheus, networkIdOf(options.network));
  try {
    return await startNode(options, host, port, native, metrics);
  } catch (error) {
    await metrics?.close();
    throw error;
  }
}

async function startNode(
  options: CreateNetworkOptions,
  host: string,
  port: number,
  native: Awaited<ReturnType<typeof loadQuic>>,
  metrics: MetricsServer | undefined,
): Promise<NodeBackend> {
  const rng = new CryptoRng();
  // Checked before the data directory is locked and anything listens: a bad option leaves nothing behind.
  const discoveryWithoutAddresses = discoveryOptions(options, []);
  const subsystems = subsystemOptions(options);
  // Opened first: a locked or damaged data directory fails the call before anything listens.
  const durable = options.dataDir === undefined ? undefined : openDurableState(options.dataDir, options.secretKey, rng);
  const secretKey = durable?.secretKey ?? options.secretKey ?? SecretKey.generate(rng);
  const networkId = networkIdOf(options.network);
  const wire = new WireCounters();
  const onError = options.onError ?? defaultOnError;
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  // The machine is built once the transport listens (its entry carries the address); inputs
  // only come from callbacks, after that.
  let machine: NodeMachine | undefined;

  // The runtime, the timers and the transport feed each other; `runtime` is set before any
  // input can arrive (inputs only come from callbacks).
  let runtime: NodeRuntime | undefined;
  const feed = (input: NodeInput) => {
    if (input.type === 'frame') {
      wire.framesReceived++;
      wire.bytesReceived += input.body.length;
    } else if (input.type === 'linkOpened' || input.type === 'linkIncoming') {
      wire.linksOpened++;
    }
    runtime?.input(input);
  };
  const timers = new RealTimers(nowMs, (timer) => {
    try {
      feed({ type: 'timer', timer });
    } catch (error) {
      onError(error);
    }
  });
  const quic = options.quic ?? {};
  let transport: QuicTransport;
  try {
    transport = QuicTransport.listen(
      native,
      {
        secretKey,
        host,
        port,
        maxFrameBytes,
        handshakeTimeoutMs: quic.handshakeTimeoutMs ?? 5_000,
        idleTimeoutMs: quic.idleTimeoutMs ?? 10_000,
        keepAliveIntervalMs: quic.keepAliveIntervalMs ?? 3_000,
        maxStreamsPerConnection: quic.maxStreamsPerConnection ?? 1_024,
        maxQueuedBytesPerLink: quic.maxQueuedBytesPerLink ?? 64 * 1024 * 1024,
        ...readBudgetLimits(maxFrameBytes, quic),
      },
      {
        input: feed,
        allocateLinkId: () => (machine as NodeMachine).allocateLinkId(),
        onError,
        onOverrun: () => {
          wire.connectionsOverrun++;
        },
      },
    );
  } catch (error) {
    durable?.storage.close();
    throw new InvalidArgumentError(`cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // A wildcard listener is advertised at its interfaces' addresses (see advertisedLocations).
  const locations = advertisedLocations(host, transport.port);
  machine = createNodeMachine({
    secretKey: secretKey.withSigner(new NativeSigner()),
    networkId,
    rng,
    verifier: new NativeVerifier(),
    maxFrameBytes,
    ...(options.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    discovery: { ...discoveryWithoutAddresses, addresses: locations },
    groups: subsystems.groups,
    ...(durable && { storage: durable.machineState, incarnation: durable.incarnation }),
  });
  let node: RealNode | undefined;
  const stores = new AttachedStores();
  const driver: DriverPort = {
    nowMs,
    wallClockMs,
    perform(output: TransportOutput) {
      switch (output.type) {
        case 'connect':
          transport.connect(output.link, output.peer, output.addrs);
          break;
        case 'send':
          wire.framesSent++;
          wire.bytesSent += output.body.length;
          transport.send(output.link, output.body);
          break;
        case 'close':
          transport.close(output.link, output.code, output.reason);
          break;
        case 'armTimer':
          timers.arm(output.timer, output.atMs);
          break;
        case 'cancelTimer':
          timers.cancel(output.timer);
          break;
        case 'persist':
          // A group on the application's store writes there; anything else without a data
          // directory: the machine's own copy is all there is, nothing to do.
          if (!stores.stage(output.key, output.value)) durable?.storage.stage(output.key, output.value);
          break;
      }
    },
    flush() {
      // Synced off the event loop; inputs go on meanwhile, and the runtime holds what
      // depends on the writes (group commit, api/runtime.ts).
      const file = durable?.storage.flushAsync();
      const external = stores.flush();
      if (file === undefined && external === undefined) return;
      return Promise.all([file, external])
        .then(() => undefined)
        .catch((error: unknown) => {
          // The runtime stops the node on this rejection; the transport goes down with it.
          onError(error);
          void node?.close();
          throw error;
        });
    },
  };
  runtime = new NodeRuntime(machine, driver);
  node = new RealNode(
    runtime,
    transport,
    timers,
    networkId,
    formatPeerAddr({ peer: secretKey.peerId, location: locations[0] as string }),
    durable?.storage,
    metrics,
    subsystems.defaults,
    stores,
  );
  const started = node;
  metrics?.attach(() => started.inspectIfOpen(), wire);
  try {
    runtime.start();
  } catch (error) {
    // Nothing may outlive a failed start: not the listener, nor the data directory's lock.
    timers.clear();
    await transport.shutdown(0);
    durable?.storage.close();
    throw error;
  }
  const running = runtime;
  const discoveryOf = () => started.inspectIfOpen()?.machine.subsystem('discovery') as DiscoverySubsystem | undefined;
  const knows = (peer: PeerId) => discoveryOf()?.catalog?.signedEntry(peer, wallClockMs()) !== undefined;
  const sync = (addr: PeerAddr) => running.request<void>({ to: 'discovery', cmd: { kind: 'syncWith', peer: addr.peer, addrs: [addr.location] } });
  if (options.dht !== undefined && options.dht !== false) {
    const dht = typeof options.dht === 'object' ? options.dht : {};
    started.attachDht(
      new DhtRendezvous(
        {
          networkId,
          peerId: secretKey.peerId,
          locations,
          knows,
          peerCount: () => discoveryOf()?.catalog?.signedPeers(wallClockMs()).length ?? 0,
          sync,
          onError,
        },
        { host, ...dht },
      ),
    );
  }
  if (options.mdns !== undefined && options.mdns !== false) {
    started.attachMdns(
      new MdnsDiscovery(
        {
          networkId,
          peerId: secretKey.peerId,
          addr: started.addr,
          knows,
          sync,
          onError,
        },
        { nowMs, intervalMs: typeof options.mdns === 'object' ? options.mdns.intervalMs : undefined },
      ),
    );
  }
  return node;
}

/** Storage keys of the driver's own, beside the machine's (`<subsystem>/...`). */
const DRIVER_KEYS = { incarnation: 'driver/incarnation', secretKey: 'driver/secret-key' } as const;

/**
 * Opens the node's data directory: the machine's durable state, this start's incarnation
 * (one more than the last), and the node's key. A directory belongs to one identity: without
 * `secretKey` the stored one is used (a new one is made and stored on first use), and a
 * `secretKey` for another peer than the stored state's is refused.
 */
function openDurableState(
  dir: string,
  given: SecretKey | undefined,
  rng: CryptoRng,
): { storage: FileStorage; secretKey: SecretKey; incarnation: number; machineState: Map<string, Uint8Array> } {
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dataDir must be a non-empty path');
  const storage = FileStorage.open(dir);
  try {
    const storedSeed = storage.get(DRIVER_KEYS.secretKey);
    const stored = storedSeed === undefined ? undefined : SecretKey.fromSeed(storedSeed);
    if (stored !== undefined && given !== undefined && !stored.peerId.equals(given.peerId)) {
      throw new InvalidArgumentError(`dataDir ${dir} holds the state of peer ${stored.peerId.short}, not of the given secretKey (${given.peerId.short})`);
    }
    const secretKey = given ?? stored ?? SecretKey.generate(rng);
    if (stored === undefined) storage.stage(DRIVER_KEYS.secretKey, secretKey.exportSeed());
    const last = storage.get(DRIVER_KEYS.incarnation);
    const incarnation = last === undefined ? 0 : new DataView(last.buffer, last.byteOffset, last.length).getUint32(0) + 1;
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, incarnation);
    storage.stage(DRIVER_KEYS.incarnation, bytes);
    storage.flush();
    const machineState = storage.entries();
    for (const key of Object.values(DRIVER_KEYS)) machineState.delete(key);
    return { storage, secretKey, incarnation, machineState };
  } catch (error) {
    storage.close();
    throw error;
  }
}

class RealNode implements NodeBackend {
  readonly peerId: PeerId;
  readonly networkId: NetworkId;
  readonly addr: string;
  readonly metricsUrl: string | undefined;
  readonly defaults: NodeDefaults;
  readonly maxFrameBytes: number;
  readonly #runtime: NodeRuntime;
  readonly #transport: QuicTransport;
  readonly #timers: RealTimers;
  #closing: Promise<void> | undefined;
  readonly #subscribers = new Set<{ readonly onEvent: (event: NodeEvent) => void; readonly onEnd: () => void }>();

  readonly #storage: FileStorage | undefined;
  readonly #metrics: MetricsServer | undefined;
  readonly #stores: AttachedStores;

  constructor(
    runtime: NodeRuntime,
    transport: QuicTransport,
    timers: RealTimers,
    networkId: NetworkId,
    addr: string,
    storage: FileStorage | undefined,
    metrics: MetricsServer | undefined,
    defaults: NodeDefaults,
    stores: AttachedStores,
  ) {
    this.#stores = stores;
    this.defaults = defaults;
    this.#runtime = runtime;
    this.#storage = storage;
    this.#metrics = metrics;
    this.metricsUrl = metrics?.url;
    this.#transport = transport;
    this.#timers = timers;
    this.peerId = runtime.machine.peerId;
    this.maxFrameBytes = runtime.machine.maxFrameBytes;
    this.networkId = networkId;
    this.addr = addr;
  }

  request<T>(command: NodeCommand): Promise<T> {
    return this.#runtime.request<T>(command);
  }

  attachStore(prefix: string, store: GroupStore): boolean {
    return this.#stores.attach(prefix, store);
  }

  detachStore(prefix: string, store: GroupStore): void {
    this.#stores.detach(prefix, store);
  }

  inspect(): { readonly machine: NodeMachine; readonly wallClockMs: number } {
    if (this.#closing) throw new ClosedError('network closed');
    return { machine: this.#runtime.machine, wallClockMs: wallClockMs() };
  }

  #mdns: MdnsDiscovery | undefined;
  #dht: DhtRendezvous | undefined;

  /** Starts meeting nodes of its network through the DHT; stopped with the node. */
  attachDht(dht: DhtRendezvous): void {
    this.#dht = dht;
  }

  /** Starts answering and asking over mDNS; stopped with the node. */
  attachMdns(mdns: MdnsDiscovery): void {
    this.#mdns = mdns;
  }

  /** `inspect()`, or undefined once closing (a scrape during close reports the wire counters only). */
  inspectIfOpen(): { readonly machine: NodeMachine; readonly wallClockMs: number } | undefined {
    return this.#closing ? undefined : this.inspect();
  }

  subscribe(onEvent: (event: NodeEvent) => void, onEnd: () => void): () => void {
    if (this.#closing) {
      onEnd();
      return () => {};
    }
    const subscriber = { onEvent, onEnd };
    this.#subscribers.add(subscriber);
    const unsubscribe = this.#runtime.subscribe(onEvent);
    return () => {
      this.#subscribers.delete(subscriber);
      unsubscribe();
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Graceful: the machine closes every link (close frames go out) and fails pending calls.
    // Its answer waits for the writes before it (durable before dependent): a store whose
    // write never settles (a hung database) must not hold the close, so not for long.
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#runtime.request({ to: 'node', kind: 'shutdown' }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
    } catch {
      // Already shut down: nothing more to say to peers.
    } finally {
      clearTimeout(timer);
    }
    this.#mdns?.close();
    this.#dht?.close();
    this.#runtime.stop(new ClosedError('network closed'));
    for (const s of [...this.#subscribers]) s.onEnd();
    this.#subscribers.clear();
    this.#timers.clear();
    await this.#transport.shutdown(CLOSE_GRACE_MS);
    this.#timers.clear();
    await this.#metrics?.close();
    try {
      this.#storage?.close();
    } catch {
      // The write that failed was reported when it failed (onError); the lock is released.
    }
  }
}
