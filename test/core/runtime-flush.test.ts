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
