import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Network } from 'mosaik';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/ping-node.ts', import.meta.url));

/** Lines a child prints, as they come, with a way to wait for one that matches. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      seen.push(line);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  return {
    next(test: (l: string) => boolean, ms: number, what: string): Promise<string> {
      const found = seen.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms (saw ${JSON.stringify(seen)})`)), ms);
        waiters.push({
          test,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

describe('discovery over QUIC between three OS processes', () => {
  const children: ChildProcess[] = [];
  let net: Network | undefined;

  afterAll(async () => {
    await net?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('two child processes and this one, bootstrapped from the first, reach full catalogs', async () => {
    const network = `three-process-${process.pid}`;
    const spawnNode = (...args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, network, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      return { child, out: lines(child) };
    };
    const first = spawnNode();
    const bootstrap = await first.out.next((l) => l.includes('@'), 20_000, 'first address');
    const second = spawnNode(bootstrap);
    await second.out.next((l) => l.includes('@'), 20_000, 'second address');
    net = await Network.create({ network, bootstrap: [bootstrap], discovery: { syncIntervalMs: 200 } });

    await net.discovery.when.peers(2);
    await first.out.next((l) => l === 'peers 2', 20_000, 'first child catalog');
    await second.out.next((l) => l === 'peers 2', 20_000, 'second child catalog');
    expect(net.discovery.peers().map((p) => p.addresses[0])).toEqual(expect.arrayContaining([bootstrap.split('@')[1]]));
  });
});
