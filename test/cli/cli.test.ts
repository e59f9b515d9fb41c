import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../tools/cli/main.ts';

async function cli(...args: string[]): Promise<{ code: number; lines: string[]; errors: string }> {
  const lines: string[] = [];
  let errors = '';
  const code = await main(
    args,
    (line) => lines.push(line),
    (text) => {
      errors += text;
    },
  );
  return { code, lines, errors };
}

describe('mosaik sim', () => {
  it('run --json prints one object with the documented fields', async () => {
    const { code, lines } = await cli('sim', 'run', 'ping-mesh', '--seed', '7', '--json');
    expect(code).toBe(0);
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] as string);
    for (const key of ['scenario', 'seed', 'ok', 'violations', 'traceHash', 'simulatedMs', 'wallMs', 'events', 'messages']) expect(result).toHaveProperty(key);
    expect(result).toMatchObject({ scenario: 'ping-mesh', seed: 7, ok: true, violations: [] });
    expect(result.traceHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('--trace writes the trace, one event per line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mosaik-')), 'trace.txt');
    const { code } = await cli('sim', 'run', 'ping-mesh', '--seed', '3', '--trace', file);
    expect(code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^0 sim seed=3 /);
    expect(lines.some((l) => / deliver L\d+ n\d+>n\d+ #\d+ \d+B$/.test(l))).toBe(true);
  });

  it('a violation exits 1 and prints the command that replays it', async () => {
    const { code, lines } = await cli('sim', 'run', 'ping-mesh', '--seed', '1', '--plant-bug', 'reply-twice');
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('replay: npx mosaik sim run ping-mesh --seed 1 --plant-bug reply-twice');
  });

  it('campaign --json aggregates and names the failing seeds with their replay commands', async () => {
    const ok = await cli('sim', 'campaign', 'ping-mesh', '--seeds', '1-3', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.lines[0] as string)).toMatchObject({ runs: 3, passed: 3, failed: 0, violations: 0, failures: [] });
    const bad = await cli('sim', 'campaign', 'ping-mesh', '--seeds', '1-2', '--plant-bug', 'reply-twice', '--json');
    expect(bad.code).toBe(1);
    const summary = JSON.parse(bad.lines[0] as string);
    expect(summary.failures.map((f: { seed: number }) => f.seed)).toEqual([1, 2]);
    expect(summary.failures[0].replay).toBe('npx mosaik sim run ping-mesh --seed 1 --plant-bug reply-twice');
  });

  it('a linearizability search that runs out of --check-budget is inconclusive: listed, neither a pass nor a violation', async () => {
    const run = await cli('sim', 'run', 'raft-chaos', '--seed', '1', '--check-budget', '10');
    expect(run.code).toBe(0);
    expect(run.lines[0]).toMatch(/^raft-chaos seed=1 ok \(2 inconclusive\) /);
    expect(run.lines).toContain('  inconclusive: register history: search budget of 10 steps exhausted in partition 0 of 1');
    const campaign = await cli('sim', 'campaign', 'raft-chaos', '--seeds', '1-2', '--jobs', '1', '--check-budget', '10', '--json');
    expect(campaign.code).toBe(0);
    const summary = JSON.parse(campaign.lines[0] as string);
    expect(summary).toMatchObject({ runs: 2, passed: 2, failed: 0, violations: 0 });
    expect(summary.inconclusive.map((i: { seed: number }) => i.seed)).toEqual([1, 2]);
    expect(summary.inconclusive[0].checks).toHaveLength(2);
    expect(summary.inconclusive[0].replay).toBe('npx mosaik sim run raft-chaos --seed 1 --check-budget 10');
    // With the default budget every check decides.
    const decided = await cli('sim', 'run', 'raft-chaos', '--seed', '1', '--json');
    expect(JSON.parse(decided.lines[0] as string)).toMatchObject({ ok: true, inconclusive: [] });
    expect((await cli('sim', 'run', 'raft-chaos', '--seed', '1', '--check-budget', '0')).code).toBe(2);
  });

  it('campaign --jobs runs seeds on worker threads with the same results, reported in seed order', async () => {
    const one = await cli('sim', 'campaign', 'ping-mesh', '--seeds', '1-4', '--jobs', '1');
    const two = await cli('sim', 'campaign', 'ping-mesh', '--seeds', '1-4', '--jobs', '2');
    const strip = (lines: string[]) => lines.slice(0, -1).map((l) => l.replace(/ wall=\d+ms/, ''));
    expect(strip(two.lines)).toEqual(strip(one.lines));
    expect(two.lines.slice(0, 4).map((l) => /seed=(\d+)/.exec(l)?.[1])).toEqual(['1', '2', '3', '4']);
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    const missing = await cli('sim', 'run', 'ping-mesh');
    expect(missing.code).toBe(2);
    expect(missing.errors).toContain('--seed N is required');
    expect((await cli('sim', 'run', 'no-such-scenario', '--seed', '1')).code).toBe(2);
    expect((await cli('sim', 'run', 'ping-mesh', '--seed', 'x')).code).toBe(2);
    expect((await cli('sim', 'run', 'ping-mesh', '--seed', '1', '--bogus')).code).toBe(2);
    expect((await cli('sim', 'campaign', 'ping-mesh', '--seeds', '5-1')).code).toBe(2);
    expect((await cli('sim', 'run', 'ping-mesh', '--seed', '1', '--plant-bug', 'nope')).code).toBe(2);
    expect((await cli('sim', 'run', 'ping-mesh', '--seed', '1', '--nodes', '1')).code).toBe(2);
    const many = await cli('sim', 'run', 'ping-mesh', '--seed', '1', '--nodes', '1000000');
    expect(many.code).toBe(2);
    expect(many.errors).toContain('--nodes must be at most 10000');
  });

  it('the installed bin runs (tsx loader) and prints the same trace hash as in-process', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['tools/bin/mosaik.js', 'sim', 'run', 'ping-mesh', '--seed', '7', '--json'], {
      timeout: 60_000,
    });
    const viaBin = JSON.parse(stdout);
    const inProcess = JSON.parse((await cli('sim', 'run', 'ping-mesh', '--seed', '7', '--json')).lines[0] as string);
    expect(viaBin.traceHash).toBe(inProcess.traceHash);
  });
});
