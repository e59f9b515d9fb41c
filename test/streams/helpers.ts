import { type Network, Simulation } from 'mosaik/sim';
import { expect } from 'vitest';
import type { NodeEvent } from '../../core/node/io.ts';
import type { StreamsEvent } from '../../core/streams/streams.ts';

/** Streams events as checkers see them, with the node that emitted each. */
export interface Seen {
  readonly net: Network;
  readonly atMs: number;
  readonly event: StreamsEvent;
}

/** Records every streams event of the run (except datums, which are many). */
export function recordStreamsEvents(sim: Simulation): Seen[] {
  const seen: Seen[] = [];
  sim.addChecker({
    name: 'record-streams-events',
    onEvent(view, net, event: NodeEvent) {
      if (event.type.startsWith('streams.') && event.type !== 'streams.datum') seen.push({ net, atMs: view.nowMs, event: event as StreamsEvent });
    },
  });
  return seen;
}

/** A simulation with `n` nodes of one network, all bootstrapped from the first. */
export function cluster(sim: Simulation, n: number, tags: readonly (readonly string[])[] = []): Network[] {
  const first = sim.node({ network: 'streams-test', tags: [...(tags[0] ?? [])] });
  const rest = Array.from({ length: n - 1 }, (_, i) => sim.node({ network: 'streams-test', bootstrap: [first.addr], tags: [...(tags[i + 1] ?? [])] }));
  return [first, ...rest];
}

/**
 * Two nodes that know each other (`tags`: each node's), in a simulation of `seed`, with the
 * streams events recorded from the start (`seen`); `body` runs inside `sim.run`.
 */
export async function withTwo(
  seed: number,
  body: (sim: Simulation, a: Network, b: Network, seen: Seen[]) => Promise<void>,
  tags: readonly (readonly string[])[] = [],
): Promise<void> {
  const sim = new Simulation({ seed });
  const nets = cluster(sim, 2, tags);
  const seen = recordStreamsEvents(sim);
  await sim.run(async () => {
    await converged(sim, nets);
    await body(sim, nets[0] as Network, nets[1] as Network, seen);
  });
}

/** Waits until every node knows every other one. */
export async function converged(sim: Simulation, nets: readonly Network[]): Promise<void> {
  while (!nets.every((n) => n.discovery.peers().length === nets.length - 1)) await sim.sleep(100);
}

/** Waits (in virtual time, polling) until `test` holds, failing after `limitMs`. */
export async function eventually(sim: Simulation, test: () => boolean, limitMs = 30_000, what = 'condition'): Promise<void> {
  const until = sim.now + limitMs;
  while (!test()) {
    if (sim.now > until) throw new Error(`${what} did not hold within ${limitMs} ms`);
    await sim.sleep(50);
  }
}

/** The node still works: a new stream `name` from `a` to `b` carries `value`. */
export async function expectStreamFlows(a: Network, b: Network, name: string, value: number): Promise<void> {
  const p = a.streams.producer<number>(name);
  const c = b.streams.consumer<number>(name);
  await p.when.subscribed();
  await p.send(value);
  expect(await c.recv()).toBe(value);
}
