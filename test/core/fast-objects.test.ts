import v8 from 'node:v8';
import { Digest, SecretKey } from 'mosaik';
import { type CheckerView, Simulation } from 'mosaik/sim';
import { describe, expect, it } from 'vitest';
import { NodeMachine } from '../../core/node/node.ts';
import type { NodeContext, Subsystem } from '../../core/node/subsystem.ts';
import type { Rng } from '../../core/util/rng.ts';

// Objects read on every message must not be in V8's dictionary mode, where each property
// load is a generic lookup: an object literal with a getter is built that way (see
// docs/architecture.md, "Hot-path habits"). This guards the ones that were.
v8.setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

const rng: Rng = { float: () => 0.5, u32: () => 7, bytes: (n) => new Uint8Array(n).fill(7) };

describe('hot objects keep fast properties', () => {
  it('the probe tells a literal with a getter (dictionary mode) from a plain one', () => {
    expect(hasFastProperties({ a: 1, b: () => 2 })).toBe(true);
    expect(
      hasFastProperties({
        get a() {
          return 1;
        },
        b: () => 2,
      }),
    ).toBe(false);
  });

  it('a subsystem context', () => {
    let seen: NodeContext | undefined;
    const capture: Subsystem = {
      name: 'capture',
      protocols: new Map(),
      onStart: (ctx) => {
        seen = ctx;
      },
      onLinkUp: () => {},
      onMessage: () => {},
      onLinkDown: () => {},
      onTimer: () => {},
      onCommand: () => {},
      onShutdown: () => {},
    };
    const node = new NodeMachine({ secretKey: SecretKey.fromSeed('fast'), networkId: Digest.from('fast'), rng, subsystems: [capture] });
    node.handle({ type: 'start' }, 0);
    expect(seen).toBeDefined();
    expect(hasFastProperties(seen as NodeContext)).toBe(true);
    expect((seen as NodeContext).nowMs).toBe(0);
  });

  it("a simulation's checker view", async () => {
    const sim = new Simulation({ seed: 1 });
    let view: CheckerView | undefined;
    sim.addChecker({
      name: 'capture',
      onEvent: (v) => {
        view = v;
      },
    });
    const [a, b] = [sim.node({ network: 'fast' }), sim.node({ network: 'fast' })];
    await sim.run(() => a.ping(b.addr));
    expect(view).toBeDefined();
    expect(hasFastProperties(view as CheckerView)).toBe(true);
    expect((view as CheckerView).nowMs).toBe(sim.now);
  });
});
