import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The benchmarks are not timed tests: this only checks that they run and report, so a
// change that breaks `npm run bench` is caught here rather than when someone needs figures.
const run = (script: string, ...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 120_000 });

describe('benchmarks run', () => {
  it('ping-mesh reports all three operating points', async () => {
    const { stdout } = await run('tools/bench/ping-mesh.ts', '--seconds', '1', '--nodes', '10', '--json');
    const report = JSON.parse(stdout);
    expect(report.saturated.messages).toBeGreaterThan(0);
    expect(report.saturated.messagesPerWallSecond).toBeGreaterThan(0);
    expect(report.heartbeat.simulatedPerWall).toBeGreaterThan(0);
    expect(report.scenario.ok).toBe(true);
  });

  it('node-pair reports a rate', async () => {
    const { stdout } = await run('tools/bench/node-pair.ts', '--pings', '2000');
    expect(stdout).toMatch(/node pair, no simulator: [\d,]+ delivered messages\/s/);
  });
});
