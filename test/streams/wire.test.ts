import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Digest } from '../../core/identity/digest.ts';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../core/streams/backoff.ts';
import { ChannelConditions } from '../../core/streams/conditions.ts';
import { isTerminal, reasonOfCode, type StreamsMessage, streamsCodec } from '../../core/streams/wire.ts';
import { CloseCode } from '../../core/wire/close-codes.ts';

describe('streams wire', () => {
  it('round-trips every message positionally', () => {
    const id = Digest.from('s');
    const messages: StreamsMessage[] = [
      { t: 'subscribe', network: Digest.from('n'), stream: id, window: 1024 },
      { t: 'start', network: Digest.from('n'), stream: id },
      { t: 'datum', seq: 7, data: new Uint8Array([1, 2, 3]) },
      { t: 'credit', n: 128 },
    ];
    for (const m of messages) {
      const decoded = streamsCodec.decode(streamsCodec.encode(m));
      expect(decoded.ok).toBe(true);
      expect(decoded.ok && decoded.value).toEqual(m);
    }
  });

  it('decodes any bytes totally: a value or a DecodeError, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const decoded = streamsCodec.decode(bytes);
        expect(typeof decoded.ok).toBe('boolean');
      }),
      { numRuns: 2_000, seed: 4 },
    );
  });

  it('every streams close code has its own reason; refusals are terminal, lagging and capacity are retried', () => {
    expect(reasonOfCode(CloseCode.StreamTooSlow)).toBe('too-slow');
    expect(reasonOfCode(CloseCode.StreamNoCapacity)).toBe('no-capacity');
    expect(reasonOfCode(CloseCode.StreamNotAllowed)).toBe('not-allowed');
    expect(reasonOfCode(CloseCode.StreamNotFound)).toBe('stream-not-found');
    expect(reasonOfCode(CloseCode.DifferentNetwork)).toBe('different-network');
    expect(reasonOfCode(CloseCode.UnknownPeer)).toBe('unknown-peer');
    expect(reasonOfCode(CloseCode.LinkLost)).toBe('lost');
    for (const r of ['not-allowed', 'stream-not-found', 'different-network', 'closed'] as const) expect(isTerminal(r)).toBe(true);
    for (const r of ['too-slow', 'no-capacity', 'unknown-peer', 'lost'] as const) expect(isTerminal(r)).toBe(false);
  });

  it('backoff: 500 ms ×1.5 up to 60 s, ±50%', () => {
    const zero = { float: () => 0.5, u32: () => 0, bytes: (n: number) => new Uint8Array(n) };
    expect([0, 1, 2, 3].map((a) => backoffDelayMs(DEFAULT_BACKOFF, a, zero))).toEqual([500, 750, 1125, 1688]);
    expect(backoffDelayMs(DEFAULT_BACKOFF, 40, zero)).toBe(60_000);
    const low = { ...zero, float: () => 0 };
    expect(backoffDelayMs(DEFAULT_BACKOFF, 0, low)).toBe(250);
  });

  it('channel conditions: minimum, tags, predicates, unmet', () => {
    const t = Digest.from('t');
    const peer = (tags: Digest[]) => ({ tags }) as never;
    const c = ChannelConditions.minimumOf(2).withTags('t');
    expect(c.isMet([peer([t]), peer([])])).toBe(false);
    expect(c.isMet([peer([t]), peer([t])])).toBe(true);
    expect(c.unmet().isMet([peer([t])])).toBe(true);
    expect(ChannelConditions.minimumOf(0).isMet([])).toBe(true);
    expect(
      ChannelConditions.minimumOf(1)
        .withPredicate(() => false)
        .isMet([peer([t])]),
    ).toBe(false);
  });
});
