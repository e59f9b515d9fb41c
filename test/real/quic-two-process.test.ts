import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Network } from 'mosaik';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/ping-node.ts', import.meta.url));

/** Rejects after `ms`, so no step can hang the suite. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The first line the child prints on stdout. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      buffered += text;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(buffered.slice(0, newline).trim());
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (code ${code}, signal ${signal}) before printing its address`)));
    child.once('error', reject);
  });
}

describe('QUIC between two OS processes', () => {
  let child: ChildProcess | undefined;
  let net: Network | undefined;

  afterAll(async () => {
    await net?.close();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('a node in a child process answers 20 pings, then exits when told to', async () => {
    const network = `two-process-${process.pid}`;
    child = spawn(process.execPath, ['--import', 'tsx', fixture, network], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const addr = await within(firstLine(child), 20_000, 'child address');
    expect(addr).toMatch(/^[0-9a-f]{64}@127\.0\.0\.1:\d+$/);

    net = await Network.create({ network });
    const rtts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const result = await net.ping(addr, { timeoutMs: 5000 });
      expect(result.peer.hex).toBe(addr.slice(0, 64));
      expect(result.rttMs).toBeGreaterThanOrEqual(0);
      rtts.push(result.rttMs);
    }
    rtts.sort((a, b) => a - b);
    console.log(`two-process ping RTT over QUIC: min ${rtts[0]?.toFixed(3)} ms, median ${rtts[10]?.toFixed(3)} ms, max ${rtts[19]?.toFixed(3)} ms`);
    await net.close();

    child.kill('SIGTERM');
    const [code, signal] = await within(exited, 10_000, 'child exit');
    expect({ code, signal }).toEqual({ code: 0, signal: null }); // it closed its node and exited by itself
  });
});
