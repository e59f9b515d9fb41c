import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DiscoverySubsystem } from '../core/discovery/discovery.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { GroupStats } from '../core/groups/group.ts';
import type { GroupsSubsystem } from '../core/groups/groups.ts';
import type { NetworkId } from '../core/identity/digest.ts';
import type { NodeMachine } from '../core/node/node.ts';
import type { StreamsSubsystem } from '../core/streams/streams.ts';

/** Where to serve the Prometheus text format (`Network.create({ prometheus })`). */
export interface PrometheusOptions {
  /** @default '127.0.0.1' (metrics name the node's groups and streams: not for the world by default) */
  readonly host?: string;
  /** 0 picks a free port (`net.metricsUrl` tells which). */
  readonly port: number;
}

/** What the driver counts on the wire, beside what the machine knows. */
export class WireCounters {
  linksOpened = 0;
  framesSent = 0;
  bytesSent = 0;
  framesReceived = 0;
  bytesReceived = 0;
  /** Connections dropped for holding more unfinished frames than `quic.maxPartialBytes*` allow. */
  connectionsOverrun = 0;
}

/** The node as the exporter reads it at each scrape (undefined once it is closed). */
export type MachineReader = () => { readonly machine: NodeMachine; readonly wallClockMs: number } | undefined;

/**
 * The node's Prometheus exporter: an HTTP server on which any GET returns every metric in
 * the text format. Values are read from the node machine at scrape time (nothing on the hot
 * path but the driver's wire counters). Names follow mosaik's metric catalog with dots as
 * underscores (`mosaik.groups.raft.committed` → `mosaik_groups_raft_committed`); every
 * series has the label `network` (short hex), as mosaik's exporter adds it; per-group and
 * per-stream series add `group` / `stream` (short hex). docs/metrics.md lists them.
 */
