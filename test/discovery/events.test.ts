import { InvalidArgumentError } from 'mosaik';
import { Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';

describe('discovery.events()', () => {
  it('a backlog that is not a count is InvalidArgumentError (NaN kept every event); a stream of a closed node just ends', async () => {
    const sim = new Simulation({ seed: 63 });
    const a = sim.node({ network: 'events' });
    for (let i = 0; i < 3; i++) sim.node({ network: 'events', bootstrap: [a.addr] });
    for (const backlog of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, '5'])
      expect(() => a.discovery.events({ backlog: backlog as number }), String(backlog)).toThrow(InvalidArgumentError);
    expect(() => a.discovery.events(null as never)).toThrow(InvalidArgumentError);
    // A backlog of one: the reader that falls behind is told how many it missed.
    const stream = a.discovery.events({ backlog: 1 })[Symbol.asyncIterator]();
    await sim.run(async () => {
      await sim.sleep(5_000);
      await a.close();
    });
    const seen: string[] = [];
    for (let r = await stream.next(); !r.done; r = await stream.next()) seen.push(r.value.type);
    expect(seen[0]).toBe('lagged');
    expect(seen.length).toBe(2);
    // Made on a closed node: it ends at once (was a TypeError from inside the stream).
    const late = a.discovery.events()[Symbol.asyncIterator]();
    expect((await late.next()).done).toBe(true);
  });
});
