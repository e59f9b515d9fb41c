import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { issueJwtTicket, Network } from 'mosaik';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/jwt-producer.ts', import.meta.url));

describe('tickets over QUIC between OS processes', () => {
  let child: ChildProcess | undefined;
  const nets: Network[] = [];

  afterAll(async () => {
    child?.stdin?.end();
    await Promise.all(nets.map((n) => n.close()));
    setTimeout(() => child && child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 4_000).unref();
  });

  it('a producer requiring a JWT accepts a consumer with a valid ticket and rejects one without', async () => {
    const network = `tickets-two-process-${process.pid}`;
    child = spawn(process.execPath, ['--import', 'tsx', fixture, network], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) w(line);
    });
    const nextLine = (test: (l: string) => boolean) =>
      new Promise<string>((resolve) => {
        const seen = lines.find(test);
        if (seen) return resolve(seen);
        const wait = (l: string) => (test(l) ? resolve(l) : waiters.push(wait));
        waiters.push(wait);
      });
    const producerAddr = (await nextLine((l) => l.includes('@'))).trim();

    const holder = await Network.create({ network, bootstrap: [producerAddr], discovery: { syncIntervalMs: 200 } });
    const stranger = await Network.create({ network, bootstrap: [producerAddr], discovery: { syncIntervalMs: 200 } });
    nets.push(holder, stranger);
    await holder.discovery.addTicket(
      await issueJwtTicket({ key: new Uint8Array(32).fill(7), issuer: 'quic.test', subject: holder.peerId.hex, expiresInS: 600 }),
    );
    const withTicket = holder.streams.consumer<{ n: number }>('jwt.stream');
    const without = stranger.streams.consumer<{ n: number }>('jwt.stream');

    const first = await withTicket.recv();
    expect(typeof first.n).toBe('number');
    // Give the stranger as long again and then some: it never gets a subscription.
    await new Promise((r) => setTimeout(r, 2_000));
    // It knows the producer (so it tried), and holds nothing from it.
    expect(stranger.discovery.peers().map((p) => p.peerId.hex)).toContain(producerAddr.split('@')[0]);
    expect(without.tryRecv()).toBeUndefined();
    expect(without.producers().filter((p) => p.state === 'connected')).toEqual([]);
    child.stdin?.write('consumers\n');
    const consumers = (await nextLine((l) => l.startsWith('consumers '))).slice('consumers '.length).split(',').filter(Boolean);
    expect(consumers).toEqual([holder.peerId.hex]);
  }, 60_000);
});
