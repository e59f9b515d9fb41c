import { Network } from 'mosaik';
import { expect } from 'vitest';
import { networkCompliance } from './network-suite.ts';

// The production driver: real QUIC between nodes of this process, on 127.0.0.1 only, with
// short handshake and idle timeouts so that failures come quickly.

let open: Network[] = [];
let errors: unknown[] = [];

async function start(network: string): Promise<Network> {
  const net = await Network.create({
    network,
    listen: { host: '127.0.0.1', port: 0 },
    handshakeTimeoutMs: 1_000,
    quic: { handshakeTimeoutMs: 500, idleTimeoutMs: 2_000, keepAliveIntervalMs: 500 },
    onError: (error) => errors.push(error),
  });
  open.push(net);
  return net;
}

networkCompliance('quic', {
  async setup(count, { network }) {
    const nets: Network[] = [];
    for (let i = 0; i < count; i++) nets.push(await start(network));
    return {
      nets,
      node: start,
      run: (fn) => fn(),
      now: () => performance.now(),
    };
  },
  async teardown() {
    const closing = open;
    const reported = errors;
    open = [];
    errors = [];
    await Promise.all(closing.map((net) => net.close()));
    expect(reported, 'internal errors reported by the QUIC driver').toEqual([]);
  },
  slackMs: 250,
  testTimeoutMs: 10_000,
});
