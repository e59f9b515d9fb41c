import {
  CloseCode,
  ClosedError,
  ConnectError,
  Digest,
  InvalidArgumentError,
  LinkClosedError,
  MosaikError,
  type Network,
  type PingResult,
  parsePeerAddr,
  SecretKey,
} from 'mosaik';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The `Network` compliance suite: what the API promises, asserted identically for every
 * driver (libp2p's interface-compliance-tests style). Each driver calls
 * `networkCompliance(name, { setup, teardown })` from its own `*.test.ts`.
 */

export interface ComplianceSetupOptions {
  /** The network name every node of this setup joins; unique per test. */
  readonly network: string;
}

/** What `setup` hands each test. */
export interface ComplianceNodes {
  /** `count` nodes, all on `options.network`, in creation order. */
  readonly nets: readonly Network[];
  /** Starts one more node, on the network named `network` (a different one, for the tests that need it). */
  node(network: string): Promise<Network>;
  /** Runs application code: `sim.run(fn)` in the simulator, `fn()` on a real network. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** The driver's monotonic clock in ms (virtual time in the simulator). */
  now(): number;
}

export interface ComplianceDriver {
  setup(count: number, options: ComplianceSetupOptions): Promise<ComplianceNodes>;
  /** Closes every node `setup` started (idempotent; runs after each test). */
  teardown(): Promise<void>;
  /** Real ms a failure may take beyond its `timeoutMs` (the driver's own scheduling). @default 250 */
  readonly slackMs?: number;
  /** Per-test limit in real ms, so that a hang fails the test instead of the run. @default 10_000 */
  readonly testTimeoutMs?: number;
}

/** The error a promise rejects with; fails the test if it resolves. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value && typeof value === 'object' ? JSON.stringify(value) : value)}`);
    },
    (error: unknown) => error,
  );
}

function expectAnswer(result: PingResult, target: Network): void {
  expect(result.peer.equals(target.peerId)).toBe(true);
  expect(result.peer.hex).toBe(target.peerId.hex);
  expect(Number.isFinite(result.rttMs)).toBe(true);
  expect(result.rttMs).toBeGreaterThanOrEqual(0);
}

function location(addr: string): string {
  return addr.slice(addr.indexOf('@') + 1);
}

export function networkCompliance(name: string, driver: ComplianceDriver): void {
  const slackMs = driver.slackMs ?? 250;
  const timeout = driver.testTimeoutMs ?? 10_000;
  let tests = 0;
  /** A fresh network name per test, so that no test can reach another's nodes. */
  const networkName = () => `compliance-${name}-${process.pid}-${++tests}`;
  const setup = (count: number) => driver.setup(count, { network: networkName() });

  describe(`Network compliance: ${name}`, () => {
    afterEach(() => driver.teardown());

    it('nodes print an address and network id that match their identity', { timeout }, async () => {
      const network = networkName();
      const { nets } = await driver.setup(2, { network });
      const [a, b] = nets as [Network, Network];
      for (const net of [a, b]) {
        expect(net.addr).toMatch(/^[0-9a-f]{64}@.+$/);
        const parsed = parsePeerAddr(net.addr);
        expect(parsed?.peer.equals(net.peerId)).toBe(true);
        expect(net.networkId.equals(Digest.from(network))).toBe(true);
      }
      expect(a.peerId.equals(b.peerId)).toBe(false);
      expect(a.addr).not.toBe(b.addr);
    });

    it('a ping is answered by the target, with a finite rttMs >= 0', { timeout }, async () => {
      const { nets, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      await run(async () => {
        expectAnswer(await a.ping(b.addr), b);
        expectAnswer(await a.ping(b.addr, { timeoutMs: 2_000 }), b);
        // A parsed address works as well as its text form.
        expectAnswer(await a.ping(parsePeerAddr(b.addr) ?? b.addr), b);
      });
    });

    it('pings go both directions, between every pair', { timeout }, async () => {
      const { nets, run } = await setup(3);
      await run(async () => {
        for (let round = 0; round < 3; round++) {
          for (const from of nets) {
            for (const to of nets) if (from !== to) expectAnswer(await from.ping(to.addr, { timeoutMs: 2_000 }), to);
          }
        }
      });
    });

    it('50 concurrent pings are all answered', { timeout }, async () => {
      const { nets, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      await run(async () => {
        // The first ping dials; the rest queue behind the same link or ride it.
        const results = await Promise.all(Array.from({ length: 50 }, () => a.ping(b.addr, { timeoutMs: 5_000 })));
        expect(results).toHaveLength(50);
        for (const result of results) expectAnswer(result, b);
        // And concurrently in both directions.
        const both = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a.ping(b.addr) : b.ping(a.addr))));
        for (const [i, result] of both.entries()) expectAnswer(result, i % 2 === 0 ? b : a);
      });
    });

    it('a malformed address rejects with InvalidArgumentError', { timeout }, async () => {
      const { nets, run } = await setup(1);
      const [a] = nets as [Network];
      const hex = a.peerId.hex;
      const malformed = ['', 'not-an-address', `${hex}`, `${hex}@`, `@${location(a.addr)}`, `${hex.slice(2)}@${location(a.addr)}`, `${'zz'.repeat(32)}@x`];
      await run(async () => {
        for (const addr of malformed) {
          const error = await rejection(a.ping(addr));
          expect(error, addr).toBeInstanceOf(InvalidArgumentError);
          expect((error as InvalidArgumentError).code).toBe('INVALID_ARGUMENT');
          expect((error as Error).name).toBe('InvalidArgumentError');
        }
      });
    });

    it('a non-positive timeoutMs rejects with InvalidArgumentError', { timeout }, async () => {
      const { nets, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      await run(async () => {
        for (const timeoutMs of [0, -1, -0.5, Number.NaN, Number.NEGATIVE_INFINITY]) {
          const error = await rejection(a.ping(b.addr, { timeoutMs }));
          expect(error, String(timeoutMs)).toBeInstanceOf(InvalidArgumentError);
        }
        // Nothing was sent: the next valid ping is fine.
        expectAnswer(await a.ping(b.addr), b);
      });
    });

    it("an address whose peer id is not the key at that location rejects ConnectError 'peer-mismatch'", { timeout }, async () => {
      const { nets, run } = await setup(3);
      const [a, b, c] = nets as [Network, Network, Network];
      await run(async () => {
        for (const impostor of [SecretKey.fromSeed('impostor').peerId, c.peerId]) {
          const error = await rejection(a.ping(`${impostor.hex}@${location(b.addr)}`, { timeoutMs: 2_000 }));
          expect(error).toBeInstanceOf(ConnectError);
          expect((error as ConnectError).reason).toBe('peer-mismatch');
          expect((error as ConnectError).code).toBe('CONNECT');
        }
        // The real b (and the real c) are still reachable.
        expectAnswer(await a.ping(b.addr), b);
        expectAnswer(await a.ping(c.addr), c);
      });
    });

    it('a node on a different network rejects LinkClosedError DifferentNetwork', { timeout }, async () => {
      const { nets, node, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      const stranger = await node(networkName());
      expect(stranger.networkId.equals(a.networkId)).toBe(false);
      await run(async () => {
        for (const [from, to] of [
          [a, stranger],
          [stranger, a],
        ] as const) {
          const error = await rejection(from.ping(to.addr, { timeoutMs: 2_000 }));
          expect(error).toBeInstanceOf(LinkClosedError);
          expect((error as LinkClosedError).closeCode).toBe(CloseCode.DifferentNetwork);
          expect((error as LinkClosedError).code).toBe('LINK_CLOSED');
        }
        // Refusing a stranger does not disturb the node's own network.
        expectAnswer(await a.ping(b.addr), b);
        expectAnswer(await b.ping(a.addr), a);
      });
    });

    it('after close(), calls reject ClosedError; close() twice is fine', { timeout }, async () => {
      const { nets, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      await run(async () => {
        expectAnswer(await a.ping(b.addr), b);
        await Promise.all([a.close(), a.close()]);
        await a.close();
        for (let i = 0; i < 3; i++) {
          const error = await rejection(a.ping(b.addr, { timeoutMs: 1_000 }));
          expect(error).toBeInstanceOf(ClosedError);
          expect((error as ClosedError).code).toBe('CLOSED');
        }
        // Its identity stays readable.
        expect(parsePeerAddr(a.addr)?.peer.equals(a.peerId)).toBe(true);
        // The other node is unaffected and can still close.
        await b.close();
        expect(await rejection(b.ping(a.addr))).toBeInstanceOf(ClosedError);
      });
    });

    it('pings to a peer that closed fail with a typed error within their timeout', { timeout }, async () => {
      const { nets, run, now } = await setup(3);
      const [a, b, c] = nets as [Network, Network, Network];
      await run(async () => {
        expectAnswer(await a.ping(b.addr), b); // a has a link to b; c has none
        await b.close();
        for (const from of [a, c, a, c]) {
          const timeoutMs = 1_000;
          const started = now();
          const error = await rejection(from.ping(b.addr, { timeoutMs }));
          const elapsed = now() - started;
          expect(error).toBeInstanceOf(MosaikError);
          expect(typeof (error as MosaikError).code).toBe('string');
          expect(elapsed).toBeLessThanOrEqual(timeoutMs + slackMs);
        }
        // The survivors still talk.
        expectAnswer(await a.ping(c.addr), c);
      });
    });

    it('pings in flight when their node closes fail with a typed error, never hang', { timeout }, async () => {
      const { nets, run } = await setup(2);
      const [a, b] = nets as [Network, Network];
      await run(async () => {
        expectAnswer(await a.ping(b.addr), b);
        const pending = Array.from({ length: 10 }, () => rejection(a.ping(b.addr, { timeoutMs: 5_000 })));
        await a.close();
        // Network.close() documents ClosedError for pending calls; the ping subsystem fails
        // them with LinkClosedError(GracefulShutdown). Either is a typed MosaikError.
        for (const error of await Promise.all(pending)) expect(error).toBeInstanceOf(MosaikError);
      });
    });
  });
}
