import { describe, expect, it } from 'vitest';
import { OfflineError, withoutStack } from '../../core/errors.ts';

describe('withoutStack', () => {
  it('makes the same error, with no frames in its stack, and leaves the global limit as it was', () => {
    const before = Error.stackTraceLimit;
    const error = withoutStack(() => new OfflineError('the group has no leader now; retry'));
    expect(error).toBeInstanceOf(OfflineError);
    expect(error.code).toBe('OFFLINE');
    expect(error.message).toBe('the group has no leader now; retry');
    expect(error.stack?.split('\n')).toEqual(['OfflineError: the group has no leader now; retry']);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new OfflineError('x').stack?.split('\n').length).toBeGreaterThan(1);
  });

  it('restores the limit when making the error throws', () => {
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutStack(() => {
        throw new RangeError('boom');
      }),
    ).toThrow(RangeError);
    expect(Error.stackTraceLimit).toBe(before);
  });
});
