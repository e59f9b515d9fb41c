/**
 * Benchmark: a group given far more calls at once than it can settle, in the simulator
 * (three members in this process, quiet network). Not a test: it prints figures.
 *
 * 1. `burst`: `--calls` executes made at once on a follower, with the join's default
 *    `maxPendingCalls` and, for comparison, with no effective bound (`--unbounded`): how
 *    many were applied and how many refused with FullError, the wall time until all settled,
 *    and what the heap holds once they are all taken or refused, before any is applied
 *    (after a full collection, over the formed group before the calls).
 * 2. `read-timeouts`: `--reads` strong queries made at once on a follower cut off from the
 *    others, each with a deadline, the deadlines falling in the reverse order of the calls
 *    (the order that made each timeout scan every read in flight): wall time until all failed.
 * 3. `leader-room`: `--calls` / 2 executes made at once on each follower, with the join's
 *    default `maxUncommittedBytes` and with `--room` bytes: the most the leader held
 *    uncommitted (sampled every virtual millisecond), its refusals, and the virtual and wall
 *    time until every call applied.
 *
 * Run: npx tsx tools/bench/calls-in-flight.ts [--calls 200000] [--reads 40000] [--room 262144] [--unbounded] [--only burst|read-timeouts|leader-room]
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FullError, TimeoutError } from '../../core/errors.ts';
import { type Network, QUIET_PLAN, Simulation } from '../../net-sim/index.ts';
import { scenarioCrypto } from '../../scenarios/scenario.ts';
import { parseArgs, parseInteger } from '../cli/args.ts';
import { Counter } from './counter.ts';

const { flags } = parseArgs(process.argv.slice(2), { calls: 'string', reads: 'string', room: 'string', unbounded: 'boolean', only: 'string' });
const calls = parseInteger(flags.calls, '--calls', 1) ?? 200_000;
const reads = parseInteger(flags.reads, '--reads', 1) ?? 40_000;
const room = parseInteger(flags.room, '--room', 1) ?? 256 * 1024;
const only = flags.only;
const POINTS = ['burst', 'read-timeouts', 'leader-room'];
if (only !== undefined && !POINTS.includes(only)) throw new Error(`--only ${POINTS.join('|')}, got ${only}`);

// A full collection before each measurement, so that each starts from what is live.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Three members of one group; `body` gets them once every one is online. */
async function withGroup<T>(
  key: string,
  join: { maxPendingCalls?: number; maxUncommittedBytes?: number },
  body: (sim: Simulation, nets: Network[], groups: ReturnType<Network['groups']['join']>[]) => Promise<T>,
): Promise<T> {
  const sim = new Simulation({ seed: 1, faults: QUIET_PLAN, ...scenarioCrypto });
  const a = sim.node({ network: key });
  const nets = [a, sim.node({ network: key, bootstrap: [a.addr] }), sim.node({ network: key, bootstrap: [a.addr] })];
  return sim.run(async () => {
    const groups = nets.map((net) => net.groups.join({ key, machine: new Counter(), bootstrapExpect: 3, ...join }));
    await Promise.all(groups.map((g) => g.when.online()));
    return body(sim, nets, groups);
  });
}

async function burst(unbounded: boolean): Promise<void> {
  await withGroup('bench-burst', unbounded ? { maxPendingCalls: 1_000_000_000 } : {}, async (sim, _nets, groups) => {
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const follower = groups.find((g) => !g.isLeader) as (typeof groups)[number];
    let applied = 0;
    let full = 0;
    let other = 0;
    const started = performance.now();
    const all = Array.from({ length: calls }, () =>
      follower.execute(1).then(
        () => applied++,
        (e: unknown) => (e instanceof FullError ? full++ : other++),
      ),
    );
    // One virtual millisecond on, every call has been taken or refused and none applied yet:
    // what is live then is what the calls in flight hold (with the three members' state).
    await sim.sleep(1);
    collect();
    const live = process.memoryUsage().heapUsed - heapBefore;
    await Promise.all(all);
    const ms = performance.now() - started;
    const bound = unbounded ? 'no bound' : 'default maxPendingCalls';
    console.log(
      `burst, ${bound}: ${calls} calls at once on a follower: ${applied} applied, ${full} refused with FullError, ${other} other errors; ${ms.toFixed(0)} ms wall; heap +${(live / 1e6).toFixed(0)} MB live while they were in flight`,
    );
  });
}

async function readTimeouts(): Promise<void> {
  await withGroup('bench-reads', {}, async (sim, nets, groups) => {
    const at = groups.findIndex((g) => !g.isLeader);
    const follower = groups[at] as (typeof groups)[number];
    sim.isolate(nets[at] as Network);
    const started = performance.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: reads }, (_, i) => follower.query(null, 'strong', { timeoutMs: 100 + Math.floor((reads - i) / 10) })),
    );
    const ms = performance.now() - started;
    const timedOut = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof TimeoutError).length;
    console.log(`read timeouts: ${reads} strong reads on a cut-off follower, deadlines in reverse order: ${timedOut} timed out; ${ms.toFixed(0)} ms wall`);
    sim.heal();
  });
}

async function leaderRoom(maxUncommittedBytes: number | undefined): Promise<void> {
  await withGroup('bench-room', maxUncommittedBytes === undefined ? {} : { maxUncommittedBytes }, async (sim, _nets, groups) => {
    const leader = groups.find((g) => g.isLeader) as (typeof groups)[number];
    const followers = groups.filter((g) => g !== leader);
    let held = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        held = Math.max(held, leader.status()?.uncommittedBytes ?? 0);
        await sim.sleep(1);
      }
    })();
    const startedAt = sim.now;
    const started = performance.now();
    const outcomes = await Promise.allSettled(followers.flatMap((f) => Array.from({ length: Math.floor(calls / 2) }, () => f.execute(1))));
    const ms = performance.now() - started;
    done = true;
    await sampler;
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    const bound = maxUncommittedBytes === undefined ? 'default maxUncommittedBytes (128 MiB)' : `maxUncommittedBytes ${maxUncommittedBytes}`;
    console.log(
      `leader room, ${bound}: ${outcomes.length} calls at once on two followers: ${outcomes.length - failed} applied, ${failed} failed; the leader held at most ${(held / 1024).toFixed(0)} KiB uncommitted and refused ${leader.status()?.stats.proposalsRefusedFull} proposals; ${sim.now - startedAt} ms virtual, ${ms.toFixed(0)} ms wall`,
    );
  });
}

if (only === undefined || only === 'burst') {
  await burst(false);
  if (flags.unbounded === true) await burst(true);
}
if (only === undefined || only === 'read-timeouts') await readTimeouts();
if (only === undefined || only === 'leader-room') {
  await leaderRoom(undefined);
  await leaderRoom(room);
}
