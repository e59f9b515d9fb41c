import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Network } from 'mosaik';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/stream-producer.ts', import.meta.url));

/** The first line a child prints that contains `@` (its address), or an error after `ms`. */
function firstAddress(child: ChildProcess, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no address within ${ms} ms`)), ms);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      buffered += text;
      const line = buffered.split('\n').find((l) => l.includes('@'));
      if (line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
  });
}

describe('streams over QUIC between two OS processes', () => {
  let child: ChildProcess | undefined;
  let net: Network | undefined;

  afterAll(async () => {
    await net?.close();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('the quick taste: a producer in a child process, a consumer here found through discovery, 100 datums in order', async () => {
    const network = `streams-two-process-${process.pid}`;
    child = spawn(process.execPath, ['--import', 'tsx', fixture, network], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const producerAddr = await firstAddress(child, 20_000);
    net = await Network.create({ network, bootstrap: [producerAddr], discovery: { syncIntervalMs: 200 } });
    const consumer = net.streams.consumer<{ n: number }>('quick.taste');
    const got: number[] = [];
    for await (const datum of consumer) {
      got.push(datum.n);
      if (got.length === 100) break;
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(consumer.producers().map((p) => p.producer.hex)).toEqual([producerAddr.split('@')[0]]);
  }, 40_000);
});
