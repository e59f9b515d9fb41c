import { checkedNodeOptions, type DiscoveryNodeOptions, type SubsystemNodeOptions } from '../api/node-options.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { SecretKey } from '../core/identity/keys.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../core/wire/codec.ts';
import type { PrometheusOptions } from './metrics.ts';
import { readBudgetLimits } from './read-budget.ts';

/** Options of `Network.create`: a node on a real QUIC network. */
export interface CreateNetworkOptions extends DiscoveryNodeOptions, SubsystemNodeOptions {
  /** The network to join: a name (hashed with `Digest.from`) or an id. Nodes on different networks refuse each other's links. */
  readonly network: string | NetworkId;
  /**
   * This node's identity. When omitted: the one kept in `dataDir`, or a fresh random key
   * (kept in `dataDir` if there is one).
   */
  readonly secretKey?: SecretKey;
  /**
   * A directory for the node's durable state: its groups' logs, votes, snapshots and member
   * ids, discovery's version, and (unless `secretKey` is given) its key. Every write is on
   * disk before anything that depends on it leaves the node, so a process restarted on the
   * same directory comes back as the member it was, with its log. One process at a time
   * (a `LOCK` file); a `secretKey` of another peer than the directory's is refused.
   * Problems opening it throw `StorageError` (`locked`, `corrupted`, `io`); a failed write
   * later stops the node (reported through `onError`).
   *
   * @default none: in memory. A restarted process then rejoins its groups as a new member
   * and catches up from the others (docs/groups.md, "Member ids"); committed writes survive
   * only while a majority of the members stays up.
   */
  readonly dataDir?: string;
  /** The transport. Only QUIC so far; `'ws'` (WebSocket) is refused with InvalidArgumentError. @default 'quic' */
  readonly transport?: 'quic';
  /** Where to accept QUIC connections. @default { host: '127.0.0.1', port: 0 } (port 0: any free port) */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Largest frame body sent or accepted on a link. @default 8 MiB */
  readonly maxFrameBytes?: number;
  /** How long a link may take from transport-open to protocol-up (the link handshake). @default 5000 */
  readonly handshakeTimeoutMs?: number;
  /**
   * Find nodes of this network on the local network over multicast DNS (224.0.0.251:5353):
   * each answers queries with its address, asks every `intervalMs`, and exchanges catalogs
   * with the nodes it hears of (docs/discovery.md, "mDNS"). @default false
   */
  readonly mdns?: boolean | { readonly intervalMs?: number };
  /**
   * Meet nodes of this network through the BitTorrent Mainline DHT, as mosaik's pkarr
   * bootstrap (docs/discovery.md, "DHT"): `true` joins the public DHT through its usual
   * routers; `{ bootstrap: ['host:port', ...] }` through others (a private DHT), `port` for
   * its UDP socket (default: any), `intervalMs` to look every so often instead of every 5 s
   * without peers / 60 s with. @default false
   */
  readonly dht?: boolean | { readonly bootstrap?: readonly string[]; readonly port?: number; readonly intervalMs?: number };
  /** QUIC transport tuning. */
  readonly quic?: QuicOptions;
  /**
   * Serve Prometheus metrics over HTTP (any GET) at `host:port` (`net.metricsUrl` gives
   * the address; port 0 picks a free one). The catalog is in docs/metrics.md.
   * @default none
   */
  readonly prometheus?: PrometheusOptions;
  /**
   * Called with unexpected internal errors (bugs, never network failures, which surface as
   * typed errors on the calls they affect). @default logs to stderr
   */
  readonly onError?: (error: unknown) => void;
}

export interface QuicOptions {
  /**
   * A dial that has not completed the QUIC/TLS handshake by then fails with reason `timeout`;
   * so does opening a link on a connection whose peer allows no new stream by then. @default 5000
   */
  readonly handshakeTimeoutMs?: number;
  /** Silence after which a connection counts as lost. @default 10000 */
  readonly idleTimeoutMs?: number;
  /** Keep-alive period; keep it well below the peers' idle timeout. @default 3000 */
  readonly keepAliveIntervalMs?: number;
  /** Links (streams) a peer may have open at once on one connection. @default 1024 */
  readonly maxStreamsPerConnection?: number;
  /**
   * Bytes that may wait to be sent on one link. A peer that stops reading stalls our writes
   * (QUIC flow control); past this bound the link is dropped (`LinkLost`) rather than
   * buffering without limit. @default 64 MiB
   */
  readonly maxQueuedBytesPerLink?: number;
  /**
   * Bytes of frames received in part (a frame is handed on only once all of it has arrived)
   * that one connection's links may hold. A connection past it is dropped and its links are
   * lost (`LinkLost`): a peer that sends frames but their last bytes cannot make the node
   * hold more. At least `maxFrameBytes` + 1 MiB. @default 64 MiB, or twice that floor if larger
   */
  readonly maxPartialBytesPerConnection?: number;
  /**
   * The same over all connections of the node: past it, the connection holding the most is
   * dropped, until the node is back under. At least `maxPartialBytesPerConnection`.
   * @default 512 MiB, or `maxPartialBytesPerConnection` if larger
   */
  readonly maxPartialBytes?: number;
}

