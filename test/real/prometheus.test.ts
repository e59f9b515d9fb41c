import { createServer } from 'node:net';
import { Network, TimeoutError } from 'mosaik';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter } from '../groups/counter.ts';

// Two nodes in this process on 127.0.0.1 (QUIC), each serving Prometheus metrics on a free port.

const open: Network[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((net) => net.close()));
});

async function node(network: string, extra: Partial<Parameters<typeof Network.create>[0]> = {}): Promise<Network> {
  const net = await Network.create({ network, prometheus: { port: 0 }, discovery: { syncIntervalMs: 200 }, ...extra });
  open.push(net);
  return net;
}

/** The samples of a scrape, by series (`seriesKey`) → value. */
async function scrape(net: Network): Promise<Map<string, number>> {
  const res = await fetch(net.metricsUrl as string);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const series = /^(\w+)(?:\{(.*)\})?$/.exec(line.slice(0, at));
    if (!series) throw new Error(`not a sample line: ${line}`);
    const pairs = (series[2] ?? '').split(',').filter((l) => l !== '');
    const labels = Object.fromEntries(pairs.map((l) => l.split('=').map((x) => x.replace(/"/g, ''))));
    samples.set(seriesKey(series[1] as string, labels), Number(line.slice(at + 1)));
  }
  return samples;
}

/** A series as `name{a=x,b=y}` with its labels sorted: the exporter orders them its own way. */
function seriesKey(name: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels).sort();
  return `${name}{${sorted.map((k) => `${k}=${labels[k]}`).join(',')}}`;
}

const sample = (samples: Map<string, number>, name: string, labels: Record<string, string>) => samples.get(seriesKey(name, labels));

async function until(test: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Prometheus metrics (Network.create({ prometheus }))', () => {
  it('reports discovery, groups, streams and the wire, labelled by network, group and stream', async () => {
    const network = `metrics-${process.pid}`;
    const a = await node(network);
    const b = await node(network, { bootstrap: [a.addr] });
    const networkLabel = a.networkId.short;
    expect(a.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const ga = a.groups.join({ key: 'metrics', machine: new Counter(), bootstrapExpect: 2 });
    const gb = b.groups.join({ key: 'metrics', machine: new Counter(), bootstrapExpect: 2 });
    await ga.when.online();
    await gb.when.online();
    await ga.execute({ op: 'inc', by: 1 });
    const { index } = await gb.execute({ op: 'inc', by: 2 });
    await ga.when.committed().reaches(index);
    // A 1 ms deadline: replicated and applied takes longer than that even on loopback.
    let timedOut = 0;
    for (let i = 0; i < 20 && timedOut === 0; i++)
      await gb.execute({ op: 'inc', by: 0 }, { timeoutMs: 1 }).catch((e: unknown) => {
        if (!(e instanceof TimeoutError)) throw e;
        timedOut++;
      });
    expect(timedOut).toBe(1);

    const p = a.streams.producer<number>('metrics.readings');
    const c = b.streams.consumer<number>('metrics.readings');
    await p.when.subscribed().minimumOf(1);
    for (let i = 0; i < 5; i++) await p.send(i);
    for (let i = 0; i < 5; i++) expect(await c.recv()).toBe(i);

    const group = ga.id.short;
    const leader = ga.isLeader ? a : b;
    const net = { network: networkLabel };
    await until(async () => sample(await scrape(a), 'mosaik_discovery_catalog_size', net) === 1, 'a catalog of one peer');
    for (const n of [a, b]) {
      const s = await scrape(n);
      expect(sample(s, 'mosaik_groups_active', net)).toBe(1);
      expect(sample(s, 'mosaik_groups_raft_committed', { ...net, group })).toBeGreaterThanOrEqual(index);
      expect(sample(s, 'mosaik_groups_raft_committee_voters', { ...net, group })).toBe(2);
      expect(sample(s, 'mosaik_groups_bonds_active', { ...net, group })).toBe(1);
      expect(sample(s, 'mosaik_groups_raft_leader', { ...net, group })).toBe(n === leader ? 1 : 0);
      expect(sample(s, 'mosaik_groups_raft_leader_changes_total', { ...net, group })).toBeGreaterThanOrEqual(1);
      const own = n === a ? ga : gb;
      expect(sample(s, 'mosaik_groups_raft_elections_total', { ...net, group })).toBe(own.status()?.stats.elections);
      if (n === leader) expect(own.status()?.stats.elections).toBeGreaterThanOrEqual(1);
      expect(sample(s, 'mosaik_groups_bonds_messages_sent_total', { ...net, group })).toBeGreaterThan(0);
      expect(sample(s, 'mosaik_groups_bonds_messages_received_total', { ...net, group })).toBeGreaterThan(0);
      expect(sample(s, 'mosaik_groups_calls_pending', { ...net, group })).toBe(0);
      expect(sample(s, 'mosaik_groups_call_timeouts_total', { ...net, group })).toBe(n === b ? 1 : 0);
      expect(sample(s, 'mosaik_groups_calls_refused_full_total', { ...net, group })).toBe(0);
      expect(sample(s, 'mosaik_groups_proposals_refused_full_total', { ...net, group })).toBe(0);
      expect(sample(s, 'mosaik_groups_uncommitted_bytes', { ...net, group })).toBe(0);
      expect(sample(s, 'mosaik_groups_snapshot_failures_total', { ...net, group })).toBe(0);
      expect(sample(s, 'mosaik_network_connections_opened_total', net)).toBeGreaterThan(0);
      expect(sample(s, 'mosaik_network_egress_bytes_total', net)).toBeGreaterThan(0);
      expect(sample(s, 'mosaik_network_ingress_frames_total', net)).toBeGreaterThan(0);
    }
    const sa = await scrape(a);
    const stream = p.stream.short;
    expect(sample(sa, 'mosaik_streams_producers_active', net)).toBe(1);
    expect(sample(sa, 'mosaik_streams_producer_consumers', { ...net, stream })).toBe(1);
    expect(sample(sa, 'mosaik_streams_producer_items_sent', { ...net, stream })).toBe(5);
    expect(sample(sa, 'mosaik_streams_producer_items_too_large', { ...net, stream })).toBe(0);
    const sb = await scrape(b);
    expect(sample(sb, 'mosaik_streams_consumers_active', net)).toBe(1);
    expect(sample(sb, 'mosaik_streams_consumer_producers', { ...net, stream })).toBe(1);

    // Counters only go up between scrapes; a left group's series disappear.
    const before = sample(sa, 'mosaik_network_egress_frames_total', net) as number;
    await gb.leave();
    await until(async () => sample(await scrape(b), 'mosaik_groups_active', net) === 0, 'the group gone from b');
    const after = await scrape(b);
    expect(sample(after, 'mosaik_groups_raft_committed', { ...net, group })).toBeUndefined();
    expect(sample(after, 'mosaik_groups_raft_elections_total', { ...net, group })).toBeUndefined();
    expect(sample(await scrape(a), 'mosaik_network_egress_frames_total', net)).toBeGreaterThanOrEqual(before);

    // Only GET; and the server stops with the node.
    expect((await fetch(a.metricsUrl as string, { method: 'POST' })).status).toBe(405);
    const url = b.metricsUrl as string;
    await b.close();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('a taken port or a bad host fails Network.create with InvalidArgumentError, leaving nothing running', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(Network.create({ network: 'metrics-taken', prometheus: { port } })).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        message: expect.stringContaining('cannot serve metrics'),
      });
      await expect(Network.create({ network: 'metrics-taken', prometheus: { host: 'localhost', port: 0 } })).rejects.toMatchObject({
        name: 'InvalidArgumentError',
      });
      await expect(Network.create({ network: 'metrics-taken', prometheus: { port: 70_000 } })).rejects.toMatchObject({ name: 'InvalidArgumentError' });
    } finally {
      taken.close();
    }
    // A node without the option serves nothing.
    expect((await node('metrics-none', { prometheus: undefined })).metricsUrl).toBeUndefined();
  });
});
