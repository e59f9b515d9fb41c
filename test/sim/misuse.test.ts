import { ed25519 } from '@noble/curves/ed25519.js';
import { InvalidArgumentError } from 'mosaik';
import { CLOCK_OFFSET_MS_MAX, QUIET_PLAN, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

/** Rejects or throws a typed InvalidArgumentError, never a TypeError or an AssertionError. */
async function expectInvalid(call: () => unknown): Promise<void> {
  await expect((async () => call())()).rejects.toBeInstanceOf(InvalidArgumentError);
}

describe('Simulation misuse', () => {
  it('a node whose start fails leaves nothing behind', async () => {
    // A signer that fails (an HSM gone away) makes the node's start throw.
    let signerBroken = false;
    const signer = {
      sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
        if (signerBroken) throw new Error('signer offline');
        return ed25519.sign(message, seed);
      },
    };
    const sim = new Simulation({ seed: 1, signer, maxSimulatedMs: 600_000 });
    const a = sim.node({ network: 'x' });
    signerBroken = true;
    expect(() => sim.node({ network: 'x' })).toThrow('signer offline');
    signerBroken = false;
    // Bad options that make the start throw (or are refused before it) leave nothing either.
    expect(() => sim.node({ network: 'x', discovery: { purgeAfterMs: 0 } })).toThrow();
    expect(() => sim.node({ network: 'x', discovery: { gossipViews: { active: -1 } } } as never)).toThrow();
    expect(sim.networks).toEqual([a]);
    // The next node takes the free index, and the network works.
    const b = sim.node({ network: 'x', bootstrap: [a.addr] });
    expect(sim.indexOf(b)).toBe(1);
    expect(sim.networks).toEqual([a, b]);
    const peers = await sim.run(async () => {
      await sim.sleep(30_000);
      await a.syncWith(b.addr);
      return [a.discovery.peers().length, b.discovery.peers().length];
    });
    expect(peers).toEqual([1, 1]);
  });

  it('clock faults stay within ten years of true time', async () => {
    const sim = new Simulation({ seed: 1, maxSimulatedMs: 600_000 });
    const a = sim.node({ network: 'x' });
    const b = sim.node({ network: 'x', bootstrap: [a.addr] });
    for (const ms of [1e16, -1e16, 1e300, CLOCK_OFFSET_MS_MAX + 1]) {
      await expectInvalid(() => sim.skewClock(a, ms));
      await expectInvalid(() => sim.jumpClock(a, ms));
    }
    await expectInvalid(() => sim.skewClock(a, '5' as never));
    // Jumps add up: the one that would take the clock past the bound is refused.
    sim.jumpClock(b, CLOCK_OFFSET_MS_MAX - 1_000);
    await expectInvalid(() => sim.jumpClock(b, 2_000));
    sim.jumpClock(b, -2_000);
    sim.skewClock(a, -CLOCK_OFFSET_MS_MAX);
    // Both extremes run: every clock reading stays a safe integer.
    await sim.run(() => sim.sleep(200_000));
    sim.quiesce();
    await sim.run(() => sim.sleep(60_000));
    expect(a.discovery.peers().length).toBe(1);
  });

  it('refuses bad simulation options and link factors at the call', async () => {
    const bad: Record<string, unknown>[] = [
      { faults: 'bogus' },
      { faults: 42 },
      { faults: {} },
      { faults: { nemesis: { kinds: 'crash' } } },
      { faults: { ...QUIET_PLAN, latencyMsMin: 9, latencyMsMax: 2 } },
      { faults: { ...QUIET_PLAN, nemesis: { kinds: ['crash'] } } },
      { faults: { ...QUIET_PLAN, nemesis: { ...swarmNemesis(), kinds: ['meteor'] } } },
      { faults: { ...QUIET_PLAN, nemesis: { ...swarmNemesis(), clockSkewMsMax: 1e16 } } },
      { faults: { ...QUIET_PLAN, stress: { lossProbability: 2, duplicateProbability: 0, reorderProbability: 0 } } },
      { faults: { ...QUIET_PLAN, syncMs: { min: 5, max: Number.NaN } } },
      { faultsStartMs: Number.NaN },
      { faultsStartMs: 'x' },
      { faultsStartMs: -1 },
      { maxSimulatedMs: Number.NaN },
      { maxSimulatedMs: '1000' },
      { maxSimulatedMs: 1e16 },
      { maxEvents: Number.NaN },
      { maxEvents: 1.5 },
      { corruptFrames: '0.5' },
      { keepTrace: 'yes' },
    ];
    for (const options of bad) await expectInvalid(() => new Simulation({ seed: 1, ...options } as never));
    await expectInvalid(() => new Simulation(undefined as never));
    // A whole plan is taken as before.
    const sim = new Simulation({ seed: 1, faults: { ...QUIET_PLAN, nemesis: swarmNemesis() }, faultsStartMs: 5_000 });
    const a = sim.node({ network: 'x' });
    const b = sim.node({ network: 'x' });
    for (const factor of [Number.NaN, 'x', -1, Number.POSITIVE_INFINITY]) await expectInvalid(() => sim.slowLink(a, b, factor as never));
    sim.slowLink(a, b, 3);
    sim.slowLink(a, b, undefined);
  });

  it('refuses runFor with a bad duration, and a run or runFor while one runs', async () => {
    const sim = new Simulation({ seed: 1, maxSimulatedMs: 600_000 });
    sim.node({ network: 'x' });
    for (const ms of [Number.NaN, '100', -1, Number.POSITIVE_INFINITY]) await expectInvalid(() => sim.runFor(ms as never));
    expect(sim.now).toBe(0);
    await expectInvalid(() => sim.run('not a function' as never));
    await expectInvalid(() => sim.run(() => sim.run(async () => 1)));
    await expectInvalid(() => sim.run(() => sim.runFor(10)));
    const first = sim.run(() => sim.sleep(10));
    await expectInvalid(() => sim.run(() => sim.sleep(10)));
    await expectInvalid(() => sim.runFor(10));
    await first;
    // Still usable, and a function that returns a plain value works too.
    await sim.runFor(1_000);
    expect(await sim.run((() => 7) as never)).toBe(7);
    expect(sim.now).toBe(1_010);
  });

  it('a checker that throws is a failed check: recorded as its violation, and the run goes on', async () => {
    const sim = new Simulation({ seed: 1, maxSimulatedMs: 600_000 });
    const a = sim.node({ network: 'x' });
    const b = sim.node({ network: 'x', bootstrap: [a.addr] });
    let calls = 0;
    sim.addChecker({
      name: 'boom',
      onEvent() {
        calls++;
        throw new Error('checker boom');
      },
      finish() {
        throw new Error('finish boom');
      },
    });
    await sim.run(() => sim.sleep(20_000));
    expect(calls).toBeGreaterThan(1);
    expect(sim.violations.length).toBe(calls);
    expect(sim.violations[0]).toMatchObject({ checker: 'boom', message: 'onEvent threw: checker boom' });
    const all = sim.finishCheckers();
    expect(all.at(-1)).toMatchObject({ checker: 'boom', message: 'finish threw: finish boom' });
    expect(a.discovery.peers().length + b.discovery.peers().length).toBe(2);
  });

  it('refuses arguments of the wrong shape at the call', async () => {
    const sim = new Simulation({ seed: 1 });
    const a = sim.node({ network: 'x' });
    await expectInvalid(() => sim.partition(null as never, [a]));
    await expectInvalid(() => sim.partition([a], 'b' as never));
    await expectInvalid(() => sim.partitionOneWay(null as never, a));
    await expectInvalid(() => sim.addChecker(null as never));
    await expectInvalid(() => sim.addChecker({ name: 'x', onEvent: 5 } as never));
    await expectInvalid(() => sim.node(undefined as never));
    await expectInvalid(() => sim.node({ network: 'x', secretKey: {} as never }));
    await expectInvalid(() => sim.node({ network: 'x', tags: 'a' as never }));
    await expectInvalid(() => sim.node({ network: 'x', bootstrap: a.addr as never }));
    expect(sim.networks).toEqual([a]);
  });
});

function swarmNemesis() {
  return {
    kinds: ['crash', 'clock-jump'] as const,
    intervalMsMin: 500,
    intervalMsMax: 1_000,
    durationMsMin: 100,
    durationMsMax: 200,
    clockSkewMsMax: 1_000,
    slowFactor: 5,
  };
}
