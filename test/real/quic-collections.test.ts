import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Network } from 'mosaik';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/map-writer.ts', import.meta.url));

describe('collections over QUIC between two OS processes', () => {
  let child: ChildProcess | undefined;
  let net: Network | undefined;

  afterAll(async () => {
    child?.stdin?.end();
    await net?.close();
    setTimeout(() => child && child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 4_000).unref();
  });

  it('a Map writer in a child process, a reader here: insert, then reaches(v) and get see it; then 2,000 more in one extend', async () => {
    const network = `collections-two-process-${process.pid}`;
    child = spawn(process.execPath, ['--import', 'tsx', fixture, network], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const waiting = new Map<number, (r: Record<string, unknown>) => void>();
    let resolveAddr: (a: string) => void = () => {};
    const addr = new Promise<string>((r) => {
      resolveAddr = r;
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) return line.includes('@') ? resolveAddr(line.trim()) : undefined;
      const r = JSON.parse(line) as Record<string, unknown>;
      waiting.get(r.id as number)?.(r);
    });
    let next = 1;
    const ask = (cmd: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        child?.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`);
      });

    net = await Network.create({ network, bootstrap: [await addr], discovery: { syncIntervalMs: 200 } });
    const reader = net.collections.map<string, number>('quic.balances', { reader: true, snapshotEveryEntries: 500 });
    // The writer forms the group alone (bootstrapExpect 1) after its bootstrap delay; retry until it has.
    let inserted: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      inserted = await ask({ cmd: 'insert', key: 'alice', value: 100 });
      if (inserted.version !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(typeof inserted.version).toBe('number');
    await reader.when.reaches(inserted.version as number);
    expect(reader.get('alice')).toBe(100);

    const filled = await ask({ cmd: 'fill', count: 2_000 });
    await reader.when.reaches(filled.version as number);
    expect(reader.size).toBe(2_001);
    expect(reader.get('k1999')).toBe(1999);
  }, 60_000);
});
