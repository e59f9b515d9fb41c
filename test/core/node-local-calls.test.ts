import { Digest, SecretKey } from 'mosaik';
import { describe, expect, it } from 'vitest';
import type { NodeEvent } from '../../core/node/io.ts';
import { NodeMachine } from '../../core/node/node.ts';
import type { NodeContext, Subsystem } from '../../core/node/subsystem.ts';
import { AssertionError } from '../../core/util/assert.ts';
import { scriptedSubsystem } from './scripted-subsystem.ts';

const rng = { u32: () => 7, float: () => 0.5, bytes: (n: number) => new Uint8Array(n) };

/** A subsystem that records what it sees; `onCommand` runs a script against its context. */
function recorder(name: string, log: string[], options: { listens?: boolean; answers?: boolean } = {}): Subsystem<(ctx: NodeContext) => void> {
  return {
    ...scriptedSubsystem(name, () => log.push(`${name} handler returns`)),
    ...(options.listens && {
      listensTo: new Set<NodeEvent['type']>(['discovery.departed']),
      onEvent(_ctx: NodeContext, event: NodeEvent) {
        log.push(`${name} sees ${event.type}`);
      },
    }),
    ...(options.answers && {
      onCall(_ctx: NodeContext, request: unknown) {
        log.push(`${name} called with ${String(request)}`);
        return `answer to ${String(request)}`;
      },
    }),
  };
}

function node(subsystems: Subsystem[]): NodeMachine {
  const machine = new NodeMachine({ secretKey: SecretKey.fromSeed('local'), networkId: Digest.from('n'), rng, subsystems });
  machine.handle({ type: 'start' }, 0);
  return machine;
}

const departed = (peer: string): NodeEvent => ({ type: 'discovery.departed', peer: SecretKey.fromSeed(peer).peerId });

describe('subsystems of one node talk to each other', () => {
  it('events reach the other listening subsystems after the emitter returns, in order, and still go out', () => {
    const log: string[] = [];
    const machine = node([recorder('a', log), recorder('b', log, { listens: true }), recorder('c', log, { listens: true })]);
    const out = machine.handle(
      {
        type: 'command',
        req: 1,
        command: {
          to: 'a',
          cmd: (ctx: NodeContext) => {
            ctx.emit(departed('x'));
            log.push('a emitted');
            ctx.emit(departed('y'));
          },
        } as never,
      },
      1,
    );
    expect(log).toEqual([
      'a emitted',
      'a handler returns',
      'b sees discovery.departed',
      'c sees discovery.departed',
      'b sees discovery.departed',
      'c sees discovery.departed',
    ]);
    expect(out.filter((o) => o.type === 'emit')).toHaveLength(2);
  });

  it('an emitter never hears its own events', () => {
    const log: string[] = [];
    const machine = node([recorder('a', log, { listens: true })]);
    machine.handle({ type: 'command', req: 1, command: { to: 'a', cmd: (ctx: NodeContext) => ctx.emit(departed('x')) } as never }, 1);
    expect(log).toEqual(['a handler returns']);
  });

  it('a call runs the callee synchronously and returns its answer; calling one that takes no calls is a bug', () => {
    const log: string[] = [];
    const machine = node([recorder('a', log), recorder('b', log, { answers: true })]);
    let answer: unknown;
    machine.handle({ type: 'command', req: 1, command: { to: 'a', cmd: (ctx: NodeContext) => (answer = ctx.call('b', 'q')) } as never }, 1);
    expect(answer).toBe('answer to q');
    expect(log).toEqual(['b called with q', 'a handler returns']);
    expect(() => machine.handle({ type: 'command', req: 2, command: { to: 'b', cmd: (ctx: NodeContext) => ctx.call('a', 'q') } as never }, 2)).toThrow(
      AssertionError,
    );
  });
});
