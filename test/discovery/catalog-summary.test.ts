import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../core/discovery/catalog.ts';
import { bucketOf, CatalogSummary, SUMMARY_BYTES } from '../../core/discovery/catalog-summary.ts';
import { key, SEED, signedOf } from './fixtures.ts';

const NOW = 1_000_000;

/** The summary recomputed from scratch, to compare with the catalog's incremental one. */
function fresh(catalog: Catalog): Uint8Array {
  const summary = new CatalogSummary();
  for (const signed of catalog.signedUnordered()) summary.toggle(signed);
  return summary.bytes();
}

describe('catalog summaries', () => {
  it('equal catalogs have equal summaries; one newer entry differs in exactly its bucket', () => {
    const a = new Catalog({ local: signedOf(key(0), { start: 1, update: NOW }) });
    const b = new Catalog({ local: signedOf(key(1), { start: 1, update: NOW }) });
    a.upsertSigned(b.me(), NOW);
    b.upsertSigned(a.me(), NOW);
    for (let i = 2; i < 20; i++) {
      const s = signedOf(key(i), { start: 1, update: NOW });
      a.upsertSigned(s, NOW);
      b.upsertSigned(s, NOW);
    }
    expect(a.summary.bytes()).toHaveLength(SUMMARY_BYTES);
    expect(a.summary.differing(b.summary.bytes())).toEqual([]);
    b.upsertSigned(signedOf(key(7), { start: 1, update: NOW + 5 }), NOW);
    expect(a.summary.differing(b.summary.bytes())).toEqual([bucketOf(key(7).peerId)]);
  });

  it('stays equal to a summary recomputed from scratch through any upserts, purges, departures and local updates (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('upsert' as const), peer: fc.integer({ min: 1, max: 12 }), update: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('depart' as const), peer: fc.integer({ min: 1, max: 12 }), update: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('purge' as const), at: fc.integer({ min: 0, max: 80 }) }),
      fc.record({ kind: fc.constant('local' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const catalog = new Catalog({ local: signedOf(key(0), { start: 1, update: NOW }), purgeAfterMs: 30 });
        let localUpdate = NOW;
        for (const o of ops) {
          if (o.kind === 'upsert') catalog.upsertSigned(signedOf(key(o.peer), { start: 1, update: NOW + o.update }), NOW + o.update);
          else if (o.kind === 'depart') catalog.depart(key(o.peer).peerId, { start: 1, update: NOW + o.update });
          else if (o.kind === 'purge') catalog.purge(NOW + o.at);
          else catalog.setLocal(signedOf(key(0), { start: 1, update: ++localUpdate }));
          expect(catalog.summary.bytes()).toEqual(fresh(catalog));
        }
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});
