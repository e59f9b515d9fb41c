import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Catalog,
  compareVersions,
  DEFAULT_PURGE_AFTER_MS,
  isNewer,
  type PeerEntry,
  type PeerEntryVersion,
  peerEntry,
  type SignedPeerEntry,
  signPeerEntry,
  type UpsertOutcome,
} from '../../core/discovery/index.ts';
import type { PeerId } from '../../core/identity/keys.ts';
import { AssertionError } from '../../core/util/assert.ts';
import { entryOf, key, NET, OTHER_NET, SEED, signedOf } from './fixtures.ts';

const PURGE_MS = 1_000;
/** A wall clock far from zero, so `now − purgeAfter` is never negative. */
const T0 = 1_700_000_000_000;
const LOCAL = key(0);
const [P1, P2, P3] = [key(1), key(2), key(3)];

const v = (update: number, start = T0): PeerEntryVersion => ({ start, update });

/** A catalog for LOCAL with the test purge window; `'default'` leaves purgeAfterMs out. */
function newCatalog(purgeAfterMs: number | 'default' = PURGE_MS): Catalog {
  const local = signedOf(LOCAL, v(T0));
  return purgeAfterMs === 'default' ? new Catalog({ local }) : new Catalog({ local, purgeAfterMs });
}

const hexes = (ids: readonly PeerId[]) => ids.map((id) => id.hex);
const entryIds = (entries: readonly PeerEntry[]) => entries.map((e) => e.peerId.hex);
const sortedHexes = (...ks: { peerId: PeerId }[]) => ks.map((k) => k.peerId.hex).sort();

describe('Catalog construction', () => {
  it('takes its network and local id from the local entry, and purges after 300 s by default', () => {
    const c = newCatalog('default');
    expect(DEFAULT_PURGE_AFTER_MS).toBe(300_000);
    expect(c.purgeAfterMs).toBe(300_000);
    expect(c.network.equals(NET) && c.localId.equals(LOCAL.peerId)).toBe(true);
    expect(c.me().entry.peerId.equals(LOCAL.peerId)).toBe(true);
    expect(c.size).toBe(0);
  });

  it('asserts on a purgeAfterMs that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => newCatalog(bad)).toThrow(AssertionError);
  });
});

