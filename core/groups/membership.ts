import type { ConfState } from '../raft/types.ts';
import { type Formation, sameFormation } from './formation.ts';
import { peerOfMember } from './member-id.ts';
import type { Leadership } from './wire.ts';

/** The leader's view of the members and its bonds to them (`Bonds` is one). */
export interface MembersView {
  /** The bonds, in the order they came up. */
  values(): Iterable<{ readonly member: string; readonly formation: Formation | undefined }>;
  ofPeer(peerHex: string): { readonly member: string } | undefined;
  ofMember(member: string): { readonly leadership: Leadership } | undefined;
  member(peerHex: string): { readonly departed: boolean; readonly notAllowed: boolean; readonly downSinceMs: number } | undefined;
}

/** What the leader knows when it decides the next configuration change. */
export interface MembershipInput {
  /** The leader's member id, and its peer id (hex). */
  readonly self: string;
  readonly selfPeer: string;
  /** The configuration in force (the latest, committed: one change at a time). */
  readonly conf: ConfState;
  readonly commit: number;
  /** How far the leader knows a member's log matches its own. */
  readonly match: (member: string) => number;
  /** The leader's formation: members of another one are not added. */
  readonly formation: Formation | undefined;
  readonly maxVoters: number;
  readonly replaceVoterAfterMs: number;
  readonly nowMs: number;
  /** When the leader's member started: a voter it never saw counts as down since then. */
  readonly startedAtMs: number;
  readonly members: MembersView;
}

/**
 * The leader's membership policy: the next configuration, or undefined when the current one
 * should stay. One change at a time, in this order of precedence:
 *
 * 1. a member that departed, whose tickets are refused, or whose peer is now bonded under
 *    another member id (it lost the storage this member lived in) is removed;
 * 2. a bonded member outside the configuration (of this formation, or of none yet) joins as
 *    a learner;
 * 3. the smallest caught-up learner (it holds everything committed; never an observer) is
 *    promoted while voters are fewer than `maxVoters`;
 * 4. with voters full and such a learner waiting, a voter without a bond for
 *    `replaceVoterAfterMs` is removed (the learner is promoted at the next step).
 *
 * Voters and learners come out sorted, so every leader proposes the same lists.
 */
export function nextConfiguration(input: MembershipInput): ConfState | undefined {
  const { conf, members: view } = input;
  const members = new Set([...conf.voters, ...conf.learners]);
  const sorted = (next: ConfState): ConfState => ({ voters: [...next.voters].sort(), learners: [...next.learners].sort() });
  for (const id of members) {
    if (id === input.self) continue;
    const peer = peerOfMember(id);
    const m = view.member(peer);
    // A peer now bonded under another member id (or this node's own peer, as anything but
    // this member) lost the storage this member lived in: it is not coming back as this
    // member, and must not be counted (nor asked) as one.
    const now = peer === input.selfPeer ? input.self : view.ofPeer(peer)?.member;
    if (m?.departed || m?.notAllowed || (now !== undefined && now !== id)) {
      return sorted({ voters: conf.voters.filter((v) => v !== id), learners: conf.learners.filter((l) => l !== id) });
    }
  }
  for (const b of view.values()) {
    const id = b.member;
    if (!members.has(id) && (b.formation === undefined || sameFormation(b.formation, input.formation))) {
      return sorted({ voters: conf.voters, learners: [...conf.learners, id] });
    }
  }
  const caughtUp = conf.learners.filter((l) => {
    const b = view.ofMember(l);
    return b !== undefined && b.leadership !== 'observer' && input.match(l) >= input.commit;
  });
  const promote = caughtUp.sort()[0];
  if (promote === undefined) return undefined;
  if (conf.voters.length < input.maxVoters) {
    return sorted({ voters: [...conf.voters, promote], learners: conf.learners.filter((l) => l !== promote) });
  }
  for (const v of conf.voters) {
    if (v === input.self || view.ofMember(v) !== undefined) continue;
    const downSince = view.member(peerOfMember(v))?.downSinceMs ?? input.startedAtMs;
    if (input.nowMs - downSince >= input.replaceVoterAfterMs) return sorted({ voters: conf.voters.filter((x) => x !== v), learners: conf.learners });
  }
  return undefined;
}
