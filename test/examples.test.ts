import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The examples run as users run them (`npx tsx examples/...`): a child process each, which
// must exit by itself with code 0.

const root = fileURLToPath(new URL('../', import.meta.url));

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(file: string, ...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `examples/${file}`, ...args],
      { cwd: root, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function traceHash(stdout: string): string | undefined {
  return /^trace hash: ([0-9a-f]{64})$/m.exec(stdout)?.[1];
}

describe('examples', () => {
  it('ping-sim.ts: faults, recovery after quiesce, and a trace hash that a re-run reproduces', { timeout: 120_000 }, async () => {
    const [first, second, other] = await Promise.all([runExample('ping-sim.ts'), runExample('ping-sim.ts'), runExample('ping-sim.ts', '3')]);
    for (const run of [first, second]) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^seed 11: latency \d+-\d+ ms, faults: /m);
      expect(run.stdout).toMatch(/under faults: \d+ answered, [1-9]\d* failed/);
      expect(run.stdout).toContain('failed, NODE_DOWN');
      expect(run.stdout).toContain('failed, TIMEOUT');
      expect(run.stdout).toMatch(/after quiesce: all pairs answered \(in \d+ rounds?\)/);
      expect(run.stdout).toContain('re-run with seed 11: same trace hash');
    }
    expect(traceHash(first.stdout)).toMatch(/^[0-9a-f]{64}$/);
    expect(traceHash(second.stdout)).toBe(traceHash(first.stdout));
    expect(second.stdout).toBe(first.stdout);
    // Another seed is another run.
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('re-run with seed 3: same trace hash');
    expect(traceHash(other.stdout)).toMatch(/^[0-9a-f]{64}$/);
    expect(traceHash(other.stdout)).not.toBe(traceHash(first.stdout));
  });

  it('ping-quic.ts: the same application on real QUIC, exiting by itself', { timeout: 60_000 }, async () => {
    const run = await runExample('ping-quic.ts');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^n0 listening at [0-9a-f]{64}@127\.0\.0\.1:\d+$/m);
    expect(run.stdout).toMatch(/n0 -> n1: \d+(\.\d{3})? ms/);
    expect(run.stdout).toContain('10 answered, 0 failed');
    expect(run.stdout).toContain('all pairs answered');
  });
  it('streams-sim.ts: the quick taste runs as written and reproduces its trace', { timeout: 60_000 }, async () => {
    const [first, second] = await Promise.all([runExample('streams-sim.ts'), runExample('streams-sim.ts')]);
    for (const run of [first, second]) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^received t1=21.5 at \d+ ms \(virtual\)$/m);
    }
    expect(traceHash(first.stdout)).toBeDefined();
    expect(traceHash(first.stdout)).toBe(traceHash(second.stdout));
  });

  it('groups-sim.ts: a leader cut off, a new one elected, replicas equal after the heal, by seed', { timeout: 60_000 }, async () => {
    const [first, second, other] = await Promise.all([runExample('groups-sim.ts'), runExample('groups-sim.ts'), runExample('groups-sim.ts', '4')]);
    for (const run of [first, second, other]) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^\d+ ms: group formed, leader n\d$/m);
      expect(run.stdout).toMatch(/^\d+ ms: n(\d) cut off, n(?!\1)\d leads term \d+$/m);
      // The deadline's write was in the cut-off leader's log only: the new leader's overwrote it.
      expect(run.stdout).toMatch(/^\d+ ms: a write on cut-off n\d timed out \(mayHaveApplied: true\)$/m);
      expect(run.stdout).toMatch(/healed; n\d reads during=partition \(strong\)$/m);
      expect(run.stdout).toContain('replicas agree: true [["during","partition"],["k1","v1"],["k2","v2"]]');
      expect(run.stdout).toContain('safety violations: 0');
    }
    expect(second.stdout).toBe(first.stdout);
    expect(traceHash(first.stdout)).toMatch(/^[0-9a-f]{64}$/);
    expect(traceHash(other.stdout)).not.toBe(traceHash(first.stdout));
  });
});
