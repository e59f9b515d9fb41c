import { ClosedError, ConnectError, InvalidArgumentError, LinkClosedError, NodeDownError, TimeoutError } from 'mosaik';
import { type FaultPlan, QUIET_PLAN, Simulation, SimulationLimitError, SimulationStalledError } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

const plan = (overrides: Partial<FaultPlan> = {}): FaultPlan => ({ ...QUIET_PLAN, latencyMsMin: 5, latencyMsMax: 5, jitterMsMax: 0, ...overrides });

function pair(options: Partial<FaultPlan> = {}) {
  const sim = new Simulation({ seed: 1, faults: plan(options), keepTrace: true });
  const a = sim.node({ network: 'test' });
  const b = sim.node({ network: 'test' });
  return { sim, a, b };
}

describe('Simulation', () => {
  it('awaiting inside run() advances virtual time, and only as far as needed', async () => {
    const { sim, a, b } = pair();
    const rtt = await sim.run(async () => (await a.ping(b.addr)).rttMs);
    // dial (5) + open (5) + hello (5) + welcome (5), then ping (5) + pong (5)
    expect(rtt).toBe(10);
    expect(sim.now).toBe(30);
    await sim.run(() => sim.sleep(1_000));
    expect(sim.now).toBe(1_030);
    await sim.runFor(500);
    expect(sim.now).toBe(1_530);
  });

  it('reports a run that can never finish instead of hanging', async () => {
    // Nodes keep periodic timers, so a run waiting on nothing ends at the virtual time limit.
    const limited = new Simulation({ seed: 1, maxSimulatedMs: 60_000 });
    limited.node({ network: 'test' });
    await expect(limited.run(() => new Promise(() => {}))).rejects.toBeInstanceOf(SimulationLimitError);
    expect(limited.now).toBeLessThanOrEqual(60_000);
    // With nothing scheduled at all, it is reported at once as stalled.
    const empty = new Simulation({ seed: 1 });
    await expect(empty.run(() => new Promise(() => {}))).rejects.toBeInstanceOf(SimulationStalledError);
  });

  it('a partition makes pings time out; healing brings them back', async () => {
    const { sim, a, b } = pair({ idleTimeoutMs: 60_000 });
    await sim.run(async () => {
      await a.ping(b.addr);
      sim.partition([a], [b]);
      await expect(a.ping(b.addr, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(TimeoutError);
      sim.heal();
      // The link survived (idle timeout not reached): the held-back ping is delivered late,
      // and the next ping goes through on the same link.
      await expect(a.ping(b.addr, { timeoutMs: 1_000 })).resolves.toMatchObject({ rttMs: 10 });
    });
    expect(sim.trace.filter((l) => l.includes(' dial '))).toHaveLength(1);
  });

  it('a partition longer than the idle timeout breaks the link; the next ping redials', async () => {
    const { sim, a, b } = pair({ idleTimeoutMs: 2_000 });
    await sim.run(async () => {
      await a.ping(b.addr);
      sim.partition([a], [b]);
      await sim.sleep(2_500);
      sim.heal();
      await expect(a.ping(b.addr)).resolves.toBeDefined();
    });
    expect(sim.trace.some((l) => l.includes('link.down') && l.includes('LinkLost'))).toBe(true);
    expect(sim.trace.filter((l) => l.includes(' dial '))).toHaveLength(2);
  });

  it('a one-way partition holds messages in one direction only', async () => {
    const { sim, a, b } = pair({ idleTimeoutMs: 60_000 });
    await sim.run(async () => {
      await a.ping(b.addr);
      await b.ping(a.addr);
      sim.partitionOneWay(b, a);
      // a's pings reach b, but the pongs are held back.
      await expect(a.ping(b.addr, { timeoutMs: 500 })).rejects.toBeInstanceOf(TimeoutError);
      sim.heal();
    });
  });

  it('dialing an unreachable node fails after the connect timeout', async () => {
    const { sim, a, b } = pair({ connectTimeoutMs: 700 });
    sim.crash(b);
    const started = sim.now;
    await sim.run(async () => {
      await expect(a.ping(b.addr, { timeoutMs: 5_000 })).rejects.toMatchObject({ name: 'ConnectError', reason: 'timeout' });
    });
    expect(sim.now - started).toBe(700);
  });

  it('a crash fails the node’s pending calls with NodeDownError; restart keeps its identity', async () => {
    const { sim, a, b } = pair();
    await sim.run(async () => {
      const pending = a.ping(b.addr);
      sim.crash(a);
      await expect(pending).rejects.toBeInstanceOf(NodeDownError);
      await expect(a.ping(b.addr)).rejects.toBeInstanceOf(NodeDownError);
      sim.restart(a);
      await expect(a.ping(b.addr)).resolves.toMatchObject({ peer: b.peerId });
    });
    expect(sim.isUp(a)).toBe(true);
  });

  it('a ping to a peer that crashed mid-link fails, and succeeds again after its restart', async () => {
    const { sim, a, b } = pair({ idleTimeoutMs: 3_000 });
    await sim.run(async () => {
      await a.ping(b.addr);
      sim.crash(b);
      await expect(a.ping(b.addr, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(TimeoutError);
      sim.restart(b);
      await sim.sleep(3_000); // the stale link times out
      await expect(a.ping(b.addr)).resolves.toBeDefined();
    });
  });

  it('a node can ping itself (a link whose two ends are one node)', async () => {
    const { sim, a } = pair();
    await sim.run(async () => {
      await expect(a.ping(a.addr)).resolves.toMatchObject({ peer: a.peerId });
      await expect(a.ping(a.addr)).resolves.toMatchObject({ peer: a.peerId });
    });
    sim.crash(a);
    sim.restart(a);
    await sim.run(async () => {
      await sim.sleep(20_000);
      await expect(a.ping(a.addr)).resolves.toMatchObject({ peer: a.peerId });
    });
  });

  it('wrong peer id in an address fails the dial with peer-mismatch', async () => {
    const { sim, a, b } = pair();
    const c = sim.node({ network: 'test' });
    const forged = `${c.peerId.hex}@${b.addr.split('@')[1]}`;
    await sim.run(async () => {
      const error = await a.ping(forged).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).reason).toBe('peer-mismatch');
    });
  });

  it('nodes of different networks refuse each other', async () => {
    const { sim, a } = pair();
    const other = sim.node({ network: 'another-network' });
    await sim.run(async () => {
      const error = await a.ping(other.addr).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LinkClosedError);
      expect((error as LinkClosedError).closeCode).toBe(101);
    });
  });

  it('clock skew and jumps move wall clocks only: RTTs and timeouts are unaffected', async () => {
    const { sim, a, b } = pair();
    sim.skewClock(a, -40_000);
    await sim.run(async () => {
      await a.ping(b.addr);
      sim.jumpClock(a, 3_600_000);
      sim.jumpClock(b, -3_600_000);
      await expect(a.ping(b.addr)).resolves.toMatchObject({ rttMs: 10 });
    });
  });

  it('stress mode loses frames on purpose; the reliable-link check stands down for it', async () => {
    const stress = { lossProbability: 0.3, duplicateProbability: 0, reorderProbability: 0 };
    const outcome = async () => {
      const sim = new Simulation({ seed: 5, faults: plan({ stress }) });
      const [a, b] = [sim.node({ network: 'test' }), sim.node({ network: 'test' })];
      const results: string[] = [];
      await sim.run(async () => {
        for (let i = 0; i < 40; i++)
          results.push(
            await a.ping(b.addr, { timeoutMs: 200 }).then(
              () => 'ok',
              (e: Error) => e.name,
            ),
          );
      });
      return { results, violations: sim.violations, hash: sim.traceHash };
    };
    const first = await outcome();
    expect(first.results).toContain('ok');
    expect(first.results.some((r) => r === 'TimeoutError' || r === 'LinkClosedError')).toBe(true);
    expect(first.violations).toEqual([]);
    expect((await outcome()).hash).toBe(first.hash); // lossy, and still one seed, one run
  });

  it('stress-mode duplication is caught by the ping protocol, which does not claim to tolerate it', async () => {
    const sim = new Simulation({
      seed: 5,
      faults: plan({ stress: { lossProbability: 0, duplicateProbability: 0.5, reorderProbability: 0 } }),
      keepTrace: true,
    });
    const [a, b] = [sim.node({ network: 'test' }), sim.node({ network: 'test' })];
    await sim.run(async () => {
      for (let i = 0; i < 20; i++) await a.ping(b.addr, { timeoutMs: 200 }).catch(() => undefined);
    });
    expect(sim.trace.some((l) => l.includes('ProtocolViolation'))).toBe(true);
  });

  it('bad arguments are typed errors', async () => {
    const { sim, a, b } = pair();
    await sim.run(async () => {
      await expect(a.ping('not-an-address')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.ping(a.addr, { timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(sim.sleep(Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
      // A clock that reads NaN stopped the whole run with an assertion, later.
      expect(() => sim.skewClock(a, Number.NaN)).toThrow(InvalidArgumentError);
      expect(() => sim.jumpClock(a, Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError);
      await a.ping(b.addr);
    });
    expect(() => new Simulation({ seed: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => sim.node({} as never)).toThrow(InvalidArgumentError);
    expect(() => sim.node({ network: '' })).toThrow(InvalidArgumentError);
    for (const maxFrameBytes of [0, 10, 131_071, 1.5e6 + 0.5, 2 ** 31]) expect(() => sim.node({ network: 'x', maxFrameBytes })).toThrow(InvalidArgumentError);
    expect(sim.node({ network: 'x', maxFrameBytes: 131_072 }).addr).toContain('@');
  });

  it('close() is graceful and final; calls in flight fail with ClosedError', async () => {
    const { sim, a, b } = pair();
    await sim.run(async () => {
      await a.ping(b.addr);
      const inFlight = b.ping(a.addr);
      const closing = b.close();
      await expect(inFlight).rejects.toBeInstanceOf(ClosedError);
      await closing;
      await b.close();
      await b.close();
      await expect(b.ping(a.addr)).rejects.toBeInstanceOf(ClosedError);
      const error = await a.ping(b.addr, { timeoutMs: 1_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
    });
    expect(sim.trace.some((l) => l.includes('GracefulShutdown'))).toBe(true);
  });
});
