/**
 * Benchmark: replicated collections over real QUIC on 127.0.0.1 (nodes in this process).
 * Not a test: it prints figures.
 *
 * 1. Write throughput of a Map on a single writer node (the group's only voter, so a write
 *    commits on its own log) and on a three-writer group (a majority of three), with 1 and
 *    64 concurrent `insert` calls, `--seconds` each.
 * 2. Catch-up: a writer fills a Map with `--entries` entries (default 100 000, in `extend`
 *    batches of 5 000), then a reader node starts and opens the Map: the time from its
 *    `collections.map(..., { reader: true })` call until it has applied the writer's
 *    version, and the same from the first bond (discovery and bonding excluded). The writer
 *    snapshots every 10 commands, so the reader gets a chunked snapshot (256 KiB chunks)
 *    and replays only the few commands after it.
 *
 * Run: npx tsx tools/bench/collections.ts [--seconds 3] [--entries 100000] [--json] [--only writes|catchup]
 */
import { performance } from 'node:perf_hooks';
import { Network } from '../../api/network.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';
import { closedLoop } from './closed-loop.ts';

const { flags } = parseArgs(process.argv.slice(2), { seconds: 'string', entries: 'string', json: 'boolean', only: 'string' });
const seconds = parseInteger(flags.seconds, '--seconds', 1) ?? 3;
const entries = parseInteger(flags.entries, '--entries', 1) ?? 100_000;
const only = flags.only;
const network = `bench-collections-${process.pid}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function nodes(n: number, bootstrap?: string): Promise<Network[]> {
  const first = await Network.create({ network, ...(bootstrap && { bootstrap: [bootstrap] }), discovery: { syncIntervalMs: 200 } });
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => Network.create({ network, bootstrap: [first.addr], discovery: { syncIntervalMs: 200 } })));
  return [first, ...rest];
}

async function until(what: string, ms: number, test: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

interface WriteFigure {
  readonly writers: number;
  readonly clients: number;
  readonly writesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function writes(): Promise<WriteFigure[]> {
  const figures: WriteFigure[] = [];
  for (const writers of [1, 3]) {
    const nets = await nodes(writers);
    try {
      const maps = nets.map((n) => n.collections.map<string, number>(`bench.writes.${writers}`, { snapshotEveryEntries: 10_000 }));
      await until('the writers formed', 30_000, () => {
        const leaders = maps.filter((m) => (m as unknown as { group: { isLeader: boolean } }).group.isLeader);
        return (
          leaders.length === 1 && maps.every((m) => (m as unknown as { group: { members(): { voters: unknown[] } } }).group.members().voters.length === writers)
        );
      });
      const map = maps[0];
      if (!map) throw new Error('no map');
      for (const clients of [1, 64]) {
        let n = 0;
        const f = await closedLoop(clients, seconds, () => map.insert(`k${n++ % 50_000}`, n));
        figures.push({ writers, clients, writesPerSecond: f.perSecond, p50Ms: f.p50Ms, p99Ms: f.p99Ms });
      }
    } finally {
      await Promise.all(nets.map((n) => n.close()));
    }
  }
  return figures;
}

async function catchup(): Promise<{ entries: number; fillMs: number; fromJoinMs: number; fromBondMs: number; version: number; snapshotIndex: number }> {
  const [writerNet] = await nodes(1);
  if (!writerNet) throw new Error('no writer');
  let readerNet: Network | undefined;
  try {
    // A snapshot every 10 commands (of 5 000 entries each): the reader catches up from a chunked snapshot, not by replaying the log.
    const writer = writerNet.collections.map<string, number>('bench.catchup', { snapshotEveryEntries: 10 });
    await writer.when.online();
    const t0 = performance.now();
    let version = 0;
    for (let i = 0; i < entries; i += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, entries - i) }, (_, k) => [`key-${i + k}`, i + k] as const);
      version = await writer.extend(batch);
    }
    const fillMs = performance.now() - t0;
    readerNet = await Network.create({ network, bootstrap: [writerNet.addr], discovery: { syncIntervalMs: 200 } });
    const joinAt = performance.now();
    const reader = readerNet.collections.map<string, number>('bench.catchup', { reader: true, snapshotEveryEntries: 10 });
    const group = (reader as unknown as { group: { members(): { bonds: unknown[] }; status(): { snapshotIndex: number } | undefined } }).group;
    let bondAt = 0;
    await until('the reader caught up', 120_000, () => {
      if (bondAt === 0 && group.members().bonds.length > 0) bondAt = performance.now();
      return reader.version >= version;
    });
    const doneAt = performance.now();
    if (reader.size !== entries) throw new Error(`reader has ${reader.size} entries, expected ${entries}`);
    const snapshotIndex = group.status()?.snapshotIndex ?? 0;
    return { entries, fillMs: Math.round(fillMs), fromJoinMs: Math.round(doneAt - joinAt), fromBondMs: Math.round(doneAt - bondAt), version, snapshotIndex };
  } finally {
    await readerNet?.close();
    await writerNet.close();
  }
}

const result: Record<string, unknown> = {};
if (only !== 'catchup') result.writes = await writes();
if (only !== 'writes') result.catchup = await catchup();
if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  for (const f of (result.writes as WriteFigure[] | undefined) ?? [])
    process.stdout.write(`Map insert, ${f.writers} writer(s), ${f.clients} concurrent: ${f.writesPerSecond} writes/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms\n`);
  const c = result.catchup as Awaited<ReturnType<typeof catchup>> | undefined;
  if (c)
    process.stdout.write(
      `catch-up of ${c.entries} entries (version ${c.version}, reader's snapshot at ${c.snapshotIndex}): ${c.fromJoinMs} ms from the reader's join, ${c.fromBondMs} ms from its first bond (fill took ${c.fillMs} ms)\n`,
    );
}
process.exit(0);
