import { assert } from '../util/assert.ts';
import type { PeerEntry } from './peer-entry.ts';

/**
 * Round-trip time per peer, smoothed as TCP does (RFC 6298 §2): the first sample R gives
 * SRTT = R and RTTVAR = R/2; each later sample R' gives RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R'|
 * and then SRTT = 7/8·SRTT + 1/8·R' (RTTVAR first, with the old SRTT, as the RFC orders it).
 * Discovery pings, stream traffic and bonds all feed samples; producers and consumers filter
 * peers on it (`rttBelow`).
 */
export interface RttEstimate {
  /** Smoothed round-trip time, ms. */
  readonly srttMs: number;
  /** Round-trip time variation, ms. */
  readonly rttvarMs: number;
  readonly samples: number;
}

/** Folds one sample (ms, finite, ≥ 0) into an estimate; `undefined` starts a new one. */
export function addRttSample(estimate: RttEstimate | undefined, sampleMs: number): RttEstimate {
  // Samples are differences of a monotonic clock: anything else is a bug in the caller.
  if (!(Number.isFinite(sampleMs) && sampleMs >= 0)) assert(false, `RTT sample must be a finite, non-negative number of ms, got ${sampleMs}`);
  if (!estimate) return { srttMs: sampleMs, rttvarMs: sampleMs / 2, samples: 1 };
  const rttvarMs = 0.75 * estimate.rttvarMs + 0.25 * Math.abs(estimate.srttMs - sampleMs);
  const srttMs = 0.875 * estimate.srttMs + 0.125 * sampleMs;
  return { srttMs, rttvarMs, samples: estimate.samples + 1 };
}

/**
 * True when the peer's smoothed RTT is below `limitMs`, and also while it is unknown (as
 * mosaik's `rtt_below`): a peer nobody has measured yet is not excluded for being slow.
 */
export function rttBelow(estimate: RttEstimate | undefined, limitMs: number): boolean {
  return estimate === undefined || estimate.srttMs < limitMs;
}

/** A peer as producers, consumers and groups judge it (mosaik `PeerInfo`): its entry and what we measured. */
export interface PeerInfo extends PeerEntry {
  /** Smoothed RTT to the peer; undefined until measured. */
  readonly rtt: RttEstimate | undefined;
  /** True when the smoothed RTT is below `limitMs`, or not yet known. */
  rttBelow(limitMs: number): boolean;
}

export function peerInfo(entry: PeerEntry, rtt: RttEstimate | undefined): PeerInfo {
  return Object.freeze({ ...entry, rtt, rttBelow: (limitMs: number) => rttBelow(rtt, limitMs) });
}