const KNOWN_OPTIONS = new Set<string>([
  'network',
  'secretKey',
  'dataDir',
  'transport',
  'listen',
  'maxFrameBytes',
  'handshakeTimeoutMs',
  'quic',
  'prometheus',
  'mdns',
  'dht',
  'onError',
  'tags',
  'bootstrap',
  'discovery',
  'streams',
  'groups',
]);

/** Options of API.md this version does not implement yet (README, "Not yet"). */
const NOT_YET: Readonly<Record<string, string>> = {
  relay: 'relayed connections',
};

/**
 * Refuses what `Network.create` would otherwise ignore: an option this version does not
 * implement (a node started with `relay` set would never use a relay) or a misspelt one. TypeScript callers see these at compile time; this is for the rest.
 */
export function checkCreateOptions(options: CreateNetworkOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Network.create takes an options object');
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(key)) continue;
    const missing = NOT_YET[key];
    if (missing !== undefined) throw new InvalidArgumentError(`option '${key}' is not supported yet (${missing}); see the README's "Not yet"`);
    throw new InvalidArgumentError(`unknown option '${key}'`);
  }
  checkedNodeOptions(options);
  const listen: unknown = options.listen;
  if (listen !== undefined) {
    const l = listen as { host?: unknown; port?: unknown } | null;
    if (typeof l !== 'object' || l === null) throw new InvalidArgumentError(`listen must be { host?, port? }, got ${JSON.stringify(listen)}`);
    if (l.host !== undefined && (typeof l.host !== 'string' || l.host.length === 0))
      throw new InvalidArgumentError(`listen.host must be a non-empty string, got ${JSON.stringify(l.host)}`);
    if (l.port !== undefined && !(Number.isInteger(l.port) && (l.port as number) >= 0 && (l.port as number) <= 65_535))
      throw new InvalidArgumentError(`listen.port must be 0..65535, got ${String(l.port)}`);
  }
  const mdns = featureOptions('mdns', options.mdns);
  if (mdns !== undefined && !isIntervalMs(mdns.intervalMs))
    throw new InvalidArgumentError(`mdns.intervalMs must be an integer >= 100, got ${String(mdns.intervalMs)}`);
  const dht = featureOptions('dht', options.dht);
  if (dht !== undefined) {
    const hostPort = /^[^\s:]+:\d{1,5}$/;
    if (dht.bootstrap !== undefined && !(Array.isArray(dht.bootstrap) && dht.bootstrap.every((b) => typeof b === 'string' && hostPort.test(b))))
      throw new InvalidArgumentError(`dht.bootstrap must be a list of 'host:port', got ${JSON.stringify(dht.bootstrap)}`);
    if (dht.port !== undefined && !(Number.isInteger(dht.port) && (dht.port as number) >= 0 && (dht.port as number) <= 65_535))
      throw new InvalidArgumentError(`dht.port must be 0..65535, got ${String(dht.port)}`);
    if (!isIntervalMs(dht.intervalMs)) throw new InvalidArgumentError(`dht.intervalMs must be an integer >= 100, got ${String(dht.intervalMs)}`);
  }
  checkQuicOptions(options.quic);
  readBudgetLimits(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, options.quic);
  const transport: unknown = options.transport;
  if (transport !== undefined && transport !== 'quic') {
    throw new InvalidArgumentError(`transport '${String(transport)}' is not supported yet: only 'quic'`);
  }
}

/** The QUIC settings: each a positive integer (a negative queue bound closed every link; NaN was taken as is). */
function checkQuicOptions(quic: unknown): void {
  if (quic === undefined) return;
  if (typeof quic !== 'object' || quic === null) throw new InvalidArgumentError(`quic must be an object, got ${JSON.stringify(quic)}`);
  for (const [name, value] of Object.entries(quic)) {
    if (!QUIC_OPTIONS.has(name)) throw new InvalidArgumentError(`unknown option 'quic.${name}'`);
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0))
      throw new InvalidArgumentError(`quic.${name} must be a positive integer, got ${String(value)}`);
  }
}

const QUIC_OPTIONS = new Set<string>([
  'handshakeTimeoutMs',
  'idleTimeoutMs',
  'keepAliveIntervalMs',
  'maxStreamsPerConnection',
  'maxQueuedBytesPerLink',
  'maxPartialBytesPerConnection',
  'maxPartialBytes',
]);

/** The settings object of an option that is `boolean | { ... }`; undefined when it is a boolean or absent. */
function featureOptions(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  if (typeof value !== 'object' || value === null)
    throw new InvalidArgumentError(`${name} must be a boolean or an options object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

const isIntervalMs = (value: unknown): boolean => value === undefined || (Number.isInteger(value) && (value as number) >= 100);
