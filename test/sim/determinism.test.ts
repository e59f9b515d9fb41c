import { describe, expect, it } from 'vitest';
import { runPingMesh } from '../../scenarios/ping-mesh.ts';

describe('determinism', () => {
  it('one seed gives one trace hash, run after run', async () => {
    const first = await runPingMesh({ seed: 7, keepTrace: true });
    const second = await runPingMesh({ seed: 7, keepTrace: true });
    expect(second.traceHash).toBe(first.traceHash);
    expect(second.trace).toEqual(first.trace);
    expect(second.events).toBe(first.events);
    expect(second.messages).toBe(first.messages);
  });

  it('another seed gives another run', async () => {
    const [a, b] = [await runPingMesh({ seed: 7 }), await runPingMesh({ seed: 8 })];
    expect(a.traceHash).not.toBe(b.traceHash);
    expect(a.plan).not.toEqual(b.plan);
  });

  it('the trace hash covers the whole trace: it changes as the run goes on', async () => {
    const a = await runPingMesh({ seed: 3, keepTrace: true });
    expect(a.traceHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.trace?.length).toBeGreaterThan(100);
  });
});
