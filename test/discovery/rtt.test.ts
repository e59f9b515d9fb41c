import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRttSample, rttBelow } from '../../core/discovery/rtt.ts';
import { AssertionError } from '../../core/util/assert.ts';

describe('RTT estimate (RFC 6298)', () => {
  it('starts at the first sample with half of it as variation', () => {
    expect(addRttSample(undefined, 40)).toEqual({ srttMs: 40, rttvarMs: 20, samples: 1 });
  });

  it('updates RTTVAR with the old SRTT, then SRTT', () => {
    const first = addRttSample(undefined, 40);
    // RTTVAR = 3/4·20 + 1/4·|40 − 80| = 25; SRTT = 7/8·40 + 1/8·80 = 45
    expect(addRttSample(first, 80)).toEqual({ srttMs: 45, rttvarMs: 25, samples: 2 });
  });

  it('converges to a steady sample and stays within the samples seen (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { minLength: 1, maxLength: 50 }), (samples) => {
        let estimate: ReturnType<typeof addRttSample> | undefined;
        for (const s of samples) estimate = addRttSample(estimate, s);
        const e = estimate as ReturnType<typeof addRttSample>;
        expect(e.srttMs).toBeGreaterThanOrEqual(Math.min(...samples) - 1e-9);
        expect(e.srttMs).toBeLessThanOrEqual(Math.max(...samples) + 1e-9);
        expect(e.rttvarMs).toBeGreaterThanOrEqual(0);
        expect(e.samples).toBe(samples.length);
      }),
      { seed: 42, numRuns: 300 },
    );
    let steady = addRttSample(undefined, 500);
    for (let i = 0; i < 200; i++) steady = addRttSample(steady, 10);
    expect(steady.srttMs).toBeCloseTo(10, 6);
    expect(steady.rttvarMs).toBeCloseTo(0, 6);
  });

  it('refuses samples that are not times', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => addRttSample(undefined, bad)).toThrow(AssertionError);
  });

  it('rttBelow is true while unknown, then compares the smoothed value', () => {
    expect(rttBelow(undefined, 1)).toBe(true);
    const e = addRttSample(undefined, 50);
    expect(rttBelow(e, 51)).toBe(true);
    expect(rttBelow(e, 50)).toBe(false);
  });
});
