/**
 * Benchmark: a three-member group over real QUIC on 127.0.0.1 (three `Network.create` nodes
 * in this process), then the simulator's time compression for `raft-chaos`. Not a test: it
 * prints figures.
 *
 * QUIC: after the group forms (three voters), each operating point runs `--seconds` with 1
 * and with 64 concurrent clients calling `execute` on the leader, then the same from a
 * follower (forwarded to the leader). A commit is counted when `execute` resolves (committed
 * by a majority and applied locally); latency is per call.
 *
 * Simulator: `raft-chaos`, simulated time over wall time, twice: over `--seeds` (default
 * 1-5) as the first runs of the process, which include the JIT's warm-up (a single
 * `mosaik sim run` pays it too: its first seed runs about half as fast as a later one), and
 * then over `--steady-seeds` (default 6-25), new seeds run once the code is warm, as most
 * runs of a campaign are.
 *
 * `--clients 1,64` (the default): the numbers of concurrent clients, one operating point each.
 * Thousands show what many calls in flight cost a node (each client has one call in flight).
 *
 * `--durable`: each node keeps its state in a fresh `dataDir` (a temporary directory), so
 * every Raft batch is fsynced before the messages that depend on it leave. Each point then
 * also counts the syncs of the three stores (all in this process) per commit.
 *
 * Run: npx tsx tools/bench/groups.ts [--seconds 3] [--seeds 1-5] [--steady-seeds 6-25] [--json] [--only quic|sim] [--durable] [--clients 1,64]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Network } from '../../api/network.ts';
import { FileStorage } from '../../net-real/file-storage.ts';
import { raftChaos } from '../../scenarios/raft-chaos.ts';
import { parseArgs, parseInteger, parseSeedRange } from '../cli/args.ts';
import { closedLoop } from './closed-loop.ts';
import { Counter } from './counter.ts';

const { flags } = parseArgs(process.argv.slice(2), {
  seconds: 'string',
  seeds: 'string',
  'steady-seeds': 'string',
  json: 'boolean',
  only: 'string',
  durable: 'boolean',
  clients: 'string',
});
const seconds = parseInteger(flags.seconds, '--seconds', 1) ?? 3;
const firstSeeds = parseSeedRange(flags.seeds ?? '1-5');
const steadySeeds = parseSeedRange(flags['steady-seeds'] ?? '6-25');
const only = flags.only;
const clientCounts = (flags.clients ?? '1,64').split(',').map((c) => parseInteger(c, '--clients', 1) ?? 1);

interface QuicFigure {
  readonly from: 'leader' | 'follower';
  readonly clients: number;
  readonly commits: number;
  readonly commitsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** `--durable`: syncs of the three nodes' stores per commit, over the measured part. */
  readonly syncsPerCommit?: number;
}

// The nodes' stores are in this process: their syncs are counted where they happen.
let syncs = 0;
const flushAsync = FileStorage.prototype.flushAsync;
FileStorage.prototype.flushAsync = function (this: FileStorage): Promise<void> {
  syncs++;
  return flushAsync.call(this);
};

async function quic(): Promise<QuicFigure[]> {
  const root = flags.durable ? mkdtempSync(join(tmpdir(), 'mosaik-bench-groups-')) : undefined;
  const dataDir = (i: number) => (root === undefined ? {} : { dataDir: join(root, `node-${i}`) });
  const first = await Network.create({ network: `bench-groups-${process.pid}`, discovery: { syncIntervalMs: 200 }, ...dataDir(0) });
  const others = await Promise.all(
    [1, 2].map((i) => Network.create({ network: `bench-groups-${process.pid}`, bootstrap: [first.addr], discovery: { syncIntervalMs: 200 }, ...dataDir(i) })),
  );
  const nets = [first, ...others];
  try {
    const groups = nets.map((n) => n.groups.join({ key: 'bench', machine: new Counter(), bootstrapExpect: 3, consensus: { bootstrapDelayMs: 500 } }));
    const deadline = performance.now() + 30_000;
    while (!groups.every((g) => g.leader !== undefined && g.members().voters.length === 3)) {
      if (performance.now() > deadline) throw new Error('the group did not form within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const leader = groups.find((g) => g.isLeader);
    const follower = groups.find((g) => !g.isLeader);
    if (!leader || !follower) throw new Error('no leader or follower');
    const figures: QuicFigure[] = [];
    for (const [from, g] of [
      ['leader', leader],
      ['follower', follower],
    ] as const) {
      for (const clients of clientCounts) {
        let syncsBefore = 0;
        const f = await closedLoop(
          clients,
          seconds,
          () => g.execute(1),
          undefined,
          () => {
            syncsBefore = syncs;
          },
        );
        const syncsPerCommit = flags.durable ? { syncsPerCommit: Math.round(((syncs - syncsBefore) / f.calls) * 100) / 100 } : {};
        figures.push({ from, clients, commits: f.calls, commitsPerSecond: f.perSecond, p50Ms: f.p50Ms, p99Ms: f.p99Ms, ...syncsPerCommit });
      }
    }
    return figures;
  } finally {
    await Promise.all(nets.map((n) => n.close()));
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  }
}

type ChaosFigure = { seeds: string; simulatedMs: number; wallMs: number; compression: number; ok: number };

async function chaos({ from, to }: { from: number; to: number }): Promise<ChaosFigure> {
  let simulatedMs = 0;
  let wallMs = 0;
  let ok = 0;
  for (let seed = from; seed <= to; seed++) {
    const t0 = performance.now();
    const r = await raftChaos.run({ seed });
    wallMs += performance.now() - t0;
    simulatedMs += r.simulatedMs;
    if (r.ok) ok++;
  }
  return { seeds: `${from}-${to}`, simulatedMs, wallMs: Math.round(wallMs), compression: Math.round(simulatedMs / wallMs), ok };
}

async function sim(): Promise<{ first: ChaosFigure; steady: ChaosFigure }> {
  const first = await chaos(firstSeeds);
  return { first, steady: await chaos(steadySeeds) };
}

const result: Record<string, unknown> = {};
if (only !== 'sim') result.quic = await quic();
if (only !== 'quic') result.sim = await sim();
if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  for (const f of (result.quic as QuicFigure[] | undefined) ?? [])
    process.stdout.write(
      `QUIC 3 members${flags.durable ? ' (dataDir, fsync)' : ''}, execute from the ${f.from}, ${f.clients} client(s): ${f.commitsPerSecond} commits/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms (${f.commits} commits${f.syncsPerCommit === undefined ? '' : `, ${f.syncsPerCommit} syncs per commit`})\n`,
    );
  const s = result.sim as Awaited<ReturnType<typeof sim>> | undefined;
  const line = (what: string, f: ChaosFigure) =>
    `raft-chaos seeds ${f.seeds} (${what}): ${f.simulatedMs} ms simulated in ${f.wallMs} ms wall = ${f.compression}x (${f.ok} ok)\n`;
  if (s) process.stdout.write(line('first runs of the process, JIT warming up', s.first) + line('warm', s.steady));
}
process.exit(0);