describe('Catalog.upsertSigned', () => {
  it('new, then updated when strictly newer', () => {
    const c = newCatalog();
    expect(c.upsertSigned(signedOf(P1, v(T0)), T0)).toBe('new');
    expect(c.get(P1.peerId, T0)?.version).toEqual(v(T0));
    expect(c.upsertSigned(signedOf(P1, v(T0 + 1)), T0)).toBe('updated');
    expect(c.get(P1.peerId, T0)?.version).toEqual(v(T0 + 1));
    // A later start wins even with a smaller update: the peer restarted.
    expect(c.upsertSigned(signedOf(P1, v(T0, T0 + 1)), T0)).toBe('updated');
    expect(c.get(P1.peerId, T0)?.version).toEqual(v(T0, T0 + 1));
    expect(c.size).toBe(1);
  });

  it('rejected when equal or older, keeping the held entry', () => {
    const c = newCatalog();
    const held = signedOf(P1, v(T0 + 5), { tags: [NET] });
    c.upsertSigned(held, T0);
    expect(c.upsertSigned(signedOf(P1, v(T0 + 5)), T0)).toBe('rejected');
    expect(c.upsertSigned(signedOf(P1, v(T0 + 4)), T0)).toBe('rejected');
    expect(c.upsertSigned(signedOf(P1, v(T0 + 100, T0 - 1)), T0)).toBe('rejected');
    expect(c.signedPeers(T0)).toEqual([held]);
  });

  it('different-network for an entry of another network', () => {
    const c = newCatalog();
    const foreign = signPeerEntry(peerEntry({ network: OTHER_NET, peerId: P1.peerId, version: v(T0) }), P1);
    expect(c.upsertSigned(foreign, T0)).toBe('different-network');
    expect(c.size).toBe(0);
  });

  it('local for an entry with our own id, however new; the local entry is unchanged', () => {
    const c = newCatalog();
    const me = c.me();
    expect(c.upsertSigned(signedOf(LOCAL, v(T0 + 1_000_000)), T0)).toBe('local');
    expect(c.me()).toBe(me);
    expect(c.size).toBe(0);
  });

  it('outdated exactly when update < now − purgeAfter', () => {
    const c = newCatalog();
    const now = T0 + 10_000;
    expect(c.upsertSigned(signedOf(P1, v(now - PURGE_MS - 1)), now)).toBe('outdated');
    expect(c.size).toBe(0);
    expect(c.upsertSigned(signedOf(P1, v(now - PURGE_MS)), now)).toBe('new');
  });

  it('checks the network before the id, and the id before the age', () => {
    const c = newCatalog();
    const foreignMe = signPeerEntry(peerEntry({ network: OTHER_NET, peerId: LOCAL.peerId, version: v(0, 0) }), LOCAL);
    expect(c.upsertSigned(foreignMe, T0)).toBe('different-network');
    expect(c.upsertSigned(signedOf(LOCAL, v(0, 0)), T0)).toBe('local');
  });

  it('a signed entry replaces the unsigned hint for its peer', () => {
    const c = newCatalog();
    expect(c.insertUnsigned(entryOf(P1, v(T0)))).toBe(true);
    expect(c.upsertSigned(signedOf(P1, v(T0 - 10)), T0)).toBe('new');
    expect(c.unsignedPeers()).toEqual([]);
    expect(entryIds(c.signedPeers(T0).map((s) => s.entry))).toEqual([P1.peerId.hex]);
    expect(c.size).toBe(1);
  });

  it('an ignored signed entry leaves the hint alone', () => {
    const c = newCatalog();
    c.insertUnsigned(entryOf(P1, v(T0)));
    expect(c.upsertSigned(signedOf(P1, v(T0 - PURGE_MS - 1)), T0)).toBe('outdated');
    expect(entryIds(c.unsignedPeers())).toEqual([P1.peerId.hex]);
  });
});