export class MetricsServer {
  readonly registry = new Registry();
  readonly #server: Server;
  readonly url: string;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** Binds first, so a bad or taken address fails `Network.create` before the node starts. */
  static async listen(options: PrometheusOptions, networkId: NetworkId): Promise<MetricsServer> {
    const host = options.host ?? '127.0.0.1';
    if (isIP(host) === 0) throw new InvalidArgumentError(`prometheus.host must be an IP address, got '${host}'`);
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
      throw new InvalidArgumentError(`prometheus.port must be 0..65535, got ${options.port}`);
    }
    let exporter: MetricsServer | undefined;
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || exporter === undefined) {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      exporter.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': exporter?.registry.contentType ?? 'text/plain' }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new InvalidArgumentError(`cannot serve metrics on ${host}:${options.port}: ${error.message}`)));
      server.listen(options.port, host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    exporter = new MetricsServer(server, `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`);
    exporter.registry.setDefaultLabels({ network: networkId.short });
    return exporter;
  }

  /** Registers the node's metrics, read through `read` at each scrape. */
  attach(read: MachineReader, wire: WireCounters): void {
    registerNodeMetrics(this.registry, read, wire);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function registerNodeMetrics(registry: Registry, read: MachineReader, wire: WireCounters): void {
  const subsystems = () => {
    const node = read();
    if (node === undefined) return undefined;
    const { machine, wallClockMs } = node;
    return {
      wallClockMs,
      discovery: machine.subsystem('discovery') as DiscoverySubsystem | undefined,
      groups: machine.subsystem('groups') as GroupsSubsystem | undefined,
      streams: machine.subsystem('streams') as StreamsSubsystem | undefined,
    };
  };
  const registers = [registry];

  // ---- network (the driver's counts) ----
  counterOf(registers, 'mosaik_network_connections_opened_total', 'Links opened (dialled or accepted).', () => wire.linksOpened);
  counterOf(registers, 'mosaik_network_egress_frames_total', 'Frames sent.', () => wire.framesSent);
  counterOf(registers, 'mosaik_network_egress_bytes_total', 'Frame payload bytes sent.', () => wire.bytesSent);
  counterOf(registers, 'mosaik_network_ingress_frames_total', 'Frames received.', () => wire.framesReceived);
  counterOf(registers, 'mosaik_network_ingress_bytes_total', 'Frame payload bytes received.', () => wire.bytesReceived);
  counterOf(
    registers,
    'mosaik_network_connections_overrun_total',
    'Connections dropped for holding more bytes of unfinished frames than quic.maxPartialBytesPerConnection or quic.maxPartialBytes allow.',
    () => wire.connectionsOverrun,
  );

  // ---- discovery ----
  gaugeOf(registers, 'mosaik_discovery_catalog_size', 'Peers in the catalog (signed, not stale), this node excluded.', [], (set) => {
    const s = subsystems();
    if (s?.discovery?.catalog) set({}, s.discovery.catalog.signedPeers(s.wallClockMs).length);
  });
  const discoveryStat = (name: string, help: string, key: keyof DiscoverySubsystem['stats']) =>
    counterOf(registers, name, help, () => subsystems()?.discovery?.stats[key]);
  discoveryStat('mosaik_discovery_announcements_received_total', 'Gossip announcements received.', 'announcementsReceived');
  discoveryStat('mosaik_discovery_announcements_rejected_total', 'Announcements dropped as undecodable or badly signed.', 'invalidRejected');
  discoveryStat('mosaik_discovery_drift_rejected_total', 'Announcements dropped for a timestamp beyond maxTimeDriftMs.', 'driftRejected');
  discoveryStat('mosaik_discovery_announced_total', 'Own-entry broadcasts.', 'announced');

  // ---- groups ----
  gaugeOf(registers, 'mosaik_groups_active', 'Groups this node is a member of.', [], (set) => {
    const groups = subsystems()
      ?.groups?.groups()
      .filter((g) => !g.closed);
    if (groups) set({}, groups.length);
  });
  const perGroup = (name: string, help: string, value: (s: ReturnType<GroupsSubsystem['groups']>[number]) => number) =>
    gaugeOf(registers, name, help, ['group'], (set) => {
      for (const g of subsystems()?.groups?.groups() ?? []) if (!g.closed) set({ group: g.spec.id.short }, value(g));
    });
  perGroup('mosaik_groups_raft_committed', 'Log index of the last entry applied here.', (g) => g.status().committed);
  perGroup('mosaik_groups_raft_term', 'Current Raft term here.', (g) => g.status().term);
  perGroup('mosaik_groups_raft_leader', '1 while this node leads the group.', (g) => (g.status().role === 'leader' ? 1 : 0));
  perGroup('mosaik_groups_raft_committee_voters', 'Voters in the configuration this node knows.', (g) => g.status().voters.length);
  perGroup('mosaik_groups_raft_committee_non_voters', 'Learners in the configuration this node knows.', (g) => g.status().learners.length);
  perGroup('mosaik_groups_bonds_active', 'Bonds of this node in the group.', (g) => g.status().bonds.length);
  perGroup('mosaik_groups_calls_pending', "This node's calls (execute, feed, strong queries) not yet settled.", (g) => g.status().pendingCalls);
  perGroup(
    'mosaik_groups_uncommitted_bytes',
    'While this node leads: bytes of commands it proposed and has not committed (maxUncommittedBytes).',
    (g) => g.status().uncommittedBytes,
  );
  const perGroupCounter = (name: string, help: string, key: keyof GroupStats) =>
    countersOf(registers, name, help, ['group'], () =>
      (subsystems()?.groups?.groups() ?? []).filter((g) => !g.closed).map((g) => [{ group: g.spec.id.short }, g.status().stats[key]] as const),
    );
  perGroupCounter('mosaik_groups_raft_elections_total', 'Elections this node started (terms it campaigned in).', 'elections');
  perGroupCounter('mosaik_groups_raft_leader_changes_total', 'Times the leader this node knows changed.', 'leaderChanges');
  perGroupCounter('mosaik_groups_bonds_messages_sent_total', 'Messages sent to bonded members.', 'bondMessagesSent');
  perGroupCounter('mosaik_groups_bonds_messages_received_total', 'Messages received from bonded members.', 'bondMessagesReceived');
  perGroupCounter('mosaik_groups_call_timeouts_total', "This node's calls that failed with TimeoutError (their deadline passed).", 'callTimeouts');
  perGroupCounter(
    'mosaik_groups_calls_refused_full_total',
    "This node's calls refused with FullError (maxPendingCalls or maxPendingBytes in flight).",
    'callsRefusedFull',
  );
  perGroupCounter(
    'mosaik_groups_proposals_refused_full_total',
    'Proposals this node refused while leading, its own and forwarded ones (maxUncommittedBytes uncommitted).',
    'proposalsRefusedFull',
  );
  perGroupCounter('mosaik_groups_snapshot_failures_total', "Times the machine's snapshot() threw when the log was due for compaction.", 'snapshotFailures');

  // ---- streams ----
  const views = () => {
    const s = subsystems();
    if (!s?.streams) return undefined;
    const streams = s.streams;
    const handles = streams.openHandles();
    return {
      producers: handles.map((h) => streams.producerView(h, s.wallClockMs)).filter((v) => v !== undefined),
      consumers: handles.map((h) => streams.consumerView(h, s.wallClockMs)).filter((v) => v !== undefined),
    };
  };
  gaugeOf(registers, 'mosaik_streams_producers_active', 'Producers open on this node.', [], (set) => {
    const v = views();
    if (v) set({}, v.producers.length);
  });
  gaugeOf(registers, 'mosaik_streams_consumers_active', 'Consumers open on this node.', [], (set) => {
    const v = views();
    if (v) set({}, v.consumers.length);
  });
  gaugeOf(registers, 'mosaik_streams_producer_consumers', 'Consumers subscribed to the local producer.', ['stream'], (set) => {
    for (const p of views()?.producers ?? []) set({ stream: p.stream.short }, p.consumers.length);
  });
  gaugeOf(registers, 'mosaik_streams_producer_items_sent', 'Datums sent by the local producer since it opened.', ['stream'], (set) => {
    for (const p of views()?.producers ?? []) set({ stream: p.stream.short }, p.stats.datums);
  });
  gaugeOf(registers, 'mosaik_streams_producer_bytes_sent', 'Datum bytes sent by the local producer since it opened.', ['stream'], (set) => {
    for (const p of views()?.producers ?? []) set({ stream: p.stream.short }, p.stats.bytes);
  });
  gaugeOf(
    registers,
    'mosaik_streams_producer_items_too_large',
    "Datums the local producer skipped for a consumer whose node's frame limit is smaller.",
    ['stream'],
    (set) => {
      for (const p of views()?.producers ?? []) set({ stream: p.stream.short }, p.tooLarge);
    },
  );
  gaugeOf(registers, 'mosaik_streams_consumer_producers', 'Producers the local consumer is connected to.', ['stream'], (set) => {
    for (const c of views()?.consumers ?? []) set({ stream: c.stream.short }, c.producers.filter((p) => p.state === 'connected').length);
  });
}

type LabelValues = Record<string, string>;

/**
 * A gauge whose series are all set at scrape time: series of groups or streams that went
 * away disappear (reset first), rather than being reported at their last value.
 */
function gaugeOf(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: string[],
  fill: (set: (labels: LabelValues, value: number) => void) => void,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      fill((labels, value) => this.set(labels, value));
    },
  });
}

