import { QUIET_PLAN, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { Counter } from './counter.ts';

// Simulated storage that takes time to sync (`FaultPlan.syncMs`, as the real driver's
// fsync): what depends on a write waits for its sync, and a crash loses the writes that no
// finished sync covered. Swarm plans pick it for half the seeds.

async function crashDuringAWrite(syncMs: { min: number; max: number } | undefined) {
  const sim = new Simulation({ seed: 5, keepTrace: true, faults: { ...QUIET_PLAN, ...(syncMs && { syncMs }) } });
  const net = sim.node({ network: 'sync-test' });
  return sim.run(async () => {
    const g = net.groups.join({ key: 'sync', machine: new Counter() });
    await g.when.online();
    const called = sim.now;
    expect((await g.execute({ op: 'inc', by: 5 })).result).toBe(5);
    const tookMs = sim.now - called;
    // Alone, the leader commits on its own write: the call resolves once that is stored.
    // The next call is in flight when the node crashes, 10 ms after it was made.
    const second = g.execute({ op: 'inc', by: 7 }).then(
      (r) => `resolved ${r.result}`,
      (e: Error) => e.name,
    );
    await sim.sleep(10);
    sim.crash(net);
    const outcome = await second;
    sim.restart(net);
    await g.when.online();
    const after = (await g.query(null, 'weak')).result;
    return { tookMs, outcome, after, trace: sim.trace };
  });
}

describe('simulated storage with a sync time', () => {
  it('answers a call only once the write it depends on is synced, and a crash loses only the writes never synced', async () => {
    const { tookMs, outcome, after, trace } = await crashDuringAWrite({ min: 40, max: 40 });
    expect(tookMs).toBeGreaterThanOrEqual(40);
    // The 7 was appended 10 ms before the crash and its sync needed 40: never acknowledged, and gone.
    expect(outcome).toBe('NodeDownError');
    expect(after).toBe(5);
    expect(trace.some((line) => /sync n0 \d+ writes LOST/.test(line))).toBe(true);
  });

  it('with writes durable at once (no sync time), the same crash keeps the write', async () => {
    const { tookMs, outcome, after, trace } = await crashDuringAWrite(undefined);
    expect(tookMs).toBeLessThan(40);
    expect(outcome).toBe('resolved 12');
    expect(after).toBe(12);
    expect(trace.some((line) => line.includes(' sync '))).toBe(false);
  });
});
