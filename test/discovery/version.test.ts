import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions, incrementVersion, initialVersion, isNewer, type PeerEntryVersion } from '../../core/discovery/index.ts';
import { AssertionError } from '../../core/util/assert.ts';
import { SEED } from './fixtures.ts';

const v = (start: number, update: number): PeerEntryVersion => ({ start, update });
/** Wall-clock values well inside the safe range, so `+ 1` stays safe. */
const msArb = fc.integer({ min: 0, max: 2 ** 50 });
const versionArb = fc.record({ start: msArb, update: msArb });

describe('incrementVersion', () => {
  it('moves update to max(update, now) + 1 and keeps start', () => {
    expect(incrementVersion(v(5, 10), 20)).toEqual(v(5, 21));
    expect(incrementVersion(v(5, 10), 10)).toEqual(v(5, 11));
  });

  it('still grows when the wall clock went backwards', () => {
    expect(incrementVersion(v(5, 10), 3)).toEqual(v(5, 11));
    expect(incrementVersion(incrementVersion(v(5, 10), 3), 2)).toEqual(v(5, 12));
  });

  it('drops fractions of a millisecond', () => {
    expect(incrementVersion(v(5, 10), 20.7)).toEqual(v(5, 21));
  });

  it('asserts on a clock that is not a number, or an update past the safe range', () => {
    expect(() => incrementVersion(v(0, 0), Number.NaN)).toThrow(AssertionError);
    expect(() => incrementVersion(v(0, Number.MAX_SAFE_INTEGER), 0)).toThrow(AssertionError);
  });

  it('is always strictly newer, by at least one ms past both update and now (property)', () => {
    fc.assert(
      fc.property(versionArb, msArb, (before, now) => {
        const after = incrementVersion(before, now);
        expect(after.start).toBe(before.start);
        expect(after.update).toBeGreaterThan(before.update);
        expect(after.update).toBeGreaterThan(now);
        expect(after.update).toBe(Math.max(before.update, now) + 1);
        expect(isNewer(after, before)).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('initialVersion', () => {
  it('starts and updates at now', () => {
    expect(initialVersion(1_700_000_000_123.4)).toEqual(v(1_700_000_000_123, 1_700_000_000_123));
  });
});

describe('compareVersions and isNewer', () => {
  it('orders by start, then update', () => {
    expect(compareVersions(v(1, 100), v(2, 0))).toBeLessThan(0);
    expect(compareVersions(v(2, 0), v(1, 100))).toBeGreaterThan(0);
    expect(compareVersions(v(1, 5), v(1, 6))).toBeLessThan(0);
    expect(compareVersions(v(1, 6), v(1, 5))).toBeGreaterThan(0);
    expect(compareVersions(v(1, 5), v(1, 5))).toBe(0);
  });

  it('newer means strictly greater', () => {
    expect(isNewer(v(1, 6), v(1, 5))).toBe(true);
    expect(isNewer(v(2, 0), v(1, 9))).toBe(true);
    expect(isNewer(v(1, 5), v(1, 5))).toBe(false);
    expect(isNewer(v(1, 4), v(1, 5))).toBe(false);
  });

  it('is a total order: antisymmetric, and agrees with the pair order (property)', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        const ab = Math.sign(compareVersions(a, b));
        expect(Math.sign(compareVersions(b, a))).toBe(-ab);
        const expected = a.start !== b.start ? Math.sign(a.start - b.start) : Math.sign(a.update - b.update);
        expect(ab).toBe(expected);
        expect(isNewer(a, b)).toBe(ab > 0);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