/**
 * A counter read from a running total at scrape time. prom-client counters only go up by
 * increments, so this adds what the total grew by; a total that went back (it cannot, in
 * this process) restarts its series, which Prometheus reads as a counter reset.
 */
function counterOf(registers: Registry[], name: string, help: string, read: () => number | undefined): void {
  countersOf(registers, name, help, [], () => {
    const total = read();
    return total === undefined ? undefined : [[{}, total]];
  });
}

/**
 * Counters per label values (a group), each read from its running total at scrape time, as
 * `counterOf`; a series that is no longer read (its group went away) is removed. A reading
 * of `undefined` (the node is closing) leaves every series as it was.
 */
function countersOf(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: string[],
  read: () => readonly (readonly [LabelValues, number])[] | undefined,
): void {
  const last = new Map<string, { readonly labels: LabelValues; readonly total: number }>();
  new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      const readings = read();
      if (readings === undefined) return;
      const seen = new Set<string>();
      for (const [labels, total] of readings) {
        const key = labelNames.map((l) => labels[l]).join('\0');
        seen.add(key);
        const before = last.get(key);
        if (before !== undefined && total < before.total) this.remove(labels);
        const base = before === undefined || total < before.total ? 0 : before.total;
        if (total > base || before === undefined) this.inc(labels, total - base);
        last.set(key, { labels, total });
      }
      for (const [key, { labels }] of last) {
        if (seen.has(key)) continue;
        this.remove(labels);
        last.delete(key);
      }
    },
  });
}