describe('Catalog unsigned hints', () => {
  it('are inserted, replaced and removed', () => {
    const c = newCatalog();
    expect(c.insertUnsigned(entryOf(P1, v(T0), { addresses: ['sim:1'] }))).toBe(true);
    expect(c.insertUnsigned(entryOf(P1, v(T0 - 1), { addresses: ['sim:9'] }))).toBe(true);
    expect(c.get(P1.peerId, T0)?.addresses).toEqual(['sim:9']);
    expect(c.size).toBe(1);
    expect(c.removeUnsigned(P1.peerId)).toBe(true);
    expect(c.removeUnsigned(P1.peerId)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('are refused for the local id, another network, or a peer with a signed entry (even a stale one)', () => {
    const c = newCatalog();
    expect(c.insertUnsigned(entryOf(LOCAL, v(T0)))).toBe(false);
    expect(c.insertUnsigned(peerEntry({ network: OTHER_NET, peerId: P1.peerId, version: v(T0) }))).toBe(false);
    c.upsertSigned(signedOf(P2, v(T0)), T0);
    expect(c.insertUnsigned(entryOf(P2, v(T0 + 1)))).toBe(false);
    expect(c.get(P2.peerId, T0 + PURGE_MS + 1)).toBeUndefined(); // stale, but still held until purged
    expect(c.insertUnsigned(entryOf(P2, v(T0 + 1)))).toBe(false);
    expect(c.unsignedPeers()).toEqual([]);
  });

  it('are never in the signed snapshot and never purged', () => {
    const c = newCatalog();
    c.insertUnsigned(entryOf(P1, v(0, 0)));
    c.upsertSigned(signedOf(P2, v(T0)), T0);
    expect(entryIds(c.signedSnapshot().map((s) => s.entry))).toEqual([LOCAL.peerId.hex, P2.peerId.hex]);
    const later = T0 + 100 * PURGE_MS;
    expect(hexes(c.purge(later))).toEqual([P2.peerId.hex]);
    expect(entryIds(c.peers(later))).toEqual([P1.peerId.hex]);
    expect(c.nextPurgeAtMs()).toBeUndefined();
  });
});

describe('Catalog.setLocal', () => {
  it('replaces the local entry with a strictly newer one', () => {
    const c = newCatalog();
    const next = signedOf(LOCAL, v(T0 + 1), { tags: [NET] });
    c.setLocal(next);
    expect(c.me()).toBe(next);
    expect(c.signedSnapshot()[0]).toBe(next);
  });

  it('asserts on an entry that is not newer, or is for another peer or network', () => {
    const c = newCatalog();
    expect(() => c.setLocal(signedOf(LOCAL, v(T0)))).toThrow(AssertionError);
    expect(() => c.setLocal(signedOf(P1, v(T0 + 1)))).toThrow(AssertionError);
    const foreign = signPeerEntry(peerEntry({ network: OTHER_NET, peerId: LOCAL.peerId, version: v(T0 + 1) }), LOCAL);
    expect(() => c.setLocal(foreign)).toThrow(AssertionError);
  });
});

describe('Catalog reads', () => {
  it('peers(): signed then unsigned, each sorted by peer id bytes, never the local entry', () => {
    const c = newCatalog();
    const [a, b, d] = [P3, P1, P2];
    c.upsertSigned(signedOf(a, v(T0)), T0);
    c.insertUnsigned(entryOf(key(5), v(T0)));
    c.upsertSigned(signedOf(b, v(T0)), T0);
    c.insertUnsigned(entryOf(key(4), v(T0)));
    c.upsertSigned(signedOf(d, v(T0)), T0);
    expect(entryIds(c.peers(T0))).toEqual([...sortedHexes(P1, P2, P3), ...sortedHexes(key(4), key(5))]);
    expect(entryIds(c.peers(T0))).not.toContain(LOCAL.peerId.hex);
    expect(c.get(LOCAL.peerId, T0)).toBeUndefined();
    expect(c.size).toBe(5);
    // Hex order is byte order.
    const bytes = c.peers(T0).map((e) => e.peerId);
    expect(bytes.slice(0, 3).every((id, i, all) => i === 0 || (all[i - 1] as PeerId).compare(id) < 0)).toBe(true);
  });

  it('hides stale signed entries from peers, signedPeers and get, but keeps them (snapshot, size) until purged', () => {
    const c = newCatalog();
    c.upsertSigned(signedOf(P1, v(T0)), T0);
    c.upsertSigned(signedOf(P2, v(T0 + 500)), T0 + 500);
    const now = T0 + PURGE_MS + 1; // P1 just went stale
    expect(entryIds(c.peers(now))).toEqual([P2.peerId.hex]);
    expect(entryIds(c.signedPeers(now).map((s) => s.entry))).toEqual([P2.peerId.hex]);
    expect(c.get(P1.peerId, now)).toBeUndefined();
    expect(c.get(P1.peerId, now - 1)?.peerId.equals(P1.peerId)).toBe(true);
    expect(c.signedSnapshot()).toHaveLength(3);
    expect(c.size).toBe(2);
  });

  it('signedSnapshot(): the local entry first, then the signed entries sorted by id', () => {
    const c = newCatalog();
    for (const k of [P3, P1, P2]) c.upsertSigned(signedOf(k, v(T0)), T0);
    expect(entryIds(c.signedSnapshot().map((s) => s.entry))).toEqual([LOCAL.peerId.hex, ...sortedHexes(P1, P2, P3)]);
  });
});

describe('Catalog.purge and nextPurgeAtMs', () => {
  it('removes each entry at exactly update + purgeAfter + 1, and says when', () => {
    const c = newCatalog();
    expect(c.nextPurgeAtMs()).toBeUndefined();
    c.upsertSigned(signedOf(P1, v(T0 + 100)), T0 + 100);
    c.upsertSigned(signedOf(P2, v(T0 + 300)), T0 + 300);
    const first = T0 + 100 + PURGE_MS + 1;
    expect(c.nextPurgeAtMs()).toBe(first);
    expect(c.purge(first - 1)).toEqual([]);
    expect(hexes(c.purge(first))).toEqual([P1.peerId.hex]);
    expect(c.nextPurgeAtMs()).toBe(T0 + 300 + PURGE_MS + 1);
    expect(c.purge(T0 + 300 + PURGE_MS)).toEqual([]);
    expect(hexes(c.purge(T0 + 300 + PURGE_MS + 1))).toEqual([P2.peerId.hex]);
    expect(c.nextPurgeAtMs()).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('a refreshed entry moves its expiry', () => {
    const c = newCatalog();
    c.upsertSigned(signedOf(P1, v(T0)), T0);
    c.upsertSigned(signedOf(P1, v(T0 + 700)), T0 + 700);
    expect(c.nextPurgeAtMs()).toBe(T0 + 700 + PURGE_MS + 1);
    expect(c.purge(T0 + PURGE_MS + 1)).toEqual([]);
  });

  it('returns every expired id, sorted, when several expire together', () => {
    const c = newCatalog();
    for (const k of [P3, P1, P2]) c.upsertSigned(signedOf(k, v(T0)), T0);
    expect(hexes(c.purge(T0 + 10 * PURGE_MS))).toEqual(sortedHexes(P1, P2, P3));
  });
});

describe('Catalog.depart', () => {
  it('removes a known peer when the last version is at least the held one', () => {
    const c = newCatalog();
    c.upsertSigned(signedOf(P1, v(T0 + 10)), T0);
    c.upsertSigned(signedOf(P2, v(T0 + 10)), T0);
    expect(c.depart(P1.peerId, v(T0 + 10))).toBe(true);
    expect(c.depart(P2.peerId, v(T0 + 11))).toBe(true);
    expect(c.size).toBe(0);
    expect(c.depart(P1.peerId, v(T0 + 10))).toBe(false);
  });

  it('ignores a departure older than the held entry (an earlier life of the peer)', () => {
    const c = newCatalog();
    c.upsertSigned(signedOf(P1, v(T0 + 10)), T0);
    expect(c.depart(P1.peerId, v(T0 + 9))).toBe(false);
    expect(c.depart(P1.peerId, v(T0 + 99, T0 - 1))).toBe(false);
    expect(c.get(P1.peerId, T0)).toBeDefined();
  });

  it('is false for unknown peers, the local id and unsigned hints (which it leaves alone)', () => {
    const c = newCatalog();
    c.insertUnsigned(entryOf(P1, v(T0)));
    expect(c.depart(P1.peerId, v(T0 + 1))).toBe(false);
    expect(c.depart(P2.peerId, v(T0))).toBe(false);
    expect(c.depart(LOCAL.peerId, v(T0 + 1))).toBe(false);
    expect(entryIds(c.unsignedPeers())).toEqual([P1.peerId.hex]);
  });
});

// ---- a model check -----------------------------------------------------------------------

/**
 * Random operation sequences against a plain model: a map from peer to
 * `{ signed version } | unsigned`, following the rules as the spec states them.
 */
describe('Catalog against a model (property)', () => {
  const peers = [P1, P2, P3, key(4)];
  const updates = [0, 300, 600, 900, 1_200].map((d) => T0 + d);
  const pool = peers.map((k) => updates.map((u) => signedOf(k, v(u))));
  const foreign = signPeerEntry(peerEntry({ network: OTHER_NET, peerId: P1.peerId, version: v(T0 + 2_000) }), P1);
  const mine = signedOf(LOCAL, v(T0 + 2_000));
  const hints = peers.map((k) => entryOf(k, v(T0)));

  type Op =
    | { op: 'upsert'; peer: number; version: number }
    | { op: 'upsertOdd'; which: 'foreign' | 'mine' }
    | { op: 'hint'; peer: number }
    | { op: 'unhint'; peer: number }
    | { op: 'depart'; peer: number; version: number }
    | { op: 'advance'; ms: number }
    | { op: 'purge' };
  const peerArb = fc.nat({ max: peers.length - 1 });
  const versionArb = fc.nat({ max: updates.length - 1 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('upsert' as const), peer: peerArb, version: versionArb }), weight: 5 },
    fc.record({ op: fc.constant('upsertOdd' as const), which: fc.constantFrom('foreign' as const, 'mine' as const) }),
    fc.record({ op: fc.constant('hint' as const), peer: peerArb }),
    fc.record({ op: fc.constant('unhint' as const), peer: peerArb }),
    fc.record({ op: fc.constant('depart' as const), peer: peerArb, version: versionArb }),
    { arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.nat({ max: 700 }) }), weight: 2 },
    fc.record({ op: fc.constant('purge' as const) }),
  );

  type Slot = { readonly signed: SignedPeerEntry } | { readonly hint: PeerEntry };

  it('agrees on every outcome and every read', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const c = newCatalog();
        const model = new Map<string, Slot>();
        let now = T0;
        const stale = (s: SignedPeerEntry) => s.entry.version.update < now - PURGE_MS;

        const modelUpsert = (s: SignedPeerEntry): UpsertOutcome => {
          if (!s.entry.network.equals(NET)) return 'different-network';
          if (s.entry.peerId.equals(LOCAL.peerId)) return 'local';
          if (stale(s)) return 'outdated';
          const held = model.get(s.entry.peerId.hex);
          if (held === undefined || 'hint' in held) {
            model.set(s.entry.peerId.hex, { signed: s });
            return 'new';
          }
          if (!isNewer(s.entry.version, held.signed.entry.version)) return 'rejected';
          model.set(s.entry.peerId.hex, { signed: s });
          return 'updated';
        };

        for (const op of ops) {
          switch (op.op) {
            case 'upsert': {
              const s = pool[op.peer]?.[op.version] as SignedPeerEntry;
              expect(c.upsertSigned(s, now)).toBe(modelUpsert(s));
              break;
            }
            case 'upsertOdd': {
              const s = op.which === 'foreign' ? foreign : mine;
              expect(c.upsertSigned(s, now)).toBe(modelUpsert(s));
              break;
            }
            case 'hint': {
              const e = hints[op.peer] as PeerEntry;
              const held = model.get(e.peerId.hex);
              const allowed = held === undefined || 'hint' in held;
              if (allowed) model.set(e.peerId.hex, { hint: e });
              expect(c.insertUnsigned(e)).toBe(allowed);
              break;
            }
            case 'unhint': {
              const id = (peers[op.peer] as (typeof peers)[number]).peerId;
              const held = model.get(id.hex);
              const had = held !== undefined && 'hint' in held;
              if (had) model.delete(id.hex);
              expect(c.removeUnsigned(id)).toBe(had);
              break;
            }
            case 'depart': {
              const id = (peers[op.peer] as (typeof peers)[number]).peerId;
              const last = v(updates[op.version] as number);
              const held = model.get(id.hex);
              const gone = held !== undefined && 'signed' in held && compareVersions(last, held.signed.entry.version) >= 0;
              if (gone) model.delete(id.hex);
              expect(c.depart(id, last)).toBe(gone);
              break;
            }
            case 'advance':
              now += op.ms;
              break;
            case 'purge': {
              const expired = [...model.entries()].filter(([, slot]) => 'signed' in slot && stale(slot.signed)).map(([hex]) => hex);
              for (const hex of expired) model.delete(hex);
              expect(hexes(c.purge(now))).toEqual(expired.sort());
              break;
            }
          }
          const signed = [...model.values()].flatMap((slot) => ('signed' in slot ? [slot.signed] : []));
          const unsigned = [...model.values()].flatMap((slot) => ('hint' in slot ? [slot.hint] : []));
          const byHex = <T extends { peerId: PeerId }>(xs: T[]) => xs.sort((a, b) => (a.peerId.hex < b.peerId.hex ? -1 : 1));
          const live = byHex(signed.filter((s) => !stale(s)).map((s) => s.entry));
          expect(c.peers(now)).toEqual([...live, ...byHex(unsigned)]);
          expect(c.size).toBe(model.size);
          expect(c.signedSnapshot().slice(1)).toEqual(signed.sort((a, b) => (a.entry.peerId.hex < b.entry.peerId.hex ? -1 : 1)));
          const oldest = Math.min(...signed.map((s) => s.entry.version.update));
          expect(c.nextPurgeAtMs()).toBe(signed.length === 0 ? undefined : oldest + PURGE_MS + 1);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
