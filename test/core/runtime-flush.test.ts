import { describe, expect, it } from 'vitest';
import { type DriverPort, NodeRuntime, type TransportOutput } from '../../api/runtime.ts';
import { StorageError } from '../../core/errors.ts';
import type { NodeOutput } from '../../core/node/io.ts';
import type { NodeMachine } from '../../core/node/node.ts';

// The runtime's side of the persist contract (api/runtime.ts `DriverPort.flush`): a run of
// persists is flushed once, before anything else of that batch goes out or settles.

/** A machine that answers every input with the next scripted batch of outputs. */
function scripted(batches: ((req: number) => NodeOutput[])[]): NodeMachine {
  let at = 0;
  return {
    handle(input: { type: string; req?: number }) {
      const next = batches[at++];
      return next ? next(input.req ?? 0) : [];
    },
  } as unknown as NodeMachine;
}

function recordingPort(log: string[], flush: () => void = () => {}): DriverPort {
  return {
    nowMs: () => 0,
    wallClockMs: () => 0,
    perform(o: TransportOutput) {
      log.push(o.type === 'persist' ? `persist ${o.key}` : o.type);
    },
    flush() {
      log.push('flush');
      flush();
    },
  };
}

const persist = (key: string): NodeOutput => ({ type: 'persist', key, value: Uint8Array.of(1) });
const send: NodeOutput = { type: 'send', link: 1, body: Uint8Array.of(2) };

describe('the runtime flushes persists', () => {
  it('once per run of persists, before the next send or settled call, and at the end of a batch', async () => {
    const log: string[] = [];
    const runtime = new NodeRuntime(
      scripted([() => [], (req) => [persist('a'), persist('b'), send, { type: 'complete', req, result: 'done' }, persist('c')]]),
      recordingPort(log),
    );
    runtime.start();
    const call = runtime.request<string>({ to: 'node', kind: 'shutdown' });
    log.push('(call made)');
    expect(await call).toBe('done');
    expect(log).toEqual(['persist a', 'persist b', 'flush', 'send', 'persist c', 'flush', '(call made)']);
  });

  it('a batch without persists never flushes', () => {
    const log: string[] = [];
    const runtime = new NodeRuntime(scripted([() => [send, send]]), recordingPort(log));
    runtime.start();
    expect(log).toEqual(['send', 'send']);
  });

  it('stops the node when the flush fails: nothing after the writes goes out, and calls fail with the error', async () => {
    const log: string[] = [];
    const failure = new StorageError('io', 'disk full');
    const runtime = new NodeRuntime(
      scripted([() => [], (req) => [persist('hs'), send, { type: 'complete', req, result: 'must not' }], () => [send]]),
      recordingPort(log, () => {
        throw failure;
      }),
    );
    runtime.start();
    await expect(runtime.request({ to: 'node', kind: 'shutdown' })).rejects.toBe(failure);
    runtime.input({ type: 'timer', timer: 1 });
    expect(log).toEqual(['persist hs', 'flush']);
    await expect(runtime.request({ to: 'node', kind: 'shutdown' })).rejects.toBe(failure);
  });
});

