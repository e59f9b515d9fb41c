import { describe, expect, it } from 'vitest';
import { checkDeparture, DEFAULT_MAX_TIME_DRIFT_MS, departureSchema, signDeparture, withinDrift } from '../../core/discovery/departure.ts';
import { nobleVerifier } from '../../core/identity/verifier.ts';
import { msgpackCodec } from '../../core/wire/codec.ts';
import { key } from './fixtures.ts';

const NOW = 1_767_225_600_000;
const version = { start: NOW - 60_000, update: NOW - 1_000 };

describe('graceful departure', () => {
  it('a signed departure checks out within the drift bound, and round-trips on the wire', () => {
    const d = signDeparture(key(1), version, NOW);
    expect(checkDeparture(d, nobleVerifier, NOW + 10_000)).toBe('ok');
    const codec = msgpackCodec(departureSchema);
    const back = codec.decode(codec.encode(d));
    expect(back.ok && checkDeparture(back.value, nobleVerifier, NOW)).toBe('ok');
  });

  it('refuses a departure from beyond the clock-drift limit, either way (a replayed goodbye)', () => {
    const d = signDeparture(key(1), version, NOW);
    expect(checkDeparture(d, nobleVerifier, NOW + DEFAULT_MAX_TIME_DRIFT_MS)).toBe('ok');
    expect(checkDeparture(d, nobleVerifier, NOW + DEFAULT_MAX_TIME_DRIFT_MS + 1)).toBe('drift');
    expect(checkDeparture(d, nobleVerifier, NOW - DEFAULT_MAX_TIME_DRIFT_MS - 1)).toBe('drift');
    expect(withinDrift(NOW, NOW + 5, 5)).toBe(true);
  });

  it('refuses a departure whose fields were changed, or that another key signed', () => {
    const d = signDeparture(key(1), version, NOW);
    expect(checkDeparture({ ...d, lastVersion: { ...version, update: version.update + 1 } }, nobleVerifier, NOW)).toBe('bad-signature');
    expect(checkDeparture({ ...d, timestampMs: NOW + 1 }, nobleVerifier, NOW)).toBe('bad-signature');
    expect(checkDeparture({ ...d, peer: key(2).peerId }, nobleVerifier, NOW)).toBe('bad-signature');
    const forged = signDeparture(key(2), version, NOW);
    expect(checkDeparture({ ...forged, peer: key(1).peerId }, nobleVerifier, NOW)).toBe('bad-signature');
  });

  it('a malformed departure on the wire is a decode error, never a throw', () => {
    const codec = msgpackCodec(departureSchema);
    const body = codec.encode(signDeparture(key(1), version, NOW));
    for (let n = 0; n < body.length; n++) expect(codec.decode(body.subarray(0, n)).ok).toBe(false);
  });
});
