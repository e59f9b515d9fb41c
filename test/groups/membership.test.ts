import { describe, expect, it } from 'vitest';
import type { Formation } from '../../core/groups/formation.ts';
import { memberId } from '../../core/groups/member-id.ts';
import { type MembersView, nextConfiguration } from '../../core/groups/membership.ts';
import type { Leadership } from '../../core/groups/wire.ts';
import type { ConfState } from '../../core/raft/types.ts';

// The leader's membership policy, table-driven: each row is what the leader knows (its
// configuration, its bonds, what it heard of each member, how far each has replicated)
// and the one change it should propose, if any.

const PEERS = { a: '0a', b: '0b', c: '0c', d: '0d', e: '0e', f: '0f' } as const;
type Name = keyof typeof PEERS;
const peer = (n: Name): string => PEERS[n].repeat(32);
/** The member id of `n`'s peer; `life` tells apart the members one peer has been. */
const id = (n: Name, life = 0): string => memberId(peer(n), new Uint8Array(8).fill(life));

const OURS: Formation = { id: new Uint8Array(32).fill(1), formedAtMs: 0, conf: undefined };
const THEIRS: Formation = { id: new Uint8Array(32).fill(2), formedAtMs: 0, conf: undefined };

interface Row {
  readonly name: string;
  readonly voters: string[];
  readonly learners?: string[];
  /** Bonds, in the order they came up. */
  readonly bonds: { readonly member: string; readonly formation?: Formation; readonly leadership?: Leadership }[];
  /** What discovery and the bonds said of members, by peer. */
  readonly members?: Partial<Record<Name, { departed?: boolean; notAllowed?: boolean; downSinceMs?: number }>>;
  /** Members whose log holds everything committed (the rest are behind). */
  readonly caughtUp?: string[];
  readonly maxVoters?: number;
  readonly nowMs?: number;
  readonly expect: ConfState | undefined;
}

const REPLACE_AFTER_MS = 30_000;
const self = id('a');

function view(row: Row): MembersView {
  const bonds = row.bonds.map((b) => ({ member: b.member, formation: b.formation, leadership: b.leadership ?? 'normal' }));
  return {
    values: () => bonds,
    ofPeer: (p) => bonds.find((b) => b.member.startsWith(`${p}.`)),
    ofMember: (m) => bonds.find((b) => b.member === m),
    member: (p) => {
      const name = (Object.keys(PEERS) as Name[]).find((n) => peer(n) === p);
      const m = name === undefined ? undefined : row.members?.[name];
      return m === undefined ? undefined : { departed: m.departed ?? false, notAllowed: m.notAllowed ?? false, downSinceMs: m.downSinceMs ?? 0 };
    },
  };
}

function decide(row: Row): ConfState | undefined {
  return nextConfiguration({
    self,
    selfPeer: peer('a'),
    conf: { voters: row.voters, learners: row.learners ?? [] },
    commit: 100,
    match: (m) => (row.caughtUp?.includes(m) ? 100 : 40),
    formation: OURS,
    maxVoters: row.maxVoters ?? 5,
    replaceVoterAfterMs: REPLACE_AFTER_MS,
    nowMs: row.nowMs ?? 1_000,
    startedAtMs: 500,
    members: view(row),
  });
}

const bonded = (...names: Name[]) => names.map((n) => ({ member: id(n) }));

/** Voters full (three of three), voter c without a bond, learner d caught up. */
const FULL = {
  voters: [self, id('b'), id('c')],
  learners: [id('d')],
  bonds: bonded('b', 'd'),
  caughtUp: [id('d')],
  maxVoters: 3,
};