describe('the runtime with a driver that flushes asynchronously (group commit)', () => {
  /** A port whose flushes finish when the test says so. */
  function asyncPort(log: string[]) {
    const finish: (() => void)[] = [];
    const port: DriverPort = {
      nowMs: () => 0,
      wallClockMs: () => 0,
      perform(o: TransportOutput) {
        log.push(o.type === 'persist' ? `persist ${o.key}` : o.type === 'send' ? `send ${o.link}` : o.type);
      },
      flush() {
        log.push('flush');
        return new Promise<void>((resolve) => finish.push(resolve));
      },
    };
    const endFlush = async () => {
      log.push('(flushed)');
      (finish.shift() as () => void)();
      await Promise.resolve(); // the runtime's continuation
    };
    return { port, endFlush };
  }
  /** A runtime over `scripted(batches)` and an asyncPort, with the port's log. */
  function asyncRuntime(batches: Parameters<typeof scripted>[0]) {
    const log: string[] = [];
    const { port, endFlush } = asyncPort(log);
    return { log, endFlush, runtime: new NodeRuntime(scripted(batches), port) };
  }
  const sendOn = (link: number): NodeOutput => ({ type: 'send', link, body: Uint8Array.of(link) });

  it('holds what follows a write until its flush ends, and covers every write made meanwhile with the next flush', async () => {
    const { log, endFlush, runtime } = asyncRuntime([
      () => [persist('a'), sendOn(1)],
      () => [sendOn(2)], // nothing of its own to store, but must not overtake send 1
      () => [persist('b'), sendOn(3)],
      () => [persist('c'), sendOn(4)],
    ]);
    runtime.start();
    for (const timer of [1, 2, 3]) runtime.input({ type: 'timer', timer });
    // One flush under way (a); b and c are staged already; every send waits, in order.
    expect(log).toEqual(['persist a', 'flush', 'persist b', 'persist c']);
    await endFlush();
    // Sends 1 and 2 needed only a; 3 and 4 wait for the one flush that covers b and c.
    expect(log.slice(4)).toEqual(['(flushed)', 'send 1', 'send 2', 'flush']);
    await endFlush();
    expect(log.slice(8)).toEqual(['(flushed)', 'send 3', 'send 4']);
  });

  it('holds nothing back for a lazy write and starts no flush for it: the next flush takes it along', async () => {
    const lazy = (key: string): NodeOutput => ({ type: 'persist', key, value: Uint8Array.of(1), lazy: true });
    const { log, endFlush, runtime } = asyncRuntime([
      () => [], // start
      () => [lazy('commit'), sendOn(1)], // a follower's reply to a heartbeat that moved its commit index
      () => [persist('entry'), lazy('commit'), sendOn(2)], // waits for the entry's flush, which takes both writes
      () => [lazy('commit'), sendOn(3)], // behind send 2 (order), and behind no flush of its own
    ]);
    runtime.start();
    runtime.input({ type: 'timer', timer: 1 });
    expect(log).toEqual(['persist commit', 'send 1']);
    runtime.input({ type: 'timer', timer: 2 });
    runtime.input({ type: 'timer', timer: 3 });
    expect(log.slice(2)).toEqual(['persist entry', 'persist commit', 'flush', 'persist commit']);
    await endFlush();
    expect(log.slice(6)).toEqual(['(flushed)', 'send 2', 'send 3']);
  });

  it('settles a call only after the write before it is flushed', async () => {
    const { endFlush, runtime } = asyncRuntime([() => [], (req) => [persist('vote'), { type: 'complete', req, result: 'ok' }]]);
    runtime.start();
    let settled = false;
    const call = runtime.request<string>({ to: 'node', kind: 'shutdown' }).then((r) => {
      settled = true;
      return r;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    await endFlush();
    expect(await call).toBe('ok');
  });

  it('drops what it held and fails the calls when a flush fails', async () => {
    const log: string[] = [];
    const failure = new StorageError('io', 'disk gone');
    let reject: (e: unknown) => void = () => {};
    const port: DriverPort = {
      nowMs: () => 0,
      wallClockMs: () => 0,
      perform(o: TransportOutput) {
        log.push(o.type);
      },
      flush() {
        log.push('flush');
        return new Promise<void>((_, r) => {
          reject = r;
        });
      },
    };
    const runtime = new NodeRuntime(scripted([() => [], (req) => [persist('x'), send, { type: 'complete', req, result: 'never' }]]), port);
    runtime.start();
    const call = runtime.request({ to: 'node', kind: 'shutdown' });
    reject(failure);
    await expect(call).rejects.toBe(failure);
    expect(log).toEqual(['persist', 'flush']);
  });

  it('a request the machine throws on is not left registered: nothing is failed at stop for no one', () => {
    const runtime = new NodeRuntime(
      scripted([
        () => [],
        () => {
          throw new TypeError('a command the machine could not take');
        },
      ]),
      recordingPort([]),
    );
    runtime.start();
    expect(() => runtime.request({ to: 'node', kind: 'shutdown' })).toThrow(TypeError);
    expect(runtime.pendingRequests).toBe(0);
  });
});
