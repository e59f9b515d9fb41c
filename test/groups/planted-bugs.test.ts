import { describe, expect, it } from 'vitest';
import { raftChaos } from '../../scenarios/raft-chaos.ts';
import { raftCore } from '../../scenarios/raft-core.ts';

/**
 * The checkers can fail: `raft-chaos` with a known-unsafe variant switched on, searched seed
 * by seed from 1 until a run fails, must fail within the bound, and the failure is printed
 * with its replay command. `commit-previous-term` and `vote-not-persisted` need histories
 * raft-chaos rarely or never produces (see scenarios/raft-core.ts); the `raft-core`
 * scenario, the Raft machines alone under seeded schedules, finds all four variants below,
 * as do the property tests in test/raft/raft.property.test.ts. The long campaigns per
 * variant are in the issue notes and docs/groups.md.
 */
const SEARCH: readonly (readonly [bug: string, maxSeeds: number])[] = [
  ['follower-read-without-readindex', 3],
  // A leader elected without the up-to-date check truncates committed entries: 127 of seeds
  // 1-300 fail, the first two being 8 and 9.
  ['vote-without-log-check', 10],
  ['read-without-quorum', 3],
  // Storage that acknowledges a flush before its writes are durable, on a slow disk with
  // power failures: acknowledged appends and votes come back lost (seeds 13, 14, 21, 33, 34 of 1-40).
  ['ack-before-sync', 15],
  // The impatient clients trust a TimeoutError that says its command never reached a
  // leader; a false claim shows as a write or an add that took effect after all.
  ['timeout-claims-not-applied', 3],
];

describe('raft-chaos finds planted bugs', () => {
  for (const [bug, maxSeeds] of SEARCH) {
    it(`${bug}: a violation within ${maxSeeds} seeds`, async () => {
      for (let seed = 1; seed <= maxSeeds; seed++) {
        const r = await raftChaos.run({ seed, plantedBugs: [bug] });
        if (r.ok) continue;
        console.log(
          `${bug}: seed ${seed} fails (${r.violations[0]?.checker}: ${r.violations[0]?.message.split('\n')[0]})\n  replay: npx mosaik sim run raft-chaos --seed ${seed} --plant-bug ${bug}`,
        );
        expect(r.violations.length).toBeGreaterThan(0);
        return;
      }
      expect.fail(`no violation in seeds 1-${maxSeeds}`);
    }, 120_000);
  }

  it('the same seeds pass without the bug, and go through snapshot install', async () => {
    for (const seed of [1, 6, 11]) {
      const r = await raftChaos.run({ seed });
      expect(r.ok, `seed ${seed}`).toBe(true);
      // The scenario compacts its log (every 200 entries), so members install snapshots under the faults.
      expect(r.details.snapshotsInstalled, `seed ${seed}`).toBeGreaterThan(0);
      // The impatient clients' deadlines passed mid-call, and the checker took their word.
      expect((r.details.ops as { timedOut: number }).timedOut, `seed ${seed}`).toBeGreaterThan(0);
    }
  }, 60_000);
});

/**
 * raft-core: seeds searched from 1; the bound is what `npx mosaik sim campaign raft-core
 * --seeds 1-300 --plant-bug <variant>` covers, where each variant fails on 2 to 45 seeds.
 */
const CORE_SEARCH: readonly (readonly [bug: string, checkers: readonly string[]])[] = [
  ['vote-without-log-check', ['leader-completeness', 'state-machine-safety', 'election-safety']],
  ['commit-previous-term', ['leader-completeness', 'state-machine-safety']],
  ['vote-not-persisted', ['durability', 'election-safety']],
  ['read-without-quorum', ['linearizable-read']],
];
const CORE_MAX_SEEDS = 300;

describe('raft-core finds every unsafe Raft variant', () => {
  for (const [bug, checkers] of CORE_SEARCH) {
    it(`${bug}: a safety violation within ${CORE_MAX_SEEDS} seeds, replayed exactly`, async () => {
      for (let seed = 1; seed <= CORE_MAX_SEEDS; seed++) {
        const r = await raftCore.run({ seed, plantedBugs: [bug] });
        if (r.ok) continue;
        const v = r.violations[0];
        console.log(`${bug}: raft-core seed ${seed} fails (${v?.message})\n  replay: npx mosaik sim run raft-core --seed ${seed} --plant-bug ${bug}`);
        // A safety checker, not a stuck cluster: the variant broke what it is meant to break.
        expect(checkers.map((c) => `raft-core/${c}`)).toContain(v?.checker);
        const again = await raftCore.run({ seed, plantedBugs: [bug] });
        expect(again.traceHash).toBe(r.traceHash);
        expect(again.violations).toEqual(r.violations);
        // The schedule is sound: without the bug the same seed passes.
        expect((await raftCore.run({ seed })).ok).toBe(true);
        return;
      }
      expect.fail(`no violation in seeds 1-${CORE_MAX_SEEDS}`);
    }, 60_000);
  }

  it('passes every safety check on 60 seeds without a bug, deterministically', async () => {
    const hashes = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const r = await raftCore.run({ seed });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      hashes.add(r.traceHash);
    }
    expect(hashes.size).toBe(60);
    expect((await raftCore.run({ seed: 7 })).traceHash).toBe((await raftCore.run({ seed: 7 })).traceHash);
  }, 60_000);
});