const rows: Row[] = [
  { name: 'all bonded, nothing to change', voters: [self, id('b'), id('c')], bonds: bonded('b', 'c'), expect: undefined },
  {
    name: 'a departed voter is removed',
    voters: [self, id('b'), id('c')],
    bonds: bonded('c'),
    members: { b: { departed: true } },
    expect: { voters: [self, id('c')], learners: [] },
  },
  {
    name: 'a learner whose tickets are refused is removed',
    voters: [self, id('b')],
    learners: [id('c')],
    bonds: bonded('b'),
    members: { c: { notAllowed: true } },
    expect: { voters: [self, id('b')], learners: [] },
  },
  {
    name: 'a voter whose peer bonded again as another member (it lost its storage) is removed first',
    voters: [self, id('b'), id('c')],
    bonds: [{ member: id('b', 1) }, { member: id('c') }],
    expect: { voters: [self, id('c')], learners: [] },
  },
  {
    name: "this node's own earlier member id is removed",
    voters: [self, id('a', 7), id('b')],
    bonds: bonded('b'),
    expect: { voters: [self, id('b')], learners: [] },
  },
  {
    name: 'removal comes before adding',
    voters: [self, id('b')],
    bonds: bonded('b', 'd'),
    members: { b: { departed: true } },
    expect: { voters: [self], learners: [] },
  },
  {
    name: 'a bonded member without a formation joins as a learner',
    voters: [self, id('b')],
    bonds: bonded('b', 'd'),
    expect: { voters: [self, id('b')], learners: [id('d')] },
  },
  {
    name: 'a bonded member of our formation joins as a learner',
    voters: [self],
    bonds: [{ member: id('d'), formation: OURS }],
    expect: { voters: [self], learners: [id('d')] },
  },
  {
    name: 'a bonded member of another formation does not join',
    voters: [self, id('b')],
    bonds: [{ member: id('b') }, { member: id('d'), formation: THEIRS }],
    expect: undefined,
  },
  {
    name: 'the smallest caught-up learner is promoted while voters are fewer than maxVoters',
    voters: [self, id('b')],
    learners: [id('e'), id('d'), id('c')],
    bonds: bonded('b', 'c', 'd', 'e'),
    caughtUp: [id('e'), id('d')],
    expect: { voters: [self, id('b'), id('d')], learners: [id('c'), id('e')] },
  },
  {
    name: 'a learner behind is not promoted',
    voters: [self, id('b')],
    learners: [id('c')],
    bonds: bonded('b', 'c'),
    expect: undefined,
  },
  {
    name: 'an observer is never promoted',
    voters: [self, id('b')],
    learners: [id('c')],
    bonds: [{ member: id('b') }, { member: id('c'), leadership: 'observer' }],
    caughtUp: [id('c')],
    expect: undefined,
  },
  {
    name: 'a learner without a bond is not promoted',
    voters: [self, id('b')],
    learners: [id('c')],
    bonds: bonded('b'),
    caughtUp: [id('c')],
    expect: undefined,
  },
  {
    name: 'voters full: a caught-up learner waits',
    voters: [self, id('b'), id('c')],
    learners: [id('d')],
    bonds: bonded('b', 'c', 'd'),
    caughtUp: [id('d')],
    maxVoters: 3,
    expect: undefined,
  },
  {
    name: 'voters full: a voter down for replaceVoterAfterMs makes room for a caught-up learner',
    ...FULL,
    members: { c: { downSinceMs: 10_000 } },
    nowMs: 10_000 + REPLACE_AFTER_MS,
    expect: { voters: [self, id('b')], learners: [id('d')] },
  },
  {
    name: 'voters full: a voter down a little less than that stays',
    ...FULL,
    members: { c: { downSinceMs: 10_000 } },
    nowMs: 10_000 + REPLACE_AFTER_MS - 1,
    expect: undefined,
  },
  {
    name: 'voters full: a voter never seen counts as down since this member started',
    ...FULL,
    nowMs: 500 + REPLACE_AFTER_MS,
    expect: { voters: [self, id('b')], learners: [id('d')] },
  },
  {
    name: 'a voter down for long stays when no learner could replace it',
    ...FULL,
    caughtUp: [],
    members: { c: { downSinceMs: 0 } },
    nowMs: 10 * REPLACE_AFTER_MS,
    expect: undefined,
  },
];

describe('membership: the next configuration a leader proposes', () => {
  for (const row of rows) {
    it(row.name, () => {
      expect(decide(row)).toEqual(row.expect);
    });
  }

  it('proposes sorted lists, whatever order the configuration was in', () => {
    const next = decide({ name: '', voters: [id('c'), self, id('b')], learners: [], bonds: bonded('c', 'b', 'e'), expect: undefined });
    expect(next).toEqual({ voters: [self, id('b'), id('c')].sort(), learners: [id('e')] });
  });
});
